"""Enrolling clients and moving through a journey: complete, skip, unlock by hand."""

import datetime
import importlib
import sqlite3
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from wagtail_coaching.journeys import (
    ActivityNotAvailable,
    AlreadyEnrolled,
    EngagementNotAvailable,
    EnrollmentNotOpen,
    complete_activity,
    enroll,
    enroll_many,
    skip_activity,
    unlock_activity,
)
from wagtail_coaching.models import (
    ActivitySource,
    ActivityState,
    ClientActivity,
    EngagementPage,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Notification,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import (
    CohortFactory,
    CompanyFactory,
    UserFactory,
    make_engagement,
)
from wagtail_coaching.testing.jobs import run_jobs

# The package exports the function `enroll`, which hides the module of the same name.
enroll_module = importlib.import_module("wagtail_coaching.journeys.enroll")

UTC = datetime.UTC
LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = datetime.datetime(2025, 6, 2, 9, 30, tzinfo=UTC)

LOCKED = ActivityState.LOCKED
AVAILABLE = ActivityState.AVAILABLE


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def real_sqlite_limits(db, monkeypatch):
    """Django 5.2 assumes SQLite's historical 999 variables per statement and splits bulk
    inserts by row count on SQLite only; use the library's real limit so that statement
    counts measure the code, as they do on PostgreSQL."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        try:
            monkeypatch.setattr(connection.features, "max_query_params", limit)
        except AttributeError:
            pass  # Django 6 reads the library's real limit itself (a read-only property)


def every_rule_program():
    a = programs.activity
    return [
        programs.stage("Foundations", [
            a("lesson", "Welcome", rule="immediately", block_id="welcome"),
            a("practice", "Chain 1", rule="after_previous", block_id="chain-1"),
            a("check_in", "Chain 2", rule="after_previous", block_id="chain-2"),
            a("lesson", "Day 3", rule="days_after_enrollment", days=3, block_id="day-3"),
            a("lesson", "Day 0", rule="days_after_enrollment", days=0, block_id="day-0"),
        ], block_id="stage-a"),
        programs.stage("Practice", [
            a("feedback", "Cohort day 2", rule="days_after_cohort_start", days=2,
              block_id="cohort-2"),
            a("lesson", "Future date", rule="on_date", date=datetime.date(2025, 7, 1),
              block_id="future"),
            a("lesson", "Past date", rule="on_date", date=datetime.date(2025, 5, 1),
              block_id="past"),
            a("one_to_one", "Coach call", rule="manual", block_id="call"),
            a("group_session", "After manual", rule="after_previous", block_id="after-call"),
        ], block_id="stage-b"),
    ]


def chain_program(*titles):
    acts = [
        programs.activity("lesson", t, rule="immediately" if i == 0 else "after_previous",
                          block_id=f"b{i}")
        for i, t in enumerate(titles)
    ]
    return [programs.stage("Only", acts, block_id="only")]


def rows(enrollment):
    return {r.block_id: r for r in ClientActivity.objects.filter(enrollment=enrollment)}


def states(enrollment):
    return {r.block_id: r.state for r in ClientActivity.objects.filter(enrollment=enrollment)}


def counts():
    return (
        Enrollment.objects.count(), ClientActivity.objects.count(),
        JourneyEvent.objects.count(), Notification.objects.count(),
    )


# Enrolling -------------------------------------------------------------------------------


def test_enroll_copies_the_program_with_initial_state_for_every_rule(client_user, frozen):
    page = make_engagement(program=every_rule_program())
    enrollment = enroll(client_user, page)

    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert enrollment.starts_at == NOW
    assert enrollment.program_revision_id == page.live_revision_id
    r = rows(enrollment)
    assert list(
        ClientActivity.objects.filter(enrollment=enrollment)
        .order_by("stage_position", "position").values_list("block_id", flat=True)
    ) == ["welcome", "chain-1", "chain-2", "day-3", "day-0",
          "cohort-2", "future", "past", "call", "after-call"]
    expected = {
        # block id: (state, unlock_at)
        "welcome": (AVAILABLE, None),
        "chain-1": (LOCKED, None),  # the previous one is open, not done
        "chain-2": (LOCKED, None),
        "day-3": (LOCKED, NOW + datetime.timedelta(days=3)),
        "day-0": (AVAILABLE, NOW),
        # no cohort: counted from the client's own start
        "cohort-2": (LOCKED, NOW + datetime.timedelta(days=2)),
        # local midnight in Europe/London (BST, UTC+1)
        "future": (LOCKED, datetime.datetime(2025, 6, 30, 23, 0, tzinfo=UTC)),
        "past": (AVAILABLE, datetime.datetime(2025, 4, 30, 23, 0, tzinfo=UTC)),
        "call": (LOCKED, None),
        "after-call": (LOCKED, None),
    }
    assert {k: (v.state, v.unlock_at) for k, v in r.items()} == expected
    for row in r.values():
        assert row.enrollment_id == enrollment.pk
        assert row.source == ActivitySource.PROGRAM
        assert row.value is None
        assert row.completed_at is None
        assert row.unlocked_at == (NOW if row.state == AVAILABLE else None)
    welcome, call = r["welcome"], r["call"]
    assert (welcome.kind, welcome.title, welcome.stage_title, welcome.stage_block_id) == (
        "lesson", "Welcome", "Foundations", "stage-a"
    )
    assert (welcome.stage_position, welcome.position) == (0, 0)
    assert (call.kind, call.stage_title, call.stage_position, call.position) == (
        "one_to_one", "Practice", 1, 3
    )
    assert (r["day-3"].unlock_rule, r["day-3"].unlock_days) == ("days_after_enrollment", 3)
    assert r["future"].unlock_date == datetime.date(2025, 7, 1)


@pytest.mark.parametrize(
    ("start", "expected_state", "expected_unlock"),
    [
        # 3 June 00:00 BST is 2 June 23:00 UTC: still ahead of 09:30 UTC on 2 June.
        (datetime.date(2025, 6, 1), LOCKED, datetime.datetime(2025, 6, 2, 23, 0, tzinfo=UTC)),
        (datetime.date(2025, 5, 25), AVAILABLE,
         datetime.datetime(2025, 5, 26, 23, 0, tzinfo=UTC)),
    ],
)
def test_days_after_cohort_start_counts_from_local_midnight_of_the_start_date(
    client_user, frozen, start, expected_state, expected_unlock
):
    page = make_engagement(program=every_rule_program())
    cohort = CohortFactory(engagement=page, start_date=start)
    enrollment = enroll(client_user, page, cohort=cohort)
    row = rows(enrollment)["cohort-2"]
    assert row.unlock_at == expected_unlock
    assert row.unlock_at == datetime.datetime.combine(
        start + datetime.timedelta(days=2), datetime.time.min, tzinfo=LONDON
    )
    assert row.state == expected_state
    # the cohort's company comes with it
    assert enrollment.cohort == cohort
    assert enrollment.company == cohort.company


def test_day_rules_use_the_configured_coaching_time_zone(client_user, frozen):
    page = make_engagement(program=every_rule_program())
    cohort = CohortFactory(engagement=page, start_date=datetime.date(2025, 6, 1))
    with override_settings(WAGTAIL_COACHING={"TIME_ZONE": "America/New_York"}):
        enrollment = enroll(client_user, page, cohort=cohort)
    r = rows(enrollment)
    # midnight EDT is 04:00 UTC
    assert r["cohort-2"].unlock_at == datetime.datetime(2025, 6, 3, 4, 0, tzinfo=UTC)
    assert r["future"].unlock_at == datetime.datetime(2025, 7, 1, 4, 0, tzinfo=UTC)


def test_days_after_enrollment_counts_from_the_given_start(client_user, frozen):
    page = make_engagement(program=every_rule_program())
    starts = NOW - datetime.timedelta(days=5)
    enrollment = enroll(client_user, page, starts_at=starts)
    r = rows(enrollment)
    assert r["day-3"].unlock_at == starts + datetime.timedelta(days=3)
    assert r["day-3"].state == AVAILABLE  # already due
    assert r["cohort-2"].state == AVAILABLE


def test_enroll_records_the_enrolled_event(client_user, frozen):
    admin = UserFactory(username="admin")
    page = make_engagement(program=chain_program("One", "Two"))
    enrollment = enroll(client_user, page, actor=admin, source=EnrollmentSource.OFFER)
    events = list(JourneyEvent.objects.filter(enrollment=enrollment))
    assert [(e.kind, e.actor, e.at) for e in events] == [(EventKind.ENROLLED, admin, NOW)]
    assert events[0].data == {"source": "offer", "revision": page.live_revision_id}
    assert enrollment.source == EnrollmentSource.OFFER


def welcomed():
    """Run the automation rules (the built-in welcome rule) and count welcome emails."""
    from wagtail_coaching.automation.dispatch import dispatch_events

    dispatch_events()
    return Notification.objects.filter(kind="welcome", channel="email").count()


def test_enrolling_welcomes_the_client_once_through_the_welcome_rule(client_user):
    page = make_engagement(program=chain_program("One", "Two"))
    enrollment = enroll(client_user, page)
    assert not Notification.objects.exists()  # the rule speaks, not enroll()
    with run_jobs():
        assert welcomed() == 1
    welcome = Notification.objects.get(kind="welcome", channel="email")
    assert welcome.recipient == client_user
    assert welcome.payload["engagement_title"] == page.title
    assert welcome.sent_at is not None
    assert [m.to for m in mail.outbox] == [[client_user.email]]
    assert JourneyEvent.objects.filter(enrollment=enrollment, kind=EventKind.RULE_FIRED).exists()
    # The rules running again send nothing more.
    with run_jobs():
        assert welcomed() == 1
    assert len(mail.outbox) == 1


def test_enrolling_twice_raises_and_creates_nothing(client_user):
    page = make_engagement(program=chain_program("One", "Two"))
    first = enroll(client_user, page)
    before = counts()
    with pytest.raises(AlreadyEnrolled) as info:
        enroll(client_user, page)
    assert info.value.enrollment == first
    assert counts() == before

    Enrollment.objects.filter(pk=first.pk).update(status=EnrollmentStatus.PAUSED)
    with pytest.raises(AlreadyEnrolled):
        enroll(client_user.pk, page.pk)
    assert counts() == before


@pytest.mark.parametrize("status", [EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED])
def test_a_new_enrollment_is_allowed_after_the_first_is_closed(client_user, status):
    page = make_engagement(program=chain_program("One", "Two"))
    first = enroll(client_user, page)
    Enrollment.objects.filter(pk=first.pk).update(status=status)
    second = enroll(client_user, page)
    assert second.pk != first.pk
    assert second.status == EnrollmentStatus.ACTIVE
    assert set(states(second).values()) == {AVAILABLE, LOCKED}
    assert states(first) == {"b0": AVAILABLE, "b1": LOCKED}  # history untouched
    # A journey cancelled before the rules ran hears nothing; a completed one still does.
    assert welcomed() == (1 if status == EnrollmentStatus.CANCELLED else 2)


def test_the_database_rejects_a_second_open_enrollment(client_user, frozen):
    page = make_engagement(program=chain_program("One"))
    Enrollment.objects.create(client=client_user, engagement=page, starts_at=NOW)
    for status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED):
        with pytest.raises(IntegrityError), transaction.atomic():
            Enrollment.objects.create(
                client=client_user, engagement=page, starts_at=NOW, status=status
            )
    # closed enrollments are history and do not count
    for status in (EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED):
        Enrollment.objects.create(client=client_user, engagement=page, starts_at=NOW,
                                  status=status)
    assert Enrollment.objects.count() == 3


def test_a_race_lost_at_the_database_is_reported_as_already_enrolled(
    client_user, monkeypatch
):
    """Two requests both find no enrollment; the second insert hits the constraint."""
    page = make_engagement(program=chain_program("One"))
    first = enroll(client_user, page)
    real_filter = Enrollment.objects.filter

    class NobodyEnrolledYet:
        def values_list(self, *args, **kwargs):
            return []

    def filter_missing_the_first(*args, **kwargs):
        if "client_id__in" in kwargs:
            return NobodyEnrolledYet()
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(Enrollment.objects, "filter", filter_missing_the_first)
    before = counts()
    with pytest.raises(AlreadyEnrolled):
        enroll(client_user, page)
    monkeypatch.undo()
    assert counts() == before
    assert Enrollment.objects.get() == first


def test_an_unpublished_engagement_cannot_be_joined(client_user):
    draft = make_engagement(program=chain_program("One"), publish=False)
    with pytest.raises(EngagementNotAvailable):
        enroll(client_user, draft)
    with pytest.raises(EngagementNotAvailable):
        enroll(client_user, draft.pk)
    with pytest.raises(EngagementNotAvailable):
        enroll_many([client_user], 987654)

    page = make_engagement(program=chain_program("One"), title="Later withdrawn")
    EngagementPage.objects.get(pk=page.pk).unpublish()
    # `page` is a stale instance that still says live=True
    with pytest.raises(EngagementNotAvailable):
        enroll(client_user, page)
    assert counts()[:2] == (0, 0)


def test_enroll_copies_the_published_program_not_a_draft(client_user):
    page = make_engagement(program=chain_program("Published"))
    page.program = chain_program("Published", "Draft only")
    page.save_revision()  # a draft: the instance in hand holds the draft program
    enrollment = enroll(client_user, page)
    assert list(enrollment.activities.values_list("title", flat=True)) == ["Published"]
    assert enrollment.program_revision_id == EngagementPage.objects.get(
        pk=page.pk).live_revision_id


def test_enroll_many_skips_clients_already_enrolled(client_user, other_client, frozen):
    page = make_engagement(program=chain_program("One", "Two"))
    first = enroll(client_user, page)
    third = UserFactory(username="third")
    created, already = enroll_many(
        [client_user, other_client, third.pk, other_client], page,
        source=EnrollmentSource.IMPORT,
    )
    assert sorted(e.client_id for e in created) == sorted([other_client.pk, third.pk])
    assert already == [client_user.pk]
    assert all(e.pk and e.source == EnrollmentSource.IMPORT for e in created)
    assert Enrollment.objects.filter(client=client_user).get() == first
    assert ClientActivity.objects.count() == 3 * 2
    assert JourneyEvent.objects.filter(kind=EventKind.ENROLLED).count() == 3
    assert welcomed() == 3
    for enrollment in created:
        assert states(enrollment) == {"b0": AVAILABLE, "b1": LOCKED}


def test_enroll_many_with_a_company_and_a_cohort(db, frozen):
    page = make_engagement(program=chain_program("One"))
    company = CompanyFactory()
    cohort = CohortFactory(engagement=page, company=company)
    users = [UserFactory() for _ in range(3)]
    created, _ = enroll_many(users, page, cohort=cohort, source=EnrollmentSource.COHORT)
    assert {(e.company_id, e.cohort_id) for e in created} == {(company.pk, cohort.pk)}
    other = CompanyFactory()
    created, _ = enroll_many([UserFactory()], page, company=other, cohort=cohort)
    assert created[0].company == other  # an explicit company wins


def test_enroll_many_is_all_or_nothing(db, monkeypatch, frozen):
    page = make_engagement(program=chain_program("One", "Two"))
    users = [UserFactory() for _ in range(4)]
    monkeypatch.setattr(enroll_module, "CLIENTS_PER_ROUND", 2)

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    # The last write of a round (by the Python engine or in SQL): everything before it
    # must roll back too.
    monkeypatch.setattr(JourneyEvent.objects, "bulk_create", broken)
    monkeypatch.setattr(enroll_module, "insert_events", broken)
    with pytest.raises(RuntimeError):
        enroll_many(users, page)
    assert counts() == (0, 0, 0, 0)


def test_enroll_many_runs_a_constant_number_of_queries(
    real_sqlite_limits, django_assert_max_num_queries
):
    page = make_engagement(program=programs.sized_program(2, 3))
    few = [UserFactory() for _ in range(5)]
    many = [UserFactory() for _ in range(50)]
    page = EngagementPage.objects.get(pk=page.pk)
    with CaptureQueriesContext(connection) as few_queries:
        enroll_many(few, page)
    with django_assert_max_num_queries(len(few_queries)):
        created, _ = enroll_many(many, page)
    assert len(created) == 50
    assert ClientActivity.objects.count() == 55 * 6


def test_enroll_many_works_in_rounds_of_constant_size(
    real_sqlite_limits, monkeypatch
):
    page = make_engagement(program=programs.sized_program(2, 3))
    monkeypatch.setattr(enroll_module, "CLIENTS_PER_ROUND", 4)
    users = [UserFactory() for _ in range(16)]
    with CaptureQueriesContext(connection) as one_round:
        enroll_many(users[:4], page)
    with CaptureQueriesContext(connection) as three_rounds:
        enroll_many(users[4:], page)
    per_round = (len(three_rounds) - len(one_round)) / 2
    assert per_round == int(per_round) and 0 < per_round <= 6
    assert ClientActivity.objects.count() == 16 * 6
    assert welcomed() == 16


# Completing, skipping, unlocking ----------------------------------------------------------


@pytest.fixture
def journey(client_user, frozen):
    page = make_engagement(program=every_rule_program())
    return enroll(client_user, page)


def events_of(enrollment, kind=None):
    qs = JourneyEvent.objects.filter(enrollment=enrollment).order_by("id")
    return list(qs.filter(kind=kind) if kind else qs)


def step_opens():
    return sorted(
        Notification.objects.filter(kind="step_open").values_list("dedup_key", flat=True)
    )


def test_completing_an_open_activity_records_the_answer_and_opens_the_next(journey):
    welcome = rows(journey)["welcome"]
    done = complete_activity(
        welcome, actor=journey.client, response={"answer": "ready"}, score=7
    )
    welcome.refresh_from_db()
    assert done.pk == welcome.pk
    assert (welcome.state, welcome.completed_at, welcome.response, welcome.score) == (
        ActivityState.COMPLETED, NOW, {"answer": "ready"}, 7
    )
    after = states(journey)
    assert after["chain-1"] == AVAILABLE
    assert after["chain-2"] == LOCKED  # no cascade past an open step
    assert rows(journey)["chain-1"].unlocked_at == NOW
    completed = events_of(journey, EventKind.COMPLETED)
    assert [(e.activity_id, e.actor, e.data) for e in completed] == [
        (welcome.pk, journey.client, {"score": 7})
    ]
    unlocked = events_of(journey, EventKind.UNLOCKED)
    assert [e.activity_id for e in unlocked] == [rows(journey)["chain-1"].pk]
    # the client opened it themselves: no message about it
    assert step_opens() == []


def test_a_coach_completing_a_step_tells_the_client_what_opened(journey):
    coach = UserFactory(username="coach")
    complete_activity(rows(journey)["welcome"], actor=coach)
    assert step_opens() == [f"step-open:{rows(journey)['chain-1'].pk}"]
    assert events_of(journey, EventKind.COMPLETED)[0].data == {}


def test_a_system_completion_tells_the_client(journey):
    with run_jobs():
        complete_activity(rows(journey)["welcome"])
    assert step_opens() == [f"step-open:{rows(journey)['chain-1'].pk}"]
    assert [m.to for m in mail.outbox] == [[journey.client.email]]
    assert "Chain 1" in mail.outbox[0].subject


@pytest.mark.parametrize("block_id", ["chain-2", "call", "day-3"])
def test_completing_a_locked_activity_raises_and_changes_nothing(journey, block_id):
    before_states, before_events = states(journey), len(events_of(journey))
    with pytest.raises(ActivityNotAvailable):
        complete_activity(rows(journey)[block_id], actor=journey.client, score=3)
    assert states(journey) == before_states
    assert len(events_of(journey)) == before_events
    assert rows(journey)[block_id].score is None


def test_completing_a_finished_or_removed_activity_raises(journey):
    welcome = rows(journey)["welcome"]
    complete_activity(welcome, response={"first": True})
    with pytest.raises(ActivityNotAvailable):
        complete_activity(welcome, response={"second": True})
    welcome.refresh_from_db()
    assert welcome.response == {"first": True}

    ClientActivity.objects.filter(enrollment=journey, block_id="day-0").update(
        state=ActivityState.REMOVED
    )
    before = len(events_of(journey))
    with pytest.raises(ActivityNotAvailable):
        complete_activity(rows(journey)["day-0"])
    assert rows(journey)["day-0"].state == ActivityState.REMOVED
    assert len(events_of(journey)) == before


@pytest.mark.parametrize(
    "status", [EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED, EnrollmentStatus.COMPLETED]
)
def test_completing_in_an_enrollment_that_is_not_active_raises(journey, status):
    Enrollment.objects.filter(pk=journey.pk).update(status=status)
    before_states, before_events = states(journey), len(events_of(journey))
    with pytest.raises(EnrollmentNotOpen):
        complete_activity(rows(journey)["welcome"])
    assert states(journey) == before_states
    assert len(events_of(journey)) == before_events


def test_completing_the_last_activity_completes_the_enrollment(client_user, frozen):
    page = make_engagement(program=chain_program("One", "Two", "Three"))
    enrollment = enroll(client_user, page)
    r = rows(enrollment)
    complete_activity(r["b0"], actor=client_user)
    skip_activity(r["b1"])
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    complete_activity(r["b2"], actor=client_user)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.completed_at) == (EnrollmentStatus.COMPLETED, NOW)
    finished = events_of(enrollment, EventKind.ENROLLMENT_COMPLETED)
    assert [(e.actor, e.at) for e in finished] == [(client_user, NOW)]


def test_removed_rows_do_not_hold_back_completion(client_user, frozen):
    page = make_engagement(program=chain_program("One", "Two"))
    enrollment = enroll(client_user, page)
    ClientActivity.objects.filter(enrollment=enrollment, block_id="b1").update(
        state=ActivityState.REMOVED
    )
    complete_activity(rows(enrollment)["b0"])
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.COMPLETED


def test_an_open_manual_step_holds_back_completion(journey):
    for block_id in ("welcome", "chain-1", "chain-2", "day-0", "past"):
        complete_activity(rows(journey)[block_id])
    for block_id in ("day-3", "cohort-2", "future"):
        skip_activity(rows(journey)[block_id])
    journey.refresh_from_db()
    assert journey.status == EnrollmentStatus.ACTIVE  # the coach call is still locked
    unlock_activity(rows(journey)["call"])
    complete_activity(rows(journey)["call"])
    assert states(journey)["after-call"] == AVAILABLE
    complete_activity(rows(journey)["after-call"])
    journey.refresh_from_db()
    assert journey.status == EnrollmentStatus.COMPLETED


def test_skipping_a_step_opens_what_follows(journey):
    coach = UserFactory(username="coach")
    skip_activity(rows(journey)["welcome"], actor=coach)
    assert states(journey)["welcome"] == ActivityState.SKIPPED
    assert states(journey)["chain-1"] == AVAILABLE
    skipped = events_of(journey, EventKind.SKIPPED)
    assert [(e.activity_id, e.actor) for e in skipped] == [(rows(journey)["welcome"].pk, coach)]
    # a locked step can be skipped too, and then the next one opens
    skip_activity(rows(journey)["chain-2"], actor=coach)
    assert states(journey)["chain-2"] == ActivityState.SKIPPED
    assert states(journey)["day-3"] == LOCKED  # a time rule waits for its time


def test_skipping_a_finished_step_raises(journey):
    complete_activity(rows(journey)["welcome"])
    with pytest.raises(ActivityNotAvailable):
        skip_activity(rows(journey)["welcome"])
    assert states(journey)["welcome"] == ActivityState.COMPLETED


@pytest.mark.parametrize("status", [EnrollmentStatus.CANCELLED, EnrollmentStatus.COMPLETED])
def test_a_closed_enrollment_cannot_be_changed_by_skip_or_unlock(journey, status):
    Enrollment.objects.filter(pk=journey.pk).update(status=status)
    before_states, before_events = states(journey), len(events_of(journey))
    with pytest.raises(EnrollmentNotOpen):
        skip_activity(rows(journey)["chain-1"])
    with pytest.raises(EnrollmentNotOpen):
        unlock_activity(rows(journey)["call"])
    assert states(journey) == before_states
    assert len(events_of(journey)) == before_events
    assert step_opens() == []


def test_a_paused_journey_can_be_adapted_but_nothing_opens(journey):
    Enrollment.objects.filter(pk=journey.pk).update(status=EnrollmentStatus.PAUSED)
    skip_activity(rows(journey)["welcome"])
    assert states(journey)["welcome"] == ActivityState.SKIPPED
    assert states(journey)["chain-1"] == LOCKED  # waits for the enrollment to resume
    unlock_activity(rows(journey)["call"])  # a coach's explicit unlock still counts
    assert states(journey)["call"] == AVAILABLE


def test_a_coach_unlocks_a_manual_step(journey):
    coach = UserFactory(username="coach")
    call = rows(journey)["call"]
    with run_jobs():
        unlock_activity(call, actor=coach)
    call.refresh_from_db()
    assert (call.state, call.unlocked_at) == (AVAILABLE, NOW)
    unlocked = events_of(journey, EventKind.UNLOCKED)
    assert [(e.activity_id, e.actor, e.data) for e in unlocked] == [
        (call.pk, coach, {"manual": True})
    ]
    assert step_opens() == [f"step-open:{call.pk}"]
    assert len(mail.outbox) == 1
    assert "Coach call" in mail.outbox[0].subject
    assert states(journey)["after-call"] == LOCKED

    with pytest.raises(ActivityNotAvailable):
        unlock_activity(call, actor=coach)
    assert len(events_of(journey, EventKind.UNLOCKED)) == 1


def test_unlocking_a_removed_step_raises(journey):
    ClientActivity.objects.filter(enrollment=journey, block_id="call").update(
        state=ActivityState.REMOVED
    )
    with pytest.raises(ActivityNotAvailable):
        unlock_activity(rows(journey)["call"])
    assert states(journey)["call"] == ActivityState.REMOVED
