"""Rows of the URL × role table for co-coaches (see tests/test_admin_matrix.py): adding and
removing a co-coach from the client card. Coaching admins may on every client, a coach on
the clients they are the main coach of; anyone else who sees the card is refused (403)."""

from wagtail_coaching.journeys.co_coaching import add_co_coach

from .routes import Route, by_public_id


def teammate(setup, e):
    """A coach of the enrollment's team who does not coach its client yet."""
    w = setup.world
    return w.coach_b2 if e.engagement_id == w.engagement_b.pk else w.coach_a2


def add_teammates(setup):
    for e in setup.enrollments:
        add_co_coach(e, teammate(setup, e))


def co_coach_route(**kw):
    return Route(method="post", targets="enrollments", lookup="view_enrollment",
                 action="manage_co_coaches", args=by_public_id, **kw)


CO_COACH_ROUTES = {
    "wagtail_coaching_admin:add_co_coach": co_coach_route(
        data=lambda setup, e: {"coach": teammate(setup, e).pk, "stage": ""},
    ),
    "wagtail_coaching_admin:remove_co_coach": co_coach_route(
        prepare=add_teammates,
        data=lambda setup, e: {"coach": teammate(setup, e).pk},
    ),
}
