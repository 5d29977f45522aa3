"""What each person has read: one row per person and conversation holding the latest
message they saw. Reading a conversation also settles the notices about it: its in-app
notices are marked read and an email still waiting is dropped (there is nothing new left
to tell)."""

from django.db.models import BigIntegerField, Case, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from ..models import ConversationRead, Notification, NotificationChannel
from .notices import key_prefix


def mark_read(user, latest, now=None):
    """Record that ``user`` has read up to ``latest`` ({conversation id: latest message id}).

    Never moves backwards (a page opened in another tab earlier cannot unread anything).
    Four queries however many conversations.
    """
    latest = {cid: mid for cid, mid in latest.items() if mid}
    if not latest:
        return
    now = now or timezone.now()
    ConversationRead.objects.bulk_create(
        [ConversationRead(conversation_id=cid, user=user, last_read_message_id=mid, read_at=now)
         for cid, mid in latest.items()],
        ignore_conflicts=True,
    )
    upto = Case(
        *[When(conversation_id=cid, then=Value(mid)) for cid, mid in latest.items()],
        output_field=BigIntegerField(),
    )
    ConversationRead.objects.filter(user=user, conversation_id__in=list(latest)).update(
        last_read_message_id=Greatest("last_read_message_id", upto), read_at=now
    )

    def about(channel):
        return Q(*[Q(dedup_key__startswith=key_prefix(cid, channel, user.pk)) for cid in latest],
                 _connector=Q.OR)

    Notification.objects.filter(
        about(NotificationChannel.IN_APP), recipient=user, channel=NotificationChannel.IN_APP,
        read_at__isnull=True,
    ).update(read_at=now)
    Notification.objects.filter(
        about(NotificationChannel.EMAIL), recipient=user, channel=NotificationChannel.EMAIL,
        sent_at__isnull=True, claimed_at__isnull=True,
    ).update(sent_at=now, skipped=True)
