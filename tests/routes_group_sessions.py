"""Rows of the URL × role table for group sessions (see tests/test_admin_matrix.py)."""

from datetime import timedelta

from django.utils import timezone

from wagtail_coaching.models import GroupSession

from .routes import Route, by_public_id


def sessions_started(setup):
    """Attendance is taken once a session has started: move every session an hour back."""
    now = timezone.now()
    GroupSession.objects.update(starts_at=now - timedelta(hours=1), ends_at=now)


def session_route(action, **kw):
    return Route(targets="group_sessions", lookup="view_groupsession", action=action, **kw)


def session_post(action, **kw):
    return session_route(action, method="post", args=by_public_id, **kw)


GROUP_SESSION_ROUTES = {
    # The list and the create-series form (a coach creates sessions they or their team run).
    "coaching_sessions_modeladmin_index": Route(action="view_groupsession"),
    "coaching_sessions_modeladmin_create": Route(
        action="create_groupsession", creates=GroupSession
    ),
    "coaching_sessions_modeladmin_edit": session_route("change_groupsession"),
    "coaching_sessions_modeladmin_inspect": session_route("view_groupsession"),
    # The session page's actions.
    "wagtail_coaching_admin:session_invite": session_post("change_groupsession"),
    "wagtail_coaching_admin:session_cancel": session_post(
        "change_groupsession", data=lambda setup, session: {"scope": "one"}
    ),
    "wagtail_coaching_admin:session_attendance": session_post(
        "change_groupsession", data=lambda setup, session: {"everyone": "attended"},
        prepare=sessions_started,
    ),
}
