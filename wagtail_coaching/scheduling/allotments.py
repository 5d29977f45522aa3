"""The allotment rule: how many 1:1 sessions a step grants, how many are used and how many
are left, one step at a time or for pages that list many. A session uses one of its step's
sessions when it is booked, held, missed or cancelled late (``USED_STATUSES``)."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Count

from ..journeys.program import activity_block
from ..models import (
    USED_STATUSES,
    ActivityState,
    ClientActivity,
    CoachingSession,
    EngagementPage,
    Enrollment,
    EnrollmentStatus,
)

ONE_TO_ONE = "one_to_one"


@dataclass(frozen=True)
class Allotment:
    total: int
    used: int
    minutes: int

    @property
    def left(self):
        return max(self.total - self.used, 0)


def _allotment(activity, used):
    _block, value = activity_block(activity)
    return Allotment(
        total=int((value or {}).get("sessions") or 0),
        used=used,
        minutes=int((value or {}).get("duration_minutes") or 60),
    )


def uses_allotment(session):
    """Whether a 1:1 session uses up one of its step's sessions (booked, held, missed or
    cancelled late)."""
    return session.status in USED_STATUSES


def allotment(activity):
    """How many 1:1 sessions the activity grants, and how many are used."""
    used = CoachingSession.objects.filter(activity=activity, status__in=USED_STATUSES).count()
    return _allotment(activity, used)


def allotments(activities, sessions):
    """{activity id: Allotment} for 1:1 steps, from rows already loaded: ``activities``
    (with ``enrollment__engagement``) and all their ``sessions``. No queries: the same
    figures ``allotment`` gives one step at a time, for pages that list many."""
    used = Counter(s.activity_id for s in sessions if uses_allotment(s))
    return {activity.pk: _allotment(activity, used[activity.pk]) for activity in activities}


def open_steps(enrollment_ids):
    """The 1:1 steps sessions can be booked from now (open, in an active enrollment) of
    ``enrollment_ids`` (ids or an enrollment queryset), as a queryset."""
    return ClientActivity.objects.filter(
        enrollment_id__in=enrollment_ids, enrollment__status=EnrollmentStatus.ACTIVE,
        kind=ONE_TO_ONE, state=ActivityState.AVAILABLE,
    )


def open_allotments(enrollment_ids):
    """``open_steps`` with their engagement loaded (``allotments`` reads the program)."""
    return list(
        open_steps(enrollment_ids)
        .select_related("enrollment__engagement")
        .order_by("enrollment_id", "pk")
    )


def allotments_left(steps):
    """``[(step, Allotment)]`` for the 1:1 steps of ``steps`` (a ClientActivity queryset,
    e.g. from ``open_steps``, loaded with its ``enrollment``) that still have sessions left,
    in the queryset's order: the same figures as ``allotment``, for pages that list many.

    Three queries however many steps: the steps, the sessions they used, and the
    engagements whose programs give the number of sessions (each program is read once, not
    once per step: the steps of one engagement share one page object).
    """
    rows = list(steps)
    if not rows:
        return []
    used = dict(
        CoachingSession.objects.filter(activity__in=steps.values("pk"), status__in=USED_STATUSES)
        .order_by()
        .values("activity_id")
        .annotate(n=Count("pk"))
        .values_list("activity_id", "n")
    )
    _share_engagements([step.enrollment for step in rows])
    found = []
    for step in rows:
        allot = _allotment(step, used.get(step.pk, 0))
        if allot.left > 0:
            found.append((step, allot))
    return found


def _share_engagements(enrollments):
    """Give ``enrollments`` their engagement, one page object per engagement (one query)."""
    missing = [e for e in enrollments if not Enrollment.engagement.is_cached(e)]
    if not missing:
        return
    pages = EngagementPage.objects.in_bulk({e.engagement_id for e in missing})
    for enrollment in missing:
        enrollment.engagement = pages[enrollment.engagement_id]
