"""A client's conversations in their data export, and erased with them."""

from django.db import transaction
from django.db.models import Q

from ..models import Message, MessageAttachment, Notification
from ..utils.people import display_name

ERASED_MESSAGE = "[erased]"


def messages_of_client(user):
    """Every message of ``user``'s conversations (theirs and their coaches'), oldest first,
    with their authors, enrollments and files: two queries."""
    return (
        Message.objects.filter(conversation__enrollment__client=user)
        .select_related("author", "conversation__enrollment__engagement")
        .prefetch_related("attachments")
        .order_by("created_at", "pk")
    )


def export_rows(user):
    """The client's messages as plain values for the export."""
    return [
        {
            "enrollment": m.conversation.enrollment.public_id,
            "engagement": m.conversation.enrollment.engagement.title,
            "author": display_name(m.author),
            "from_client": m.author_id == user.pk,
            "created_at": m.created_at,
            "body": m.body,
            "attachments": [
                {"name": a.name, "size": a.size, "content_type": a.content_type}
                for a in m.attachments.all()
            ],
        }
        for m in messages_of_client(user)
    ]


def erase_conversations(user):
    """Erase what was written in ``user``'s conversations (both sides) and the files shared
    there; the messages stay as dated rows. Returns True if anything was left to erase."""
    messages = Message.objects.filter(conversation__enrollment__client=user)
    changed = bool(messages.exclude(body=ERASED_MESSAGE).update(body=ERASED_MESSAGE))
    files = MessageAttachment.objects.filter(message__in=messages)
    stored = [(a.file.storage, a.file.name) for a in files]
    changed |= bool(files.delete()[0])
    # The files go once the erasure has committed (a rollback keeps them with their rows).
    transaction.on_commit(lambda: [storage.delete(name) for storage, name in stored])
    # The coaches' notices about these conversations name the client.
    conversation_ids = list(
        messages.values_list("conversation_id", flat=True).distinct().order_by()
    )
    if conversation_ids:
        about = Q(*[Q(dedup_key__startswith=f"conversation:{cid}:") for cid in conversation_ids],
                  _connector=Q.OR)
        changed |= bool(Notification.objects.filter(about).exclude(payload={}).update(payload={}))
    return changed
