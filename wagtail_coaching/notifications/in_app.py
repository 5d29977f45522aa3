"""The reader's in-app notifications: which they see, and each as a line of text with a link.

The dashboard's list (the latest ones and the unread count) is one query.
"""

import logging
from dataclasses import dataclass

from django.db.models import Case, Exists, OuterRef, Sum, Value, When, Window
from django.template import TemplateDoesNotExist

from ..models import Notification, NotificationChannel, NotificationPreference
from .emails import render_subject
from .kinds import notification_kinds, optional_kinds

logger = logging.getLogger(__name__)

# How many in-app notifications the dashboard lists (the notifications page lists them all).
DASHBOARD_NOTIFICATIONS = 5


def in_app_notifications(user):
    """``user``'s in-app notifications, latest first: never another person's, never one the
    outbox skipped, nor one of a kind they have switched off since it was queued."""
    switched_off = NotificationPreference.objects.filter(
        user=user, kind=OuterRef("kind"), enabled=False
    ).filter(kind__in=list(optional_kinds()))
    return (
        Notification.objects.filter(
            recipient=user, channel=NotificationChannel.IN_APP, skipped=False
        )
        .exclude(Exists(switched_off))
        .order_by("-created_at", "-id")
    )


@dataclass
class NotificationItem:
    """One line of an in-app notification list."""

    notification: Notification
    text: str
    at: object
    url: str
    unread: bool


def _safe_path(path):
    """A local path from a payload (never another site's address)."""
    local = (
        isinstance(path, str) and path.startswith("/") and not path.startswith("//")
        and "\\" not in path
    )
    return path if local else ""


def notification_link(payload):
    """Where an in-app notification leads: the conversation for a message, the step, the
    sessions page for a session, else the dashboard (paths written into the payload when it
    was queued)."""
    if payload.get("conversation_path"):
        return _safe_path(payload["conversation_path"])
    if payload.get("activity_path"):
        return _safe_path(payload["activity_path"])
    if payload.get("starts_at") and payload.get("sessions_path"):
        return _safe_path(payload["sessions_path"])
    return _safe_path(payload.get("dashboard_path") or payload.get("sessions_path") or "")


def notification_text(notification):
    """The one-line text of a notification: its kind's email subject
    (``wagtail_coaching/emails/<kind>_subject.txt``, overridable), rendered with the same
    context as the email, in the reader's current language."""
    try:
        return render_subject(notification)
    except Exception as exc:  # a missing or broken template must not break the page
        if not isinstance(exc, TemplateDoesNotExist):
            logger.exception("The subject of notification %s did not render", notification.pk)
        kind = notification_kinds().get(notification.kind)
        return str(kind.label) if kind else notification.kind


def notification_items(user, notifications):
    """``NotificationItem``s for rows of ``in_app_notifications(user)`` (no queries)."""
    items = []
    for n in notifications:
        n.recipient = user  # the list is the reader's own: no query per row
        items.append(NotificationItem(
            notification=n, text=notification_text(n), at=n.created_at,
            url=notification_link(n.payload or {}), unread=n.read_at is None,
        ))
    return items


def latest_notifications(user, limit=DASHBOARD_NOTIFICATIONS):
    """(the latest ``limit`` in-app notifications as items, how many are unread): one query.
    The unread ones are counted over all the reader's notifications, before the limit (a
    window over the whole result)."""
    unread = Case(When(read_at__isnull=True, then=Value(1)), default=Value(0))
    rows = list(
        in_app_notifications(user).annotate(unread_total=Window(Sum(unread)))[:limit]
    )
    return notification_items(user, rows), (rows[0].unread_total if rows else 0)


def unread_count(user):
    """How many of ``user``'s in-app notifications are unread: one query."""
    return in_app_notifications(user).filter(read_at__isnull=True).count()
