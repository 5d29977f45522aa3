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
from .notifications import Notification, NotificationChannel

__all__ = [
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
