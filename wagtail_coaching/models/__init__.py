from .companies import Cohort, Company
from .engagements import AbstractEngagementPage, EngagementPage, EngagementPageMixin
from .enrollments import (
    DONE_STATES,
    OPEN_STATUSES,
    ActivitySource,
    ActivityState,
    ClientActivity,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
)
from .notes import Consent, ConsentPurpose, NoteVisibility, SessionNote
from .notifications import Notification, NotificationChannel
from .teams import (
    AssignmentMethod,
    CoachAssignment,
    CoachProfile,
    RoundRobinCursor,
    Team,
    TeamMembership,
)

__all__ = [
    "AssignmentMethod",
    "CoachAssignment",
    "CoachProfile",
    "Consent",
    "ConsentPurpose",
    "NoteVisibility",
    "RoundRobinCursor",
    "SessionNote",
    "Team",
    "TeamMembership",
    "DONE_STATES",
    "OPEN_STATUSES",
    "AbstractEngagementPage",
    "ActivitySource",
    "ActivityState",
    "ClientActivity",
    "Cohort",
    "Company",
    "EngagementPage",
    "EngagementPageMixin",
    "Enrollment",
    "EnrollmentSource",
    "EnrollmentStatus",
    "EventKind",
    "JourneyEvent",
    "Notification",
    "NotificationChannel",
]
