"""Rows of the URL × role table for booking (see tests/test_admin_matrix.py)."""

from .routes import Route, by_public_id

BOOKING_ROUTES = {
    "wagtail_coaching:book": Route(
        admin=False, targets="allotments", lookup="book_session", action="book_session",
        args=by_public_id,
    ),
    # Asking the coach for a time (tests/test_booking_week.py).
    "wagtail_coaching:ask_for_time": Route(
        admin=False, method="post", targets="allotments", lookup="book_session",
        action="book_session", args=by_public_id,
        data=lambda setup, activity: {"days": ["mon", "thu"], "note": "After 4pm please."},
    ),
    # One session's own calendar file (tests/test_booking_week.py).
    "wagtail_coaching:session_calendar": Route(
        admin=False, targets="bookings", lookup="view_coachingsession",
        action="view_coachingsession", args=by_public_id,
    ),
    "wagtail_coaching:reschedule": Route(
        admin=False, targets="bookings", lookup="view_coachingsession",
        action="reschedule_coachingsession", args=by_public_id,
    ),
    "wagtail_coaching:cancel_booking": Route(
        admin=False, method="post", targets="bookings", lookup="view_coachingsession",
        action="reschedule_coachingsession", args=by_public_id,
    ),
}
