"""Rows of the URL × role table for the staff side of 1:1 sessions: availability, the 1:1
sessions list and page with their actions and "My calendar" (see
tests/test_admin_matrix.py; payouts are the sessions delivered report, in
tests/routes_reports.py)."""

from datetime import timedelta

from django.utils import timezone

from wagtail_coaching.models import AvailabilitySlot, CoachingSession, CoachingSessionStatus

from .routes import Route, by_public_id


def free_slots_only(setup):
    """Withdrawing works on a slot nobody booked (a booked one is an error message)."""
    booked = CoachingSession.objects.filter(status=CoachingSessionStatus.BOOKED).values("slot_id")
    setup.slots = list(AvailabilitySlot.objects.exclude(pk__in=booked).order_by("pk"))


def sessions_started(setup):
    """A session is recorded once it has started."""
    now = timezone.now()
    CoachingSession.objects.filter(pk__in=[b.pk for b in setup.bookings]).update(
        starts_at=now - timedelta(hours=1), ends_at=now
    )


def free_time_of_the_coach(setup, session):
    """Another free time of the session's coach (world_sessions gives each coach two)."""
    booked = CoachingSession.objects.filter(status=CoachingSessionStatus.BOOKED).values("slot_id")
    slot = (
        AvailabilitySlot.objects.filter(coach_id=session.coach_id)
        .exclude(pk__in=booked)
        .order_by("starts_at")
        .first()
    )
    return {"starts_at": slot.starts_at.isoformat()}


def session_route(action, **kw):
    return Route(method="post", targets="bookings", lookup="view_coachingsession",
                 action=action, args=by_public_id, **kw)


ONE_TO_ONE_ADMIN_ROUTES = {
    # Availability: coaches publish their own, admins anyone's.
    "coaching_availability_modeladmin_index": Route(action="view_availabilityslot"),
    "coaching_availability_modeladmin_create": Route(action="change_availabilityslot"),
    "wagtail_coaching_admin:slot_remove": Route(
        method="post", targets="slots", lookup="view_availabilityslot",
        action="change_availabilityslot", args=by_public_id, prepare=free_slots_only,
    ),
    # 1:1 sessions.
    "coaching_one_to_one_modeladmin_index": Route(action="view_coachingsession"),
    "coaching_one_to_one_modeladmin_inspect": Route(
        targets="bookings", lookup="view_coachingsession", action="view_coachingsession"
    ),
    "wagtail_coaching_admin:one_to_one_record": session_route(
        "change_coachingsession", prepare=sessions_started,
        data=lambda setup, s: {"outcome": "completed", "summary": "Matrix summary"},
    ),
    "wagtail_coaching_admin:one_to_one_reschedule": session_route(
        "reschedule_coachingsession", data=free_time_of_the_coach
    ),
    "wagtail_coaching_admin:one_to_one_cancel": session_route("reschedule_coachingsession"),
    # Anyone working in the coaching admin has a calendar feed of their own.
    "wagtail_coaching_admin:my_calendar": Route(),
    "wagtail_coaching_admin:my_calendar_reset": Route(method="post"),
}
