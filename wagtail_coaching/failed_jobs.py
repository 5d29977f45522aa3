"""Failed jobs: recorded by a dramatiq middleware, retried from the admin.

``RecordFailures`` writes a ``FailedJob`` row for every message that fails for good: its
retries are used up, its error is not worth retrying, or it was skipped as failed (too old
for ``AgeLimit``). The "Failed jobs" admin lists them with their error and a retry button.

Add it to the broker's middleware *before* ``dramatiq.middleware.Retries``: dramatiq calls
the ``after_*`` hooks in reverse order, and a message only counts as failed once
``Retries`` has decided not to try it again::

    DRAMATIQ_BROKER = {
        ...,
        "MIDDLEWARE": [
            "dramatiq.middleware.AgeLimit",
            "dramatiq.middleware.TimeLimit",
            "dramatiq.middleware.Callbacks",
            "wagtail_coaching.failed_jobs.RecordFailures",
            "dramatiq.middleware.Retries",
            "django_dramatiq.middleware.DbConnectionsMiddleware",
        ],
    }

A system check (``wagtail_coaching.W002``) warns when it is missing or misplaced.

This module lives outside ``wagtail_coaching.tasks`` on purpose: the broker loads its
middleware before it exists, and importing the tasks package then would declare the actors
on dramatiq's default broker. Nothing here imports models or actors at import time.
"""

import logging
import traceback

from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)

# Options dramatiq keeps on a message that say nothing about what to run.
BOOKKEEPING_OPTIONS = ("traceback", "redis_message_id", "requeue_timestamp", "eta")


class RecordFailures(Middleware):
    """Record the messages that failed for good as ``FailedJob`` rows (once per message)."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is not None and message.failed:
            self.record(message, exception)

    def after_skip_message(self, broker, message):
        if message.failed:
            self.record(message, getattr(message, "_exception", None))

    def record(self, message, exception):
        try:
            record_failure(message, exception)
        except Exception:
            # Never let the record of a failure break the worker; the log keeps it.
            logger.exception("Could not record the failure of message %s", message.message_id)


def describe(exception):
    if exception is None:
        return "Skipped"
    return f"{type(exception).__name__}: {exception}"[:2000]


def record_failure(message, exception, now=None):
    """The FailedJob of a message (created once, whoever records it first)."""
    from django.utils import timezone

    from .models import FailedJob

    if exception is not None and exception.__traceback__ is not None:
        trace = "".join(traceback.format_exception(exception))
    else:
        trace = message.options.get("traceback") or ""
    options = {
        key: value for key, value in message.options.items() if key not in BOOKKEEPING_OPTIONS
    }
    job, created = FailedJob.objects.get_or_create(
        message_id=message.message_id,
        defaults={
            "actor_name": message.actor_name,
            "queue_name": message.queue_name,
            "args": list(message.args),
            "kwargs": dict(message.kwargs),
            "options": options,
            "error": describe(exception),
            "traceback": trace[-20000:],
            "failed_at": now or timezone.now(),
        },
    )
    if created:
        logger.error("Job %s (%s) failed for good: %s", message.actor_name,
                     message.message_id, job.error)
    return job


def has_failure_records(broker):
    """Whether ``broker`` records failures, and in the right place (before ``Retries``)."""
    from dramatiq.middleware import Retries

    kinds = [type(m) for m in broker.middleware]
    ours = [i for i, kind in enumerate(kinds) if issubclass(kind, RecordFailures)]
    retries = [i for i, kind in enumerate(kinds) if issubclass(kind, Retries)]
    if not ours:
        return False
    return not retries or ours[0] < retries[0]


class JobRetryError(Exception):
    """A failed job that cannot be retried (already retried, or its job no longer exists)."""


def retry_failed_job(failed_job_id, user=None, now=None):
    """Send a failed job again, once: same actor, same arguments, through ``enqueue()`` (so
    it is written down before it is sent). Records who retried it and when.

    Raises ``JobRetryError`` if the row was retried already (by anyone, even at the same
    moment) or its actor is gone; nothing changes then.
    """
    import dramatiq
    from django.db import transaction
    from django.utils import timezone
    from django.utils.translation import gettext as _
    from dramatiq.errors import ActorNotFound

    from .models import FailedJob
    from .tasks import enqueue

    now = now or timezone.now()
    with transaction.atomic():
        claimed = FailedJob.objects.filter(pk=failed_job_id, retried_at__isnull=True).update(
            retried_at=now, retried_by=user
        )
        if not claimed:
            raise JobRetryError(_("This job was retried already."))
        job = FailedJob.objects.get(pk=failed_job_id)
        try:
            actor = dramatiq.get_broker().get_actor(job.actor_name)
        except ActorNotFound:
            raise JobRetryError(
                _("No job called %(name)s exists any more.") % {"name": job.actor_name}
            ) from None
        enqueue(actor, *job.args, **job.kwargs)
    return job
