"""The notification outbox: a message is written in the same transaction as its cause, sent
after commit, and retried by the sweeper while it is still unsent.

``Notification`` rows are the messages themselves (emails, in-app notices). A broker that is
down when the change commits loses nothing: the sender logs the error and the sweeper
(``tasks.outbox.sweep_outbox``, a periodic job) hands the unsent rows over again.
"""

import logging
import time
from dataclasses import dataclass, field

from django.db import OperationalError, connections, router
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
    """One message for the outbox: to a user (``recipient_id``), or to an address of someone
    without an account (``recipient_id=None`` and ``email``; emails only)."""

    recipient_id: int | None
    kind: str
    dedup_key: str
    payload: dict = field(default_factory=dict)
    channel: str = NotificationChannel.EMAIL
    # Not before this time (a batched email); None: at once.
    send_after: object = None
    email: str = ""


def queue_notifications(messages):
    """Insert messages into the outbox and send the new ones after commit.

    A dedup key already in the outbox is ignored: its row was handed to the sender when it
    was inserted, and the sweeper retries it if it is still unsent. Returns the number of
    messages handed to the sender. One statement per insert batch, however many messages:
    the insert returns the ids of the rows it added. A message with ``send_after`` is handed
    to the sender with a delay that brings it there no sooner.
    """
    messages = list(messages)
    if not messages:
        return 0
    rows = [
        Notification(
            recipient_id=m.recipient_id,
            email=m.email if m.recipient_id is None else "",
            kind=m.kind,
            dedup_key=m.dedup_key,
            payload=m.payload,
            channel=m.channel,
            send_after=m.send_after,
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
    if any(m.send_after is not None for m in messages):
        later = dict(
            Notification.objects.filter(pk__in=ids, send_after__isnull=False)
            .values_list("pk", "send_after")
        )
        enqueue_send([pk for pk in ids if pk not in later])
        for pk, when in later.items():
            enqueue_send([pk], not_before=when)
    else:
        enqueue_send(ids)
    return len(ids)


def queue_selected(select_sql, params):
    """``queue_notifications`` for messages a query yields, on PostgreSQL: one statement
    inserts them and returns the ids of the new ones, which are sent after commit.

    ``select_sql`` yields ``recipient_id, kind, dedup_key, payload`` (jsonb) rows, email
    messages to send at once. Returns the number handed to the sender.
    """
    connection = connections[router.db_for_write(Notification)]
    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (recipient_id, email, kind, dedup_key, payload, channel, "
            "created_at, attempts, last_error, skipped) "
            "SELECT m.recipient_id, '', m.kind, m.dedup_key, m.payload, %s, %s, 0, '', false "
            f"FROM ({select_sql}) AS m ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            [NotificationChannel.EMAIL, timezone.now(), *params],
        )
        ids = [row[0] for row in cursor.fetchall()]
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


def enqueue_send(ids, not_before=None):
    """Hand notification ids to the sender after commit (with ``not_before``, delayed until
    then). Not a PendingJob: the unsent rows are the record, and the sweeper re-queues them
    if this message never arrives."""
    from .. import tasks

    if not ids:
        return
    if not_before is not None:
        tasks.enqueue_delayed(tasks.send_notifications, not_before, list(ids))
        return
    for start in range(0, len(ids), SEND_CHUNK):
        tasks.enqueue(tasks.send_notifications, list(ids[start : start + SEND_CHUNK]))


def claim_notification(notification_id, now):
    """Take an unsent notification for sending. True if this caller now holds it.

    One conditional UPDATE, committed on its own (the sender runs outside a transaction)
    before the message goes anywhere: of any number of senders holding the same id, on
    PostgreSQL or SQLite, exactly one updates the row. The claim counts as an attempt and
    holds for ``NOTIFICATION_RETRY_AFTER_SECONDS``; a sender that fails records the error
    and lets go of it, one that crashes keeps it until then. A row whose ``send_after`` is
    still ahead is not taken (a delayed email that arrives early waits for the sweeper).
    """
    lease = timezone.timedelta(seconds=coaching_settings.NOTIFICATION_RETRY_AFTER_SECONDS)
    return (
        Notification.objects.filter(
            pk=notification_id,
            sent_at__isnull=True,
            attempts__lt=coaching_settings.NOTIFICATION_MAX_ATTEMPTS,
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=now - lease))
        .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
        .update(claimed_at=now, attempts=F("attempts") + 1)
        == 1
    )


def send_notification(notification_id):
    """Deliver one notification. Returns True if it was delivered by this call.

    Exactly once as far as the database can tell: the row is claimed (and the claim
    committed) before the email is handed to the backend, and marked sent after. Another
    sender, or a retry of this one, leaves a claimed row alone; a failed send is recorded
    for the sweeper to retry.

    The one gap is a sender that stops between the two writes: it crashed, or the database
    refused "sent" (locked, gone) even after ``mark_sent`` tried again. The row then looks
    claimed and unsent; once the claim's lease has run out the sweeper sends it again,
    because a sender that dies before handing the message over is far likelier than one that
    dies after. Such a repeat carries the same Message-ID, so mail servers can drop it.
    Call it outside a transaction (as the sender job does), or the claim commits only with
    the caller's transaction.
    """
    now = timezone.now()
    if not claim_notification(notification_id, now):
        return False
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    recipient = notification.recipient
    if recipient is not None and (
        not recipient.is_active or switched_off(notification.recipient_id, notification.kind)
    ):
        # Recorded, not delivered: the account is closed (deactivated, or a client whose
        # data was erased) or the recipient does not want this kind.
        Notification.objects.filter(pk=notification.pk).update(sent_at=now, skipped=True)
        return False
    try:
        if notification.channel == NotificationChannel.EMAIL:
            send_email(notification)
    except Exception as exc:  # recorded for the sweeper and the admin
        logger.exception("Sending notification %s failed", notification_id)
        Notification.objects.filter(pk=notification.pk, claimed_at=now).update(
            claimed_at=None, last_attempt_at=now, last_error=repr(exc)[:2000]
        )
        return False
    mark_sent(notification.pk, now)
    return True


# How often "sent" is written before giving up; each try waits for a locked database as long
# as the connection's timeout (SQLite's "timeout" option) allows.
MARK_SENT_TRIES = 3
MARK_SENT_PAUSE = 0.5  # seconds, more after each failed try


def mark_sent(notification_id, now):
    """Record that the backend took the message. The email is out already, so a database
    that is briefly locked (SQLite with another writer) or whose connection dropped is tried
    again rather than leaving the row to look unsent."""
    connection = connections[router.db_for_write(Notification)]
    for attempt in range(1, MARK_SENT_TRIES + 1):
        try:
            Notification.objects.filter(pk=notification_id, sent_at__isnull=True).update(
                sent_at=now, last_attempt_at=now, last_error=""
            )
            return
        except OperationalError:
            if attempt == MARK_SENT_TRIES or connection.in_atomic_block:
                logger.error(
                    "Notification %s was handed to the email backend but could not be "
                    "marked sent; it is held until its claim runs out.", notification_id,
                )
                raise
            connection.close_if_unusable_or_obsolete()
            time.sleep(MARK_SENT_PAUSE * attempt)


def unsent_due_for_retry(now=None):
    """Unsent notifications old enough to retry, not out of attempts and not held by a
    sender."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(seconds=coaching_settings.NOTIFICATION_RETRY_AFTER_SECONDS)
    return (
        Notification.objects.filter(
            sent_at__isnull=True,
            attempts__lt=coaching_settings.NOTIFICATION_MAX_ATTEMPTS,
        )
        .filter(
            Q(last_attempt_at__lte=cutoff)
            | Q(last_attempt_at__isnull=True, created_at__lte=cutoff)
        )
        # A claim still held is a send under way (or one whose sender crashed, not yet
        # given up on).
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=cutoff))
        # A delayed email is the delayed job's to send; the sweeper steps in as late after
        # its time as after any other row's creation.
        .filter(Q(send_after__isnull=True) | Q(send_after__lte=cutoff))
    )


def sweep_notifications(now=None, batch_size=None):
    """Hand the unsent notifications due for another try to the sender again. Returns how
    many."""
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    due = unsent_due_for_retry(now).order_by("id").values_list("id", flat=True)
    ids = list(due[: batch_size * 10])
    enqueue_send(ids)
    return len(ids)
