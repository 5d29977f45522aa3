"""Each business rule is one function in one place: late cancellation, seats taken and the
1:1 allotment are decided in ``scheduling``, role questions in ``permissions``. The rules
are tested here directly, and the package's source is searched so that a second copy of a
rule's tell-tale expression cannot come back unnoticed."""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from wagtail_coaching.models import (
    CoachingSession,
    CoachingSessionStatus,
    GroupSession,
    Registration,
    RegistrationStatus,
)
from wagtail_coaching.scheduling import (
    allotment,
    allotments,
    cancels_late,
    holds_seat,
    is_late,
    late_cancel_hours,
    seat_holders,
    seats_left,
    seats_taken,
    seats_taken_annotation,
    uses_allotment,
)
from wagtail_coaching.scheduling.seats import seats_taken_by_session

from .world_sessions import add_sessions

PACKAGE = Path(__file__).resolve().parent.parent / "wagtail_coaching"


@pytest.fixture
def world(quiet_world):
    return add_sessions(quiet_world)


# -- Late cancellation -------------------------------------------------------------------------

def test_late_means_inside_the_window_before_the_start(world, settings):
    settings.WAGTAIL_COACHING = {"LATE_CANCEL_HOURS": 48}
    session = world.booking_a1
    assert late_cancel_hours() == 48
    assert not is_late(session, now=session.starts_at - timedelta(hours=49))
    assert not is_late(session, now=session.starts_at - timedelta(hours=48))
    assert is_late(session, now=session.starts_at - timedelta(hours=47))


def test_only_the_client_cancels_late(world, settings):
    settings.WAGTAIL_COACHING = {"LATE_CANCEL_HOURS": 48}
    session = world.booking_a1
    now = session.starts_at - timedelta(hours=1)
    assert cancels_late(session, world.client_a1, now)
    for staff in (world.coach_a, world.admin, None):
        assert not cancels_late(session, staff, now)
    assert not cancels_late(session, world.client_a1, session.starts_at - timedelta(days=3))


# -- Seats taken -------------------------------------------------------------------------------

def test_seat_holders_agree_with_the_predicate_and_the_counts(world):
    session = world.session_a
    people = [world.client_a2, world.client_b1, world.coach_a, world.coach_b, world.sales,
              world.hr_acme, world.hr_globex]
    for user, status in zip(people, RegistrationStatus.values, strict=False):
        Registration.objects.create(session=session, user=user, status=status)
    registrations = Registration.objects.filter(session=session)
    listed = set(seat_holders(registrations).values_list("pk", flat=True))
    assert {r.pk for r in registrations if holds_seat(r)} == listed
    assert {r.status for r in registrations if holds_seat(r)} == {
        RegistrationStatus.REGISTERED, RegistrationStatus.ATTENDED, RegistrationStatus.NO_SHOW,
    }
    counted = dict(
        GroupSession.objects.annotate(taken=seats_taken_annotation()).values_list("pk", "taken")
    )
    by_session = seats_taken_by_session(GroupSession.objects.all())
    for s in GroupSession.objects.all():
        assert counted[s.pk] == seats_taken(s) == by_session.get(s.pk, 0)
    assert seats_taken(session) == len(listed)
    assert seats_left(session) == session.capacity - len(listed)
    assert seats_left(session, taken=12) == 0
    session.capacity = None
    assert seats_left(session) is None


# -- The 1:1 allotment -------------------------------------------------------------------------

def test_one_step_and_many_steps_count_the_allotment_alike(world):
    step = world.one_to_one[world.enrollment_a1.pk]
    CoachingSession.objects.filter(pk=world.booking_a1.pk).update(
        status=CoachingSessionStatus.LATE_CANCELLED
    )
    steps = list(world.one_to_one.values())
    sessions = list(CoachingSession.objects.all())
    many = allotments(steps, sessions)
    for s in steps:
        assert many[s.pk] == allotment(s)
    assert (many[step.pk].total, many[step.pk].used, many[step.pk].left) == (3, 1, 2)
    assert [status for status in CoachingSessionStatus.values
            if uses_allotment(CoachingSession(status=status))] == [
        "booked", "completed", "no_show", "late_cancelled",
    ]


# -- One place per rule ------------------------------------------------------------------------

def sources():
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".html", ".txt") and "migrations" not in path.parts:
            yield path.relative_to(PACKAGE).as_posix(), path.read_text()


def where(pattern):
    found = re.compile(pattern)
    return {name for name, text in sources() if found.search(text)}


@pytest.mark.parametrize(("pattern", "homes"), [
    # The late-cancel window is read and compared in scheduling.booking only.
    (r"LATE_CANCEL_HOURS", {"conf.py", "scheduling/booking.py"}),
    # Which registrations take a seat.
    (r"SEAT_STATUSES", {"models/sessions.py", "models/__init__.py", "scheduling/seats.py"}),
    # Which 1:1 sessions use up the allotment, and how the step's block is read for it.
    (r"USED_STATUSES", {"models/sessions.py", "models/__init__.py", "scheduling/allotments.py"}),
    (r"""get\(["']sessions["']\)""", {"scheduling/allotments.py"}),
    # Roles are read from groups, and offer access decided, in the permission layer only.
    (r"roles_of\(", {"permissions/__init__.py", "permissions/roles.py"}),
    (r"groups__name", {"permissions/roles.py"}),
    (r"def has_offer_access\b", {"permissions/scopes.py"}),
    (r"def offers_accessible_to\b", {"permissions/scopes.py"}),
])
def test_a_rule_lives_in_one_module(pattern, homes):
    assert where(pattern) == homes
