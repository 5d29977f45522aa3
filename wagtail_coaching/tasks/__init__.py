"""Background jobs. Actors are thin: they take ids, re-read the database and call a service,
so running one twice does no harm.

The host project configures the broker (for example with ``django_dramatiq``); this module
only declares actors. Periodic jobs are scheduled with ``dramatiq_crontab`` (run
``manage.py crontab``; with its Redis lock only one scheduler fires each job).

Two queues, so that a long job never holds up an email:

- ``coaching`` (``QUEUE``): notifications, the outbox sweeper and Stripe events handled in
  the background, each message quick;
- ``coaching_bulk`` (``BULK_QUEUE``): program sync, session invitations, automation rules,
  time-based unlocks and the payment sweep, which may touch thousands of rows.

A worker serves both unless told otherwise (``rundramatiq --queues coaching``).

Jobs are never lost: ``enqueue()`` writes a ``PendingJob`` row in the caller's transaction
and sends the message once it commits; if the broker is down then, the outbox sweeper sends
it later. A job that fails is retried with exponential backoff (not for programming errors,
which would fail the same way every time); one that runs out of retries is recorded as a
``FailedJob`` by ``wagtail_coaching.failed_jobs.RecordFailures``, listed in the admin
with a retry button.
"""

import dramatiq
from django.core.exceptions import ImproperlyConfigured
from dramatiq_crontab import cron

from ..conf import coaching_settings

QUEUE = "coaching"
BULK_QUEUE = "coaching_bulk"
QUEUES = (QUEUE, BULK_QUEUE)

# Actors whose work is already kept in an outbox table of their own: ``send_notifications``
# (unsent Notification rows, which the sweeper re-queues), ``write_calendar_entries``
# (pending CalendarEntry rows) and ``refresh_calendar`` (a connection due for a read), which
# ``sync_calendars`` sends again. Enqueueing them needs no PendingJob row, only a send
# after commit that never fails the caller.
OUTBOX_BACKED = frozenset({
    "send_notifications", "write_calendar_entries", "refresh_calendar",
    # Its outbox is the StripeEvent row (``resend_unhandled_events``).
    "handle_stripe_event",
})

# Errors that no retry can cure: the code is wrong, not the weather. Such a job fails at
# once (and shows in "Failed jobs") instead of retrying for hours.
PROGRAMMING_ERRORS = (
    TypeError, AttributeError, NameError, ImportError, SyntaxError, AssertionError,
    NotImplementedError, ImproperlyConfigured,
)

SECOND = 1000  # dramatiq counts milliseconds
MINUTE = 60 * SECOND


def enqueue(actor, *args, **kwargs):
    """Send ``actor``'s message once the surrounding transaction commits (at once outside one).

    The job is written down first (a ``PendingJob`` row in the same transaction), so that it
    is sent even if the broker is down at commit: the outbox sweeper re-sends what is still
    unsent. Nothing is sent, and nothing stays behind, if the transaction rolls back. Returns
    the PendingJob (None for outbox-backed actors). Arguments must be JSON (ids, strings).
    """
    from . import outbox

    if actor.actor_name in OUTBOX_BACKED:
        outbox.send_after_commit(actor, args, kwargs)
        return None
    return outbox.enqueue_job(actor, args, kwargs)


def enqueue_delayed(actor, not_before, *args):
    """Send an outbox-backed actor's message once the surrounding transaction commits, to
    run no sooner than ``not_before`` (an aware datetime). Its outbox rows are the record:
    the sweeper sends them if this message is lost."""
    from . import outbox

    if actor.actor_name not in OUTBOX_BACKED:
        raise ValueError(f"{actor.actor_name} keeps no outbox of its own: use enqueue()")
    outbox.send_after_commit(actor, args, {}, not_before=not_before)


def retry_transient(max_retries):
    """dramatiq's ``retry_when``: retry up to ``max_retries`` times, except programming
    errors."""

    def retry_when(retries, exception):
        return retries < max_retries and not isinstance(exception, PROGRAMMING_ERRORS)

    return retry_when


def job(queue_name, *, max_retries, min_backoff, max_backoff):
    """``dramatiq.actor`` with our retry policy: exponential backoff from ``min_backoff`` to
    ``max_backoff`` (milliseconds, with jitter), ``max_retries`` retries."""
    return dramatiq.actor(
        queue_name=queue_name,
        max_retries=max_retries,
        min_backoff=min_backoff,
        max_backoff=max_backoff,
        retry_when=retry_transient(max_retries),
    )


def fast_job(fn):
    """A quick job on the fast queue: retried within minutes."""
    return job(QUEUE, max_retries=3, min_backoff=5 * SECOND, max_backoff=5 * MINUTE)(fn)


def bulk_job(fn):
    """A batch job on the bulk queue: waits longer between tries (a database outage)."""
    return job(BULK_QUEUE, max_retries=5, min_backoff=30 * SECOND, max_backoff=60 * MINUTE)(fn)


@fast_job
def send_notifications(notification_ids):
    from ..notifications.outbox import send_notification

    for notification_id in notification_ids:
        send_notification(notification_id)


@fast_job
def handle_stripe_event(event_id):
    """A Stripe event recorded by the webhook (``STRIPE_WEBHOOK_HANDLING = "background"``)."""
    from ..payments.webhooks import handle_recorded_event

    handle_recorded_event(event_id)


@bulk_job
def sync_program(page_id):
    from ..journeys.sync import sync_engagement

    sync_engagement(page_id)


@cron(coaching_settings.UNLOCK_SCHEDULE)
@job(BULK_QUEUE, max_retries=3, min_backoff=10 * SECOND, max_backoff=MINUTE)
def unlock_due_activities():
    from ..journeys.progress import unlock_due_activities as unlock_due

    unlock_due()


# The sweeper runs every few minutes anyway: a failed run is not retried (the next one
# comes), but it is recorded in "Failed jobs".
@cron(coaching_settings.SWEEP_SCHEDULE)
@job(QUEUE, max_retries=0, min_backoff=SECOND, max_backoff=SECOND)
def sweep_outbox():
    from .outbox import sweep_outbox as sweep

    sweep()


@cron(coaching_settings.PAYMENT_SWEEP_SCHEDULE)
@job(BULK_QUEUE, max_retries=3, min_backoff=30 * SECOND, max_backoff=10 * MINUTE)
def sweep_payment_access():
    """Pause plans unpaid past the grace period and end access whose time is up."""
    from ..payments.fulfilment import sweep_access

    sweep_access()


@bulk_job
def send_session_invitations(session_id):
    """Invite a group session's audience (and its coaches); safe to run again."""
    from ..scheduling.invites import send_invitations

    send_invitations(session_id)


@bulk_job
def send_series_invitations(series_id, session_ids=None):
    """Invite a series' audience with one email per person for the whole series (and its
    coaches); safe to run again."""
    from ..scheduling.series import send_series_invitations as send

    send(series_id, session_ids)


@cron(coaching_settings.RULES_SCHEDULE)
@job(BULK_QUEUE, max_retries=3, min_backoff=10 * SECOND, max_backoff=MINUTE)
def dispatch_rules():
    """Run the event-triggered automation rules over new timeline events."""
    from ..automation.dispatch import dispatch_events

    dispatch_events()


@cron(coaching_settings.TIMED_RULES_SCHEDULE)
@job(BULK_QUEUE, max_retries=3, min_backoff=30 * SECOND, max_backoff=5 * MINUTE)
def run_timed_rules():
    """Fire the time-based automation rules for what is due now."""
    from ..automation.timed import evaluate_timed_rules

    evaluate_timed_rules()


# Coaches' own calendars (CalDAV). A calendar that fails is recorded on its connection and
# tried again later with backoff (by ``sync_calendars``): these jobs do not raise for it.
@cron(coaching_settings.CALENDAR_SYNC_SCHEDULE)
@job(BULK_QUEUE, max_retries=0, min_backoff=SECOND, max_backoff=SECOND)
def sync_calendars():
    """Read the busy times of every calendar that is due, and write the calendar entries
    still pending (a lost message, or a retry after a failure)."""
    from ..calendars.sync import due_connections
    from ..calendars.writing import users_with_due_entries
    from .outbox import send_after_commit

    for connection_id in due_connections():
        send_after_commit(refresh_calendar, [connection_id], {})
    for user_id in users_with_due_entries():
        send_after_commit(write_calendar_entries, [user_id], {})


@bulk_job
def refresh_calendar(connection_id):
    """Read one coach's busy times from their calendar."""
    from ..calendars.sync import refresh_busy_times

    refresh_busy_times(connection_id)


@bulk_job
def write_calendar_entries(user_id):
    """Write one person's pending sessions into their calendar (or remove them)."""
    from ..calendars.writing import write_calendar_entries as write

    write(user_id)
