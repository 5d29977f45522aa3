"""Conversations: one private thread per enrollment between the client and their coaches,
with files shared in it and what each person has read."""

import uuid

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..conf import coaching_settings

# The longest message one may write.
MESSAGE_MAX_LENGTH = 10_000


class Conversation(models.Model):
    """The thread of one enrollment, made when its first message is written."""

    enrollment = models.OneToOneField(
        "wagtail_coaching.Enrollment", on_delete=models.CASCADE, related_name="conversation",
        verbose_name=_("enrollment"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the latest message was written (the inbox lists the liveliest first).
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self):
        return f"Conversation {self.pk}"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("message"), max_length=MESSAGE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "id"], name="coaching_message_thread")]

    def __str__(self):
        return f"Message {self.pk}"


def attachment_storage():
    """The storage named by ``MESSAGE_ATTACHMENT_STORAGE`` (read when models load)."""
    return storages[coaching_settings.MESSAGE_ATTACHMENT_STORAGE]


def attachment_path(attachment, filename):
    # A random folder per file: the name a person gave the file is kept apart (``name``).
    return f"coaching/messages/{attachment.public_id.hex}/file"


class MessageAttachment(models.Model):
    """A file shared in a conversation, served only to those who may read it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, storage=attachment_storage, max_length=255)
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(_("size"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self):
        return self.name


class ConversationRead(models.Model):
    """How far one person has read one conversation (the latest message id they saw)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="reads"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    last_read_message_id = models.BigIntegerField(default=0)
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="coaching_one_read_state_per_person"
            )
        ]
