"""The set-based journeys (PostgreSQL) write exactly what the Python engine writes.

The same varied journeys (every unlock rule, a cohort, extra activities, completed, skipped,
paused and removed steps, a moved activity) are run once by the Python engine and once by
the set-based SQL, through enrolling, the unlock job and three program syncs; after each
step every business column of the enrollments, activity rows, journey events and step
messages of the two must be equal. Also: two unlock runs at once never take the same rows.
"""

import datetime
import threading

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Locale, Page

from wagtail_coaching.journeys import (
    add_extra_activity,
    complete_activity,
    enroll_many,
    pause_enrollment,
    skip_activity,
    sync_engagement,
    unlock_activity,
    unlock_due_activities,
)
from wagtail_coaching.journeys import progress as progress_module
from wagtail_coaching.journeys.set_based import python_engine, set_based
from wagtail_coaching.models import ClientActivity, EventKind, JourneyEvent
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import (
    CohortFactory,
    CompanyFactory,
    UserFactory,
    make_engagement,
    publish_program,
)
from wagtail_coaching.testing.fingerprints import journey_rows

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the set-based journeys run on PostgreSQL (DATABASE_URL)",
    ),
]

T0 = datetime.datetime(2025, 6, 2, 9, 30, tzinfo=datetime.UTC)
HOUR, DAY = datetime.timedelta(hours=1), datetime.timedelta(days=1)
a = programs.activity


def program(version):
    """v1; v2: a step added before an open one and one at the start of a stage, two steps
    swapped, a stage renamed, a rule changed, a step removed; v3: the removed step back; v4:
    a step moved to another stage under a new block id (recognised by type and title)."""
    start = [
        a("lesson", "Welcome", rule="immediately", block_id="a1"),
        a("practice", "Breathe", block_id="a2"),
        a("check_in", "Day two", rule="days_after_enrollment", days=2, block_id="a3"),
        a("feedback", "Coach opens", rule="manual", block_id="a4"),
    ]
    middle = [
        a("lesson", "Cohort day", rule="days_after_cohort_start", days=3, block_id="b1"),
        a("lesson", "Dated", rule="on_date", date=datetime.date(2025, 6, 5), block_id="b2"),
        a("practice", "After dated", block_id="b3"),
        a("check_in", "Day five", rule="days_after_enrollment", days=5, block_id="b4"),
    ]
    end = [
        a("lesson", "Late", rule="after_previous", block_id="c1"),
        a("feedback", "Day thirty", rule="days_after_enrollment", days=30, block_id="c2"),
        a("lesson", "Old step", block_id="c3"),
    ]
    middle_title = "Middle"
    if version >= 2:
        start = [start[0], a("lesson", "Added", rule="immediately", block_id="a5"),
                 start[2], start[1], start[3]]
        middle_title = "Middle (revised)"
        middle[3] = a("check_in", "Day five", block_id="b4")  # now after the previous one
        end = [a("lesson", "New first", block_id="c0"), *end[:2]]
    if version >= 3:
        end.append(a("lesson", "Old step", block_id="c3"))
    if version >= 4:
        moved = middle.pop(0)
        end.append(a("lesson", "Cohort day", rule="days_after_cohort_start", days=3,
                     block_id="b1-moved"))
        assert moved["value"]["title"] == "Cohort day"
    return [
        programs.stage("Start", start, block_id="s1"),
        programs.stage(middle_title, middle, block_id="s2"),
        programs.stage("End", end, block_id="s3"),
    ]


def rows_of(enrollment):
    return {r.block_id: r for r in ClientActivity.objects.filter(enrollment=enrollment)}


def run_journeys(prefix, company, snapshots):
    """Enroll six clients and take them through the journey; after each step record the
    fingerprint of what was written (clients named without ``prefix``)."""
    page = make_engagement(program=program(1), title="Same journeys", slug=f"{prefix}journeys")
    clients = [UserFactory(username=f"{prefix}{n}") for n in range(6)]
    cohort = CohortFactory(name="Spring", engagement=page, company=company,
                           start_date=datetime.date(2025, 5, 30))

    def snapshot():
        snapshots.append(journey_rows(
            page.pk, client_key=lambda user: user.get_username().removeprefix(prefix)
        ))

    plain, _ = enroll_many(clients[:3], page, now=T0)
    in_cohort, _ = enroll_many(clients[3:], page, cohort=cohort, now=T0 + HOUR)
    snapshot()
    at = T0 + 2 * HOUR
    complete_activity(rows_of(plain[0])["a1"], actor=clients[0], now=at)
    skip_activity(rows_of(plain[1])["a1"], now=at)
    complete_activity(rows_of(plain[1])["a2"], actor=clients[1], now=at)
    add_extra_activity(plain[2], "lesson", {"title": "Just for you", "body": "<p>Read</p>"},
                       stage_block_id="s2", now=at,
                       unlock={"rule": "days_after_enrollment", "days": 1})
    add_extra_activity(plain[2], "lesson", {"title": "At the end", "body": "<p>Read</p>"}, now=at)
    complete_activity(rows_of(in_cohort[0])["c3"], actor=clients[3], now=at,
                      even_if_locked=True)
    unlock_activity(rows_of(in_cohort[1])["a4"], now=at)
    pause_enrollment(in_cohort[2], now=at)
    unlock_due_activities(now=T0 + 4 * DAY)
    snapshot()
    for version, at in ((2, T0 + 6 * DAY), (3, T0 + 7 * DAY), (4, T0 + 8 * DAY)):
        page = publish_program(page, program(version))
        sync_engagement(page.pk, now=at)
        snapshot()
    unlock_due_activities(now=T0 + 40 * DAY)
    snapshot()


@pytest.fixture(scope="module")
def both_engines(django_db_setup, django_db_blocker):
    """The fingerprints of each step, by the Python engine and by the set-based SQL."""
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            company = CompanyFactory(name="Acme")
            reference, set_based_run = [], []
            with python_engine():
                assert not set_based()
                run_journeys("py-", company, reference)
            assert set_based()
            run_journeys("sql-", company, set_based_run)
            transaction.set_rollback(True)
    return reference, set_based_run


STEPS = ["enrolled", "after actions and the unlock job", "synced to v2", "synced to v3",
         "synced to v4", "the unlock job 40 days on"]


@pytest.mark.parametrize("step", range(len(STEPS)), ids=STEPS)
@pytest.mark.parametrize("table", ["enrollments", "activities", "events", "notifications"])
def test_the_set_based_journeys_write_what_the_python_engine_writes(both_engines, step, table):
    reference, set_based_run = both_engines
    if (step, table) != (0, "notifications"):  # enrolling sends no "step open" message
        assert reference[step][table], "the journeys wrote nothing to compare"
    assert set_based_run[step][table] == reference[step][table]


def test_the_journeys_compared_go_through_every_case(both_engines):
    """The comparison above means something only if the journeys did all this."""
    reference, _ = both_engines
    final = reference[-1]
    states = {(row[0], row[1]): row[13] for row in final["activities"]}
    assert states[("3", "c3")] == '"completed"'  # completed, removed, back again
    assert ("3", "b1-moved") in states and ("3", "b1") not in states  # moved, not re-made
    assert states[("2", "extra:Just for you")] == '"available"'
    assert {row[2] for row in final["events"]} >= {
        "enrolled", "unlocked", "completed", "skipped", "extra_added", "program_updated",
        "status_changed",
    }
    # The paused client got the program's changes but nothing opened for them.
    assert states[("5", "a5")] == '"locked"'


# Two unlock runs at once ------------------------------------------------------------------


@pytest.fixture
def wagtail_root():
    """The tree's root page (see tests/test_program_sync.py: a fresh database may lack it)."""
    ContentType.objects.clear_cache()
    Locale.objects.get_or_create(language_code=get_supported_content_language_variant(
        settings.LANGUAGE_CODE))
    return Page.get_first_root_node() or Page.add_root(
        instance=Page(title="Root", slug="root", live=True)
    )


@pytest.mark.django_db(transaction=True)
def test_two_unlock_runs_at_once_never_take_the_same_rows(wagtail_root, monkeypatch):
    steps = [a("lesson", f"Day {d}", rule="days_after_enrollment", days=d, block_id=f"d{d}")
             for d in range(1, 9)]
    page = make_engagement(program=[programs.stage("Daily", steps)], parent=wagtail_root)
    enroll_many([UserFactory() for _ in range(24)], page, now=T0)
    due = 24 * 8

    real = progress_module._open_batch_in_sql
    both_in = threading.Barrier(2, timeout=10)
    waited = set()

    def slow_batch(*args):
        result = real(*args)
        if threading.current_thread() not in waited:
            waited.add(threading.current_thread())
            # The first batch of each run holds its rows until the other has taken some.
            both_in.wait()
        return result

    monkeypatch.setattr(progress_module, "_open_batch_in_sql", slow_batch)
    results, errors = [], []

    def run():
        try:
            results.append(unlock_due_activities(now=T0 + 10 * DAY, batch_size=16))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(results) == due
    assert all(results), results  # both runs took a share of the work
    opened = JourneyEvent.objects.filter(kind=EventKind.UNLOCKED).values_list(
        "activity_id", flat=True
    )
    assert len(opened) == due and len(set(opened)) == due  # no row opened twice
    assert not ClientActivity.objects.filter(enrollment__engagement=page, state="locked")\
        .exists()
