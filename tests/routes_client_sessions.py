"""Rows of the URL × role table for client sessions (see tests/test_admin_matrix.py).

``rsvp`` and ``calendar_feed`` are authenticated by a token, not a role (EXEMPT there;
tested in tests/test_session_views.py).
"""

from wagtail_coaching.permissions import allowed
from wagtail_coaching.scheduling import register

from .routes import Route, by_public_id


def register_everyone_eligible(setup):
    """Every client the session is for holds a seat, so each of them can leave it."""
    for session in setup.group_sessions:
        for user in setup.world.users():
            if allowed(user, "register_groupsession", session):
                register(session, user)


def by_invite_token(session):
    return [session.invite_token]


CLIENT_SESSION_ROUTES = {
    # Any signed-in user has a sessions page (and a calendar link to reset).
    "wagtail_coaching:sessions": Route(admin=False),
    "wagtail_coaching:calendar_reset": Route(admin=False, method="post"),
    "wagtail_coaching:group_session": Route(
        admin=False, targets="group_sessions", lookup="view_groupsession",
        action="view_groupsession", args=by_public_id,
    ),
    "wagtail_coaching:register": Route(
        admin=False, method="post", targets="group_sessions", lookup="view_groupsession",
        action="register_groupsession", args=by_public_id,
    ),
    "wagtail_coaching:leave": Route(
        admin=False, method="post", targets="group_sessions", lookup="view_groupsession",
        action="register_groupsession", args=by_public_id, prepare=register_everyone_eligible,
    ),
    # The invite link: having it finds the session; the audience decides who may register.
    "wagtail_coaching:join": Route(
        admin=False, targets="group_sessions", action="register_groupsession",
        args=by_invite_token,
    ),
}
