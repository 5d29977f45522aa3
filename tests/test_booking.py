"""1:1 sessions: availability, booking from the allotment, the policy picking a free coach,
reschedule and cancel with the late-cancel window, recording the session."""

import os
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import close_old_connections, connection
from django.utils import timezone

from wagtail_coaching.journeys import (
    ActivityNotAvailable,
    EnrollmentNotOpen,
    add_extra_activity,
    enroll,
    pause_enrollment,
)
from wagtail_coaching.models import (
    ActivityState,
    AssignmentMethod,
    AvailabilitySlot,
    CoachAssignment,
    CoachingSession,
    CoachingSessionStatus,
    EventKind,
    JourneyEvent,
    NoteVisibility,
    SessionNote,
    Team,
)
from wagtail_coaching.permissions import visible
from wagtail_coaching.scheduling import (
    AllotmentUsedUp,
    InvalidSchedule,
    SessionNotOpen,
    SlotTaken,
    TooLate,
    allotment,
    book_session,
    bookable_times,
    cancel_session,
    publish_availability,
    record_session,
    remove_slot,
    reschedule_session,
)
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.jobs import drain

from .world import coach_in
from .world_sessions import ONE_TO_ONE, calendar_parts, in_days, only_event

B = CoachingSessionStatus
HOUR = timedelta(hours=1)
pytestmark = pytest.mark.usefixtures("enqueue_at_once")


@pytest.fixture
def world(quiet_world):
    return quiet_world


def allot(enrollment, sessions=3):
    return add_extra_activity(enrollment, "one_to_one", {**ONE_TO_ONE, "sessions": sessions})


def slots(coach, day=3, hours=3):
    return publish_availability(coach, start=in_days(day, 9), end=in_days(day, 9 + hours),
                                slot_minutes=60)


# -- Availability ----------------------------------------------------------------------------

def test_publishing_availability_cuts_slots_and_repeats_weekly(world):
    made = publish_availability(world.coach_a, start=in_days(3, 9), end=in_days(3, 12),
                                slot_minutes=60, weeks=2, time_zone="UTC")
    assert [(s.starts_at, s.ends_at - s.starts_at) for s in made] == [
        (in_days(3, 9) + timedelta(days=7 * w, hours=h), HOUR)
        for w in range(2) for h in range(3)
    ]


@pytest.mark.parametrize("kw, message", [
    ({"end": in_days(3, 8)}, "after the start"),
    ({"slot_minutes": 10}, "15 minutes"),
    ({"weeks": 0}, "1 to 52"),
    ({"start": timezone.now() - HOUR, "end": timezone.now()}, "future"),
    ({"end": in_days(3, 9) + timedelta(minutes=30)}, "shorter than one slot"),
])
def test_bad_availability_is_refused(world, kw, message):
    args = {"start": in_days(3, 9), "end": in_days(3, 12), "slot_minutes": 60, **kw}
    with pytest.raises(InvalidSchedule, match=message):
        publish_availability(world.coach_a, **args)
    assert not AvailabilitySlot.objects.exists()


def test_overlapping_availability_is_refused(world):
    slots(world.coach_a)
    with pytest.raises(InvalidSchedule, match="overlap"):
        publish_availability(world.coach_a, start=in_days(3, 10) + timedelta(minutes=30),
                             end=in_days(3, 11), slot_minutes=30)
    # Another coach at the same time is fine.
    slots(world.coach_a2)
    assert AvailabilitySlot.objects.count() == 6


def test_a_booked_slot_cannot_be_removed(world):
    first, second, _third = slots(world.coach_a)
    book_session(allot(world.enrollment_a1), first.starts_at, actor=world.client_a1)
    with pytest.raises(SlotTaken):
        remove_slot(first)
    remove_slot(second)
    assert AvailabilitySlot.objects.count() == 2


# -- Booking ------------------------------------------------------------------------------------

def test_with_a_coach_the_client_books_that_coach(world):
    slots(world.coach_a)
    slots(world.coach_a2)
    step = allot(world.enrollment_a1)
    times = bookable_times(step)
    assert times == [in_days(3, 9), in_days(3, 10), in_days(3, 11)]
    session = book_session(step, times[0], actor=world.client_a1)
    assert session.coach == world.coach_a
    assert (session.starts_at, session.ends_at) == (in_days(3, 9), in_days(3, 10))
    assert session.status == B.BOOKED
    assert allotment(step).used == 1 and allotment(step).left == 2
    assert in_days(3, 9) not in bookable_times(step)
    assert JourneyEvent.objects.filter(kind=EventKind.SESSION_BOOKED,
                                       enrollment=world.enrollment_a1).count() == 1
    # Client and coach each get the invitation, with its calendar file.
    drain()
    requests = {m.to[0]: only_event(c) for method, c, m in calendar_parts(mail.outbox)
                if method == "REQUEST"}
    assert set(requests) == {world.client_a1.email, world.coach_a.email}
    assert str(requests[world.coach_a.email]["UID"]) == session.uid


def test_without_a_coach_the_policy_picks_among_coaches_free_then(world):
    team = Team.objects.create(name="Pool")
    coaches = [coach_in(team, f"pool{i}") for i in range(3)]
    page = make_engagement(title="Pool", slug="pool", team=team,
                           assignment_policy=AssignmentMethod.ROUND_ROBIN)
    for c in coaches[:2]:
        slots(c, hours=2)
    slots(coaches[2], day=4, hours=1)  # free, but not at the times booked below
    clients = [UserFactory(username=f"pc{i}") for i in range(4)]
    steps = []
    for client in clients:
        enrollment = enroll(client, page)
        # Round-robin would assign on enrolling; these clients arrive without a coach.
        CoachAssignment.objects.filter(enrollment=enrollment).delete()
        steps.append(allot(enrollment))
    booked = [book_session(step, in_days(3, 9), actor=step.enrollment.client)
              for step in steps[:2]]
    # Both coaches free at 9:00 were used in turn; the third was not free then.
    assert sorted(s.coach_id for s in booked) == sorted(c.pk for c in coaches[:2])
    # Nobody is left at 9:00.
    with pytest.raises(SlotTaken):
        book_session(steps[2], in_days(3, 9), actor=clients[2])
    # The client keeps the coach the policy chose.
    for session in booked:
        current = CoachAssignment.objects.get(enrollment=session.enrollment, ended_at=None)
        assert current.coach_id == session.coach_id
        assert current.method == AssignmentMethod.ROUND_ROBIN
        assert bookable_times(session.activity) == [in_days(3, 10)]


def test_least_loaded_picks_the_free_coach_with_fewest_clients(world):
    team = Team.objects.create(name="Load")
    busy, calm = coach_in(team, "busy"), coach_in(team, "calm")
    page = make_engagement(title="Load", slug="load", team=team,
                           assignment_policy=AssignmentMethod.LEAST_LOADED)
    for _ in range(2):
        enrollment = enroll(UserFactory(), page)
        CoachAssignment.objects.filter(enrollment=enrollment).update(coach=busy)
    slots(busy)
    slots(calm)
    enrollment = enroll(UserFactory(username="newbie"), page)
    CoachAssignment.objects.filter(enrollment=enrollment).delete()
    session = book_session(allot(enrollment), in_days(3, 9), actor=enrollment.client)
    assert session.coach == calm


def test_clients_choice_engagements_choose_the_coach_first(world):
    world.engagement_a.assignment_policy = AssignmentMethod.CLIENT_CHOICE
    world.engagement_a.save()
    slots(world.coach_a)
    step = allot(world.enrollment_a2)  # a2 has no coach
    with pytest.raises(SlotTaken, match="Choose your coach"):
        book_session(step, in_days(3, 9), actor=world.client_a2)


def test_the_allotment_runs_out(world):
    slots(world.coach_a)
    step = allot(world.enrollment_a1, sessions=2)
    book_session(step, in_days(3, 9))
    book_session(step, in_days(3, 10))
    with pytest.raises(AllotmentUsedUp):
        book_session(step, in_days(3, 11))
    assert CoachingSession.objects.count() == 2


def test_bad_bookings_are_refused(world):
    slots(world.coach_a)
    step = allot(world.enrollment_a1)
    with pytest.raises(SlotTaken):  # not a time the coach offers
        book_session(step, in_days(3, 9) + timedelta(minutes=15))
    with pytest.raises(SlotTaken):  # too soon
        book_session(step, in_days(3, 9), now=in_days(3, 8))
    lesson = world.enrollment_a1.activities.get(title="Welcome")
    with pytest.raises(ActivityNotAvailable):
        book_session(lesson, in_days(3, 9))
    locked = add_extra_activity(world.enrollment_a1, "one_to_one", ONE_TO_ONE,
                                unlock={"rule": "manual"})
    with pytest.raises(ActivityNotAvailable):
        book_session(locked, in_days(3, 9))
    pause_enrollment(world.enrollment_a1)
    with pytest.raises(EnrollmentNotOpen):
        book_session(step, in_days(3, 9))
    assert not CoachingSession.objects.exists()


def test_a_slot_is_booked_once(world):
    slots(world.coach_a)
    book_session(allot(world.enrollment_a1), in_days(3, 9))
    # Another client of the same coach tries the same time.
    from wagtail_coaching.journeys import assign_coach

    assign_coach(world.enrollment_a2, coach=world.coach_a)
    with pytest.raises(SlotTaken):
        book_session(allot(world.enrollment_a2), in_days(3, 9))


# -- Reschedule and cancel ------------------------------------------------------------------------

def test_rescheduling_keeps_the_uid_and_raises_the_sequence(world):
    slots(world.coach_a)
    step = allot(world.enrollment_a1)
    session = book_session(step, in_days(3, 9), actor=world.client_a1)
    drain()
    mail.outbox.clear()
    moved = reschedule_session(session, in_days(3, 11), actor=world.client_a1)
    assert (moved.starts_at, moved.sequence) == (in_days(3, 11), 1)
    # The old time is free again.
    assert in_days(3, 9) in bookable_times(step)
    drain()
    events = [(method, only_event(c)) for method, c, _m in calendar_parts(mail.outbox)]
    assert len(events) == 2
    for method, event in events:
        assert method == "REQUEST"
        assert str(event["UID"]) == session.uid
        assert int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART") == in_days(3, 11)


def test_cancelling_early_gives_the_session_back(world):
    slots(world.coach_a)
    step = allot(world.enrollment_a1)
    session = book_session(step, in_days(3, 9), actor=world.client_a1)
    drain()
    mail.outbox.clear()
    cancelled = cancel_session(session, actor=world.client_a1)
    assert cancelled.status == B.CANCELLED
    assert allotment(step).used == 0
    drain()
    parts = calendar_parts(mail.outbox)
    assert sorted(m.to[0] for _x, _c, m in parts) == sorted(
        [world.client_a1.email, world.coach_a.email]
    )
    for method, calendar, _m in parts:
        assert method == "CANCEL"
        assert str(only_event(calendar)["STATUS"]) == "CANCELLED"
        assert int(only_event(calendar)["SEQUENCE"]) == 1


def test_a_late_cancel_by_the_client_uses_the_session(world, settings):
    settings.WAGTAIL_COACHING = {"LATE_CANCEL_HOURS": 48}
    slots(world.coach_a)
    step = allot(world.enrollment_a1)
    session = book_session(step, in_days(3, 9))
    now = in_days(3, 9) - timedelta(hours=47)
    with pytest.raises(TooLate):
        reschedule_session(session, in_days(3, 10), actor=world.client_a1, now=now)
    late = cancel_session(session, actor=world.client_a1, now=now)
    assert late.status == B.LATE_CANCELLED
    assert allotment(step).used == 1


def test_the_coach_may_move_or_cancel_late_without_using_the_session(world, settings):
    settings.WAGTAIL_COACHING = {"LATE_CANCEL_HOURS": 48}
    slots(world.coach_a)
    step = allot(world.enrollment_a1)
    session = book_session(step, in_days(3, 9))
    now = in_days(3, 9) - timedelta(hours=20)
    moved = reschedule_session(session, in_days(3, 10), actor=world.coach_a, now=now)
    assert moved.starts_at == in_days(3, 10)
    assert cancel_session(moved, actor=world.coach_a, now=now).status == B.CANCELLED
    assert allotment(step).used == 0


def test_a_past_or_cancelled_session_cannot_be_moved(world):
    slots(world.coach_a)
    session = book_session(allot(world.enrollment_a1), in_days(3, 9))
    with pytest.raises(SessionNotOpen):
        reschedule_session(session, in_days(3, 10), now=in_days(3, 9, ) + HOUR)
    cancel_session(session)
    with pytest.raises(SessionNotOpen):
        cancel_session(session)
    with pytest.raises(SessionNotOpen):
        reschedule_session(session, in_days(3, 10))


# -- After the session ----------------------------------------------------------------------------

def test_recording_sessions_keeps_the_summary_and_completes_the_allotment(world):
    """``record_session`` records; the client hears about the summary from
    ``continuity.follow_up`` (tests/test_post_session.py)."""
    slots(world.coach_a)
    step = allot(world.enrollment_a1, sessions=2)
    first = book_session(step, in_days(3, 9))
    second = book_session(step, in_days(3, 10))
    after = in_days(3, 12)
    record_session(first, outcome=B.COMPLETED, summary="We set three goals.",
                   private_note="Seems tired.", actor=world.coach_a, now=after)
    record_session(first, outcome=B.COMPLETED, summary="We set three goals.", actor=world.coach_a,
                   now=after)
    first.refresh_from_db()
    assert first.summary == "We set three goals."
    note = SessionNote.objects.get(coaching_session=first)
    assert note.visibility == NoteVisibility.COACH and note.author == world.coach_a
    assert note not in visible(world.client_a1, "view_sessionnote")
    step.refresh_from_db()
    assert step.state == ActivityState.AVAILABLE
    record_session(second, outcome=B.NO_SHOW, actor=world.coach_a, now=after)
    step.refresh_from_db()
    assert step.state == ActivityState.COMPLETED
    kinds = list(JourneyEvent.objects.filter(
        kind__in=[EventKind.SESSION_ATTENDED, EventKind.SESSION_MISSED]
    ).order_by("pk").values_list("kind", flat=True))
    assert kinds == [EventKind.SESSION_ATTENDED, EventKind.SESSION_MISSED]


def test_a_session_is_recorded_only_once_it_started(world):
    slots(world.coach_a)
    session = book_session(allot(world.enrollment_a1), in_days(3, 9))
    with pytest.raises(SessionNotOpen):
        record_session(session, outcome=B.COMPLETED)
    with pytest.raises(InvalidSchedule):
        record_session(session, outcome="cancelled", now=in_days(3, 12))


# -- Concurrency (PostgreSQL) ---------------------------------------------------------------------

on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="concurrent transactions need PostgreSQL",
)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_clients_racing_for_one_slot():
    from wagtail_coaching.testing.factories import site_root

    site_root()
    team = Team.objects.create(name="Race")
    coach = coach_in(team, "race-coach")
    page = make_engagement(title="Race", slug="race", team=team,
                           assignment_policy=AssignmentMethod.MANUAL)
    publish_availability(coach, start=in_days(3, 9), end=in_days(3, 10), slot_minutes=60)
    steps = []
    for i in range(6):
        enrollment = enroll(UserFactory(username=f"racer{i}"), page)
        from wagtail_coaching.journeys import assign_coach

        assign_coach(enrollment, coach=coach)
        steps.append(allot(enrollment))
    barrier = threading.Barrier(len(steps))
    outcomes = []

    def run(step):
        close_old_connections()
        try:
            barrier.wait()
            book_session(step, in_days(3, 9))
            outcomes.append("booked")
        except SlotTaken:
            outcomes.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(s,)) for s in steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["booked"] + ["taken"] * 5
    assert CoachingSession.objects.filter(status=B.BOOKED).count() == 1
