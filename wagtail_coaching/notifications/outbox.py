"""The notification outbox: a message is written in the same transaction as its cause, sent
after commit, and retried by the sweeper while it is still unsent.

``Notification`` rows are the messages themselves (emails, in-app notices). A broker that is
down when the change commits loses nothing: the sender logs the error and the sweeper
(``tasks.outbox.sweep_outbox``, a periodic job) hands the unsent rows over again.
"""

import logging
from dataclasses import dataclass, field

from django.db import connections, router, transaction
from django.db.models import F, Q
from django.db.models.constants import OnConflict
from django.db.models.sql.subqueries import InsertQuery
from django.utils import timezone

from ..conf import coaching_settings
from ..models import Notification, NotificationChannel, NotificationPreference
from .emails import send_email
from .kinds import optional_kinds

logger = logging.getLogger(__name__)

# Ids handed to one sender message.
SEND_CHUNK = 200


def switched_off(user_id, kind):
    """Whether the user has switched messages of ``kind`` off (only optional kinds can be)."""
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
    from .. import tasks

    for start in range(0, len(ids), SEND_CHUNK):
        tasks.enqueue(tasks.send_notifications, list(ids[start : start + SEND_CHUNK]))


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
                send_email(notification)
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


def sweep_notifications(now=None, batch_size=None):
    """Hand the unsent notifications due for another try to the sender again. Returns how
    many."""
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    due = unsent_due_for_retry(now).order_by("id").values_list("id", flat=True)
    ids = list(due[: batch_size * 10])
    enqueue_send(ids)
    return len(ids)
