"""Scheduling: group sessions and 1:1 coaching sessions, their seats, invitations and
calendar files. Views, actors and commands call these services; they never change the
session models themselves.

- ``sessions``: create one session or a series, edit or cancel one or all future, change
  the coach;
- ``editing``: the edit form's change (details, coach, co-coaches) in one transaction;
- ``seats``: register (a seat, or the waitlist), cancel or decline, fill freed seats;
  ``waitlist``: a registration's place on the waitlist;
- ``invites``: the audience, asking for invitations, the invitation job, signed
  accept/decline links; ``series``: a series in people's calendars as one recurring event
  (one invitation, one update per person per change);
- ``attendance``: attended or no-show, completing the journey's group-session step;
- ``booking``: availability, booking a 1:1 from the allotment (by the client, or by staff
  for them, also outside availability), reschedule, cancel, record;
- ``busy``: when a coach or a client is busy, and whether a coach is free at a time
  (``busy_reason``, ``free_slots_at``);
- ``reassignment``: reassigning a client's coach with the 1:1 sessions booked ahead (move,
  keep or cancel each);
- ``feeds``: personal calendar feeds; ``payouts``: sessions delivered per coach;
- ``calendar`` and ``messages``: the iCalendar files and the emails that carry them.
"""

from .attendance import mark_attendance, mark_everyone
from .booking import (
    allotment,
    allotments,
    allotments_left,
    book_session,
    bookable_times,
    cancel_session,
    cancels_late,
    is_late,
    late_cancel_hours,
    open_allotments,
    open_steps,
    publish_availability,
    record_session,
    remove_slot,
    reschedule_session,
    uses_allotment,
)
from .busy import busy_reason, free_slots_at
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
from .reassignment import plan_reassignment, reassign_with_sessions, sessions_ahead
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
    "allotments_left",
    "audience_members",
    "book_session",
    "bookable_times",
    "busy_reason",
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
    "free_slots_at",
    "is_late",
    "fill_seats",
    "invite_audience",
    "holds_seat",
    "late_cancel_hours",
    "mark_attendance",
    "mark_everyone",
    "open_allotments",
    "open_steps",
    "plan_reassignment",
    "publish_availability",
    "read_rsvp_token",
    "reassign_with_sessions",
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
    "sessions_ahead",
    "series_starts",
    "update_sessions",
    "uses_allotment",
]
