"""Extra activities: a coach adds a step to one client's journey."""

import datetime

import pytest
import time_machine
from django.core import mail

from wagtail_coaching.blocks import LessonBlock
from wagtail_coaching.journeys import (
    EnrollmentNotOpen,
    InvalidActivity,
    add_extra_activity,
    complete_activity,
    enroll,
    unlock_due_activities,
)
from wagtail_coaching.journeys.program import activity_block
from wagtail_coaching.models import (
    ActivitySource,
    ActivityState,
    ClientActivity,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Notification,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.jobs import run_jobs

UTC = datetime.UTC
NOW = datetime.datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
DAY = datetime.timedelta(days=1)

LOCKED = ActivityState.LOCKED
AVAILABLE = ActivityState.AVAILABLE


def program():
    a = programs.activity
    return [
        programs.stage("Start", [
            a("lesson", "Welcome", rule="immediately", block_id="a"),
            a("practice", "Reflect", rule="after_previous", block_id="b"),
            a("check_in", "Mood", rule="manual", block_id="c"),
        ], block_id="s1"),
        programs.stage("Deepen", [
            a("lesson", "Read", rule="after_previous", block_id="d"),
        ], block_id="s2"),
    ]


LESSON = {"title": "Extra reading", "body": "<p>Read this</p>"}


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def coach(db):
    return UserFactory(username="coach")


@pytest.fixture
def journey(client_user, frozen):
    return enroll(client_user, make_engagement(program=program()))


def snapshot():
    return (
        sorted(ClientActivity.objects.values_list("pk", "state", "position")),
        JourneyEvent.objects.count(),
        Notification.objects.count(),
    )


def test_an_extra_activity_appears_at_once_at_the_end_of_its_stage(journey, coach):
    with run_jobs():
        extra = add_extra_activity(journey, "lesson", LESSON, actor=coach, stage_block_id="s1")
    assert extra.pk is not None
    assert (extra.source, extra.kind, extra.title) == (ActivitySource.EXTRA, "lesson",
                                                        "Extra reading")
    assert extra.block_id.startswith("extra-")
    assert (extra.stage_block_id, extra.stage_title, extra.stage_position, extra.position) == (
        "s1", "Start", 0, 3
    )
    assert (extra.unlock_rule, extra.state, extra.unlocked_at) == ("immediately", AVAILABLE, NOW)
    assert extra.value["title"] == "Extra reading"
    assert extra.value["body"] == "<p>Read this</p>"
    assert extra.value["unlock"]["rule"] == "immediately"
    order = list(
        ClientActivity.objects.filter(enrollment=journey)
        .order_by("stage_position", "position", "id").values_list("block_id", flat=True)
    )
    assert order == ["a", "b", "c", extra.block_id, "d"]

    added = JourneyEvent.objects.get(enrollment=journey, kind=EventKind.EXTRA_ADDED)
    assert (added.activity_id, added.actor, added.at, added.data) == (
        extra.pk, coach, NOW, {"kind": "lesson", "title": "Extra reading"}
    )
    unlocked = JourneyEvent.objects.get(enrollment=journey, kind=EventKind.UNLOCKED)
    assert unlocked.activity_id == extra.pk
    # a coach added it: the client hears about it
    assert list(Notification.objects.filter(kind="step_open").values_list(
        "dedup_key", flat=True)) == [f"step-open:{extra.pk}"]
    assert [m.subject for m in mail.outbox] == ["A new step is open: Extra reading"]


def test_extras_stack_up_at_the_end_of_the_stage_or_of_the_journey(journey, coach):
    first = add_extra_activity(journey, "lesson", LESSON, actor=coach, stage_block_id="s2")
    second = add_extra_activity(
        journey, "feedback", {"title": "How is it going?"}, actor=coach, stage_block_id="s2"
    )
    last = add_extra_activity(journey, "lesson", {**LESSON, "title": "Bonus"}, actor=coach)
    assert [(x.stage_position, x.position) for x in (first, second, last)] == [
        (1, 1), (1, 2), (2, 0)
    ]
    assert (last.stage_block_id, last.stage_title) == ("", "")
    assert second.value["question"] == "How satisfied are you so far?"  # the block default


def test_an_extra_follows_its_unlock_rule(journey, coach):
    chained = add_extra_activity(
        journey, "practice", {"title": "After mood", "instructions": "<p>x</p>"},
        actor=coach, stage_block_id="s1", unlock={"rule": "after_previous"},
    )
    assert chained.state == LOCKED  # the manual "Mood" before it is locked
    later = add_extra_activity(
        journey, "lesson", {**LESSON, "unlock": {"rule": "days_after_enrollment", "days": 2}},
        actor=coach,
    )
    assert (later.state, later.unlock_at, later.unlock_days) == (LOCKED, NOW + 2 * DAY, 2)
    assert unlock_due_activities(now=NOW + 2 * DAY) == 1
    later.refresh_from_db()
    assert later.state == AVAILABLE


def test_an_extra_on_a_date_is_stored_as_json(journey, coach):
    extra = add_extra_activity(
        journey, "lesson",
        {**LESSON, "unlock": {"rule": "on_date", "date": "2025-07-01"}}, actor=coach,
    )
    extra.refresh_from_db()
    assert extra.value["unlock"]["date"] == "2025-07-01"
    assert extra.unlock_date == datetime.date(2025, 7, 1)
    assert extra.unlock_at == datetime.datetime(2025, 6, 30, 23, 0, tzinfo=UTC)
    assert extra.state == LOCKED
    block, value = activity_block(extra)
    assert value["unlock"]["date"] == datetime.date(2025, 7, 1)


def test_the_client_site_reads_an_extra_from_its_own_value(journey, coach):
    extra = add_extra_activity(journey, "lesson", LESSON, actor=coach, stage_block_id="s1")
    extra = ClientActivity.objects.select_related("enrollment__engagement").get(pk=extra.pk)
    block, value = activity_block(extra)
    assert isinstance(block, LessonBlock)
    assert value["title"] == "Extra reading"
    assert value["body"].source == "<p>Read this</p>"


def test_a_client_completes_an_extra_like_any_step(journey, coach):
    extra = add_extra_activity(journey, "check_in", {"title": "Stress", "metric": "Stress"},
                               actor=coach, stage_block_id="s2")
    complete_activity(extra, actor=journey.client, score=4)
    extra.refresh_from_db()
    assert (extra.state, extra.score) == (ActivityState.COMPLETED, 4)


def test_the_client_adding_for_themselves_is_not_notified(journey):
    add_extra_activity(journey, "lesson", LESSON, actor=journey.client)
    assert not Notification.objects.filter(kind="step_open").exists()


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [
        ("lesson", {"body": "<p>No title</p>"}, "title"),
        ("lesson", {"title": "No body"}, "body"),
        ("lesson", {**LESSON, "unlock": {"rule": "days_after_enrollment"}}, "unlock"),
        ("lesson", {**LESSON, "unlock": {"rule": "on_date"}}, "unlock"),
        ("check_in", {"title": "No metric"}, "metric"),
        ("one_to_one", {"title": "Calls", "sessions": 0}, "sessions"),
        ("form", {"title": "Intake", "questions": []}, "questions"),
        ("form", {"title": "Intake", "questions": [
            programs.question("Pick", kind="choice", choices=["only one"])]}, "questions"),
    ],
)
def test_an_invalid_value_is_refused_and_nothing_is_saved(journey, coach, kind, value, field):
    before = snapshot()
    with pytest.raises(InvalidActivity) as info:
        add_extra_activity(journey, kind, value, actor=coach, stage_block_id="s1")
    assert field in info.value.errors.block_errors
    assert snapshot() == before


def test_an_unknown_kind_or_stage_is_refused(journey, coach):
    before = snapshot()
    with pytest.raises(InvalidActivity, match="Unknown activity type"):
        add_extra_activity(journey, "webinar", LESSON, actor=coach)
    with pytest.raises(InvalidActivity, match="stage"):
        add_extra_activity(journey, "lesson", LESSON, actor=coach, stage_block_id="nope")
    assert snapshot() == before


@pytest.mark.parametrize("status", [EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED])
def test_a_closed_enrollment_takes_no_extras(journey, coach, status):
    Enrollment.objects.filter(pk=journey.pk).update(status=status)
    before = snapshot()
    with pytest.raises(EnrollmentNotOpen):
        add_extra_activity(journey, "lesson", LESSON, actor=coach)
    assert snapshot() == before


def test_a_paused_enrollment_takes_an_extra_but_nothing_opens(journey, coach):
    Enrollment.objects.filter(pk=journey.pk).update(status=EnrollmentStatus.PAUSED)
    extra = add_extra_activity(journey, "lesson", LESSON, actor=coach)
    assert extra.state == LOCKED
    assert not Notification.objects.filter(kind="step_open").exists()
