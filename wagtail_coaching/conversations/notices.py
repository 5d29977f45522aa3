"""Who hears of a new message, and how: the outbox rows a message writes.

Everyone in the conversation but its author is told (the client, or the client's coaches
and co-coaches): in the app at once, by email after ``MESSAGE_EMAIL_DELAY_SECONDS``. While a
person has an unread in-app notice, or an email not yet sent, for a conversation, the next
message joins it (its count goes up) instead of adding another: a burst of ten messages is
one notice and one email. Reading the conversation marks its notices read and drops the
email still waiting (``reading.mark_read``). Preferences are the outbox's to apply: a kind
switched off is recorded and not delivered.
"""

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ..conf import coaching_settings
from ..models import Notification, NotificationChannel
from ..notifications.outbox import Message as Outgoing
from ..notifications.outbox import queue_notifications
from ..permissions import current_coaches
from ..utils.people import display_name

# The kinds (notifications.kinds): to the client, and to the coaches.
CLIENT_KIND = "new_message"
COACH_KIND = "coach_new_message"


def key_prefix(conversation_id, channel, recipient_id):
    """The start of the dedup keys of one person's notices about one conversation."""
    return f"conversation:{conversation_id}:{channel}:{recipient_id}:"


def conversation_notices(conversation_id, recipient_id):
    """The Q of one person's notices (both channels) about one conversation."""
    return Q(recipient_id=recipient_id) & (
        Q(dedup_key__startswith=key_prefix(conversation_id, NotificationChannel.IN_APP,
                                           recipient_id))
        | Q(dedup_key__startswith=key_prefix(conversation_id, NotificationChannel.EMAIL,
                                             recipient_id))
    )


def _path(name, enrollment):
    try:
        return reverse(name, args=[enrollment.public_id])
    except NoReverseMatch:  # a host that leaves the admin or the client site out
        return ""


def recipients(enrollment, author_id):
    """Everyone in the conversation but the author: the client and the current coaches
    (active accounts only)."""
    people = {enrollment.client_id} if enrollment.client.is_active else set()
    people |= set(
        current_coaches(enrollment.pk).filter(coach__is_active=True)
        .values_list("coach_id", flat=True)
    )
    people.discard(author_id)
    return sorted(people)


def _payload(enrollment, author, to_client):
    return {
        "engagement_title": enrollment.engagement.title,
        "author_name": display_name(author),
        "client_name": display_name(enrollment.client),
        "count": 1,
        "conversation_path": _path(
            "wagtail_coaching:conversation" if to_client
            else "wagtail_coaching_admin:conversation",
            enrollment,
        ),
    }


def _join(pending, author, now, touch_created=False):
    """Add one message to a notice still waiting; False if it stopped waiting meanwhile."""
    payload = dict(pending.payload or {})
    payload["count"] = int(payload.get("count") or 1) + 1
    payload["author_name"] = display_name(author)
    changes = {"payload": payload}
    if touch_created:
        changes["created_at"] = now  # an in-app notice comes back to the top of the list
    rows = Notification.objects.filter(pk=pending.pk)
    if pending.channel == NotificationChannel.EMAIL:
        rows = rows.filter(sent_at__isnull=True, claimed_at__isnull=True)
    else:
        rows = rows.filter(read_at__isnull=True)
    return rows.update(**changes) == 1


def queue_message_notices(message, conversation, enrollment, now=None):
    """Tell everyone in the conversation but its author about ``message`` (inside the
    transaction that writes it). Returns the recipients' ids."""
    now = now or timezone.now()
    author = message.author
    people = recipients(enrollment, author.pk)
    if not people:
        return []
    delay = timezone.timedelta(seconds=coaching_settings.MESSAGE_EMAIL_DELAY_SECONDS)
    waiting = Q(channel=NotificationChannel.IN_APP, read_at__isnull=True) | Q(
        channel=NotificationChannel.EMAIL, sent_at__isnull=True, claimed_at__isnull=True
    )
    pending = {}
    # Locked, so that a sender claiming one of them waits and then sees the new count.
    for row in Notification.objects.select_for_update().filter(
        Q(kind__in=(CLIENT_KIND, COACH_KIND)) & waiting
        & Q(*[conversation_notices(conversation.pk, pk) for pk in people], _connector=Q.OR)
    ).order_by("pk"):
        pending.setdefault((row.recipient_id, row.channel), row)
    new = []
    for pk in people:
        to_client = pk == enrollment.client_id
        kind = CLIENT_KIND if to_client else COACH_KIND
        for channel in (NotificationChannel.IN_APP, NotificationChannel.EMAIL):
            row = pending.get((pk, channel))
            in_app = channel == NotificationChannel.IN_APP
            if row is not None and _join(row, author, now, touch_created=in_app):
                continue
            new.append(Outgoing(
                recipient_id=pk, kind=kind, channel=channel,
                dedup_key=key_prefix(conversation.pk, channel, pk) + str(message.pk),
                payload=_payload(enrollment, author, to_client),
                send_after=None if in_app else now + delay,
            ))
    queue_notifications(new)
    return people
