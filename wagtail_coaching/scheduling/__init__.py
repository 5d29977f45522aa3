"""Scheduling: group sessions and 1:1 coaching sessions, their seats, invitations and
calendar files. Views, actors and commands call these services; they never change the
session models themselves.

- ``sessions``: create one session or a series, edit or cancel one or all future, change
  the coach;
- ``editing``: the edit form's change (details, coach, co-coaches) in one transaction;
- ``seats``: register (a seat, or the waitlist), cancel or decline, fill freed seats;
  ``waitlist``: a registration's place on the waitlist;
- ``invites``: the audience, asking for invitations, the invitation job, signed
  accept/decline links;
- ``attendance``: attended or no-show, completing the journey's group-session step;
- ``booking``: availability, booking a 1:1 from the allotment, reschedule, cancel, record;
- ``feeds``: personal calendar feeds; ``payouts``: sessions delivered per coach;
- ``calendar`` and ``messages``: the iCalendar files and the emails that carry them.
"""

from .attendance import mark_attendance, mark_everyone
from .booking import (
    allotment,
    allotments,
    book_session,
    bookable_times,
    cancel_session,
    cancels_late,
    is_late,
    late_cancel_hours,
    publish_availability,
    record_session,
    remove_slot,
    reschedule_session,
    uses_allotment,
)
from .editing import edit_session
from .errors import (
    AllotmentUsedUp,
    CoachNotAllowed,
    InvalidSchedule,
    InvalidToken,
    NotEligible,
    SchedulingError,
    SessionNotOpen,
    SlotTaken,
    TooLate,
)
from .feeds import feed_calendar, feed_of, reset_feed
from .invites import (
    audience_members,
    invite_audience,
    read_rsvp_token,
    rsvp_token,
    send_invitations,
)
from .payouts import delivered
from .seats import (
    cancel_registration,
    fill_seats,
    holds_seat,
    register,
    seat_holders,
    seats_left,
    seats_taken,
    seats_taken_annotation,
)
from .sessions import (
    SessionPlan,
    cancel_sessions,
    change_coach,
    create_sessions,
    series_starts,
    update_sessions,
)

__all__ = [
    "AllotmentUsedUp",
    "CoachNotAllowed",
    "InvalidSchedule",
    "InvalidToken",
    "NotEligible",
    "SchedulingError",
    "SessionNotOpen",
    "SessionPlan",
    "SlotTaken",
    "TooLate",
    "allotment",
    "allotments",
    "audience_members",
    "book_session",
    "bookable_times",
    "cancel_registration",
    "cancel_session",
    "cancel_sessions",
    "cancels_late",
    "change_coach",
    "create_sessions",
    "delivered",
    "edit_session",
    "feed_calendar",
    "feed_of",
    "is_late",
    "fill_seats",
    "invite_audience",
    "holds_seat",
    "late_cancel_hours",
    "mark_attendance",
    "mark_everyone",
    "publish_availability",
    "read_rsvp_token",
    "record_session",
    "register",
    "remove_slot",
    "reschedule_session",
    "reset_feed",
    "rsvp_token",
    "seat_holders",
    "seats_left",
    "seats_taken",
    "seats_taken_annotation",
    "send_invitations",
    "series_starts",
    "update_sessions",
    "uses_allotment",
]
