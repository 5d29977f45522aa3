"""The notification outbox: write the message in the same transaction as its cause; a job
sends it after commit; the sweeper retries what is still unsent.
"""

import logging
from dataclasses import dataclass, field

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .conf import coaching_settings
from .models import Notification, NotificationChannel

logger = logging.getLogger(__name__)

# Ids handed to one sender message.
SEND_CHUNK = 200


@dataclass
class Message:
    recipient_id: int
    kind: str
    dedup_key: str
    payload: dict = field(default_factory=dict)
    channel: str = NotificationChannel.EMAIL


def queue_notifications(messages):
    """Insert messages into the outbox (a repeated dedup key is ignored) and send after commit.

    Returns the number of messages handed to the sender. Two statements, however many
    messages: one insert, one select of the ids to send.
    """
    messages = list(messages)
    if not messages:
        return 0
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=m.recipient_id,
                kind=m.kind,
                dedup_key=m.dedup_key,
                payload=m.payload,
                channel=m.channel,
            )
            for m in messages
        ],
        ignore_conflicts=True,
    )
    ids = list(
        Notification.objects.filter(
            dedup_key__in=[m.dedup_key for m in messages], sent_at__isnull=True
        ).values_list("id", flat=True)
    )
    enqueue_send(ids)
    return len(ids)


def enqueue_send(ids):
    from .tasks import enqueue, send_notifications

    for start in range(0, len(ids), SEND_CHUNK):
        enqueue(send_notifications, list(ids[start : start + SEND_CHUNK]))


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
        subject=subject, body=text, from_email=coaching_settings.from_email, to=[recipient.email]
    )
    if html:
        message.attach_alternative(html, "text/html")
    from .scheduling.messages import calendar_attachment

    part = calendar_attachment(notification.payload)
    if part is not None:
        message.attach(part)
    message.send()


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
    """Re-enqueue unsent notifications that are due for another try. Returns how many."""
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    due = unsent_due_for_retry(now).order_by("id").values_list("id", flat=True)
    ids = list(due[: batch_size * 10])
    enqueue_send(ids)
    return len(ids)
