"""Domain services of the client journey. Call these, not the models, to change a journey."""

from .assignment import assign_coach, available_coaches
from .care import (
    add_note,
    employer_sponsors,
    end_for_erasure,
    pause_enrollment,
    resume_enrollment,
    set_consent,
    sharing_choice,
    sponsors_to_ask_on_form,
)
from .co_coaching import NotCoCoaching, add_co_coach, remove_co_coach
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
from .practices import adherence, log_practice
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
    "NotCoCoaching",
    "add_co_coach",
    "remove_co_coach",
    "add_note",
    "end_for_erasure",
    "pause_enrollment",
    "resume_enrollment",
    "set_consent",
    "employer_sponsors",
    "sharing_choice",
    "sponsors_to_ask_on_form",
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
    "adherence",
    "advance",
    "complete_activity",
    "enroll",
    "enroll_cohort",
    "enroll_many",
    "log_practice",
    "skip_activity",
    "sync_engagement",
    "unlock_activity",
    "unlock_due_activities",
]
