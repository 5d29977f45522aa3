"""Domain services of the client journey. Call these, not the models, to change a journey."""

from .enroll import enroll, enroll_many
from .errors import (
    ActivityNotAvailable,
    AlreadyEnrolled,
    EngagementNotAvailable,
    EnrollmentNotOpen,
    InvalidActivity,
    JourneyError,
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
    "enroll_many",
    "skip_activity",
    "sync_engagement",
    "unlock_activity",
    "unlock_due_activities",
]
