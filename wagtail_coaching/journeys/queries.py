"""Read models for the client site: the dashboard and an enrollment's outline.

Each function runs a fixed number of queries, however many enrollments or activities.
The dashboard's in-app notifications (the latest ones and the unread count) are one query.
The charts of a journey (progress by stage, check-in scores: ``add_charts``) are drawn on
the engagement page and the client card; they read the scores in one more query, only when
the journey has a check-in step.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Exists,
    OuterRef,
    Sum,
    Value,
    When,
    Window,
)
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..charts import Chart, Series
from ..conf import coaching_settings
from ..metrics import checkin_scores
from ..models import (
    DONE_STATES,
    OPEN_TO_CLIENT_STATES,
    STAFF_ONLY_EVENT_KINDS,
    ActivityState,
    ClientActivity,
    CoachingSession,
    CoachingSessionStatus,
    Enrollment,
    JourneyEvent,
    Notification,
    NotificationChannel,
    NotificationPreference,
    Registration,
    RegistrationStatus,
    SessionStatus,
)

logger = logging.getLogger(__name__)

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


def enrollment_outline(enrollment):
    """Stages and activities of one enrollment, as its client sees them."""
    return _summarise(enrollment, _rows_for([enrollment.pk])[enrollment.pk])


# -- Charts ----------------------------------------------------------------------------------

def has_checkins(summary):
    return any(row.kind == "check_in" for stage in summary.stages for row in stage.activities)


def checkin_points(enrollment_ids):
    """{enrollment id: [{"title", "score", "completed_at"}]}: the scored check-ins of these
    enrollments (``metrics.checkin_scores``), oldest first. One query (none without ids)."""
    found = defaultdict(list)
    if not enrollment_ids:
        return found
    rows = (
        checkin_scores(Enrollment.objects.filter(pk__in=list(enrollment_ids)))
        .values("enrollment_id", "title", "score", "completed_at")
        .order_by("completed_at", "pk")
    )
    for row in rows:
        found[row.pop("enrollment_id")].append(row)
    return found


def checkin_chart(points, chart_id=""):
    """The check-in trend: one line per check-in title, x the days they were answered (in
    the current time zone), y the score (0-10; a day's answers averaged)."""
    scores = defaultdict(list)
    for point in points:
        scores[(point["title"], timezone.localtime(point["completed_at"]).date())].append(
            point["score"]
        )
    days = sorted({day for _title, day in scores})
    titles = list(dict.fromkeys(point["title"] for point in points))

    def score(title, day):
        found = scores.get((title, day))
        if not found:
            return None
        return found[0] if len(found) == 1 else round(sum(found) / len(found), 1)

    return Chart(
        kind="line", title=_("Check-in scores"), labels=days,
        series=[Series(title, [score(title, day) for day in days]) for title in titles],
        unit=_("out of 10"), y_max=10, x_label=_("Answered on"), date_format="j M Y",
        # A check-in not answered on a day is not a break in its trend.
        span_gaps=True, legend=True,  # even one line: the legend names the check-in
        description=_("Each check-in's score from 0 to 10, on the days it was answered."),
        empty_text=_("No check-ins answered yet."), chart_id=chart_id,
    )


def progress_chart(summary, chart_id=""):
    """Steps done beside all steps, per stage of one journey."""
    stages = summary.stages
    return Chart(
        kind="bar", title=_("Progress by stage"),
        labels=[stage.title or _("Extra steps") for stage in stages],
        series=[
            Series(_("Done"), [stage.done for stage in stages]),
            Series(_("All steps"), [stage.total for stage in stages]),
        ],
        x_label=_("Stage"),
        description=_("Steps done beside the number of steps in each stage."),
        empty_text=_("No steps yet."), chart_id=chart_id,
    )


def add_charts(summaries, show_checkins=lambda summary: True):
    """Set ``progress_chart`` on each summary, and ``checkin_chart`` on those with a
    check-in step that ``show_checkins`` allows. One query at most."""
    with_checkins = [s for s in summaries if has_checkins(s) and show_checkins(s)]
    points = checkin_points([s.enrollment.pk for s in with_checkins])
    for summary in summaries:
        key = summary.enrollment.public_id.hex
        summary.progress_chart = progress_chart(summary, chart_id=f"progress-chart-{key}")
    for summary in with_checkins:
        summary.checkin_chart = checkin_chart(
            points.get(summary.enrollment.pk, []),
            chart_id=f"checkin-chart-{summary.enrollment.public_id.hex}",
        )


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
                    detail=s.coach.get_full_name() or s.coach.get_username(),
                    url=sessions_url,
                ))
    upcoming.sort(key=lambda u: u.starts_at)
    return upcoming[:DASHBOARD_UPCOMING_SESSIONS]


# -- In-app notifications ---------------------------------------------------------------------

# How many in-app notifications the dashboard lists (the notifications page lists them all).
DASHBOARD_NOTIFICATIONS = 5


def in_app_notifications(user):
    """``user``'s in-app notifications, latest first: never another person's, never one the
    outbox skipped, nor one of a kind they have switched off since it was queued."""
    from ..outbox import optional_kinds

    switched_off = NotificationPreference.objects.filter(
        user=user, kind=OuterRef("kind"), enabled=False
    ).filter(kind__in=list(optional_kinds()))
    return (
        Notification.objects.filter(
            recipient=user, channel=NotificationChannel.IN_APP, skipped=False
        )
        .exclude(Exists(switched_off))
        .order_by("-created_at", "-id")
    )


@dataclass
class NotificationItem:
    """One line of an in-app notification list."""

    notification: Notification
    text: str
    at: object
    url: str
    unread: bool


def _safe_path(path):
    """A local path from a payload (never another site's address)."""
    local = (
        isinstance(path, str) and path.startswith("/") and not path.startswith("//")
        and "\\" not in path
    )
    return path if local else ""


def notification_link(payload):
    """Where an in-app notification leads: the step, the sessions page for a session, else
    the dashboard (paths written into the payload when it was queued)."""
    if payload.get("activity_path"):
        return _safe_path(payload["activity_path"])
    if payload.get("starts_at") and payload.get("sessions_path"):
        return _safe_path(payload["sessions_path"])
    return _safe_path(payload.get("dashboard_path") or payload.get("sessions_path") or "")


def notification_text(notification):
    """The one-line text of a notification: its kind's email subject
    (``wagtail_coaching/emails/<kind>_subject.txt``, overridable), rendered with the same
    context as the email, in the reader's current language."""
    from ..outbox import notification_kinds

    context = {
        "notification": notification,
        "recipient": notification.recipient,
        "base_url": coaching_settings.BASE_URL.rstrip("/"),
        **(notification.payload or {}),
    }
    try:
        text = render_to_string(
            f"wagtail_coaching/emails/{notification.kind}_subject.txt", context
        )
    except Exception as exc:  # a missing or broken template must not break the page
        if not isinstance(exc, TemplateDoesNotExist):
            logger.exception("The subject of notification %s did not render", notification.pk)
        kind = notification_kinds().get(notification.kind)
        return str(kind.label) if kind else notification.kind
    return " ".join(text.split())


def notification_items(user, notifications):
    """``NotificationItem``s for rows of ``in_app_notifications(user)`` (no queries)."""
    items = []
    for n in notifications:
        n.recipient = user  # the list is the reader's own: no query per row
        items.append(NotificationItem(
            notification=n, text=notification_text(n), at=n.created_at,
            url=notification_link(n.payload or {}), unread=n.read_at is None,
        ))
    return items


def latest_notifications(user, limit=DASHBOARD_NOTIFICATIONS):
    """(the latest ``limit`` in-app notifications as items, how many are unread): one query.
    The unread ones are counted over all the reader's notifications, before the limit (a
    window over the whole result)."""
    unread = Case(When(read_at__isnull=True, then=Value(1)), default=Value(0))
    rows = list(
        in_app_notifications(user).annotate(unread_total=Window(Sum(unread)))[:limit]
    )
    return notification_items(user, rows), (rows[0].unread_total if rows else 0)


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
    notifications, unread = latest_notifications(user)
    return {
        "journeys": journeys, "recent_events": recent, "upcoming_sessions": upcoming,
        "notifications": notifications, "unread_notifications": unread,
    }
