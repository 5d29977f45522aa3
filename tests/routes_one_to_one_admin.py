"""Rows of the URL × role table for the staff side of 1:1 sessions: availability, the 1:1
sessions list and page with their actions, staff booking for a client (from the client card
or the list of clients one may book for) and "My calendar" (see
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
    # Staff booking for a client, and moving a session to any time (tests/test_staff_booking.py
    # posts them for each role).
    "wagtail_coaching_admin:book_for_client": Route(
        targets="enrollments", lookup="view_enrollment", action="book_for_client",
        args=by_public_id,
    ),
    # Book for a client, from the 1:1 sessions list: open to whoever may book for clients;
    # which clients each one sees is tests/test_staff_booking.py's.
    "wagtail_coaching_admin:one_to_one_book_for_client": Route(action="book_for_client"),
    "wagtail_coaching_admin:one_to_one_move": Route(
        targets="bookings", lookup="view_coachingsession",
        action="reschedule_coachingsession", args=by_public_id,
    ),
    # Anyone working in the coaching admin has a calendar feed of their own.
    "wagtail_coaching_admin:my_calendar": Route(),
    "wagtail_coaching_admin:my_calendar_reset": Route(method="post"),
    # One's own calendar (CalDAV): only one's own, so no object in the URL. Posting the
    # empty forms changes nothing (the form says what is missing, or "connect first").
    "wagtail_coaching_admin:my_calendar_connect": Route(method="post", action="connect_calendar"),
    "wagtail_coaching_admin:my_calendar_choose": Route(method="post", action="connect_calendar"),
    "wagtail_coaching_admin:my_calendar_check": Route(method="post", action="connect_calendar"),
    "wagtail_coaching_admin:my_calendar_disconnect": Route(
        method="post", action="connect_calendar"
    ),
    "wagtail_coaching_admin:calendar_connections": Route(action="view_calendarconnection"),
}
