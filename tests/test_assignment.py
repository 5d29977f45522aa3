"""Coach assignment inside an engagement: policies, capacity, history, hand-offs."""

import os
import threading
from collections import Counter

import pytest
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wagtail_coaching.journeys import (
    CoachUnavailable,
    EngagementFull,
    NoCoachAvailable,
    assign_coach,
    complete_activity,
    enroll,
    enroll_cohort,
    enroll_many,
)
from wagtail_coaching.models import (
    CoachAssignment,
    CoachProfile,
    Cohort,
    EventKind,
    JourneyEvent,
    Notification,
    Team,
    TeamMembership,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import CompanyFactory, UserFactory, make_engagement


def coach(team, name, role="coach", max_clients=10, capacity=None, active=True):
    user = UserFactory(username=name)
    CoachProfile.objects.create(user=user, max_clients=max_clients, active=active)
    TeamMembership.objects.create(team=team, user=user, role=role, capacity=capacity)
    return user


def program(lead_role=""):
    return [
        programs.stage("Start", [programs.activity("lesson", "Hello", rule="immediately")]),
        programs.stage(
            "Deep work", [programs.activity("practice", "Go deep", rule="after_previous")],
            block_id="deep", lead_role=lead_role,
        ),
    ]


def engagement(team, policy="round_robin", **kw):
    return make_engagement(program=program(kw.pop("lead_role", "")), team=team,
                           assignment_policy=policy, **kw)


def clients(n, prefix="c"):
    return [UserFactory(username=f"{prefix}{i}") for i in range(n)]


def current(enrollment, role="coach"):
    a = CoachAssignment.objects.filter(enrollment=enrollment, role=role, ended_at__isnull=True)
    return a.get().coach if a.exists() else None


@pytest.fixture
def team(db):
    return Team.objects.create(name="Core")


def test_round_robin_takes_turns_and_skips_inactive_and_full(team):
    c1, c2, c3 = coach(team, "c1"), coach(team, "c2"), coach(team, "c3", active=False)
    c4 = coach(team, "c4", max_clients=1)
    page = engagement(team)
    created, _ = enroll_many(clients(7), page)
    counts = Counter(current(e).username for e in created)
    assert c3.username not in counts
    assert counts[c4.username] == 1
    assert counts[c1.username] == 3 and counts[c2.username] == 3
    methods = set(CoachAssignment.objects.values_list("method", flat=True))
    assert methods == {"round_robin"}


def test_least_loaded_fills_the_emptiest_coach(team):
    busy, free = coach(team, "busy"), coach(team, "free")
    other = engagement(team, policy="manual", title="Other", slug="other")
    for c in clients(2, "o"):
        assign_coach(enroll(c, other), coach=busy)
    page = engagement(team, policy="least_loaded")
    created, _ = enroll_many(clients(3), page)
    # 2 vs 0, then 2 vs 1, then a tie (broken by the older coach).
    assert [current(e) for e in created] == [free, free, busy]


def test_manual_and_client_choice_wait_for_a_person(team):
    coach(team, "c1")
    for policy in ("manual", "client_choice"):
        page = engagement(team, policy=policy, title=policy, slug=policy)
        enrollment = enroll(UserFactory(username=f"client-{policy}"), page)
        assert current(enrollment) is None


def test_team_capacity_and_no_room(team):
    coach(team, "c1", capacity=1)
    page = engagement(team)
    first = enroll(UserFactory(username="a"), page)
    assert current(first) is not None
    # No room: the client is enrolled and waits unassigned; a direct call says why.
    second = enroll(UserFactory(username="b"), page)
    assert current(second) is None
    with pytest.raises(NoCoachAvailable):
        assign_coach(second)


def test_reassignment_keeps_history_and_tells_everyone(team):
    c1, c2 = coach(team, "c1"), coach(team, "c2")
    admin = UserFactory(username="boss")
    page = engagement(team, policy="manual")
    client = UserFactory(username="client")
    enrollment = enroll(client, page)
    first = assign_coach(enrollment, coach=c1, actor=admin)
    second = assign_coach(enrollment, coach=c2, actor=admin)
    first.refresh_from_db()
    assert first.ended_at is not None and second.ended_at is None
    assert current(enrollment) == c2
    assert CoachAssignment.objects.filter(enrollment=enrollment).count() == 2
    kinds = dict(Notification.objects.filter(dedup_key__startswith=f"assignment:{second.pk}")
                 .values_list("recipient__username", "kind"))
    assert kinds == {"c2": "coach_new_client", "client": "client_coach_assigned",
                     "c1": "coach_client_moved"}
    event = JourneyEvent.objects.filter(enrollment=enrollment, kind=EventKind.COACH_ASSIGNED)
    assert event.count() == 2
    assert event.first().data["previous"] == c1.pk
    # Choosing the same coach again is a no-op.
    assert assign_coach(enrollment, coach=c2) == second


def test_a_coach_outside_the_team_or_full_cannot_be_chosen(team):
    outsider = coach(Team.objects.create(name="Elsewhere"), "outsider")
    full = coach(team, "full", max_clients=0)
    page = engagement(team, policy="manual")
    enrollment = enroll(UserFactory(username="client"), page)
    for candidate in (outsider, full):
        with pytest.raises(CoachUnavailable):
            assign_coach(enrollment, coach=candidate)
    assert not CoachAssignment.objects.exists()


def test_hand_off_when_a_stage_led_by_another_role_opens(team):
    main = coach(team, "main")
    lead = coach(team, "lead", role="lead_coach")
    page = engagement(team, lead_role="lead_coach")
    client = UserFactory(username="client")
    enrollment = enroll(client, page)
    assert current(enrollment) == main
    assert current(enrollment, "lead_coach") is None
    first = enrollment.activities.get(title="Hello")
    complete_activity(first, actor=client)
    assignment = CoachAssignment.objects.get(enrollment=enrollment, role="lead_coach")
    assert assignment.coach == lead and assignment.stage_block_id == "deep"
    assert current(enrollment) == main  # the client keeps their coach
    assert JourneyEvent.objects.filter(enrollment=enrollment, kind=EventKind.COACH_HANDOFF).exists()
    told = set(Notification.objects.filter(kind__in=["coach_handoff", "coach_new_client"])
               .values_list("recipient__username", "kind"))
    assert ("main", "coach_handoff") in told and ("lead", "coach_new_client") in told


def test_engagement_capacity(team):
    page = engagement(team, policy="manual", capacity=2)
    enroll_many(clients(2), page)
    with pytest.raises(EngagementFull):
        enroll(UserFactory(username="late"), page)
    assert page.enrollments.count() == 2


def test_enrolling_a_cohort_enrolls_each_member_once(team):
    page = engagement(team, policy="manual")
    cohort = Cohort.objects.create(name="Spring", company=CompanyFactory(), engagement=page,
                                   start_date="2026-03-01")
    members = clients(3)
    cohort.members.add(*members)
    created, existing = enroll_cohort(cohort)
    assert len(created) == 3 and existing == []
    cohort.members.add(UserFactory(username="latecomer"))
    created, existing = enroll_cohort(cohort)
    assert [e.client.username for e in created] == ["latecomer"]
    assert sorted(existing) == sorted(m.pk for m in members)
    assert page.enrollments.filter(cohort=cohort, company=cohort.company).count() == 4


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    capacities=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=5),
    inactive=st.lists(st.booleans(), min_size=5, max_size=5),
    n_clients=st.integers(min_value=1, max_value=20),
)
@pytest.mark.django_db
def test_round_robin_is_fair_and_respects_capacity(capacities, inactive, n_clients):
    from django.db import transaction

    sid = transaction.savepoint()
    try:
        team = Team.objects.create(name="Prop")
        coaches = [
            coach(team, f"p{i}", max_clients=cap, active=not inactive[i])
            for i, cap in enumerate(capacities)
        ]
        page = engagement(team, slug="prop")
        created, _ = enroll_many([UserFactory(username=f"pc{i}") for i in range(n_clients)], page)
        loads = Counter(current(e) for e in created)
        for c, cap in zip(coaches, capacities, strict=True):
            assert loads.get(c, 0) <= cap
            if not c.coach_profile.active:
                assert loads.get(c, 0) == 0
        # Fairness: no eligible coach is more than one client ahead of one who still had
        # room (a full coach only stops receiving).
        eligible = [(c, cap) for c, cap in zip(coaches, capacities, strict=True)
                    if c.coach_profile.active and cap > 0]
        for a, _cap_a in eligible:
            for b, cap_b in eligible:
                if loads.get(b, 0) < cap_b:
                    assert loads.get(a, 0) - loads.get(b, 0) <= 1, (loads, capacities)
        # Everyone who could be served was served.
        room = sum(cap for c, cap in zip(coaches, capacities, strict=True)
                   if c.coach_profile.active)
        assert sum(loads.values()) - loads.get(None, 0) == min(n_clients, room)
    finally:
        transaction.savepoint_rollback(sid)


on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="concurrent transactions need PostgreSQL",
)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_assignments_never_exceed_capacity():
    team = Team.objects.create(name="Race")
    solo = coach(team, "solo", max_clients=1)
    page = engagement(team, policy="manual")
    enrollments = [enroll(c, page) for c in clients(2, "race")]
    barrier = threading.Barrier(2)
    outcomes = []

    def worker(enrollment):
        close_old_connections()
        try:
            barrier.wait()
            assign_coach(enrollment, coach=solo)
            outcomes.append("assigned")
        except CoachUnavailable:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(e,)) for e in enrollments]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["assigned", "refused"]
    assert CoachAssignment.objects.filter(coach=solo, ended_at__isnull=True).count() == 1


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_round_robin_enrollments_stay_within_capacity():
    team = Team.objects.create(name="Race RR")
    coaches = [coach(team, f"rr{i}", max_clients=2) for i in range(2)]
    page = engagement(team, policy="round_robin")
    people = clients(8, "rr-client")
    barrier = threading.Barrier(len(people))

    def worker(person):
        close_old_connections()
        try:
            barrier.wait()
            enroll(person, page)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loads = Counter(
        CoachAssignment.objects.filter(ended_at__isnull=True).values_list("coach_id", flat=True)
    )
    assert page.enrollments.count() == 8
    assert all(loads[c.pk] == 2 for c in coaches)
