"""The outboxes: write the message in the same transaction as its cause, send it after
commit, and let the sweeper retry what is still unsent.

Two tables play that part. ``Notification`` rows are the messages themselves (emails, in-app
notices); ``PendingJob`` rows are background jobs written by ``tasks.enqueue()``. Either way
a broker that is down when the change commits loses nothing: the sender logs the error and
``sweep_outbox()`` (a periodic job) sends again later.
"""

import logging
from dataclasses import dataclass, field

from django.core.mail import EmailMultiAlternatives
from django.db import connections, router, transaction
from django.db.models import F, Q
from django.db.models.constants import OnConflict
from django.db.models.sql.subqueries import InsertQuery
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .conf import coaching_settings
from .models import Notification, NotificationChannel, PendingJob

logger = logging.getLogger(__name__)

# Ids handed to one sender message.
SEND_CHUNK = 200
# How long a sent PendingJob row is kept before the sweeper deletes it.
KEEP_SENT_JOBS = timezone.timedelta(days=7)


@dataclass(frozen=True)
class Kind:
    """A kind of message: its label on the preferences page, and whether its recipient may
    switch it off (security and payment messages cannot be)."""

    label: str
    optional: bool = True


def _kinds():
    from django.utils.translation import gettext_lazy as _

    return {
        "welcome": Kind(_("Welcome when you join an engagement")),
        "step_open": Kind(_("A new step of your journey is open")),
        "client_coach_assigned": Kind(_("Your coach is assigned or changes")),
        "session_invitation": Kind(_("Invitations to group sessions")),
        "session_reminder": Kind(_("Session reminders")),
        "session_follow_up": Kind(_("After a session: summary and next practice")),
        "one_to_one_summary": Kind(_("Your coach's summary of a 1:1 session")),
        "renewal_review": Kind(_("Renewal review before your access ends")),
        "rule_message": Kind(_("Other messages from your coaching team")),
        # Changes to what you are booked on, and payments: always sent.
        "session_confirmed": Kind(_("Your registration for a session"), optional=False),
        "session_waitlisted": Kind(_("You are on a session's waitlist"), optional=False),
        "session_promoted": Kind(_("A seat became free for you"), optional=False),
        "session_updated": Kind(_("A session you attend changed"), optional=False),
        "session_cancelled": Kind(_("A session you attend is cancelled"), optional=False),
        "session_attendee_cancelled": Kind(_("You left a session"), optional=False),
        "one_to_one_booked": Kind(_("A 1:1 session is booked"), optional=False),
        "one_to_one_rescheduled": Kind(_("A 1:1 session moved"), optional=False),
        "one_to_one_cancelled": Kind(_("A 1:1 session is cancelled"), optional=False),
        "payment_problem": Kind(_("A payment failed"), optional=False),
        # For the team.
        "coach_new_client": Kind(_("A new client is assigned to you")),
        "coach_client_moved": Kind(_("A client moved to another coach")),
        "coach_handoff": Kind(_("A colleague takes over a stage")),
        "coach_session_assigned": Kind(_("You run a group session"), optional=False),
        "coach_session_unassigned": Kind(_("You no longer run a group session"),
                                         optional=False),
        "coach_session_updated": Kind(_("A session you run changed"), optional=False),
        "coach_session_cancelled": Kind(_("A session you run is cancelled"), optional=False),
        "at_risk_alert": Kind(_("A client is at risk")),
    }


def notification_kinds():
    """Every kind of message, by name (a kind not listed here cannot be switched off)."""
    return _kinds()


def optional_kinds():
    return {name: kind for name, kind in _kinds().items() if kind.optional}


def switched_off(user_id, kind):
    from .models import NotificationPreference

    if kind not in optional_kinds():
        return False
    return NotificationPreference.objects.filter(
        user_id=user_id, kind=kind, enabled=False
    ).exists()


@dataclass
class Message:
    recipient_id: int
    kind: str
    dedup_key: str
    payload: dict = field(default_factory=dict)
    channel: str = NotificationChannel.EMAIL


def queue_notifications(messages):
    """Insert messages into the outbox and send the new ones after commit.

    A dedup key already in the outbox is ignored: its row was handed to the sender when it
    was inserted, and the sweeper retries it if it is still unsent. Returns the number of
    messages handed to the sender. One statement per insert batch, however many messages:
    the insert returns the ids of the rows it added.
    """
    messages = list(messages)
    if not messages:
        return 0
    rows = [
        Notification(
            recipient_id=m.recipient_id,
            kind=m.kind,
            dedup_key=m.dedup_key,
            payload=m.payload,
            channel=m.channel,
        )
        for m in messages
    ]
    ids = _insert_new(rows)
    if ids is None:  # a database that cannot return rows from an insert
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        ids = list(
            Notification.objects.filter(
                dedup_key__in=[m.dedup_key for m in messages], sent_at__isnull=True
            ).values_list("id", flat=True)
        )
    enqueue_send(ids)
    return len(ids)


def _insert_new(rows):
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: the ids of the rows actually added,
    or None where the database cannot say (``bulk_create`` leaves ids unset when conflicts
    are ignored, so it cannot tell new rows from old ones)."""
    connection = connections[router.db_for_write(Notification)]
    if not connection.features.can_return_rows_from_bulk_insert:
        return None
    opts = Notification._meta
    fields = [f for f in opts.concrete_fields if f is not opts.pk and not f.generated]
    batch = connection.ops.bulk_batch_size(fields, rows) or len(rows)
    ids = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            query = InsertQuery(Notification, on_conflict=OnConflict.IGNORE)
            query.insert_values(fields, rows[start : start + batch])
            compiler = query.get_compiler(connection=connection)
            compiler.returning_fields = [opts.pk]
            for statement, params in compiler.as_sql():
                cursor.execute(statement, params)
                ids.extend(row[0] for row in cursor.fetchall())
    return ids


def enqueue_send(ids):
    """Hand notification ids to the sender after commit. Not a PendingJob: the unsent rows
    are the record, and the sweeper re-queues them if this message never arrives."""
    from . import tasks

    for start in range(0, len(ids), SEND_CHUNK):
        tasks.enqueue(tasks.send_notifications, list(ids[start : start + SEND_CHUNK]))


# -- Jobs ------------------------------------------------------------------------------------

def send_after_commit(actor, args, kwargs):
    """Send a message after commit, for work kept in an outbox of its own: a broker error is
    logged, never raised into the caller (whose change has committed already)."""
    transaction.on_commit(lambda: _send_quietly(actor, args, kwargs))


def _send_quietly(actor, args, kwargs):
    try:
        actor.send(*args, **kwargs)
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


def render_email(notification):
    """(subject, text, html or None) from ``wagtail_coaching/emails/<kind>.*`` templates."""
    context = {
        "notification": notification,
        "recipient": notification.recipient,
        "base_url": coaching_settings.BASE_URL.rstrip("/"),
        **notification.payload,
    }
    base = f"wagtail_coaching/emails/{notification.kind}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    text = render_to_string(f"{base}.txt", context)
    try:
        html = render_to_string(f"{base}.html", context)
    except TemplateDoesNotExist:
        html = None
    return subject, text, html


def send_notification(notification_id):
    """Deliver one notification at most once. Returns True if it was delivered by this call.

    The row is locked while sending, so two workers holding the same id never both send;
    a failure is recorded on the row for the sweeper to retry.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .select_related("recipient")
            .filter(pk=notification_id, sent_at__isnull=True)
            .first()
        )
        if notification is None:
            return False
        now = timezone.now()
        if notification.attempts >= coaching_settings.NOTIFICATION_MAX_ATTEMPTS:
            return False
        if switched_off(notification.recipient_id, notification.kind):
            # Recorded, not delivered: the recipient does not want this kind.
            Notification.objects.filter(pk=notification.pk).update(sent_at=now, skipped=True)
            return False
        try:
            if notification.channel == NotificationChannel.EMAIL:
                _send_email(notification)
        except Exception as exc:  # recorded for the sweeper and the admin
            logger.exception("Sending notification %s failed", notification_id)
            Notification.objects.filter(pk=notification.pk).update(
                attempts=F("attempts") + 1, last_attempt_at=now, last_error=repr(exc)[:2000]
            )
            return False
        Notification.objects.filter(pk=notification.pk).update(
            sent_at=now, attempts=F("attempts") + 1, last_attempt_at=now, last_error=""
        )
        return True


def _send_email(notification):
    recipient = notification.recipient
    if not recipient.email:
        raise ValueError("recipient has no email address")
    with translation.override(notification.payload.get("language")):
        subject, text, html = render_email(notification)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=coaching_settings.from_email, to=[recipient.email],
        # The same Message-ID however often it is handed over: if a crash between sending and
        # recording it makes the sender try again, mail servers can drop the duplicate.
        headers={"Message-ID": f"<notification-{notification.pk}@{_message_domain()}>"},
    )
    if html:
        message.attach_alternative(html, "text/html")
    from .scheduling.messages import calendar_attachment

    part = calendar_attachment(notification.payload)
    if part is not None:
        message.attach(part)
    message.send()


def _message_domain():
    from urllib.parse import urlsplit

    return urlsplit(coaching_settings.BASE_URL).hostname or "localhost"


def unsent_due_for_retry(now=None):
    """Unsent notifications old enough to retry and not out of attempts."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(seconds=coaching_settings.NOTIFICATION_RETRY_AFTER_SECONDS)
    return Notification.objects.filter(
        sent_at__isnull=True,
        attempts__lt=coaching_settings.NOTIFICATION_MAX_ATTEMPTS,
    ).filter(
        Q(last_attempt_at__lte=cutoff) | Q(last_attempt_at__isnull=True, created_at__lte=cutoff)
    )


def sweep_outbox(now=None, batch_size=None):
    """Re-enqueue unsent notifications that are due for another try, and re-send the jobs
    whose message never reached the broker. Returns how many of both."""
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    due = unsent_due_for_retry(now).order_by("id").values_list("id", flat=True)
    ids = list(due[: batch_size * 10])
    enqueue_send(ids)
    return len(ids) + resend_pending_jobs(now, batch_size)
