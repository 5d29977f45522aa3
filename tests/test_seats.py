"""Seats of a group session: claimed atomically, a waitlist in order, freed seats promoted."""

import os
import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.db.models import Count

from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import (
    Audience,
    GroupSession,
    Notification,
    Registration,
    RegistrationStatus,
    Team,
)
from wagtail_coaching.scheduling import (
    NotEligible,
    SessionNotOpen,
    SessionPlan,
    cancel_registration,
    cancel_sessions,
    create_sessions,
    register,
    seats_left,
    seats_taken,
    update_sessions,
)
from wagtail_coaching.testing.factories import UserFactory, make_engagement

from .world import build_world, staff
from .world_sessions import in_days

S = RegistrationStatus


@pytest.fixture
def world(db):
    return build_world()


def open_session(coach, capacity, **kw):
    (session,) = create_sessions(
        SessionPlan(title="Open circle", coach=coach, starts_at=in_days(5),
                    duration=timedelta(hours=1), capacity=capacity, audience=Audience.OPEN,
                    **kw),
        [in_days(5)], invite=False,
    )
    return session


def people(n, prefix="p"):
    return [UserFactory(username=f"{prefix}{i}") for i in range(n)]


def statuses(session):
    return list(session.registrations.order_by("pk").values_list("user__username", "status"))


def test_seats_then_a_waitlist_in_order(world):
    session = open_session(world.coach_a, capacity=2)
    a, b, c, d = people(4)
    assert [register(session, p).status for p in (a, b, c, d)] == [
        S.REGISTERED, S.REGISTERED, S.WAITLISTED, S.WAITLISTED
    ]
    assert seats_taken(session) == 2 and seats_left(session) == 0
    # A freed seat goes to the first on the waitlist, who is told.
    cancel_registration(session, b)
    assert statuses(session) == [("p0", S.REGISTERED), ("p1", S.CANCELLED),
                                 ("p2", S.REGISTERED), ("p3", S.WAITLISTED)]
    assert Notification.objects.filter(recipient=c, kind="session_promoted").count() == 1
    # More seats promote the rest of the waitlist.
    update_sessions(session, {"capacity": 5})
    assert Registration.objects.get(session=session, user=d).status == S.REGISTERED
    session.refresh_from_db()
    assert seats_left(session) == 2


def test_a_session_without_a_limit_never_waitlists(world):
    session = open_session(world.coach_a, capacity=None)
    assert {register(session, p).status for p in people(30)} == {S.REGISTERED}
    assert seats_left(session) is None


def test_registering_twice_is_one_registration(world):
    session = open_session(world.coach_a, capacity=3)
    first = register(session, world.client_a1)
    again = register(session, world.client_a1)
    assert first.pk == again.pk
    assert session.registrations.count() == 1
    assert Notification.objects.filter(kind="session_confirmed").count() == 1


def test_coming_back_after_cancelling_gets_a_newer_calendar_copy(world):
    session = open_session(world.coach_a, capacity=3)
    register(session, world.client_a1)
    cancel_registration(session, world.client_a1)
    back = register(session, world.client_a1)
    assert back.status == S.REGISTERED
    assert back.revision == 2
    keys = list(
        Notification.objects.filter(recipient=world.client_a1, kind__startswith="session_")
        .order_by("pk").values_list("dedup_key", flat=True)
    )
    user = world.client_a1.pk
    assert keys == [f"group:{session.pk}:{user}:0:REQUEST", f"group:{session.pk}:{user}:1:CANCEL",
                    f"group:{session.pk}:{user}:2:REQUEST"]


def test_only_the_audience_may_register(world):
    (session,) = create_sessions(
        SessionPlan(title="Globex only", coach=world.coach_b, starts_at=in_days(5),
                    duration=timedelta(hours=1), audience=Audience.COMPANY,
                    company=world.globex),
        [in_days(5)], invite=False,
    )
    with pytest.raises(NotEligible):
        register(session, world.client_a1)
    assert register(session, world.client_b1).status == S.REGISTERED
    assert not session.registrations.filter(user=world.client_a1).exists()


def test_no_registration_for_a_cancelled_or_started_session(world):
    session = open_session(world.coach_a, capacity=3)
    with pytest.raises(SessionNotOpen, match="started"):
        register(session, world.client_a1, now=session.starts_at)
    cancel_sessions(session)
    with pytest.raises((SessionNotOpen, NotEligible)):
        register(session, world.client_a1)
    with pytest.raises(SessionNotOpen, match="cancelled"):
        register(session, world.client_a1, check_eligible=False)
    assert not session.registrations.exists()


def test_leaving_a_session_one_never_joined_is_refused(world):
    session = open_session(world.coach_a, capacity=3)
    with pytest.raises(SessionNotOpen):
        cancel_registration(session, world.client_a1)
    # Declining an invitation one never received is recorded (no more invitations).
    assert cancel_registration(session, world.client_a1, declined=True).status == S.DECLINED


def test_a_client_who_left_the_engagement_keeps_their_registration(world):
    page = make_engagement(title="Cohort work", slug="cohort-work")
    enrollment = enroll(world.client_a2, page)
    (session,) = create_sessions(
        SessionPlan(title="Cohort session", coach=world.coach_a, starts_at=in_days(5),
                    duration=timedelta(hours=1), audience=Audience.ENGAGEMENT,
                    engagement=page),
        [in_days(5)], invite=False,
    )
    register(session, world.client_a2)
    enrollment.status = "completed"
    enrollment.save()
    # Still listed: they can see and leave the session they joined.
    from wagtail_coaching.permissions import allowed

    assert allowed(world.client_a2, "view_groupsession", session)
    cancel_registration(session, world.client_a2)


# -- Concurrency (PostgreSQL) --------------------------------------------------------------------

on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="concurrent transactions need PostgreSQL",
)


def _race(targets, work):
    barrier = threading.Barrier(len(targets))
    errors = []

    def run(target):
        close_old_connections()
        try:
            barrier.wait()
            work(target)
        except Exception as exc:  # collected and reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_people_racing_for_ten_seats():
    from wagtail_coaching.testing.factories import site_root

    site_root()
    coach = staff("race-coach", "coach")
    Team.objects.create(name="Race")
    session = open_session(coach, capacity=10)
    racers = people(50, "racer")
    errors = _race(racers, lambda p: register(session, p))
    assert errors == []
    counts = dict(
        Registration.objects.filter(session=session).values_list("status")
        .annotate(n=Count("pk"))
    )
    assert counts == {S.REGISTERED: 10, S.WAITLISTED: 40}
    # The waitlist is in a strict order.
    waited = list(Registration.objects.filter(session=session, status=S.WAITLISTED)
                  .order_by("waitlisted_at", "pk").values_list("waitlisted_at", flat=True))
    assert waited == sorted(waited)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_one_person_registering_twice_at_once_gets_one_registration():
    from wagtail_coaching.testing.factories import site_root

    site_root()
    coach = staff("race-coach", "coach")
    session = open_session(coach, capacity=10)
    (person,) = people(1, "twice")
    results = []
    errors = _race([1, 2, 3], lambda _n: results.append(register(session, person).pk))
    assert errors == []
    assert len(set(results)) == 1
    assert Registration.objects.filter(session=session).count() == 1
    assert GroupSession.objects.get(pk=session.pk).registrations.get().status == S.REGISTERED
