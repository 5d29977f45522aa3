"""Background jobs. Actors are thin: they take ids, re-read the database and call a service,
so running one twice does no harm.

The host project configures the broker (for example with ``django_dramatiq``); this module
only declares actors. Periodic jobs are scheduled with ``dramatiq_crontab`` (run
``manage.py crontab``; with its Redis lock only one scheduler fires each job).
"""

import dramatiq
from django.db import transaction
from dramatiq_crontab import cron

from ..conf import coaching_settings

QUEUE = "coaching"


def enqueue(actor, *args, **kwargs):
    """Send a message once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: actor.send(*args, **kwargs))


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def send_notifications(notification_ids):
    from ..outbox import send_notification

    for notification_id in notification_ids:
        send_notification(notification_id)


@dramatiq.actor(queue_name=QUEUE, max_retries=5)
def sync_program(page_id):
    from ..journeys.sync import sync_engagement

    sync_engagement(page_id)


@cron(coaching_settings.UNLOCK_SCHEDULE)
@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def unlock_due_activities():
    from ..journeys.progress import unlock_due_activities as unlock_due

    unlock_due()


@cron(coaching_settings.SWEEP_SCHEDULE)
@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def sweep_outbox():
    from ..outbox import sweep_outbox as sweep

    sweep()


@cron(coaching_settings.PAYMENT_SWEEP_SCHEDULE)
@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def sweep_payment_access():
    """Pause plans unpaid past the grace period and end access whose time is up."""
    from ..payments.fulfilment import sweep_access

    sweep_access()


@dramatiq.actor(queue_name=QUEUE, max_retries=5)
def send_session_invitations(session_id):
    """Invite a group session's audience (and its coaches); safe to run again."""
    from ..scheduling.invites import send_invitations

    send_invitations(session_id)
