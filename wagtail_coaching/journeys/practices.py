"""Practices that are practised: logging them, their targets, streaks and adherence.

A practice is logged each time the client does it, at most once a day (the day in the
client's own time zone): a second tap that day, or a double submit, changes nothing. Its
step completes when its target is met, through ``complete_activity``, so the unlock rules,
the timeline and what follows a completion work as for any step.

This module is the one place that says what these words mean; the client's pages, the
client card, the reports and the coach's brief read them from here.

- **Target**: a practice done once is done at its first log. A daily or weekly one asks for
  ``weeks`` weeks at its cadence, counted in days practised: daily for 2 weeks is 14 days,
  3 days a week for 4 weeks is 12 days.
- **Streak**: daily, the days in a row practised up to today (or up to yesterday, while
  today is still open); weekly, the weeks in a row (Monday to Sunday) at the cadence, up to
  this week (or last week, while this one is still going).
- **Adherence**: days practised out of the days asked for, from the day the practice opened
  to today, or to the day it was completed or the engagement ended. Days the engagement was
  paused are not asked for. The period still going (today for a daily practice, this week
  for a weekly one) asks only for what is already done in it: nobody is behind before the
  day or the week is over. The same holds for the period in which the target was met.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..blocks.activities import DEFAULT_PRACTICE_WEEKS, DEFAULT_TIMES_PER_WEEK, PRACTICE_CADENCES
from ..models import (
    ActivityState,
    ClientActivity,
    EngagementPage,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    PracticeLog,
)
from ..utils.time_zones import time_zone, user_time_zone
from .errors import ActivityNotAvailable, InvalidActivity
from .program import activity_block, activity_values
from .progress import complete_activity, lock_activity

PRACTICE = "practice"
ONCE, DAILY, WEEKLY = "once", "daily", "weekly"
CADENCES = {value for value, _label in PRACTICE_CADENCES}
DAY = timedelta(days=1)
WEEK = timedelta(days=7)

# Steps whose practice is shown and counted: open, or done (its record stays readable).
COUNTED_STATES = (ActivityState.AVAILABLE, ActivityState.COMPLETED)


# -- The plan: what the practice asks for ---------------------------------------------------

def _whole(value, default, highest):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, 1), highest)


@dataclass(frozen=True)
class PracticePlan:
    cadence: str = ONCE
    times_per_week: int = DEFAULT_TIMES_PER_WEEK
    weeks: int = DEFAULT_PRACTICE_WEEKS

    @property
    def repeats(self):
        """Logged again and again (daily or weekly), not done once."""
        return self.cadence in (DAILY, WEEKLY)

    @property
    def per_week(self):
        """Days a week the practice asks for."""
        return {DAILY: 7, WEEKLY: self.times_per_week}.get(self.cadence, 0)

    @property
    def target(self):
        """Days practised that complete the step."""
        return self.per_week * self.weeks if self.repeats else 1


def practice_plan(value):
    """The plan of a practice block's value (a StructValue or the stored dict).

    A value stored before practices had a target reads as once a week for one week; a
    cadence the code does not know reads as "once".
    """
    value = value or {}
    cadence = value.get("cadence") or ONCE
    return PracticePlan(
        cadence=cadence if cadence in CADENCES else ONCE,
        times_per_week=_whole(value.get("times_per_week"), DEFAULT_TIMES_PER_WEEK, 6),
        weeks=_whole(value.get("weeks"), DEFAULT_PRACTICE_WEEKS, 52),
    )


# -- Counting days: pure functions over dates -----------------------------------------------

def week_start(day):
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Adherence:
    """Days practised out of the days asked for (over one practice, or many added up)."""

    practised: int = 0
    expected: int = 0

    @property
    def percent(self):
        """0 to 100, or None when nothing was asked for yet."""
        if not self.expected:
            return None
        return min(100, round(100 * self.practised / self.expected))

    def __add__(self, other):
        return Adherence(self.practised + other.practised, self.expected + other.expected)


@dataclass(frozen=True)
class Tick:
    """One day of the week a practice shows: ``state`` is ``done``, ``today`` (not yet),
    ``missed`` (a past day of a daily practice), ``rest`` (a past day of a weekly one, not
    practised), ``upcoming``, or ``off`` (before it opened, after it ended, or paused)."""

    day: date
    state: str

    @property
    def done(self):
        return self.state == "done"


@dataclass(frozen=True)
class PracticeStatus:
    """Where one client stands with one practice."""

    activity_id: int
    title: str
    plan: PracticePlan
    days: int  # days practised in all
    done_today: bool
    streak: int  # days (daily) or weeks (weekly) in a row
    ticks: tuple  # the days of the week shown, Monday to Sunday
    week_days: int  # days practised in that week
    adherence: Adherence
    completed: bool = False

    @property
    def target(self):
        return self.plan.target

    @property
    def target_met(self):
        return self.days >= self.target

    @property
    def left(self):
        return max(0, self.target - self.days)

    @property
    def streak_unit(self):
        return "week" if self.plan.cadence == WEEKLY else "day"

    @property
    def week_target(self):
        return self.plan.per_week


def _streak(plan, days, end, still_going, opened_on, off_days):
    if plan.cadence == DAILY:
        day = end if (end in days or not still_going) else end - DAY
        streak = 0
        while day in days or (day in off_days and day >= opened_on):
            streak += day in days  # a paused day neither breaks nor lengthens it
            day -= DAY
        return streak
    per_week = Counter(week_start(d) for d in days)
    week = week_start(end)
    if still_going and per_week[week] < plan.per_week:
        week -= WEEK
    streak = 0
    while week >= week_start(opened_on):
        asked = min(plan.per_week, _available(week, week + 6 * DAY, opened_on, end, off_days))
        if asked and per_week[week] < asked:
            break
        streak += bool(asked)  # a week paused throughout neither breaks nor lengthens it
        week -= WEEK
    return streak


def _available(first, last, opened_on, end, off_days):
    """Days from ``first`` to ``last`` inside the practice's window and not paused."""
    first, last = max(first, opened_on), min(last, end)
    if last < first:
        return 0
    return sum(1 for n in range((last - first).days + 1) if first + n * DAY not in off_days)


def _adherence(plan, days, opened_on, end, still_going, off_days):
    if not plan.repeats or end < opened_on:
        return Adherence()
    counted = {d for d in days if opened_on <= d <= end}
    if plan.cadence == DAILY:
        asked = _available(opened_on, end, opened_on, end, off_days | counted) + len(counted)
        if still_going and end not in counted:
            asked -= end not in off_days  # today is still open
        return Adherence(len(counted), max(asked, len(counted)))
    practised = expected = 0
    week, last_week = week_start(opened_on), week_start(end)
    per_week = Counter(week_start(d) for d in counted)
    while week <= last_week:
        done = min(plan.per_week, per_week[week])
        asked = min(plan.per_week, _available(week, week + 6 * DAY, opened_on, end, off_days))
        if week == last_week and still_going:
            asked = done  # the week is not over
        practised += done
        expected += max(asked, done)
        week += WEEK
    return Adherence(practised, expected)


def practice_status(
    plan, days, *, today, opened_on=None, until=None, completed=False, off_days=frozenset(),
    activity_id=None, title="",
):
    """Where a client stands with a practice, from the days they practised it.

    ``today`` and the days are the client's own dates; ``opened_on`` is the day the practice
    opened; ``until`` the last day it could be practised, when that is before today (it was
    completed, or the engagement ended); ``completed`` whether its target was met;
    ``off_days`` days the engagement was paused.
    """
    days = set(days)
    opened_on = min([opened_on or today, *days])
    end = min(until, today) if until else today
    # The last period asks only for what is done in it while it is going on, and once the
    # target was met in it.
    still_going = completed or end == today
    streak = _streak(plan, days, end, still_going, opened_on, off_days) if plan.repeats else 0
    shown_week = week_start(end)
    ticks = []
    for n in range(7):
        day = shown_week + n * DAY
        if day in days:
            state = "done"
        elif day < opened_on or day > end or day in off_days:
            state = "upcoming" if day > end and end == today and not completed else "off"
        elif day == today:
            state = "today"
        else:
            state = "missed" if plan.cadence == DAILY else "rest"
        ticks.append(Tick(day, state))
    return PracticeStatus(
        activity_id=activity_id,
        title=title,
        plan=plan,
        days=len(days),
        done_today=today in days,
        streak=streak,
        ticks=tuple(ticks),
        week_days=sum(1 for t in ticks if t.done),
        adherence=_adherence(plan, days, opened_on, end, still_going, off_days),
        completed=completed,
    )


# -- Reading the database: a set of enrollments in constant queries -------------------------

@dataclass
class PracticeAdherence:
    """An enrollment's practices that repeat, and adherence over all of them."""

    enrollment_id: int
    practices: list = field(default_factory=list)  # PracticeStatus, in journey order

    @property
    def adherence(self):
        total = Adherence()
        for status in self.practices:
            total += status.adherence
        return total

    @property
    def percent(self):
        return self.adherence.percent

    def status_of(self, activity_id):
        return next((s for s in self.practices if s.activity_id == activity_id), None)


def _local_day(moment, zone):
    return moment.astimezone(zone).date() if moment is not None else None


def _paused_days(events, zone, today):
    """The days an enrollment was paused, from its status changes (oldest first)."""
    days, since = set(), None
    for at, data in events:
        data = data or {}
        if data.get("to") == EnrollmentStatus.PAUSED:
            since = _local_day(at, zone)
        elif data.get("from") == EnrollmentStatus.PAUSED and since is not None:
            days.update(since + n * DAY for n in range((_local_day(at, zone) - since).days))
            since = None
    if since is not None:
        days.update(since + n * DAY for n in range((today - since).days + 1))
    return days


def _until(row, zone, now):
    """The last day the practice could be practised, when that is over."""
    ends = []
    if row.state == ActivityState.COMPLETED and row.completed_at is not None:
        ends.append(row.completed_at)
    if row.enrollment_completed_at is not None:
        ends.append(row.enrollment_completed_at)
    if row.enrollment_ends_at is not None and row.enrollment_ends_at <= now:
        ends.append(row.enrollment_ends_at)
    return _local_day(min(ends), zone) if ends else None


def adherence(enrollment_ids, *, now=None):
    """{enrollment id: PracticeAdherence} for the repeating practices of ``enrollment_ids``
    that are open or done, each counted in its client's time zone. Four queries at most,
    however many enrollments, practices and logs. Enrollments without such a practice map
    to an empty ``PracticeAdherence`` (its ``percent`` is None)."""
    ids = list(enrollment_ids)
    result = {pk: PracticeAdherence(pk) for pk in ids}
    if ids:
        for row, status in _statuses(ids, now or timezone.now()):
            result[row.enrollment_id].practices.append(status)
    return result


def adherence_by_engagement(enrollments, *, now=None):
    """{engagement id: Adherence} over ``enrollments`` (a queryset, read as a subquery), for
    reports: the days practised and asked for of every client, added up per engagement.
    Engagements without a repeating practice are left out. Four queries at most."""
    totals = defaultdict(Adherence)
    for row, status in _statuses(enrollments.order_by().values("pk"), now or timezone.now()):
        totals[row.engagement_id] += status.adherence
    return dict(totals)


def _statuses(enrollment_ids, now):
    """(row, PracticeStatus) for each repeating practice, open or done, of the enrollments."""
    rows = list(
        ClientActivity.objects.filter(
            enrollment_id__in=enrollment_ids, kind=PRACTICE, state__in=COUNTED_STATES
        )
        .annotate(
            engagement_id=F("enrollment__engagement_id"),
            zone_name=F("enrollment__client__wagtail_userprofile__current_time_zone"),
            enrollment_completed_at=F("enrollment__completed_at"),
            enrollment_ends_at=F("enrollment__ends_at"),
        )
        .only(
            "id", "enrollment_id", "block_id", "title", "state", "value", "unlocked_at",
            "completed_at", "created_at",
        )
        .order_by("enrollment_id", "stage_position", "position", "id")
    )
    if not rows:
        return
    values = _practice_values(rows)
    plans = {row.pk: practice_plan(values.get(row.pk)) for row in rows}
    rows = [row for row in rows if plans[row.pk].repeats]
    if not rows:
        return
    logged = defaultdict(set)
    for activity_id, day in PracticeLog.objects.filter(
        activity_id__in=[row.pk for row in rows]
    ).values_list("activity_id", "day"):
        logged[activity_id].add(day)
    changes = defaultdict(list)
    for enrollment_id, at, data in (
        JourneyEvent.objects.filter(
            enrollment_id__in={row.enrollment_id for row in rows},
            kind=EventKind.STATUS_CHANGED,
        )
        .order_by("at", "id")
        .values_list("enrollment_id", "at", "data")
    ):
        changes[enrollment_id].append((at, data))
    paused = {}
    for row in rows:
        zone = time_zone(row.zone_name)
        today = _local_day(now, zone)
        if row.enrollment_id not in paused:
            paused[row.enrollment_id] = _paused_days(changes[row.enrollment_id], zone, today)
        yield row, practice_status(
            plans[row.pk], logged[row.pk], today=today,
            opened_on=_local_day(row.unlocked_at or row.created_at, zone),
            until=_until(row, zone, now),
            completed=row.state == ActivityState.COMPLETED,
            off_days=paused[row.enrollment_id],
            activity_id=row.pk, title=row.title,
        )


def _practice_values(rows):
    """{row id: block value} of practice rows: an extra row's own, else its program's (the
    programs of their engagements read in one query, only when some row needs one)."""
    values = {row.pk: row.value for row in rows if row.value is not None}
    needed = {row.engagement_id for row in rows if row.value is None}
    if needed:
        by_engagement = {
            pk: activity_values(program, PRACTICE)
            for pk, program in EngagementPage.objects.filter(pk__in=needed).values_list(
                "pk", "program"
            )
        }
        for row in rows:
            if row.value is None:
                values[row.pk] = by_engagement.get(row.engagement_id, {}).get(row.block_id)
    return values


def attach_practices(rows, enrollment_ids, *, now=None):
    """Set ``practice`` (a PracticeStatus, or None) on each of ``rows`` (steps of
    ``enrollment_ids``, model rows or the dashboard's), for templates. Returns the
    ``adherence()`` it read."""
    figures = adherence(enrollment_ids, now=now)
    statuses = {s.activity_id: s for f in figures.values() for s in f.practices}
    for row in rows:
        row.practice = statuses.get(row.pk)
    return figures


# -- Logging ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PracticeLogged:
    activity: object
    logged: bool  # False: already logged that day, nothing changed
    completed: bool  # this log met the target and completed the step
    day: date
    days: int  # days practised in all
    target: int


def log_practice(activity, *, actor=None, now=None):
    """The client did the practice ``activity`` today: log it, and complete the step when
    that meets its target.

    Idempotent per day in the client's time zone. Raises InvalidActivity for a step that is
    not a practice, ActivityNotAvailable when the engagement is not active or the step is not
    open (locked, skipped, removed, or already done).
    """
    now = now or timezone.now()
    with transaction.atomic():
        activity = lock_activity(activity)
        enrollment = activity.enrollment
        if activity.kind != PRACTICE:
            raise InvalidActivity(_("Only a practice is logged."))
        if enrollment.status != EnrollmentStatus.ACTIVE:
            raise ActivityNotAvailable(_("This engagement is not active at the moment."))
        if activity.state != ActivityState.AVAILABLE:
            if activity.state == ActivityState.COMPLETED:
                raise ActivityNotAvailable(_("You already reached the target of this practice."))
            raise ActivityNotAvailable(_("This step is not open."))
        block, value = activity_block(activity)
        if block is None:
            raise ActivityNotAvailable(_("This step is no longer part of the program."))
        plan = practice_plan(value)
        day = _local_day(now, user_time_zone(enrollment.client))
        _log, logged = PracticeLog.objects.get_or_create(
            activity=activity, day=day, defaults={"done_at": now}
        )
        if logged:
            JourneyEvent.objects.create(
                enrollment=enrollment, activity=activity, kind=EventKind.PRACTISED,
                actor=actor, at=now, data={"day": day.isoformat()},
            )
        days = activity.practice_logs.count()
        completed = days >= plan.target
        if completed:
            activity = complete_activity(activity, actor=actor, now=now)
    return PracticeLogged(activity, logged, completed, day, days, plan.target)

