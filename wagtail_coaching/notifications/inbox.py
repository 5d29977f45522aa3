"""The reader's in-app notifications: marking them read (one when it is opened, or all)."""

from django.utils import timezone

from ..models import Notification, NotificationChannel


def mark_all_read(user_id, now=None):
    """Mark every unread in-app notification of the user read. Returns how many."""
    return Notification.objects.filter(
        recipient_id=user_id, channel=NotificationChannel.IN_APP, read_at__isnull=True
    ).update(read_at=now or timezone.now())


def mark_read(notification, now=None):
    """Mark one in-app notification read (it was opened)."""
    if notification.read_at is None:
        notification.read_at = now or timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
