"""Rows of the URL × role table for messages (see tests/test_admin_matrix.py): the client's
conversation and its files on the site, the admin's inbox and conversation page, and
opening an in-app notification. HR partners and sales managers read no conversation and
no file: 404 on each conversation and file, 403 on the inbox."""

from django.core.files.uploadedfile import SimpleUploadedFile

from wagtail_coaching.conversations import post_message
from wagtail_coaching.models import Notification, NotificationChannel

from .routes import Route, by_public_id


def pdf(name="worksheet.pdf"):
    return SimpleUploadedFile(name, b"%PDF-1.4 a worksheet", content_type="application/pdf")


def conversations_with_files(setup):
    """Each enrollment's client has written, with a file (found by its random id)."""
    for e in setup.enrollments:
        message = post_message(e, e.client, "Hello from the matrix", [pdf()])
        e.attachment_id = message.attachments.get().public_id


def in_app_notices(setup):
    """An in-app notification for a client and one for a coach."""
    w = setup.world
    setup.notifications = [
        Notification.objects.create(
            recipient=user, kind="welcome", dedup_key=f"matrix-open:{user.pk}",
            channel=NotificationChannel.IN_APP, payload={"dashboard_path": "/coaching/"},
        )
        for user in (w.client_a1, w.coach_a)
    ]


def conversation_route(action, admin, method="get", **kw):
    return Route(admin=admin, method=method, targets="enrollments", lookup="view_messages",
                 action=action, args=by_public_id, **kw)


def message(setup, enrollment):
    return {"body": "A message from the matrix"}


MESSAGE_ROUTES = {
    "wagtail_coaching:conversation": conversation_route("view_messages", admin=False),
    "wagtail_coaching:message_attachment": Route(
        admin=False, targets="enrollments", lookup="view_messages", action="view_messages",
        args=lambda e: [e.attachment_id], prepare=conversations_with_files,
    ),
    "wagtail_coaching_admin:messages": Route(action="view_messages"),
    "wagtail_coaching_admin:conversation": conversation_route("view_messages", admin=True),
    "wagtail_coaching:notification_open": Route(
        admin=False, targets="notifications", lookup="open_notification",
        action="open_notification", prepare=in_app_notices,
    ),
}

# Writing is a POST to the same addresses: only the client and their current coaches.
WRITE_ROUTES = {
    "wagtail_coaching:conversation": conversation_route(
        "write_messages", admin=False, method="post", data=message
    ),
    "wagtail_coaching_admin:conversation": conversation_route(
        "write_messages", admin=True, method="post", data=message
    ),
}
