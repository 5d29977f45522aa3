"""Named errors raised by the journey services."""


class JourneyError(Exception):
    """Base class: the message is safe to show to the person who asked."""


class EngagementNotAvailable(JourneyError):
    pass


class AlreadyEnrolled(JourneyError):
    def __init__(self, message, enrollment=None):
        super().__init__(message)
        self.enrollment = enrollment


class ActivityNotAvailable(JourneyError):
    """The activity is locked, removed, or already finished."""


class EnrollmentNotOpen(JourneyError):
    pass


class InvalidActivity(JourneyError):
    """An activity's value does not validate; ``errors`` is the block's ValidationError
    (``block_errors`` by field), when there is one."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.errors = errors


class EngagementFull(JourneyError):
    pass


class NoCoachAvailable(JourneyError):
    """No coach of the role is active and under capacity."""


class CoachUnavailable(JourneyError):
    """The chosen coach is not in the team, not taking clients, or full."""
