"""Publishing a new program revision re-syncs every open enrollment; progress is never lost."""

import datetime
import sqlite3
import threading

import pytest
import time_machine
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Locale, Page

from wagtail_coaching.journeys import (
    add_extra_activity,
    advance,
    complete_activity,
    enroll,
    enroll_many,
    skip_activity,
    sync_engagement,
    unlock_activity,
)
from wagtail_coaching.journeys import sync as sync_module
from wagtail_coaching.models import (
    ActivitySource,
    ActivityState,
    ClientActivity,
    EngagementPage,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Notification,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import (
    CohortFactory,
    UserFactory,
    make_engagement,
    publish_program,
)
from wagtail_coaching.testing.jobs import drain, run_jobs

UTC = datetime.UTC
NOW = datetime.datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
DAY = datetime.timedelta(days=1)

LOCKED = ActivityState.LOCKED
AVAILABLE = ActivityState.AVAILABLE
COMPLETED = ActivityState.COMPLETED
REMOVED = ActivityState.REMOVED

a = programs.activity


def A(title="Welcome"):
    return a("lesson", title, rule="immediately", block_id="a")


def B(title="Reflect", block_id="b", rule="after_previous", **kw):
    return a("practice", title, rule=rule, block_id=block_id, **kw)


def C(days=3, rule="days_after_enrollment", **kw):
    return a("check_in", "Mood", rule=rule, days=days, block_id="c", **kw)


def D():
    return a("lesson", "Read", rule="after_previous", block_id="d")


def E(rule="manual"):
    return a("one_to_one", "Call", rule=rule, block_id="e")


def S1(*acts, title="Start"):
    return programs.stage(title, acts, block_id="s1")


def S2(*acts, title="Deepen"):
    return programs.stage(title, acts, block_id="s2")


def v1():
    return [S1(A(), B(), C()), S2(D(), E())]


def by_block(enrollment):
    return {
        r.block_id: r for r in ClientActivity.objects.filter(enrollment=enrollment)
    }


def states(enrollment):
    return {k: r.state for k, r in by_block(enrollment).items()}


def order(enrollment):
    """Visible block ids in journey order."""
    return list(
        ClientActivity.objects.filter(enrollment=enrollment).exclude(state=REMOVED)
        .order_by("stage_position", "position", "id").values_list("block_id", flat=True)
    )


def events(enrollment, kind):
    return list(JourneyEvent.objects.filter(enrollment=enrollment, kind=kind).order_by("id"))


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def page(db, frozen):
    return make_engagement(program=v1())


@pytest.fixture
def journey(page, client_user):
    return enroll(client_user, page)


# New, removed, renamed, moved ----------------------------------------------------------


def test_publishing_adds_new_activities_locked_or_open_by_their_rule(page, journey):
    fresh = enroll(UserFactory(username="fresh"), page)
    complete_activity(by_block(journey)["a"], actor=journey.client)
    mail.outbox.clear()
    program = [
        S1(A(), B(), C(), a("feedback", "New now", rule="immediately", block_id="f")),
        S2(D(), E(), a("lesson", "New after", rule="after_previous", block_id="g"),
           a("lesson", "Day 10", rule="days_after_enrollment", days=10, block_id="h")),
    ]
    with run_jobs():
        page = publish_program(page, program)

    for enrollment in (journey, fresh):
        rows = by_block(enrollment)
        assert (rows["f"].state, rows["f"].unlocked_at) == (AVAILABLE, NOW)
        assert rows["g"].state == LOCKED  # the coach call before it is still locked
        assert (rows["h"].state, rows["h"].unlock_at) == (LOCKED, NOW + 10 * DAY)
        assert (rows["f"].stage_position, rows["f"].position, rows["f"].stage_title) == (
            0, 3, "Start"
        )
        assert (rows["h"].stage_position, rows["h"].position) == (1, 3)
        assert order(enrollment) == ["a", "b", "c", "f", "d", "e", "g", "h"]
        updated = events(enrollment, EventKind.PROGRAM_UPDATED)
        assert [e.data for e in updated] == [
            {"added": 3, "removed": 0, "revision": page.live_revision_id}
        ]
        assert [e.activity_id for e in events(enrollment, EventKind.UNLOCKED)][-1] == rows["f"].pk
        enrollment.refresh_from_db()
        assert enrollment.program_revision_id == page.live_revision_id
    # progress from before is intact
    assert by_block(journey)["a"].state == COMPLETED
    assert by_block(journey)["b"].state == AVAILABLE
    # what opened was announced, through the outbox, to each client
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [journey.client.email, fresh.client.email]
    )
    assert all("New now" in m.subject for m in mail.outbox)


def test_a_new_activity_before_an_open_one_does_not_close_it(page, journey):
    complete_activity(by_block(journey)["a"], actor=journey.client)
    assert states(journey)["b"] == AVAILABLE
    program = [S1(A(), a("lesson", "Inserted", rule="after_previous", block_id="x"), B(), C()),
               S2(D(), E())]
    publish_program(page, program)
    sync_engagement(page.pk)
    got = states(journey)
    assert got["x"] == AVAILABLE  # its previous (a) is done
    assert got["b"] == AVAILABLE  # already open: stays open
    assert order(journey) == ["a", "x", "b", "c", "d", "e"]


def test_removed_activities_disappear_unless_completed(page, journey):
    complete_activity(by_block(journey)["a"], actor=journey.client, response={"k": "v"})
    before = by_block(journey)
    with run_jobs():
        publish_program(page, [S2(D(), E())])  # drops stage 1: a (completed), b, c
    after = by_block(journey)
    assert {k: after[k].state for k in "abc"} == {"a": COMPLETED, "b": REMOVED, "c": REMOVED}
    assert after["a"].response == {"k": "v"}
    assert {k: after[k].pk for k in after} == {k: before[k].pk for k in before}  # no deletes
    assert events(journey, EventKind.PROGRAM_UPDATED)[-1].data["removed"] == 2
    # "d" follows the last activity still in the journey, which is done: it opens
    assert after["d"].state == AVAILABLE
    assert (after["d"].stage_position, after["d"].position) == (0, 0)


def test_renamed_and_reordered_activities_keep_their_progress(page, journey):
    complete_activity(by_block(journey)["a"], actor=journey.client, score=9)
    pks = {k: r.pk for k, r in by_block(journey).items()}
    program = [
        S2(E(), D(), title="Deepen further"),
        S1(C(), B(title="Reflect deeply"), A(title="Hello"), title="Begin"),
    ]
    publish_program(page, program)
    assert sync_engagement(page.pk) == 1
    rows = by_block(journey)
    assert {k: r.pk for k, r in rows.items()} == pks
    assert (rows["a"].title, rows["a"].state, rows["a"].score) == ("Hello", COMPLETED, 9)
    assert (rows["a"].stage_title, rows["a"].stage_position, rows["a"].position) == (
        "Begin", 1, 2
    )
    assert rows["b"].title == "Reflect deeply"
    assert rows["b"].state == AVAILABLE
    assert order(journey) == ["e", "d", "c", "b", "a"]
    assert events(journey, EventKind.PROGRAM_UPDATED)[-1].data["added"] == 0


def test_an_activity_moved_to_another_stage_keeps_its_progress(page, journey):
    complete_activity(by_block(journey)["a"], actor=journey.client)
    complete_activity(by_block(journey)["b"], actor=journey.client, response={"notes": "x"})
    moved_pk = by_block(journey)["b"].pk
    # Wagtail gives a block moved to another stage a new id; type and title stay.
    program = [S1(A(), C()), S2(D(), B(block_id="b-moved"), E())]
    publish_program(page, program)
    sync_engagement(page.pk)
    rows = by_block(journey)
    assert "b" not in rows
    moved = rows["b-moved"]
    assert (moved.pk, moved.state, moved.response) == (moved_pk, COMPLETED, {"notes": "x"})
    assert (moved.stage_block_id, moved.stage_title, moved.stage_position, moved.position) == (
        "s2", "Deepen", 1, 1
    )
    live_revision = EngagementPage.objects.get(pk=page.pk).live_revision_id
    assert events(journey, EventKind.PROGRAM_UPDATED)[-1].data == {
        "added": 0, "removed": 0, "revision": live_revision
    }


def test_a_moved_activity_is_matched_only_when_unambiguous(page, client_user):
    program = [S1(A(), B(), B(block_id="b2")), S2(D(), E())]
    page = publish_program(page, program)
    enrollment = enroll(UserFactory(username="twin"), page)
    complete_activity(by_block(enrollment)["a"])
    complete_activity(by_block(enrollment)["b"])
    # Both "Reflect" blocks leave stage 1 and one "Reflect" appears in stage 2: which one
    # moved cannot be told, so neither is merged into it.
    publish_program(page, [S1(A()), S2(D(), B(block_id="b3"), E())])
    sync_engagement(page.pk)
    rows = by_block(enrollment)
    assert (rows["b"].state, rows["b2"].state) == (COMPLETED, REMOVED)
    assert rows["b3"].state == LOCKED
    assert rows["b3"].pk not in (rows["b"].pk, rows["b2"].pk)


def test_restoring_a_removed_block_brings_the_row_back(page, journey):
    coach = UserFactory(username="coach")
    unlock_activity(by_block(journey)["e"], actor=coach)  # a coach opened the manual call
    pks = {k: r.pk for k, r in by_block(journey).items()}
    publish_program(page, [S1(A(), B()), S2(D())])
    sync_engagement(page.pk)
    assert (states(journey)["c"], states(journey)["e"]) == (REMOVED, REMOVED)

    page = publish_program(page, [S1(A(), B(), C(days=5)), S2(D(), E())])
    frozen_later = NOW + DAY
    sync_engagement(page.pk, now=frozen_later)
    rows = by_block(journey)
    assert {k: r.pk for k, r in rows.items()} == pks
    assert (rows["c"].state, rows["c"].unlock_at) == (LOCKED, NOW + 5 * DAY)
    assert rows["e"].state == AVAILABLE  # the coach's unlock is not lost
    assert rows["c"].updated_at == frozen_later
    assert order(journey) == ["a", "b", "c", "d", "e"]


def test_extras_survive_every_sync_and_follow_their_stage(page, journey):
    coach = UserFactory(username="coach")
    in_stage = add_extra_activity(
        journey, "lesson", {"title": "Extra reading", "body": "<p>Read</p>"},
        actor=coach, stage_block_id="s2",
    )
    at_end = add_extra_activity(
        journey, "practice", {"title": "Extra practice", "instructions": "<p>Go</p>"},
        actor=coach,
    )
    complete_activity(in_stage, actor=journey.client, response={"done": True})
    assert (in_stage.stage_position, at_end.stage_position) == (1, 2)

    # stages swap places, stage 2 is renamed, a third stage appears
    publish_program(page, [
        S2(D(), E(), title="Deepen now"), S1(A(), B(), C()),
        programs.stage("Close", [a("feedback", "Bye", rule="manual", block_id="z")],
                       block_id="s3"),
    ])
    sync_engagement(page.pk)
    rows = by_block(journey)
    extra = rows[in_stage.block_id]
    assert (extra.source, extra.state, extra.response) == (
        ActivitySource.EXTRA, COMPLETED, {"done": True}
    )
    assert (extra.stage_position, extra.stage_title) == (0, "Deepen now")
    assert rows[at_end.block_id].stage_position == 3  # after the last stage
    assert rows[at_end.block_id].state == AVAILABLE
    assert order(journey) == ["d", "e", in_stage.block_id, "a", "b", "c", "z", at_end.block_id]

    # the extra's stage disappears: the extra moves to the end and stays
    publish_program(page, [S1(A(), B(), C())])
    sync_engagement(page.pk)
    rows = by_block(journey)
    assert rows[in_stage.block_id].state == COMPLETED
    assert rows[in_stage.block_id].stage_position == 1
    assert rows[at_end.block_id].stage_position == 1
    assert ClientActivity.objects.filter(
        enrollment=journey, source=ActivitySource.EXTRA).count() == 2


def test_a_changed_unlock_rule_recomputes_locked_rows(page, journey):
    complete_activity(by_block(journey)["a"], actor=journey.client)  # b opens
    program = [
        S1(A(), B(rule="manual"), C(days=5)),
        S2(a("lesson", "Read", rule="on_date", date=datetime.date(2025, 6, 1), block_id="d"),
           E(rule="immediately")),
    ]
    publish_program(page, program)
    sync_engagement(page.pk)
    rows = by_block(journey)
    assert (rows["c"].state, rows["c"].unlock_at, rows["c"].unlock_days) == (
        LOCKED, NOW + 5 * DAY, 5
    )
    assert (rows["d"].state, rows["d"].unlock_rule) == (AVAILABLE, "on_date")  # date passed
    assert rows["d"].unlock_at == datetime.datetime(2025, 5, 31, 23, 0, tzinfo=UTC)
    assert rows["e"].state == AVAILABLE  # now immediate
    assert (rows["b"].state, rows["b"].unlock_rule) == (AVAILABLE, "manual")  # stays open

    # back to a rule without a time: the stale time goes away
    publish_program(page, [S1(A(), B(), C(rule="manual", days=None)), S2(D(), E())])
    sync_engagement(page.pk)
    assert by_block(journey)["c"].unlock_at is None
    assert by_block(journey)["c"].state == LOCKED


def test_a_cohort_rule_change_counts_from_the_cohort_start(page, client_user):
    cohort = CohortFactory(engagement=page, start_date=datetime.date(2025, 6, 10))
    enrollment = enroll(client_user, page, cohort=cohort)
    publish_program(page, [S1(A(), B(), C(rule="days_after_cohort_start", days=1)),
                           S2(D(), E())])
    sync_engagement(page.pk)
    # 11 June 00:00 BST
    assert by_block(enrollment)["c"].unlock_at == datetime.datetime(
        2025, 6, 10, 23, 0, tzinfo=UTC
    )


# Which enrollments -----------------------------------------------------------------------


def test_paused_enrollments_are_synced_but_nothing_opens(page, journey):
    Enrollment.objects.filter(pk=journey.pk).update(status=EnrollmentStatus.PAUSED)
    publish_program(page, [S1(A(), B(), C(), a("lesson", "Now", rule="immediately",
                                                 block_id="f")), S2(D(), E())])
    sync_engagement(page.pk)
    rows = by_block(journey)
    assert rows["f"].state == LOCKED
    assert not events(journey, EventKind.UNLOCKED)
    assert not Notification.objects.filter(kind="step_open").exists()
    journey.refresh_from_db()
    assert journey.program_revision_id == EngagementPage.objects.get(
        pk=page.pk).live_revision_id
    # once resumed, advance() opens what the rules allow
    Enrollment.objects.filter(pk=journey.pk).update(status=EnrollmentStatus.ACTIVE)
    opened = advance(journey, now=NOW + DAY)
    assert [r.block_id for r in opened] == ["f"]
    assert by_block(journey)["f"].unlocked_at == NOW + DAY
    assert [e.activity_id for e in events(journey, EventKind.UNLOCKED)] == [rows["f"].pk]


@pytest.mark.parametrize("status", [EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED])
def test_closed_enrollments_are_history(page, journey, status):
    Enrollment.objects.filter(pk=journey.pk).update(status=status)
    before = sorted(ClientActivity.objects.values_list(
        "pk", "block_id", "title", "state", "position", "stage_position"))
    revision = journey.program_revision_id
    with run_jobs():
        publish_program(page, [S1(A("Renamed"), a("lesson", "New", rule="immediately",
                                                   block_id="f")), S2(D())])
    assert sorted(ClientActivity.objects.values_list(
        "pk", "block_id", "title", "state", "position", "stage_position")) == before
    assert not events(journey, EventKind.PROGRAM_UPDATED)
    journey.refresh_from_db()
    assert journey.program_revision_id == revision


def test_only_the_engagements_own_enrollments_are_synced(page, journey):
    other_page = make_engagement(program=v1(), title="Other")
    other = enroll(UserFactory(username="other"), other_page)
    publish_program(page, [S1(A("Renamed"))])
    assert sync_engagement(page.pk) == 1
    assert by_block(other)["a"].title == "Welcome"
    assert states(other)["b"] == LOCKED


def test_a_draft_changes_nothing_for_clients(page, journey):
    before = sorted(ClientActivity.objects.values_list("pk", "block_id", "title", "state"))
    draft = EngagementPage.objects.get(pk=page.pk)
    draft.program = [S1(A("Draft title"), a("lesson", "Draft", rule="immediately",
                                            block_id="f"))]
    with run_jobs():
        draft.save_revision()
    # even asked directly, with the draft instance in hand, the sync reads what is live
    assert sync_engagement(draft) == 0
    assert sorted(ClientActivity.objects.values_list("pk", "block_id", "title", "state")) == (
        before
    )
    assert not events(journey, EventKind.PROGRAM_UPDATED)


def test_an_unpublished_engagement_is_not_synced(page, journey):
    EngagementPage.objects.get(pk=page.pk).unpublish()
    assert sync_engagement(page) == 0
    assert sync_engagement(page.pk) == 0
    assert sync_engagement(987654) == 0


def test_a_sync_with_nothing_new_changes_nothing(page, journey):
    complete_activity(by_block(journey)["a"], actor=journey.client)
    skip_activity(by_block(journey)["b"])
    snapshot = sorted(ClientActivity.objects.values_list(
        "pk", "block_id", "state", "unlock_at", "updated_at"))
    event_count = JourneyEvent.objects.count()
    assert sync_engagement(page.pk, now=NOW + DAY) == 0
    assert sync_engagement(page.pk, now=NOW + DAY) == 0
    assert sorted(ClientActivity.objects.values_list(
        "pk", "block_id", "state", "unlock_at", "updated_at")) == snapshot
    assert JourneyEvent.objects.count() == event_count


def test_publishing_runs_the_sync_through_the_job(page, journey, broker):
    with run_jobs():
        publish_program(page, [S1(A("Renamed"), B(), C()), S2(D(), E())])
    assert by_block(journey)["a"].title == "Renamed"
    # and nothing is left in the queue, whichever broker runs it
    assert drain(broker) == []


# Batches -----------------------------------------------------------------------------------


@pytest.fixture
def real_sqlite_limits(db, monkeypatch):
    """Django 5.2 assumes SQLite's old 999-variable limit and splits bulk statements by row
    count on SQLite only; use the library's real limit so statement counts measure the code."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        try:
            monkeypatch.setattr(connection.features, "max_query_params", limit)
        except AttributeError:
            pass  # Django 6 reads the library's real limit itself (a read-only property)


def test_sync_runs_a_constant_number_of_statements_per_batch(real_sqlite_limits, frozen):
    """3 vs 12 enrollments with batch_size=3: 1 vs 4 batches, each doing every kind of
    work (create, update, open, notify)."""
    pages = [make_engagement(program=v1(), title=f"Batch {n}") for n in (3, 12)]
    for page, clients in zip(pages, (3, 12), strict=True):
        created, _ = enroll_many([UserFactory() for _ in range(clients)], page)
        for enrollment in created:
            complete_activity(by_block(enrollment)["a"])
    counts = []
    for page in pages:
        page = publish_program(page, [
            S1(A(), B(), C(days=4), title="Renamed"),
            S2(D(), E(), a("lesson", "Now", rule="immediately", block_id="f")),
        ])
        with CaptureQueriesContext(connection) as queries:
            changed = sync_engagement(page.pk, batch_size=3)
        counts.append((changed, len(queries)))
    (changed_3, q_3), (changed_12, q_12) = counts
    assert (changed_3, changed_12) == (3, 12)
    per_batch = (q_12 - q_3) / 3
    assert per_batch == int(per_batch)
    assert per_batch <= 12
    assert q_3 - per_batch <= 6  # reading the page, the final empty batch
    assert ClientActivity.objects.filter(block_id="f", state=AVAILABLE).count() == 15
    assert Notification.objects.filter(kind="step_open").count() == 15 * 2  # b and f


# Concurrency (PostgreSQL) ------------------------------------------------------------------


@pytest.fixture
def wagtail_root():
    """The tree's root page. Every transactional test restores the database it found
    (serialised rollback), but a root made by migrations may still be missing when this
    test runs alone on a fresh database, so make it (and its locale) if needed."""
    ContentType.objects.clear_cache()  # a flush may have renumbered the content types
    Locale.objects.get_or_create(language_code=get_supported_content_language_variant(
        settings.LANGUAGE_CODE))
    return Page.get_first_root_node() or Page.add_root(
        instance=Page(title="Root", slug="root", live=True)
    )


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (DATABASE_URL)"
)
@pytest.mark.django_db(transaction=True)
def test_a_completion_during_a_sync_is_not_overwritten(wagtail_root, monkeypatch):
    page = make_engagement(program=v1(), parent=wagtail_root)
    enrollment = enroll(UserFactory(username="racer"), page)
    welcome = by_block(enrollment)["a"]
    # renaming the stage makes the sync rewrite every row of the enrollment
    publish_program(page, [S1(A(), B(), C(), title="Renamed"), S2(D(), E())])

    finished = threading.Event()
    errors = []

    def client_completes():
        try:
            complete_activity(welcome, response={"won": "race"})
        except Exception as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()
            finished.set()

    def while_the_client_acts(real):
        def plan(*args, **kwargs):
            worker = threading.Thread(target=client_completes)
            worker.start()
            # With the enrollment locked, the completion must wait for the sync to commit.
            finished.wait(timeout=1)
            return real(*args, **kwargs)
        return plan

    # The plan of the Python engine, or of the set-based one (PostgreSQL).
    for name in ("_plan", "sync_plan"):
        monkeypatch.setattr(sync_module, name, while_the_client_acts(getattr(sync_module, name)))
    sync_engagement(page.pk)
    assert finished.wait(timeout=10)
    assert errors == []
    rows = by_block(enrollment)
    assert (rows["a"].state, rows["a"].response, rows["a"].stage_title) == (
        COMPLETED, {"won": "race"}, "Renamed"
    )
    assert rows["b"].state == AVAILABLE
