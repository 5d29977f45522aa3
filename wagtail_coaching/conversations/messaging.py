"""Writing a message: one function for the client's portal, the admin's conversation page
and the client card alike."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import MESSAGE_MAX_LENGTH, Conversation, Message, MessageAttachment
from .attachments import check_attachment
from .errors import MessageRefused
from .notices import queue_message_notices
from .reading import mark_read


def conversation_for(enrollment):
    """The enrollment's conversation, made if it has none yet."""
    conversation, _created = Conversation.objects.get_or_create(enrollment=enrollment)
    return conversation


def post_message(enrollment, author, body="", files=(), now=None):
    """Write a message (and the files shared with it) in ``enrollment``'s conversation and
    tell everyone else in it. Returns the Message, or raises MessageRefused and saves nothing.

    Whether ``author`` may write here is the caller's question (``write_messages`` in the
    permission matrix); this checks what is written: some text or a file, not too long, files
    of an allowed type and size.
    """
    body = (body or "").strip()
    if len(body) > MESSAGE_MAX_LENGTH:
        raise MessageRefused(
            _("A message can be up to %(limit)s characters long.") % {"limit": MESSAGE_MAX_LENGTH}
        )
    checked = [(uploaded, *check_attachment(uploaded)) for uploaded in files]
    if not body and not checked:
        raise MessageRefused(_("Write a message or attach a file."))
    now = now or timezone.now()
    saved = []
    try:
        with transaction.atomic():
            conversation = conversation_for(enrollment)
            message = Message.objects.create(
                conversation=conversation, author=author, body=body, created_at=now
            )
            for uploaded, name, content_type in checked:
                attachment = MessageAttachment(
                    message=message, name=name, content_type=content_type, size=uploaded.size
                )
                attachment.file.save("file", uploaded, save=False)
                saved.append(attachment.file)
                attachment.save()
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
            # One has read what one writes (and what came before it).
            mark_read(author, {conversation.pk: message.pk}, now)
            queue_message_notices(message, conversation, enrollment, now)
    except Exception:
        for stored in saved:  # nothing was saved: no file stays behind either
            stored.storage.delete(stored.name)
        raise
    return message
