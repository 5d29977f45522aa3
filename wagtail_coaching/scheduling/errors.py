"""Named errors of the scheduling services; each message is safe to show to whoever asked."""

from ..journeys.errors import JourneyError


class SchedulingError(JourneyError):
    pass


class InvalidSchedule(SchedulingError):
    """Times, recurrence or capacity that do not make sense; nothing was changed."""


class SessionNotOpen(SchedulingError):
    """The session is cancelled, over, or not open to this change."""


class CoachNotAllowed(SchedulingError):
    """The chosen coach would leave the person making the change unable to change the
    session (a coach hands a session only to someone in their team)."""


class NotEligible(SchedulingError):
    """The person is not in the session's audience."""


class SlotTaken(SchedulingError):
    """The time was booked by someone else a moment ago, or is no longer offered."""


class AllotmentUsedUp(SchedulingError):
    """No 1:1 sessions are left in this allotment."""


class TooLate(SchedulingError):
    """Inside the late-cancel window: a reschedule is refused."""


class InvalidToken(SchedulingError):
    """A reply link that was altered, belongs to something else, or has expired."""
