"""The unlock engine: the rules (`unlock_time`, `open_due`) and the periodic job that opens
time-based activities (`unlock_due_activities`)."""

import datetime
import types
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from wagtail_coaching.blocks import UnlockRule
from wagtail_coaching.journeys import (
    complete_activity,
    enroll,
    enroll_many,
    progress,
    unlock_due_activities,
)
from wagtail_coaching.journeys.engine import journey_order, open_due, unlock_time
from wagtail_coaching.journeys.set_based import set_based
from wagtail_coaching.models import (
    DONE_STATES,
    ActivityState,
    ClientActivity,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Notification,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import CohortFactory, UserFactory, make_engagement
from wagtail_coaching.testing.jobs import run_jobs

UTC = datetime.UTC
LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = datetime.datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
DAY = datetime.timedelta(days=1)

LOCKED = ActivityState.LOCKED
AVAILABLE = ActivityState.AVAILABLE
TIME_RULES = (
    UnlockRule.DAYS_AFTER_ENROLLMENT, UnlockRule.DAYS_AFTER_COHORT_START, UnlockRule.ON_DATE,
)


# unlock_time ------------------------------------------------------------------------------


def enrollment_starting(at):
    return types.SimpleNamespace(starts_at=at)


def test_unlock_time_for_days_after_enrollment():
    e = enrollment_starting(NOW)
    assert unlock_time(UnlockRule.DAYS_AFTER_ENROLLMENT, 3, None, e) == NOW + 3 * DAY
    assert unlock_time(UnlockRule.DAYS_AFTER_ENROLLMENT, 0, None, e) == NOW
    assert unlock_time(UnlockRule.DAYS_AFTER_ENROLLMENT, None, None, e) == NOW


def test_unlock_time_for_days_after_cohort_start_is_local_midnight():
    e = enrollment_starting(NOW)
    got = unlock_time(UnlockRule.DAYS_AFTER_COHORT_START, 2, None, e, datetime.date(2025, 6, 1))
    assert got == datetime.datetime(2025, 6, 2, 23, 0, tzinfo=UTC)  # 3 June 00:00 BST
    # without a cohort, the client's own start counts
    assert unlock_time(UnlockRule.DAYS_AFTER_COHORT_START, 2, None, e) == NOW + 2 * DAY


def test_day_counts_across_a_clock_change_land_on_local_midnight():
    e = enrollment_starting(NOW)
    # the clocks go forward on 30 March 2025: 31 March 00:00 BST is 30 March 23:00 UTC
    got = unlock_time(UnlockRule.DAYS_AFTER_COHORT_START, 3, None, e, datetime.date(2025, 3, 28))
    assert got == datetime.datetime(2025, 3, 30, 23, 0, tzinfo=UTC)
    assert got.astimezone(LONDON).time() == datetime.time.min


def test_unlock_time_on_a_date():
    e = enrollment_starting(NOW)
    winter = unlock_time(UnlockRule.ON_DATE, None, datetime.date(2025, 1, 15), e)
    summer = unlock_time(UnlockRule.ON_DATE, None, datetime.date(2025, 7, 1), e)
    assert winter == datetime.datetime(2025, 1, 15, 0, 0, tzinfo=UTC)
    assert summer == datetime.datetime(2025, 6, 30, 23, 0, tzinfo=UTC)
    assert unlock_time(UnlockRule.ON_DATE, None, None, e) is None
    with override_settings(WAGTAIL_COACHING={"TIME_ZONE": "Asia/Tokyo"}):
        tokyo = unlock_time(UnlockRule.ON_DATE, None, datetime.date(2025, 7, 1), e)
    assert tokyo == datetime.datetime(2025, 6, 30, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "rule", [UnlockRule.IMMEDIATELY, UnlockRule.AFTER_PREVIOUS, UnlockRule.MANUAL]
)
def test_rules_without_a_time_have_no_unlock_time(rule):
    e = enrollment_starting(NOW)
    assert unlock_time(rule, 3, datetime.date(2025, 7, 1), e, datetime.date(2025, 6, 1)) is None


# open_due -------------------------------------------------------------------------------


def row(rule, state=LOCKED, unlock_at=None, pk=None, stage_position=0, position=0):
    return types.SimpleNamespace(
        unlock_rule=rule, state=state, unlock_at=unlock_at, unlocked_at=None, pk=pk,
        stage_position=stage_position, position=position,
    )


def test_open_due_opens_what_the_rules_allow():
    rows = [
        row(UnlockRule.IMMEDIATELY),
        row(UnlockRule.AFTER_PREVIOUS),  # previous is only now open: waits
        row(UnlockRule.DAYS_AFTER_ENROLLMENT, unlock_at=NOW),
        row(UnlockRule.DAYS_AFTER_ENROLLMENT, unlock_at=NOW + datetime.timedelta(seconds=1)),
        row(UnlockRule.MANUAL),
        row(UnlockRule.AFTER_PREVIOUS, state=ActivityState.COMPLETED),
        row(UnlockRule.AFTER_PREVIOUS),  # previous completed: opens
        row(UnlockRule.AFTER_PREVIOUS, state=ActivityState.SKIPPED),
        row(UnlockRule.MANUAL, state=ActivityState.REMOVED),  # ignored for "previous"
        row(UnlockRule.AFTER_PREVIOUS),  # previous non-removed is skipped: opens
        row(UnlockRule.IMMEDIATELY, state=ActivityState.REMOVED),  # never reopened here
    ]
    opened = open_due(rows, NOW)
    assert [i for i, r in enumerate(rows) if any(r is o for o in opened)] == [0, 2, 6, 9]
    assert len(opened) == 4
    assert all(r.state == AVAILABLE and r.unlocked_at == NOW for r in opened)
    assert rows[10].state == ActivityState.REMOVED
    assert open_due(rows, NOW) == []  # nothing more on a second pass


def test_a_first_after_previous_activity_opens_at_once():
    rows = [row(UnlockRule.MANUAL, state=ActivityState.REMOVED), row(UnlockRule.AFTER_PREVIOUS)]
    assert open_due(rows, NOW) == [rows[1]]


def test_open_due_opens_nothing_in_an_enrollment_that_is_not_active():
    rows = [row(UnlockRule.IMMEDIATELY), row(UnlockRule.ON_DATE, unlock_at=NOW - DAY)]
    assert open_due(rows, NOW, enrollment_active=False) == []
    assert {r.state for r in rows} == {LOCKED}


def test_journey_order_sorts_by_stage_then_position_then_creation():
    a = row(UnlockRule.IMMEDIATELY, pk=5, stage_position=1, position=0)
    b = row(UnlockRule.IMMEDIATELY, pk=2, stage_position=0, position=1)
    c = row(UnlockRule.IMMEDIATELY, pk=9, stage_position=0, position=1)
    d = row(UnlockRule.IMMEDIATELY, pk=None, stage_position=0, position=1)  # not saved yet
    e = row(UnlockRule.IMMEDIATELY, pk=7, stage_position=0, position=0)
    assert journey_order([a, b, c, d, e]) == [e, d, b, c, a]


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(list(ActivityState)),
        st.sampled_from(list(UnlockRule)),
        st.one_of(st.none(), st.integers(min_value=-72, max_value=72)),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(spec=rows_strategy, active=st.booleans())
def test_open_due_invariants(spec, active):
    rows = [
        row(rule, state=state,
            unlock_at=None if hours is None else NOW + datetime.timedelta(hours=hours))
        for state, rule, hours in spec
    ]
    before = [(r.state, r.unlocked_at) for r in rows]
    opened = open_due(rows, NOW, enrollment_active=active)
    opened_ids = {id(r) for r in opened}

    if not active:
        assert opened == []
    previous_state = None  # state, before this pass, of the previous non-removed row
    for r, (state, _) in zip(rows, before, strict=True):
        if id(r) in opened_ids:
            assert state == LOCKED
            assert (r.state, r.unlocked_at) == (AVAILABLE, NOW)
            assert r.unlock_rule != UnlockRule.MANUAL
            if r.unlock_rule == UnlockRule.AFTER_PREVIOUS:
                assert previous_state is None or previous_state in DONE_STATES
            if r.unlock_rule in TIME_RULES:
                assert r.unlock_at is not None and r.unlock_at <= NOW
        else:
            assert (r.state, r.unlocked_at) == (state, None)
            if active and state == LOCKED:
                # a locked row left locked must have a rule that is not met
                assert r.unlock_rule != UnlockRule.IMMEDIATELY
                if r.unlock_rule == UnlockRule.AFTER_PREVIOUS:
                    assert previous_state is not None and previous_state not in DONE_STATES
                if r.unlock_rule in TIME_RULES:
                    assert r.unlock_at is None or r.unlock_at > NOW
        if state != ActivityState.REMOVED:
            previous_state = state
    # opened in journey order, and a second pass at the same instant finds nothing
    assert opened == [r for r in rows if id(r) in opened_ids]
    assert open_due(rows, NOW, enrollment_active=active) == []


# unlock_due_activities ---------------------------------------------------------------------


def daily_program(days=6):
    acts = [programs.activity("lesson", "Start", rule="immediately", block_id="start")]
    acts += [
        programs.activity("practice", f"Day {d}", rule="days_after_enrollment", days=d,
                          block_id=f"day-{d}")
        for d in range(1, days + 1)
    ]
    acts += [
        programs.activity("check_in", "After day 6", rule="after_previous", block_id="after"),
        programs.activity("one_to_one", "Call", rule="manual", block_id="call"),
    ]
    return [programs.stage("Daily", acts, block_id="daily")]


def states(enrollment):
    return {r.block_id: r.state for r in ClientActivity.objects.filter(enrollment=enrollment)}


@pytest.fixture
def daily(db):
    """Three clients enrolled at NOW in a daily program; the third is paused."""
    with time_machine.travel(NOW, tick=False):
        page = make_engagement(program=daily_program())
        users = [UserFactory() for _ in range(3)]
        created, _ = enroll_many(users, page)
    created.sort(key=lambda e: e.pk)
    Enrollment.objects.filter(pk=created[2].pk).update(status=EnrollmentStatus.PAUSED)
    Notification.objects.all().delete()  # welcomes are not what these tests are about
    return page, created


def unlocked_events():
    return JourneyEvent.objects.filter(kind=EventKind.UNLOCKED)


def test_the_job_opens_due_activities_only(daily, broker):
    page, (first, second, paused) = daily
    with time_machine.travel(NOW + 2 * DAY + datetime.timedelta(minutes=1), tick=False):
        later = datetime.datetime.now(tz=UTC)
        with run_jobs():
            opened = unlock_due_activities(batch_size=2)
    assert opened == 4  # day 1 and day 2 for two active clients
    for enrollment in (first, second):
        got = states(enrollment)
        assert got["day-1"] == got["day-2"] == AVAILABLE
        assert {got[f"day-{d}"] for d in range(3, 7)} == {LOCKED}
        assert got["after"] == got["call"] == LOCKED
        assert got["start"] == AVAILABLE
    # paused after enrolling: the time-based steps wait
    assert {v for k, v in states(paused).items() if k != "start"} == {LOCKED}
    rows = ClientActivity.objects.filter(state=AVAILABLE, block_id__startswith="day-")
    assert {r.unlocked_at for r in rows} == {later}
    events = list(unlocked_events())
    assert sorted(e.activity_id for e in events) == sorted(r.pk for r in rows)
    assert {(e.at, e.data["rule"]) for e in events} == {(later, "days_after_enrollment")}
    assert sorted(
        Notification.objects.filter(kind="step_open").values_list("dedup_key", flat=True)
    ) == sorted(f"step-open:{r.pk}" for r in rows)
    assert len(mail.outbox) == 4
    assert {m.to[0] for m in mail.outbox} == {first.client.email, second.client.email}


def test_the_job_is_safe_to_run_twice(daily):
    when = NOW + 3 * DAY
    assert unlock_due_activities(now=when, batch_size=2) == 6
    snapshot = (
        sorted(ClientActivity.objects.values_list("pk", "state", "unlocked_at")),
        unlocked_events().count(),
        Notification.objects.count(),
    )
    assert unlock_due_activities(now=when, batch_size=2) == 0
    assert unlock_due_activities(now=when + datetime.timedelta(hours=1)) == 0
    assert (
        sorted(ClientActivity.objects.values_list("pk", "state", "unlocked_at")),
        unlocked_events().count(),
        Notification.objects.count(),
    ) == snapshot


def test_the_job_opens_nothing_before_its_time(daily):
    assert unlock_due_activities(now=NOW + DAY - datetime.timedelta(seconds=1)) == 0
    assert unlock_due_activities(now=NOW + DAY) == 2
    assert not unlocked_events().filter(activity__block_id="day-2").exists()


def test_a_resumed_enrollment_catches_up(daily):
    _, (_, _, paused) = daily
    unlock_due_activities(now=NOW + 2 * DAY)
    Enrollment.objects.filter(pk=paused.pk).update(status=EnrollmentStatus.ACTIVE)
    assert unlock_due_activities(now=NOW + 2 * DAY, batch_size=1) == 2
    assert states(paused)["day-2"] == AVAILABLE


@pytest.mark.parametrize("status", [EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED])
def test_the_job_leaves_closed_enrollments_alone(daily, status):
    Enrollment.objects.update(status=status)
    assert unlock_due_activities(now=NOW + 10 * DAY) == 0
    assert not unlocked_events().exists()


def test_the_job_does_not_open_what_follows_a_time_based_step(daily):
    _, (first, *_) = daily
    unlock_due_activities(now=NOW + 6 * DAY)
    assert states(first)["after"] == LOCKED  # "after day 6" waits for day 6 to be done
    complete_activity(
        ClientActivity.objects.get(enrollment=first, block_id="day-6"), actor=first.client,
        now=NOW + 6 * DAY,
    )
    assert states(first)["after"] == AVAILABLE


def transactions(queries):
    """The statements of each transaction (a savepoint in a test) of a run."""
    found = []
    for q in queries:
        if q["sql"].startswith("SAVEPOINT"):
            found.append([])
        elif found and not q["sql"].startswith("RELEASE SAVEPOINT"):
            found[-1].append(q["sql"])
    return found


def test_the_job_runs_a_constant_number_of_queries_per_batch(daily):
    """Two active clients, one row each per day. With batch_size=2 a batch takes one journey
    (a quarter of the batch size, at least one) and at most two of its rows. Every batch runs
    the same statements however many rows it opens; the run ends with at most two looks
    that find nothing (after the last journey done, then from the start)."""
    shapes = set()
    for days, batches in ((1, 2), (3, 2), (6, 4)):
        with CaptureQueriesContext(connection) as queries:
            unlock_due_activities(now=NOW + days * DAY, batch_size=2)
        done = transactions(queries)
        opening = [t for t in done if len(t) > 1]
        assert len(opening) == batches, days
        shapes |= {tuple(sql.split(" ", 1)[0] for sql in t) for t in opening}
        looks = done[len(opening):]
        assert done[: len(opening)] == opening
        assert 1 <= len(looks) <= 2 and all(len(t) == 1 for t in looks), days
    if set_based():
        # The journeys, then one statement claims, opens and records their rows; the
        # messages.
        assert shapes == {("SELECT", "WITH", "INSERT")}
    else:
        # Two selects (journeys, then their rows), the update, the events, the messages.
        assert shapes == {("SELECT", "SELECT", "UPDATE", "INSERT", "INSERT")}


def test_a_batch_looks_after_the_journeys_done_before_it(daily):
    """The second batch does not search from the start again: its first select asks for
    rows after the last one whose journey the first batch finished."""
    _, (first, *_) = daily
    with CaptureQueriesContext(connection) as queries:
        assert unlock_due_activities(now=NOW + 6 * DAY, batch_size=8) == 12
    first_selects = [t[0] for t in transactions(queries)]
    table = '"wagtail_coaching_clientactivity"'
    row = f'({table}."unlock_at", {table}."id") >'
    assert len(first_selects) == 4  # two batches, then the two looks that find nothing
    assert row not in first_selects[0]
    assert all(row in sql for sql in first_selects[1:-1])
    assert row not in first_selects[-1]  # the last look starts from the start


def test_rows_behind_the_search_point_are_still_opened(daily, monkeypatch):
    """A journey whose due steps all lie before the point the batches have reached (here a
    paused client resumed, and its steps moved earlier, while the job runs) is opened by
    the last look from the start."""
    _, (first, second, paused) = daily
    real = progress._last_done
    calls = []

    def and_meanwhile(*args):
        calls.append(1)
        if len(calls) == 2:  # at the end of the second batch
            Enrollment.objects.filter(pk=paused.pk).update(status=EnrollmentStatus.ACTIVE)
            ClientActivity.objects.filter(
                enrollment=paused, unlock_at__isnull=False
            ).update(unlock_at=NOW)
        return real(*args)

    monkeypatch.setattr(progress, "_last_done", and_meanwhile)
    assert unlock_due_activities(now=NOW + 6 * DAY, batch_size=8) == 12 + 6
    assert len(calls) == 3
    for enrollment in (first, second, paused):
        assert {states(enrollment)[f"day-{d}"] for d in range(1, 7)} == {AVAILABLE}


@pytest.mark.parametrize(
    ("due", "batch_size", "expected"),
    [
        # Everything fitted: the last head.
        ([1, 1, 2], 4, (30, 3)),
        # The batch stopped inside journey 2: up to the head before journey 2's.
        ([1, 1, 2, 2], 4, (10, 1)),
        # Journey 1 alone filled the batch: no progress past the previous point.
        ([1, 1, 1, 1], 4, None),
    ],
)
def test_the_search_point_moves_past_finished_journeys_only(due, batch_size, expected):
    heads = [(1, 10, 1), (2, 20, 2), (3, 30, 3)]
    assert progress._last_done(heads, len(due), due[-1], batch_size, None) == expected


def test_a_batch_takes_whole_journeys(daily):
    """Steps due at the same times in many journeys are opened journey by journey, so that a
    batch touches a few journeys' rows rather than one row of each."""
    _, (first, second, _paused) = daily
    assert unlock_due_activities(now=NOW + 6 * DAY, batch_size=8) == 12
    opened = list(
        unlocked_events().order_by("id").values_list("enrollment_id", "activity__block_id")
    )
    days = [f"day-{d}" for d in range(1, 7)]
    assert opened == [(first.pk, day) for day in days] + [(second.pk, day) for day in days]


def test_the_job_opens_dates_at_local_midnight(db):
    program = [programs.stage("Dated", [
        programs.activity("lesson", "July", rule="on_date", date=datetime.date(2025, 7, 1)),
    ])]
    with time_machine.travel(NOW, tick=False):
        page = make_engagement(program=program)
        enrollment = enroll(UserFactory(), page)
    bst_midnight = datetime.datetime(2025, 6, 30, 23, 0, tzinfo=UTC)
    assert unlock_due_activities(now=bst_midnight - datetime.timedelta(seconds=1)) == 0
    assert unlock_due_activities(now=bst_midnight) == 1
    assert set(states(enrollment).values()) == {AVAILABLE}


def test_the_job_opens_cohort_steps_for_the_whole_cohort(db):
    program = [programs.stage("Cohort", [
        programs.activity("lesson", "Kick-off", rule="immediately"),
        programs.activity("lesson", "Week 1", rule="days_after_cohort_start", days=7,
                          block_id="week-1"),
    ])]
    with time_machine.travel(NOW, tick=False):
        page = make_engagement(program=program)
        cohort = CohortFactory(engagement=page, start_date=datetime.date(2025, 6, 2))
        created, _ = enroll_many([UserFactory() for _ in range(5)], page, cohort=cohort)
    week_one = datetime.datetime(2025, 6, 8, 23, 0, tzinfo=UTC)  # 9 June 00:00 BST
    assert set(
        ClientActivity.objects.filter(block_id="week-1").values_list("unlock_at", flat=True)
    ) == {week_one}
    assert unlock_due_activities(now=week_one - datetime.timedelta(minutes=1)) == 0
    assert unlock_due_activities(now=week_one, batch_size=2) == 5
