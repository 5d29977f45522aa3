"""Read models for the client site: the dashboard and an enrollment's outline.

Each function runs a fixed number of queries, however many enrollments or activities.
The charts of a journey are drawn from an outline by ``charts.journeys``; the dashboard's
in-app notifications come from ``notifications.in_app``.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils import timezone

from ..conf import coaching_settings
from ..models import (
    DONE_STATES,
    OPEN_TO_CLIENT_STATES,
    STAFF_ONLY_EVENT_KINDS,
    ActivityState,
    ClientActivity,
    CoachingSession,
    CoachingSessionStatus,
    CoachProfile,
    Enrollment,
    JourneyEvent,
    Registration,
    RegistrationStatus,
    SessionStatus,
)
from ..utils.people import display_name
from .practices import COUNTED_STATES, attach_practices

VISIBLE_STATES = (
    ActivityState.LOCKED, ActivityState.AVAILABLE, ActivityState.COMPLETED, ActivityState.SKIPPED,
)


@dataclass
class Stage:
    title: str
    activities: list = field(default_factory=list)
    # The stage the client is in: the one holding their next step, else the first with a
    # step not done yet (none once every step is done). The dashboard lists its steps and
    # only sums up the others.
    in_progress: bool = False
    asked_for: bool = False  # named by the page's address (``open_stage_from_query``)

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
    progress_chart: object = None  # charts.Chart: steps done per stage
    checkin_chart: object = None  # charts.Chart: check-in scores (journeys with check-ins)
    # practices.PracticeAdherence: the practices that repeat, each step's also set on the
    # step as ``practice`` (``attach_practices``).
    practices: object = None

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
    current = next_step or next((r for r in rows if r.state not in DONE_STATES), None)
    if current is not None:
        by_key[(current.stage_position, current.stage_block_id)].in_progress = True
    upcoming = sorted(
        (r for r in rows if r.state == ActivityState.LOCKED and r.unlock_at is not None),
        key=lambda r: r.unlock_at,
    )[:3]
    return JourneySummary(enrollment, stages, done, len(rows), next_step, upcoming)


@dataclass(slots=True)
class Step:
    """A step as the dashboard shows it: the few columns of a ``ClientActivity`` row it reads
    (its outline, next step, coming up and 1:1 allotments), read as plain values. The
    answers, whose JSON would be parsed for every step done, and the timestamps are not."""

    pk: int
    public_id: object
    enrollment_id: int
    kind: str
    title: str
    stage_block_id: str
    stage_title: str
    stage_position: int
    position: int
    unlock_rule: str
    state: str
    unlock_at: object
    block_id: str
    value: object  # an extra step's own block value (program steps read the program)
    enrollment: object = None  # set where a step's program block is read
    allotment: object = None  # a 1:1 step's sessions used and left
    practice: object = None  # a repeating practice's streak and days (practices.py)

    FIELDS = (
        "pk", "public_id", "enrollment_id", "kind", "title", "stage_block_id", "stage_title",
        "stage_position", "position", "unlock_rule", "state", "unlock_at", "block_id", "value",
    )

    @property
    def is_open_to_client(self):
        return self.state in OPEN_TO_CLIENT_STATES


def _visible_rows(enrollment_ids):
    return ClientActivity.objects.filter(
        enrollment_id__in=enrollment_ids, state__in=VISIBLE_STATES
    ).order_by("enrollment_id", "stage_position", "position", "id")


def _rows_for(enrollment_ids):
    grouped = defaultdict(list)
    for row in _visible_rows(enrollment_ids):
        grouped[row.enrollment_id].append(row)
    return grouped


def _steps_for(enrollment_ids):
    """Like ``_rows_for``, as ``Step``s: one query, no model instances."""
    grouped = defaultdict(list)
    for values in _visible_rows(enrollment_ids).values_list(*Step.FIELDS):
        step = Step(*values)
        grouped[step.enrollment_id].append(step)
    return grouped


def open_stage_from_query(outline, value):
    """Mark stage number ``value`` (1-based, from a link's ``?stage=``) to be shown open, as
    the dashboard's "See the steps" links ask. Anything else is ignored."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return
    if 1 <= number <= len(outline.stages):
        outline.stages[number - 1].asked_for = True


def _add_practices(journeys):
    """Each journey's practices that repeat (streaks, days, adherence), in constant queries
    for all of them (``practices.adherence``)."""
    rows = [row for journey in journeys for stage in journey.stages for row in stage.activities]
    if not any(row.kind == "practice" and row.state in COUNTED_STATES for row in rows):
        return
    figures = attach_practices(rows, [journey.enrollment.pk for journey in journeys])
    for journey in journeys:
        journey.practices = figures[journey.enrollment.pk]


def enrollment_outline(enrollment):
    """Stages and activities of one enrollment, as its client sees them."""
    outline = _summarise(enrollment, _rows_for([enrollment.pk])[enrollment.pk])
    _add_practices([outline])
    return outline


ENROLLMENT_FIELDS = tuple(f.name for f in Enrollment._meta.concrete_fields)
DASHBOARD_ENGAGEMENT_FIELDS = (
    "engagement__title", "engagement__url_path", "engagement__depth",
    "engagement__assignment_policy",
)

# What the dashboard's "Recent activity" reads of each event (includes/event.html), but for
# its engagement's title, read with the journeys.
RECENT_EVENT_FIELDS = ("kind", "at", "data", "actor_id", "enrollment_id", "activity__title")

# How many upcoming sessions (group and 1:1) the dashboard lists.
DASHBOARD_UPCOMING_SESSIONS = 5


@dataclass
class UpcomingSession:
    """One line of the dashboard's "Your upcoming sessions"."""

    kind: str  # "group" or "one_to_one"
    title: str
    starts_at: object
    ends_at: object
    url: str
    status: str = ""
    detail: str = ""


def _load_programs(engagements):
    """Read the programs of ``engagements`` loaded without them, in one query."""
    from ..models import EngagementPage

    missing = {e.pk: e for e in engagements if "program" in e.get_deferred_fields()}
    if missing:
        for pk, program in EngagementPage.objects.filter(pk__in=missing).values_list(
            "pk", "program"
        ):
            missing[pk].program = program


def _upcoming_sessions(user, enrollments, rows_by_enrollment, now):
    """The client's 1:1 allotments (set on their rows as ``allotment``) and next sessions.

    Three queries at most: the client's registrations and, only when a journey has a 1:1
    step (the only place 1:1 sessions come from), their 1:1 sessions and the programs of
    those steps' engagements.
    """
    from ..scheduling.booking import allotments as scheduled_allotments  # (it imports journeys)

    upcoming = []
    registrations = (
        Registration.objects.filter(
            user=user,
            status__in=(RegistrationStatus.INVITED, RegistrationStatus.REGISTERED,
                        RegistrationStatus.WAITLISTED),
            session__status=SessionStatus.SCHEDULED, session__ends_at__gt=now,
        )
        .select_related("session")
        .order_by("session__starts_at", "pk")[:DASHBOARD_UPCOMING_SESSIONS]
    )
    for r in registrations:
        upcoming.append(UpcomingSession(
            kind="group", title=r.session.title, starts_at=r.session.starts_at,
            ends_at=r.session.ends_at, status=r.status, detail=r.get_status_display(),
            url=reverse("wagtail_coaching:group_session", args=[r.session.public_id]),
        ))
    by_pk = {e.pk: e for e in enrollments}
    steps = [
        row for e in enrollments for row in rows_by_enrollment[e.pk] if row.kind == "one_to_one"
    ]
    if steps:
        _load_programs([by_pk[row.enrollment_id].engagement for row in steps])
        for row in steps:
            row.enrollment = by_pk[row.enrollment_id]  # the program is read from it
        sessions = list(
            CoachingSession.objects.filter(enrollment_id__in=list(by_pk))
            .select_related("coach")
            .order_by("starts_at", "pk")
        )
        allotments = scheduled_allotments(steps, sessions)
        for row in steps:
            row.allotment = allotments[row.pk]
        sessions_url = reverse("wagtail_coaching:sessions")
        for s in sessions:
            if s.status == CoachingSessionStatus.BOOKED and s.starts_at > now:
                upcoming.append(UpcomingSession(
                    kind="one_to_one", title=by_pk[s.enrollment_id].engagement.title,
                    starts_at=s.starts_at, ends_at=s.ends_at, status=s.status,
                    detail=display_name(s.coach),
                    url=sessions_url,
                ))
    upcoming.sort(key=lambda u: u.starts_at)
    return upcoming[:DASHBOARD_UPCOMING_SESSIONS]


def client_dashboard(user):
    """Everything the client dashboard shows, in a fixed number of queries."""
    from .assignment import coaches_of

    enrollments = list(
        Enrollment.objects.filter(client=user)
        .exclude(status="cancelled")
        .select_related("engagement")
        # Of the engagement, what the dashboard shows (its title and address) and reads
        # (how a coach is chosen). Not its program: parsing it costs more than the rest of
        # the row, and the dashboard reads programs only for 1:1 steps, then in one query
        # (``_upcoming_sessions``).
        .only(*ENROLLMENT_FIELDS, *DASHBOARD_ENGAGEMENT_FIELDS)
        .order_by("status", "-created_at")
    )
    by_pk = {e.pk: e for e in enrollments}
    rows = _steps_for(list(by_pk))
    journeys = [_summarise(e, rows[e.pk]) for e in enrollments]
    _add_practices(journeys)
    coaches = coaches_of([e.pk for e in enrollments]) if enrollments else {}
    for journey in journeys:
        journey.coaches = coaches.get(journey.enrollment.pk, [])
    # The recent events of the journeys shown (not of a cancelled one). An event's line
    # shows its step's title and its engagement's, which is already here.
    recent = list(
        JourneyEvent.objects.filter(enrollment_id__in=list(by_pk))
        .exclude(kind__in=STAFF_ONLY_EVENT_KINDS)
        .select_related("activity")
        .only(*RECENT_EVENT_FIELDS)
        .order_by("-at", "-id")[: coaching_settings.DASHBOARD_RECENT_EVENTS]
    ) if enrollments else []
    for event in recent:
        event.enrollment = by_pk[event.enrollment_id]
    upcoming = _upcoming_sessions(user, enrollments, rows, timezone.now())
    return {"journeys": journeys, "recent_events": recent, "upcoming_sessions": upcoming}


def is_first_visit(user, journeys, today=None):
    """A client new today: no step done in any journey, and every journey (or, without one,
    the account) started today in their zone. They are welcomed, not welcomed back."""
    today = today or timezone.localdate()
    if any(journey.done for journey in journeys):
        return False
    starts = [journey.enrollment.created_at for journey in journeys] or [user.date_joined]
    return all(timezone.localdate(start) >= today for start in starts)


# The size of a coach's photo where clients meet them (dashboard, choosing a coach).
COACH_PHOTO = "fill-96x96"


def coach_profiles(user_ids):
    """The coach profiles of ``user_ids`` (photo, bio, specialties, languages), in the
    order given, for clients to meet their coaches: two queries at most (the photos'
    renditions are read with them)."""
    if not user_ids:
        return []
    profiles = {
        p.user_id: p
        for p in CoachProfile.objects.filter(user_id__in=user_ids)
        .select_related("user", "photo")
        .prefetch_related("photo__renditions")
    }
    return [profiles[pk] for pk in dict.fromkeys(user_ids) if pk in profiles]
