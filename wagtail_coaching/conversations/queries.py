"""Read models of conversations: a thread, the inbox with unread counts, the unread total
of the admin's menu, and the unread count of each journey on the client's dashboard. Each
runs a fixed number of queries."""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce

from ..models import CoachAssignment, Conversation, ConversationRead, Message, MessageAttachment
from ..permissions import visible

# Messages a thread shows (the latest ones; the page says when older ones are left out).
THREAD_LENGTH = 200


def _last_read(user):
    return Coalesce(
        Subquery(
            ConversationRead.objects.filter(conversation=OuterRef("pk"), user=user)
            .values("last_read_message_id")[:1]
        ),
        Value(0),
    )


def with_unread(conversations, user):
    """``conversations`` annotated with ``unread``: messages by others after the last one
    ``user`` read."""
    return conversations.annotate(my_last_read=_last_read(user)).annotate(
        unread=Count(
            "messages",
            filter=Q(messages__pk__gt=F("my_last_read")) & ~Q(messages__author=user),
        )
    )


@dataclass
class Thread:
    """One enrollment's conversation as one viewer sees it."""

    enrollment: object
    conversation: object = None
    messages: list = field(default_factory=list)
    earlier: bool = False  # older messages were left out
    last_read: int = 0  # the latest message the viewer had read before this visit

    @property
    def latest_id(self):
        return self.messages[-1].pk if self.messages else 0


def _messages(conversation_ids, limit):
    """The latest ``limit`` messages of each conversation, oldest first, with their authors
    and files: two queries."""
    from django.db.models import Window
    from django.db.models.functions import RowNumber

    rows = (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("conversation_id")],
                              order_by=[F("id").desc()]))
        .filter(rank__lte=limit + 1)
        .select_related("author")
        .prefetch_related(
            Prefetch("attachments", queryset=MessageAttachment.objects.order_by("pk"))
        )
        .order_by("conversation_id", "id")
    )
    grouped = {}
    for message in rows:
        grouped.setdefault(message.conversation_id, []).append(message)
    return grouped


def threads(user, enrollments, limit=THREAD_LENGTH):
    """{enrollment id: Thread} of ``enrollments`` (the viewer may read them all): four
    queries, however many."""
    ids = [e.pk for e in enrollments]
    conversations = {
        c.enrollment_id: c
        for c in Conversation.objects.filter(enrollment_id__in=ids).annotate(
            my_last_read=_last_read(user)
        )
    }
    grouped = _messages([c.pk for c in conversations.values()], limit) if conversations else {}
    result = {}
    for e in enrollments:
        conversation = conversations.get(e.pk)
        thread = Thread(enrollment=e, conversation=conversation)
        if conversation is not None:
            rows = grouped.get(conversation.pk, [])
            thread.earlier = len(rows) > limit
            thread.messages = rows[-limit:]
            thread.last_read = conversation.my_last_read
            for message in thread.messages:
                message.is_new = message.pk > thread.last_read and message.author_id != user.pk
        result[e.pk] = thread
    return result


def inbox(user):
    """The conversations ``user`` may read, liveliest first, with ``unread`` counts, the
    client and the engagement, and the latest message's start (``latest_body``)."""
    latest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id")
    return (
        with_unread(
            Conversation.objects.filter(
                enrollment_id__in=visible(user, "view_messages").values("pk"),
                last_message_at__isnull=False,
            ),
            user,
        )
        .annotate(latest_body=Subquery(latest.values("body")[:1]),
                  latest_author_id=Subquery(latest.values("author_id")[:1]))
        .select_related("enrollment__client", "enrollment__engagement")
        .order_by("-last_message_at", "-pk")
    )


def unread_total(user):
    """Unread messages in the conversations ``user`` writes in (the client's own, or their
    clients' as a coach): one query."""
    return (
        Message.objects.filter(
            conversation__enrollment_id__in=visible(user, "write_messages").values("pk")
        )
        .exclude(author=user)
        .filter(pk__gt=Coalesce(
            Subquery(
                ConversationRead.objects.filter(
                    conversation=OuterRef("conversation_id"), user=user
                ).values("last_read_message_id")[:1]
            ),
            Value(0),
        ))
        .count()
    )


def unread_by_enrollment(user, enrollment_ids):
    """{enrollment id: unread messages} for the reader's own journeys: one query."""
    if not enrollment_ids:
        return {}
    rows = with_unread(Conversation.objects.filter(enrollment_id__in=enrollment_ids), user)
    return {c.enrollment_id: c.unread for c in rows}


def client_messages(user):
    """Where the client's "Messages" link goes, and how many messages wait there, as
    (enrollment public id or None, unread): the client's own conversation with their coaches
    (the liveliest, if they have several journeys), or a journey with a coach to write to
    when nothing has been written yet; None when there is nobody to write to. One query
    (a staff member's clients' conversations are not theirs: only their own)."""
    last_read = Coalesce(
        Subquery(
            ConversationRead.objects.filter(conversation=OuterRef("conversation"), user=user)
            .values("last_read_message_id")[:1]
        ),
        Value(0),
    )
    with_coach = Exists(
        CoachAssignment.objects.filter(enrollment=OuterRef("pk"), ended_at__isnull=True)
    )
    rows = list(
        visible(user, "view_messages").filter(client=user)
        .annotate(has_coach=with_coach, my_last_read=last_read)
        .annotate(unread=Count(
            "conversation__messages",
            filter=Q(conversation__messages__pk__gt=F("my_last_read"))
            & ~Q(conversation__messages__author=user),
        ))
        .filter(Q(conversation__last_message_at__isnull=False) | Q(has_coach=True))
        .order_by(F("conversation__last_message_at").desc(nulls_last=True), "-starts_at", "-pk")
        .values_list("public_id", "unread")
    )
    if not rows:
        return None, 0
    return rows[0][0], sum(unread for _, unread in rows)
