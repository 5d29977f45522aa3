"""The outbox: every message the platform sends is a row first."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    IN_APP = "in_app", _("In the app")


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_notifications",
        null=True, blank=True,
    )
    # An email to someone without an account (a reply to an enquiry): no recipient, this
    # address instead.
    email = models.EmailField(max_length=254, blank=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=64)
    # Makes "send this once" a database fact: a second insert with the same key is ignored.
    dedup_key = models.CharField(max_length=255, unique=True)
    channel = models.CharField(
        max_length=16, choices=NotificationChannel.choices, default=NotificationChannel.EMAIL
    )
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Counted when a sender claims the row, so a message that crashes its sender still runs
    # out of attempts.
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a sender took the row to send it (see notifications.outbox.claim_notification);
    # cleared when the send fails and the failure is recorded.
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The recipient had switched this kind off: recorded, not delivered.
    skipped = models.BooleanField(default=False)
    # Not sent before this time: a batched email waits for more of its kind (the messages of
    # a conversation written meanwhile join it). Empty: sent at once.
    send_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(sent_at__isnull=True),
                name="coaching_unsent_notifications",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recipient__isnull=False) | ~models.Q(email=""),
                name="coaching_notification_has_recipient",
            )
        ]

    def __str__(self):
        return f"{self.kind} → {self.recipient_id or self.email}"
