"""Read models for the client site: the dashboard and an enrollment's outline.

Each function runs a fixed number of queries, however many enrollments or activities.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from ..conf import coaching_settings
from ..models import DONE_STATES, ActivityState, ClientActivity, Enrollment, JourneyEvent

VISIBLE_STATES = (
    ActivityState.LOCKED, ActivityState.AVAILABLE, ActivityState.COMPLETED, ActivityState.SKIPPED,
)


@dataclass
class Stage:
    title: str
    activities: list = field(default_factory=list)

    @property
    def done(self):
        return sum(1 for a in self.activities if a.state in DONE_STATES)

    @property
    def total(self):
        return len(self.activities)


@dataclass
class JourneySummary:
    enrollment: Enrollment
    stages: list
    done: int
    total: int
    next_step: ClientActivity | None
    upcoming: list
    coaches: list = field(default_factory=list)

    @property
    def can_choose_coach(self):
        from ..models import AssignmentMethod

        return (
            self.enrollment.is_open
            and self.enrollment.engagement.assignment_policy == AssignmentMethod.CLIENT_CHOICE
            and not any(a.role == "coach" for a in self.coaches)
        )

    @property
    def percent(self):
        return round(100 * self.done / self.total) if self.total else 0


def _summarise(enrollment, rows):
    stages = []
    by_key = {}
    for row in rows:
        key = (row.stage_position, row.stage_block_id)
        if key not in by_key:
            by_key[key] = Stage(title=row.stage_title)
            stages.append(by_key[key])
        by_key[key].activities.append(row)
    done = sum(1 for r in rows if r.state in DONE_STATES)
    next_step = next((r for r in rows if r.state == ActivityState.AVAILABLE), None)
    upcoming = sorted(
        (r for r in rows if r.state == ActivityState.LOCKED and r.unlock_at is not None),
        key=lambda r: r.unlock_at,
    )[:3]
    return JourneySummary(enrollment, stages, done, len(rows), next_step, upcoming)


def _rows_for(enrollment_ids):
    grouped = defaultdict(list)
    for row in ClientActivity.objects.filter(
        enrollment_id__in=enrollment_ids, state__in=VISIBLE_STATES
    ).order_by("enrollment_id", "stage_position", "position", "id"):
        grouped[row.enrollment_id].append(row)
    return grouped


def enrollment_outline(enrollment):
    """Stages and activities of one enrollment, as its client sees them."""
    return _summarise(enrollment, _rows_for([enrollment.pk])[enrollment.pk])


def client_dashboard(user):
    """Everything the client dashboard shows, in a fixed number of queries."""
    from .assignment import coaches_of

    enrollments = list(
        Enrollment.objects.filter(client=user)
        .exclude(status="cancelled")
        .select_related("engagement")
        .order_by("status", "-created_at")
    )
    rows = _rows_for([e.pk for e in enrollments])
    journeys = [_summarise(e, rows[e.pk]) for e in enrollments]
    coaches = coaches_of([e.pk for e in enrollments]) if enrollments else {}
    for journey in journeys:
        journey.coaches = coaches.get(journey.enrollment.pk, [])
    recent = list(
        JourneyEvent.objects.filter(enrollment__client=user)
        .select_related("activity", "enrollment__engagement")
        .order_by("-at", "-id")[: coaching_settings.DASHBOARD_RECENT_EVENTS]
    ) if enrollments else []
    return {"journeys": journeys, "recent_events": recent}
