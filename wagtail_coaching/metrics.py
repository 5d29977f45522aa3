"""Shared definitions, written once: reports, dashboard panels and automation use these.

Every function takes the rows to count (an ``Enrollment`` queryset already limited to what
the viewer may see, or sessions, or orders) and answers with aggregate SQL: a fixed number of
queries, however many rows. Months and days are counted in the time zone passed in (the
viewer's), so an enrollment at 23:30 UTC on 31 January is a February enrollment in Berlin.

- **Client activity**: something the client did: enrolled, completed a step, logged a
  practice, registered for, booked or attended a session (``CLIENT_ACTIVITY_KINDS`` on the
  journey timeline).
- **Active**: an enrollment that gives access now: status active, started, and its access has
  not ended. An active client has at least one active enrollment.
- **Engaged**: an active enrollment whose client did something in the last ``ENGAGED_DAYS``
  days (7).
- **At risk**: an active enrollment whose client has done nothing for
  ``AT_RISK_INACTIVE_DAYS`` days (10), or who missed their last ``AT_RISK_MISSED_IN_A_ROW``
  sessions (2) in a row (no attended session in between).
- **Completed**: an enrollment whose status is completed (every step done, or closed as
  complete by the team).
- **Stuck** (in a stage): an active enrollment with a step open in that stage and no client
  activity for ``AT_RISK_INACTIVE_DAYS`` days.
- **Retention** (by enrollment month): of the enrollments that started in month M, the share
  retained in month M+k: the client did something during that month, or had completed the
  engagement before it. Counted per enrollment: a client in two engagements counts twice.
- **Time to first session**: days from an enrollment's start to the first session recorded
  as attended (1:1 or group) on its timeline. Enrollments without one yet are counted apart.
- **No-show rate**: no-shows / (attended + no-shows), over sessions whose attendance was
  recorded: group registrations and 1:1 sessions. Cancelled sessions do not count.
- **Coach load**: a coach's active enrollments (open assignments) against their capacity
  (``CoachProfile.max_clients``).
- **Satisfaction (CSAT)**: the share of feedback answers (1-5) at ``CSAT_SATISFIED_FROM``
  (4) or above, with the average score beside it.
- **Outcome trend**: the average check-in score (0-10) per check-in and month.
- **Sales**: orders by offer, price and sales manager; revenue is what was paid less what
  was refunded, per currency.
"""

from datetime import UTC, datetime, timedelta

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .conf import coaching_settings
from .models import Enrollment, EnrollmentStatus, EventKind, JourneyEvent

CLIENT_ACTIVITY_KINDS = (
    EventKind.ENROLLED, EventKind.COMPLETED, EventKind.PRACTISED, EventKind.SESSION_REGISTERED,
    EventKind.SESSION_BOOKED, EventKind.SESSION_RESCHEDULED, EventKind.SESSION_ATTENDED,
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def last_activity_at(ref="pk"):
    """When the enrollment's client last did something (a subquery on an enrollment)."""
    return Subquery(
        JourneyEvent.objects.filter(enrollment=OuterRef(ref), kind__in=CLIENT_ACTIVITY_KINDS)
        .order_by("-at").values("at")[:1],
        output_field=DateTimeField(),
    )


def missed_in_a_row(ref="pk"):
    """How many sessions the client missed since they last attended one (a subquery)."""
    last_attended = Subquery(
        JourneyEvent.objects.filter(enrollment=OuterRef(OuterRef(ref)),
                                    kind=EventKind.SESSION_ATTENDED)
        .order_by("-at").values("at")[:1],
        output_field=DateTimeField(),
    )
    missed = (
        JourneyEvent.objects.filter(enrollment=OuterRef(ref), kind=EventKind.SESSION_MISSED)
        .filter(at__gt=Coalesce(last_attended, Value(EPOCH)))
        .order_by().values("enrollment").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(missed, output_field=IntegerField()), Value(0))


def with_risk_signals(queryset):
    return queryset.annotate(last_active_at=last_activity_at(), missed_row=missed_in_a_row())


def at_risk_q(now=None):
    """The at-risk condition, on a queryset annotated by ``with_risk_signals`` (for callers
    that need the signals themselves; ``risk_q`` is the same condition without them)."""
    now = now or timezone.now()
    quiet_since = now - timedelta(days=coaching_settings.AT_RISK_INACTIVE_DAYS)
    return Q(status=EnrollmentStatus.ACTIVE) & (
        Q(last_active_at__lt=quiet_since)
        | Q(last_active_at__isnull=True, starts_at__lt=quiet_since)
        | Q(missed_row__gte=coaching_settings.AT_RISK_MISSED_IN_A_ROW)
    )


# The same conditions without the signals, so that counting them over many enrollments stays
# cheap: recent activity is a small set of ids (an IN the database hashes once), "any activity
# at all" an EXISTS probe on the timeline's (enrollment, at) index.

def _active_since(since):
    """The enrollment's client did something at or after ``since``."""
    return Q(pk__in=JourneyEvent.objects.filter(
        kind__in=CLIENT_ACTIVITY_KINDS, at__gte=since).values("enrollment_id"))


def quiet_q(now=None):
    """No client activity for ``AT_RISK_INACTIVE_DAYS`` days: the last activity is older, or
    there is none and the enrollment started before then."""
    now = now or timezone.now()
    quiet_since = now - timedelta(days=coaching_settings.AT_RISK_INACTIVE_DAYS)
    any_activity = Exists(JourneyEvent.objects.filter(
        enrollment=OuterRef("pk"), kind__in=CLIENT_ACTIVITY_KINDS))
    return ~_active_since(quiet_since) & (Q(any_activity) | Q(starts_at__lt=quiet_since))


def missed_row_q():
    """Missed the last ``AT_RISK_MISSED_IN_A_ROW`` sessions in a row (looked at only for
    enrollments with that many misses at all)."""
    n = coaching_settings.AT_RISK_MISSED_IN_A_ROW
    candidates = (
        JourneyEvent.objects.filter(kind=EventKind.SESSION_MISSED).order_by()
        .values("enrollment_id").annotate(n=Count("pk")).filter(n__gte=n)
        .values("enrollment_id")
    )
    return Q(pk__in=Enrollment.objects.filter(pk__in=candidates)
             .annotate(missed_row=missed_in_a_row()).filter(missed_row__gte=n).values("pk"))


def risk_q(now=None):
    """At risk (see the module's definitions), on any enrollment queryset."""
    return Q(status=EnrollmentStatus.ACTIVE) & (quiet_q(now) | missed_row_q())


def at_risk(now=None, queryset=None):
    """Enrollments at risk now."""
    queryset = Enrollment.objects.all() if queryset is None else queryset
    return queryset.filter(risk_q(now))


def is_at_risk(enrollment, now=None):
    return at_risk(now, Enrollment.objects.filter(pk=enrollment.pk)).exists()


def risk_reasons(enrollment_ids, now=None):
    """{enrollment id: why it is at risk, in words} for those at risk (one query)."""
    now = now or timezone.now()
    rows = with_risk_signals(Enrollment.objects.filter(
        pk__in=enrollment_ids, status=EnrollmentStatus.ACTIVE
    )).values("pk", "last_active_at", "missed_row", "starts_at")
    reasons = {}
    for row in rows:
        why = describe_risk(row["last_active_at"] or row["starts_at"], row["missed_row"], now)
        if why:
            reasons[row["pk"]] = why
    return reasons


def describe_risk(last_active_at, missed_row, now):
    from django.utils.translation import gettext as _

    if missed_row >= coaching_settings.AT_RISK_MISSED_IN_A_ROW:
        return _("Missed %(n)d sessions in a row") % {"n": missed_row}
    if last_active_at < now - timedelta(days=coaching_settings.AT_RISK_INACTIVE_DAYS):
        return _("No activity for %(n)d days") % {"n": (now - last_active_at).days}
    return None


# -- Counting enrollments ----------------------------------------------------------------------

def active_q(now=None, prefix=""):
    """An enrollment that gives access now (``prefix`` reaches it through a relation)."""
    now = now or timezone.now()
    return Q(**{f"{prefix}status": EnrollmentStatus.ACTIVE, f"{prefix}starts_at__lte": now}) & (
        Q(**{f"{prefix}ends_at__isnull": True}) | Q(**{f"{prefix}ends_at__gt": now})
    )


def engaged_q(now=None):
    """Active, and the client did something in the last ``ENGAGED_DAYS`` days."""
    now = now or timezone.now()
    since = now - timedelta(days=coaching_settings.ENGAGED_DAYS)
    return active_q(now) & _active_since(since)


def completed_q(prefix=""):
    return Q(**{f"{prefix}status": EnrollmentStatus.COMPLETED})


def headline(enrollments, now=None, per_engagement=None):
    """Counts over ``enrollments``: enrollments, active clients and enrollments, engaged,
    at risk, completed. Two queries, or one when ``per_engagement`` (``by_engagement``'s
    answer for the same enrollments) is at hand: its figures add up."""
    now = now or timezone.now()
    per_engagement = by_engagement(enrollments, now) if per_engagement is None else per_engagement
    figures = {
        key: sum(row[key] for row in per_engagement.values())
        for key in ("active", "engaged", "at_risk", "completed")
    }
    figures["enrollments"] = sum(row["enrolled"] for row in per_engagement.values())
    figures.update(enrollments.order_by().aggregate(
        clients=Count("client_id", distinct=True),
        active_clients=Count("client_id", distinct=True, filter=active_q(now)),
    ))
    return figures


def by_engagement(enrollments, now=None):
    """``headline`` per engagement: {engagement id: counts}. One query."""
    now = now or timezone.now()
    rows = (
        enrollments.order_by()
        .values("engagement_id")
        .annotate(
            enrolled=Count("pk"),
            active=Count("pk", filter=active_q(now)),
            engaged=Count("pk", filter=engaged_q(now)),
            at_risk=Count("pk", filter=risk_q(now) & active_q(now)),
            completed=Count("pk", filter=completed_q()),
        )
    )
    return {row.pop("engagement_id"): row for row in rows}


def quiet_enrollments(enrollments, now=None):
    """Active enrollments without client activity for ``AT_RISK_INACTIVE_DAYS`` days."""
    return enrollments.order_by().filter(active_q(now)).filter(quiet_q(now)).values("pk")


def stage_progress(enrollments, now=None):
    """Per engagement and stage: how many enrollments reached it (a step opened), are in it
    (a step open now, enrollment active), finished it (every step done) and are stuck in it.
    Program order. One query (extra activities count in the stage they were added to)."""
    from .models import DONE_STATES, ActivityState, ClientActivity

    now = now or timezone.now()
    rows = ClientActivity.objects.filter(enrollment__in=enrollments.order_by().values("pk"))
    rows = rows.exclude(state=ActivityState.REMOVED)
    open_here = Q(state=ActivityState.AVAILABLE) & active_q(now, "enrollment__")
    undone = Q(state__in=(ActivityState.LOCKED, ActivityState.AVAILABLE))
    result = (
        rows.order_by()
        .values("enrollment__engagement_id", "stage_block_id")
        .annotate(
            stage=Max("stage_title"),
            position=Min("stage_position"),
            reached=Count("enrollment_id", distinct=True, filter=~Q(state=ActivityState.LOCKED)),
            all_enrollments=Count("enrollment_id", distinct=True),
            not_finished=Count("enrollment_id", distinct=True, filter=undone),
            in_stage=Count("enrollment_id", distinct=True, filter=open_here),
            stuck=Count(
                "enrollment_id", distinct=True,
                filter=open_here & Q(enrollment_id__in=quiet_enrollments(enrollments, now)),
            ),
            steps_done=Count("pk", filter=Q(state__in=DONE_STATES)),
            steps=Count("pk"),
        )
        .order_by("enrollment__engagement_id", "position", "stage_block_id")
    )
    return [
        {
            "engagement_id": row["enrollment__engagement_id"],
            "stage_block_id": row["stage_block_id"],
            "stage": row["stage"],
            "reached": row["reached"],
            "in_stage": row["in_stage"],
            "finished": row["all_enrollments"] - row["not_finished"],
            "stuck": row["stuck"],
            "steps_done": row["steps_done"],
            "steps": row["steps"],
        }
        for row in result
    ]


# -- Retention ---------------------------------------------------------------------------------

def month_offset(start, month):
    return (month.year - start.year) * 12 + month.month - start.month


def retention(enrollments, zone, now=None, months=12):
    """Retention cohorts: [{"month": date, "enrolled": n, "retained": [n0, n1, ...]}], one row
    per enrollment month (newest last) with the count retained ``k`` months later, up to
    ``months`` columns and never past the current month. Three queries."""
    from django.db.models.functions import TruncMonth

    now = now or timezone.now()
    current = now.astimezone(zone).date().replace(day=1)
    enrollments = enrollments.order_by()
    ids = enrollments.values("pk")
    start_month = TruncMonth("enrollment__starts_at", tzinfo=zone)
    cohorts = {
        row["month"]: row["n"]
        for row in enrollments.annotate(month=TruncMonth("starts_at", tzinfo=zone))
        .values("month").annotate(n=Count("pk")).order_by()
    }
    # Activity in month k, by enrollments that had not completed before that month.
    active_rows = (
        JourneyEvent.objects.filter(enrollment__in=ids, kind__in=CLIENT_ACTIVITY_KINDS)
        .annotate(start_month=start_month, month=TruncMonth("at", tzinfo=zone),
                  # Months against months: the database holds a truncated month as local
                  # wall time, which a bare completed_at would be compared with as UTC.
                  completed_month=TruncMonth("enrollment__completed_at", tzinfo=zone))
        .filter(
            Q(enrollment__completed_at__isnull=True)
            | Q(completed_month__gte=F("month"))
        )
        .values("start_month", "month")
        .annotate(n=Count("enrollment_id", distinct=True))
        .order_by()
    )
    finished_rows = (
        enrollments.filter(status=EnrollmentStatus.COMPLETED, completed_at__isnull=False)
        .annotate(start_month=TruncMonth("starts_at", tzinfo=zone),
                  month=TruncMonth("completed_at", tzinfo=zone))
        .values("start_month", "month").annotate(n=Count("pk")).order_by()
    )
    table = {}
    for month, n in cohorts.items():
        month = _as_date(month)
        span = min(months, month_offset(month, current) + 1)
        table[month] = {"month": month, "enrolled": n, "active": [0] * span,
                        "finished": [0] * span}
    for key, rows in (("active", active_rows), ("finished", finished_rows)):
        for row in rows:
            entry = table.get(_as_date(row["start_month"]))
            if entry is None:
                continue
            k = month_offset(entry["month"], _as_date(row["month"]))
            if 0 <= k < len(entry[key]):
                entry[key][k] += row["n"]
    result = []
    for month in sorted(table):
        entry = table[month]
        finished_before = 0
        retained = []
        for k, active_n in enumerate(entry["active"]):
            retained.append(active_n + finished_before)
            finished_before += entry["finished"][k]
        result.append({"month": month, "enrolled": entry["enrolled"], "retained": retained})
    return result


def _as_date(value):
    return value.date() if isinstance(value, datetime) else value


# -- Sessions ----------------------------------------------------------------------------------

def first_session_at(ref="pk"):
    """When the enrollment's first session was recorded as attended (a subquery)."""
    return Subquery(
        JourneyEvent.objects.filter(enrollment=OuterRef(ref), kind=EventKind.SESSION_ATTENDED)
        .order_by("at").values("at")[:1],
        output_field=DateTimeField(),
    )


TIME_TO_FIRST_SESSION_BUCKETS = ((7, "within_7_days"), (14, "within_14_days"),
                                 (30, "within_30_days"))


def _days_between(start, end):
    """SQL for the days (fractional) from column ``start`` to column ``end``."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"
    if connection.vendor == "sqlite":
        return f"(julianday({end}) - julianday({start}))"
    return f"(TIMESTAMPDIFF(SECOND, {start}, {end}) / 86400.0)"


def time_to_first_session(enrollments, group_by="engagement_id"):
    """Per ``group_by`` value: enrollments, how many had a first session, the average days to
    it, and how many had it within 7, 14 and 30 days (cumulative). One query.

    Written as SQL over two aggregates the ORM compiles (the enrollments; the first attended
    session per enrollment) joined once: as a subquery per enrollment the first session was
    looked up once per figure, six times over.
    """
    from django.db import connection
    from django.db.models import Min

    people = enrollments.order_by().annotate(
        k_id=F("pk"), k_group=F(group_by), k_start=F("starts_at"),
    ).values("k_id", "k_group", "k_start")
    firsts = (
        JourneyEvent.objects.filter(kind=EventKind.SESSION_ATTENDED).order_by()
        .values("enrollment_id").annotate(k_first=Min("at")).values("enrollment_id", "k_first")
    )
    people_sql, people_params = people.query.sql_with_params()
    firsts_sql, firsts_params = firsts.query.sql_with_params()
    days = _days_between("e.k_start", "f.k_first")
    buckets = "".join(
        f", SUM(CASE WHEN {days} <= {limit} THEN 1 ELSE 0 END)"
        for limit, _name in TIME_TO_FIRST_SESSION_BUCKETS
    )
    sql = (
        f"SELECT e.k_group, COUNT(*), COUNT(f.k_first), AVG({days}){buckets} "
        f"FROM ({people_sql}) e LEFT JOIN ({firsts_sql}) f ON f.enrollment_id = e.k_id "
        f"GROUP BY e.k_group ORDER BY e.k_group"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*people_params, *firsts_params))
        rows = cursor.fetchall()
    out = {}
    for group, total, with_session, average, *within in rows:
        row = {"enrollments": total, "with_session": with_session}
        row.update({name: int(n or 0) for (_d, name), n in
                    zip(TIME_TO_FIRST_SESSION_BUCKETS, within, strict=True)})
        row["average_days"] = round(float(average), 1) if average is not None else None
        row["without_session"] = total - with_session
        out[group] = row
    return out


def no_shows_by_coach(group_sessions, coaching_sessions, start=None, end=None):
    """{coach id: {"attended", "no_shows", "rate"}} over group registrations and 1:1 sessions
    with recorded attendance, sessions starting in [start, end). Two queries."""
    from .models import CoachingSessionStatus, Registration, RegistrationStatus, SessionStatus

    def period(prefix):
        q = Q()
        if start is not None:
            q &= Q(**{f"{prefix}starts_at__gte": start})
        if end is not None:
            q &= Q(**{f"{prefix}starts_at__lt": end})
        return q

    out = {}

    def add(coach_id, attended, no_shows):
        row = out.setdefault(coach_id, {"attended": 0, "no_shows": 0})
        row["attended"] += attended
        row["no_shows"] += no_shows

    group_rows = (
        Registration.objects.filter(session__in=group_sessions.order_by().values("pk"))
        .filter(period("session__"))
        .exclude(session__status=SessionStatus.CANCELLED)
        .values("session__coach_id")
        .annotate(
            attended=Count("pk", filter=Q(status=RegistrationStatus.ATTENDED)),
            no_shows=Count("pk", filter=Q(status=RegistrationStatus.NO_SHOW)),
        ).order_by()
    )
    for row in group_rows:
        add(row["session__coach_id"], row["attended"], row["no_shows"])
    one_rows = (
        coaching_sessions.order_by().filter(period(""))
        .values("coach_id")
        .annotate(
            attended=Count("pk", filter=Q(status=CoachingSessionStatus.COMPLETED)),
            no_shows=Count("pk", filter=Q(status=CoachingSessionStatus.NO_SHOW)),
        )
    )
    for row in one_rows:
        add(row["coach_id"], row["attended"], row["no_shows"])
    for row in out.values():
        row["rate"] = rate(row["no_shows"], row["attended"] + row["no_shows"])
    return {coach: row for coach, row in out.items() if row["attended"] + row["no_shows"]}


def no_shows_by_session(group_sessions):
    """Group sessions with recorded attendance (not cancelled), annotated with ``marked``
    (attended or no-show), ``attended`` and ``no_shows``. One query when listed."""
    from .models import RegistrationStatus, SessionStatus

    marked = (RegistrationStatus.ATTENDED, RegistrationStatus.NO_SHOW)
    return group_sessions.filter(attendance_taken_at__isnull=False).exclude(
        status=SessionStatus.CANCELLED
    ).annotate(
        attended=Count("registrations", filter=Q(
            registrations__status=RegistrationStatus.ATTENDED)),
        no_shows=Count("registrations", filter=Q(
            registrations__status=RegistrationStatus.NO_SHOW)),
        marked=Count("registrations", filter=Q(registrations__status__in=marked)),
    )


def rate(part, whole):
    """``part / whole`` as a percentage with one decimal, or None when there is no whole."""
    return round(100 * part / whole, 1) if whole else None


# -- Coaches -----------------------------------------------------------------------------------

def coach_load(coach_profiles, now=None):
    """Per coach profile: active clients (open assignments on active enrollments), capacity,
    utilisation, at-risk clients, sessions in the next 7 days. Four queries."""
    from .models import (
        CoachAssignment,
        CoachingSession,
        CoachingSessionStatus,
        GroupSession,
        SessionStatus,
    )

    now = now or timezone.now()
    profiles = list(coach_profiles.select_related("user").order_by("user__first_name",
                                                                   "user__last_name", "pk"))
    coach_ids = [p.user_id for p in profiles]
    loads = {
        row["coach_id"]: row
        for row in CoachAssignment.objects.filter(
            coach_id__in=coach_ids, ended_at__isnull=True
        ).filter(active_q(now, "enrollment__"))
        .values("coach_id")
        .annotate(
            clients=Count("enrollment_id", distinct=True),
            at_risk=Count("enrollment_id", distinct=True,
                          filter=Q(enrollment__in=at_risk(now).values("pk"))),
        ).order_by()
    }
    week = now + timedelta(days=7)
    upcoming = {}
    for row in (
        CoachingSession.objects.filter(coach_id__in=coach_ids, status=CoachingSessionStatus.BOOKED,
                                       starts_at__gte=now, starts_at__lt=week)
        .values("coach_id").annotate(n=Count("pk")).order_by()
    ):
        upcoming[row["coach_id"]] = row["n"]
    for row in (
        GroupSession.objects.filter(coach_id__in=coach_ids, status=SessionStatus.SCHEDULED,
                                    starts_at__gte=now, starts_at__lt=week)
        .values("coach_id").annotate(n=Count("pk")).order_by()
    ):
        upcoming[row["coach_id"]] = upcoming.get(row["coach_id"], 0) + row["n"]
    result = []
    for profile in profiles:
        load = loads.get(profile.user_id, {})
        clients = load.get("clients", 0)
        result.append({
            "profile": profile,
            "coach": profile.user,
            "clients": clients,
            "capacity": profile.max_clients,
            "utilisation": rate(clients, profile.max_clients),
            "free": max(profile.max_clients - clients, 0),
            "at_risk": load.get("at_risk", 0),
            "sessions_next_7_days": upcoming.get(profile.user_id, 0),
        })
    return result


# -- Feedback and check-ins ---------------------------------------------------------------------

def feedback_answers(enrollments):
    from .models import ActivityState, ClientActivity

    return ClientActivity.objects.filter(
        enrollment__in=enrollments.order_by().values("pk"), kind="feedback",
        state=ActivityState.COMPLETED, score__isnull=False,
    )


def checkin_scores(enrollments):
    """Completed check-ins with a score (the raw points of the outcome trend)."""
    from .models import ActivityState, ClientActivity

    return ClientActivity.objects.filter(
        enrollment__in=enrollments.order_by().values("pk"), kind="check_in",
        state=ActivityState.COMPLETED, score__isnull=False, completed_at__isnull=False,
    )


def satisfaction(enrollments, group_by="enrollment__engagement_id", start=None, end=None):
    """Per ``group_by`` value: answers, average score, satisfied answers and CSAT (%).
    One query. ``start``/``end`` limit by when the answer was given."""
    from django.db.models import Avg

    answers = feedback_answers(enrollments)
    if start is not None:
        answers = answers.filter(completed_at__gte=start)
    if end is not None:
        answers = answers.filter(completed_at__lt=end)
    satisfied = Q(score__gte=coaching_settings.CSAT_SATISFIED_FROM)
    rows = answers.values(group_by).annotate(
        answers=Count("pk"), average=Avg("score"), satisfied=Count("pk", filter=satisfied),
    ).order_by(group_by)
    out = {}
    for row in rows:
        key = row.pop(group_by)
        row["average"] = round(row["average"], 2)
        row["csat"] = rate(row["satisfied"], row["answers"])
        out[key] = row
    return out


def outcome_trend(enrollments, zone, start=None, end=None):
    """Average check-in score per engagement, check-in title and month:
    [{"engagement_id", "checkin", "month", "answers", "average"}]. One query."""
    from django.db.models import Avg
    from django.db.models.functions import TruncMonth

    scores = checkin_scores(enrollments)
    if start is not None:
        scores = scores.filter(completed_at__gte=start)
    if end is not None:
        scores = scores.filter(completed_at__lt=end)
    rows = (
        scores.annotate(month=TruncMonth("completed_at", tzinfo=zone))
        .values("enrollment__engagement_id", "title", "month")
        .annotate(answers=Count("pk"), average=Avg("score"))
        .order_by("enrollment__engagement_id", "title", "month")
    )
    return [
        {
            "engagement_id": row["enrollment__engagement_id"],
            "checkin": row["title"],
            "month": _as_date(row["month"]),
            "answers": row["answers"],
            "average": round(row["average"], 2),
        }
        for row in rows
    ]


# -- Sales -------------------------------------------------------------------------------------

SALES_GROUPS = {
    "offer": ("offer_id",),
    "price": ("offer_id", "price_label"),
    "sales_manager": ("sales_manager_id",),
}


def sold_value():
    """What an order sold for: its price, times the installments of an installment plan (a
    subscription counts one period)."""
    from django.db.models import Case, DecimalField, When

    from .models import PaymentModel

    return Case(
        When(payment_model=PaymentModel.INSTALLMENTS, installments_total__isnull=False,
             then=F("amount") * F("installments_total")),
        default=F("amount"),
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )


def sales(orders, by="offer", start=None, end=None):
    """Orders created in [start, end) grouped by offer, price or sales manager, per currency:
    orders, paid (a payment was received), free, refunded, sold value, refunds and net (sold
    less refunded). One query. A refunded order counts as paid, with its refund subtracted."""
    from django.db.models import DecimalField, Sum
    from django.db.models.functions import Coalesce as Or

    from .models import OrderStatus

    if start is not None:
        orders = orders.filter(created_at__gte=start)
    if end is not None:
        orders = orders.filter(created_at__lt=end)
    paid = Q(paid_at__isnull=False)
    money = DecimalField(max_digits=12, decimal_places=2)
    zero = Value(0, output_field=money)
    keys = (*SALES_GROUPS[by], "currency")
    rows = orders.order_by().values(*keys).annotate(
        orders=Count("pk"),
        paid=Count("pk", filter=paid & Q(amount__gt=0)),
        free=Count("pk", filter=paid & Q(amount=0)),
        refunded=Count("pk", filter=Q(status=OrderStatus.REFUNDED) | Q(amount_refunded__gt=0)),
        sold=Or(Sum(sold_value(), filter=paid), zero),
        refunds=Or(Sum("amount_refunded", filter=paid), zero),
    ).order_by(*keys)
    result = []
    for row in rows:
        row["net"] = row["sold"] - row["refunds"]
        result.append(row)
    return result


def enquiry_conversion(enquiries, start=None, end=None):
    """Enquiries asked in [start, end) per sales manager: enquiries, open (new or
    contacted), won, lost, orders (those that led to a paid order), conversion (orders per
    enquiry, %) and the median days from enquiry to payment. Two queries."""
    from statistics import median

    from .models import EnquiryStatus

    if start is not None:
        enquiries = enquiries.filter(created_at__gte=start)
    if end is not None:
        enquiries = enquiries.filter(created_at__lt=end)
    enquiries = enquiries.order_by()
    converted = Q(order__paid_at__isnull=False)
    rows = list(enquiries.values("sales_manager_id").annotate(
        enquiries=Count("pk"),
        open=Count("pk", filter=Q(status__in=(EnquiryStatus.NEW, EnquiryStatus.CONTACTED))),
        won=Count("pk", filter=Q(status=EnquiryStatus.WON)),
        lost=Count("pk", filter=Q(status=EnquiryStatus.LOST)),
        orders=Count("pk", filter=converted),
    ).order_by("sales_manager_id"))
    waits = {}
    for manager, asked, paid in enquiries.filter(converted).values_list(
        "sales_manager_id", "created_at", "order__paid_at"
    ):
        waits.setdefault(manager, []).append(max((paid - asked).total_seconds(), 0) / 86400)
    for row in rows:
        row["conversion"] = round(100 * row["orders"] / row["enquiries"], 1)
        days = waits.get(row["sales_manager_id"])
        row["days_to_order"] = round(median(days), 1) if days else None
    return rows


# -- Over time ---------------------------------------------------------------------------------

def monthly_activity(enrollments, zone, now=None, months=6):
    """The last ``months`` months, oldest first: [{"month", "active_clients", "completions",
    "enrollments"}]: clients who did something that month, enrollments completed and started.
    Three queries."""
    from django.db.models.functions import TruncMonth

    now = now or timezone.now()
    current = now.astimezone(zone).date().replace(day=1)
    first = current
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    since = datetime(first.year, first.month, 1, tzinfo=zone)
    enrollments = enrollments.order_by()
    table = {}
    month = first
    while month <= current:
        table[month] = {"month": month, "active_clients": 0, "completions": 0, "enrollments": 0}
        month = (month + timedelta(days=32)).replace(day=1)
    queries = (
        ("active_clients", JourneyEvent.objects.filter(
            enrollment__in=enrollments.values("pk"), kind__in=CLIENT_ACTIVITY_KINDS, at__gte=since,
        ).annotate(month=TruncMonth("at", tzinfo=zone)).values("month").annotate(
            n=Count("enrollment__client_id", distinct=True))),
        ("completions", enrollments.filter(
            status=EnrollmentStatus.COMPLETED, completed_at__gte=since,
        ).annotate(month=TruncMonth("completed_at", tzinfo=zone)).values("month").annotate(
            n=Count("pk"))),
        ("enrollments", enrollments.filter(starts_at__gte=since).annotate(
            month=TruncMonth("starts_at", tzinfo=zone)).values("month").annotate(n=Count("pk"))),
    )
    for key, rows in queries:
        for row in rows.order_by():
            entry = table.get(_as_date(row["month"]))
            if entry is not None:
                entry[key] = row["n"]
    return list(table.values())
