"""The job outbox: a background job is written down (a ``PendingJob`` row) in the same
transaction as its cause and sent to the broker once that commits, so a broker that is
down at commit loses nothing; the sweeper sends again what never reached it.

``tasks.enqueue()`` is the way in; ``sweep_outbox()`` is the periodic sweeper of both
outboxes (this one and the notifications').
"""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..conf import coaching_settings
from ..models import PendingJob
from ..notifications.outbox import sweep_notifications

logger = logging.getLogger(__name__)

# How long a sent PendingJob row is kept before the sweeper deletes it.
KEEP_SENT_JOBS = timezone.timedelta(days=7)


# Added to a delayed message's wait, so that it never runs a moment before its time.
DELAY_MARGIN_MS = 1000


def send_after_commit(actor, args, kwargs, not_before=None):
    """Send a message after commit, for work kept in an outbox of its own: a broker error is
    logged, never raised into the caller (whose change has committed already). With
    ``not_before`` the message waits in the broker until then."""
    transaction.on_commit(lambda: _send_quietly(actor, args, kwargs, not_before))


def _send_quietly(actor, args, kwargs, not_before=None):
    try:
        if not_before is None:
            actor.send(*args, **kwargs)
        else:
            wait = (not_before - timezone.now()).total_seconds() * 1000
            actor.send_with_options(
                args=args, kwargs=kwargs, delay=max(0, int(wait)) + DELAY_MARGIN_MS
            )
    except Exception:
        logger.exception(
            "Could not send %s to the broker; the outbox sweeper will send it again.",
            actor.actor_name,
        )


def enqueue_job(actor, args, kwargs):
    """Write a PendingJob in the current transaction and send it once that commits.

    One insert now; after commit the message goes to the broker and the row is marked sent
    (or, if the broker is down, keeps the error for the sweeper). A rollback leaves nothing.
    """
    job = PendingJob.objects.create(
        actor_name=actor.actor_name, args=list(args), kwargs=dict(kwargs)
    )
    transaction.on_commit(lambda: send_pending_job(job, actor=actor))
    return job


def send_pending_job(job, actor=None):
    """Send one PendingJob to the broker and record the outcome. Returns True if sent.

    Sending twice is harmless (every job is safe to run twice), so a crash between the send
    and the update only costs a duplicate message, never a lost one.
    """
    import dramatiq

    now = timezone.now()
    try:
        actor = actor or dramatiq.get_broker().get_actor(job.actor_name)
        actor.send(*job.args, **job.kwargs)
    except Exception as exc:
        logger.exception(
            "Could not send job %s (%s); the outbox sweeper will send it again.",
            job.pk, job.actor_name,
        )
        PendingJob.objects.filter(pk=job.pk).update(
            attempts=F("attempts") + 1, last_error=repr(exc)[:2000]
        )
        return False
    PendingJob.objects.filter(pk=job.pk).update(
        sent_at=now, attempts=F("attempts") + 1, last_error=""
    )
    return True


def resend_pending_jobs(now=None, batch_size=None):
    """Send the jobs whose message never reached the broker. Returns how many were sent.

    Only jobs older than ``NOTIFICATION_RETRY_AFTER_SECONDS`` are taken (a younger one may
    be on its way from its own commit). Rows are claimed with SKIP LOCKED, so two sweepers
    never send the same job; a job is retried at every sweep until the broker takes it.
    """
    import dramatiq

    now = now or timezone.now()
    limit = (batch_size or coaching_settings.BATCH_SIZE) * 10
    cutoff = now - timezone.timedelta(seconds=coaching_settings.NOTIFICATION_RETRY_AFTER_SECONDS)
    known = dramatiq.get_broker().get_declared_actors()
    sent = 0
    with transaction.atomic():
        jobs = list(
            PendingJob.objects.select_for_update(skip_locked=True)
            .filter(sent_at__isnull=True, created_at__lte=cutoff)
            .order_by("id")[:limit]
        )
        for job in jobs:
            if send_pending_job(job):
                sent += 1
            elif job.actor_name in known:
                break  # the broker is still down: the next sweep tries the rest
    # Sent jobs are kept a while for inspection, then dropped.
    PendingJob.objects.filter(sent_at__lt=now - KEEP_SENT_JOBS).delete()
    return sent


def sweep_outbox(now=None, batch_size=None):
    """Re-enqueue unsent notifications that are due for another try, re-send the jobs whose
    message never reached the broker, and the handling of Stripe events recorded but never
    attempted. Returns how many of all three."""
    from ..payments.webhooks import resend_unhandled_events

    batch_size = batch_size or coaching_settings.BATCH_SIZE
    return (
        sweep_notifications(now, batch_size)
        + resend_pending_jobs(now, batch_size)
        + resend_unhandled_events(now, batch_size)
    )
