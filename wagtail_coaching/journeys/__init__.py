"""Domain services of the client journey. Call these, not the models, to change a journey."""

from .assignment import assign_coach, available_coaches
from .care import add_note, pause_enrollment, resume_enrollment, set_consent
from .enroll import enroll, enroll_cohort, enroll_many
from .errors import (
    ActivityNotAvailable,
    AlreadyEnrolled,
    CoachUnavailable,
    EngagementFull,
    EngagementNotAvailable,
    EnrollmentNotOpen,
    InvalidActivity,
    JourneyError,
    NoCoachAvailable,
)
from .progress import (
    add_extra_activity,
    advance,
    complete_activity,
    skip_activity,
    unlock_activity,
    unlock_due_activities,
)
from .sync import sync_engagement

__all__ = [
    "add_note",
    "pause_enrollment",
    "resume_enrollment",
    "set_consent",
    "CoachUnavailable",
    "EngagementFull",
    "NoCoachAvailable",
    "assign_coach",
    "available_coaches",
    "ActivityNotAvailable",
    "AlreadyEnrolled",
    "EngagementNotAvailable",
    "EnrollmentNotOpen",
    "InvalidActivity",
    "JourneyError",
    "add_extra_activity",
    "advance",
    "complete_activity",
    "enroll",
    "enroll_cohort",
    "enroll_many",
    "skip_activity",
    "sync_engagement",
    "unlock_activity",
    "unlock_due_activities",
]
