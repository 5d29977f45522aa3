"""Co-coaches: a second coach for a client, for the whole engagement or one stage, without a
hand-off. Who may add and remove one, what the co-coach then sees and receives, how the card
and the client's dashboard list both coaches, and that bad input changes nothing."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from wagtail_coaching.conversations import post_message
from wagtail_coaching.journeys import CoachUnavailable, JourneyError
from wagtail_coaching.journeys.co_coaching import (
    NotCoCoaching,
    add_co_coach,
    remove_co_coach,
)
from wagtail_coaching.models import (
    CO_COACH_ROLE,
    CoachAssignment,
    Enrollment,
    EventKind,
    JourneyEvent,
    Notification,
    TeamMembership,
)
from wagtail_coaching.permissions import allowed, visible
from wagtail_coaching.utils.people import display_name

from .test_admin_clients import admin_world, as_user, card_url, is_login_redirect, message_texts
from .world import coach_in, staff


def build_shared_world():
    w = admin_world()
    w.coach_a3 = coach_in(w.team_a, "coach_a3")  # team A, coaches nobody
    w.team_admin_a = staff("team_admin_a", "coach")
    # The team's admin: not a coaching role.
    TeamMembership.objects.create(team=w.team_a, user=w.team_admin_a, role="admin")
    return w


@pytest.fixture
def world(shared):
    return shared


def stage_id(enrollment):
    return enrollment.engagement.program.raw_data[0]["id"]


def snapshot(enrollment):
    """Everything adding or removing a co-coach could change."""
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    return (
        enrollment.status,
        sorted(CoachAssignment.objects.filter(enrollment=enrollment).values_list(
            "coach_id", "role", "stage_block_id", "ended_at")),
        enrollment.events.count(),
        Notification.objects.count(),
    )


def co_coaches(enrollment):
    return sorted(
        CoachAssignment.objects.filter(
            enrollment=enrollment, role=CO_COACH_ROLE, ended_at__isnull=True
        ).values_list("coach__username", flat=True)
    )


def add(client, user, enrollment, data):
    return as_user(client, user).post(card_url(enrollment, "add_co_coach"), data)


def remove(client, user, enrollment, data):
    return as_user(client, user).post(card_url(enrollment, "remove_co_coach"), data)


# -- Adding and removing ----------------------------------------------------------------------

def test_an_admin_adds_a_co_coach_for_the_whole_engagement(client, world):
    e = world.enrollment_a1
    response = add(client, world.admin, e, {"coach": world.coach_a2.pk, "stage": ""})
    assert response.status_code == 302
    assert any("now co-coaches this client" in m for m in message_texts(response))
    assert co_coaches(e) == ["coach_a2"]
    # No hand-off: the main coach stays.
    main = CoachAssignment.objects.get(enrollment=e, role="coach", ended_at__isnull=True)
    assert main.coach == world.coach_a
    event = JourneyEvent.objects.get(enrollment=e, kind=EventKind.CO_COACH_ADDED)
    assert event.actor == world.admin and event.data == {"coach": world.coach_a2.pk, "stage": ""}
    told = set(Notification.objects.filter(kind="coach_co_coaching")
               .values_list("recipient__username", flat=True))
    assert told == {"coach_a2", "coach_a"}


def test_a_co_coach_for_one_stage(client, world):
    e = world.enrollment_a1
    add(client, world.admin, e, {"coach": world.coach_a2.pk, "stage": stage_id(e)})
    assignment = CoachAssignment.objects.get(enrollment=e, role=CO_COACH_ROLE)
    assert assignment.stage_block_id == stage_id(e)
    html = as_user(client, world.admin).get(card_url(e)).content.decode()
    assert "Co-coach: Start" in html


def test_several_co_coaches_and_removing_one(client, world):
    e = world.enrollment_a1
    add(client, world.admin, e, {"coach": world.coach_a2.pk, "stage": ""})
    add(client, world.admin, e, {"coach": world.coach_a3.pk, "stage": ""})
    assert co_coaches(e) == ["coach_a2", "coach_a3"]
    response = remove(client, world.admin, e, {"coach": world.coach_a2.pk})
    assert any("no longer co-coaches" in m for m in message_texts(response))
    assert co_coaches(e) == ["coach_a3"]
    ended = CoachAssignment.objects.get(enrollment=e, coach=world.coach_a2)
    assert ended.ended_at is not None  # history is kept
    assert JourneyEvent.objects.filter(
        enrollment=e, kind=EventKind.CO_COACH_REMOVED, data__coach=world.coach_a2.pk
    ).count() == 1
    assert Notification.objects.filter(
        kind="coach_co_coaching_ended", recipient=world.coach_a2
    ).count() == 1
    # Removed, then added again: a new assignment, the old one stays history.
    add(client, world.admin, e, {"coach": world.coach_a2.pk, "stage": ""})
    assert CoachAssignment.objects.filter(enrollment=e, coach=world.coach_a2).count() == 2


def test_the_main_coach_may_add_and_remove_a_co_coach(client, world):
    e = world.enrollment_a1
    add(client, world.coach_a, e, {"coach": world.coach_a2.pk, "stage": ""})
    assert co_coaches(e) == ["coach_a2"]
    remove(client, world.coach_a, e, {"coach": world.coach_a2.pk})
    assert co_coaches(e) == []


def test_a_co_coach_may_not_bring_in_another(client, world):
    e = world.enrollment_a1
    add_co_coach(e, world.coach_a2)
    before = snapshot(e)
    response = add(client, world.coach_a2, e, {"coach": world.coach_a3.pk, "stage": ""})
    assert response.status_code == 403
    assert snapshot(e) == before


# -- Who may, role by role -----------------------------------------------------------------------

@pytest.mark.parametrize("who, status", [
    ("admin", 302),  # coaching admin: any client
    ("coach_a", 302),  # the client's main coach
    ("coach_a2", 403),  # a teammate who sees the card but is not the main coach
    ("team_admin_a", 403),  # the team's admin
    ("hr_acme", 403),  # sees the (consenting) client's card, never acts on it
    ("coach_b", 404),  # another team's coach: the client does not exist for them
    ("sales", 404),
])
def test_who_may_add_a_co_coach(client, world, who, status):
    e = world.enrollment_a1
    before = snapshot(e)
    response = add(client, getattr(world, who), e, {"coach": world.coach_a3.pk, "stage": ""})
    assert response.status_code == status
    if status == 302:
        assert co_coaches(e) == ["coach_a3"]
    else:
        assert snapshot(e) == before


@pytest.mark.parametrize("who", ["client_a1", None])
def test_clients_and_visitors_go_to_the_login(client, world, who):
    e = world.enrollment_a1
    before = snapshot(e)
    user = getattr(world, who) if who else None
    response = add(client, user, e, {"coach": world.coach_a3.pk, "stage": ""})
    assert is_login_redirect(response)
    assert snapshot(e) == before


def test_the_matrix_says_the_same():
    # Tested in full by tests/test_admin_matrix.py (tests/routes_co_coaches.py); here the
    # decision itself: admins on all, coaches on their own main-coached clients.
    from wagtail_coaching.permissions import MATRIX

    roles = MATRIX["manage_co_coaches"].roles
    assert {role: scope.name for role, scope in roles.items()} == {
        "admin": "all", "coach": "main_coach",
    }


# -- What a co-coach then sees and receives --------------------------------------------------

def test_both_coaches_see_the_client_and_nobody_else_gains(world):
    e = world.enrollment_a1
    before = {u.username: set(visible(u, "write_messages").values_list("pk", flat=True))
              for u in world.users()}
    assert e.pk not in before["coach_a2"]
    add_co_coach(e, world.coach_a2)
    after = {u.username: set(visible(u, "write_messages").values_list("pk", flat=True))
             for u in world.users()}
    assert e.pk in after["coach_a"] and e.pk in after["coach_a2"]
    assert allowed(world.coach_a2, "write_messages", e)
    assert allowed(world.coach_a2, "view_messages", e)
    # The coach scope (predicate and queryset) lets the co-coach in, and only them.
    for name in after:
        if name != "coach_a2":
            assert after[name] == before[name], name
    assert not allowed(world.coach_b, "view_enrollment", e)
    assert e.pk not in set(visible(world.coach_a3, "write_messages").values_list("pk", flat=True))
    remove_co_coach(e, world.coach_a2)
    assert not allowed(world.coach_a2, "write_messages", e)


def test_a_co_coach_is_in_the_conversation(world):
    e = world.enrollment_a1
    add_co_coach(e, world.coach_a2)
    post_message(e, world.client_a1, "Hello both of you")
    told = set(Notification.objects.filter(kind="coach_new_message")
               .values_list("recipient__username", flat=True))
    assert told == {"coach_a", "coach_a2"}


def test_rule_messages_to_the_coach_reach_co_coaches(world):
    from wagtail_coaching.automation.engine import _co_coaches

    e = world.enrollment_a1
    add_co_coach(e, world.coach_a2)
    assert _co_coaches([e.pk, world.enrollment_b1.pk]) == {e.pk: [world.coach_a2.pk]}


# -- The card and the dashboard list both coaches, the main coach first ------------------------

def test_the_card_lists_the_main_coach_first_and_offers_the_form(client, world):
    e = world.enrollment_a1
    add_co_coach(e, world.coach_a2)
    html = as_user(client, world.admin).get(card_url(e)).content.decode()
    main, co = display_name(world.coach_a), display_name(world.coach_a2)
    coaches = html[html.index("coaching-card__coaches"):]
    assert coaches.index(main) < coaches.index(co)
    assert "Co-coach (whole engagement)" in html
    assert "Add a co-coach" in html and "Whole engagement" in html and ">Start<" in html
    assert "Remove co-coach" in html
    # The candidates: the team's coaches who do not coach this client yet.
    form = html[html.index("coaching-card__add-co-coach"):]
    form = form[:form.index("</form>")]
    assert display_name(world.coach_a3) in form
    assert display_name(world.coach_a2) not in form and display_name(world.coach_b) not in form


def test_the_form_shows_only_where_allowed(client, world):
    e = world.enrollment_a1
    for who, shown in (("admin", True), ("coach_a", True), ("coach_a2", False),
                       ("hr_acme", False)):
        html = as_user(client, getattr(world, who)).get(card_url(e)).content.decode()
        assert ("coaching-card__add-co-coach" in html) == shown, who


def test_the_card_costs_the_same_with_more_co_coaches(client, world):
    e = world.enrollment_a1
    as_user(client, world.admin)
    add_co_coach(e, world.coach_a2)
    with CaptureQueriesContext(connection) as one:
        assert client.get(card_url(e)).status_code == 200
    for n in range(4):
        add_co_coach(e, coach_in(world.team_a, f"extra_{n}"))
    with CaptureQueriesContext(connection) as five:
        assert client.get(card_url(e)).status_code == 200
    assert len(five) <= len(one)


def test_the_clients_dashboard_lists_both_coaches(client, world):
    e = world.enrollment_a1
    add_co_coach(e, world.coach_a2)
    client.force_login(world.client_a1)
    html = client.get(reverse("wagtail_coaching:dashboard")).content.decode()
    main, co = display_name(world.coach_a), display_name(world.coach_a2)
    assert f"Your coach: {main}" in html
    assert f"Also coaching you: {co}" in html
    assert html.index(f"Your coach: {main}") < html.index(f"Also coaching you: {co}")


# -- Bad input changes nothing ------------------------------------------------------------------

@pytest.mark.parametrize("data, error", [
    ({}, "required"),
    ({"coach": ""}, "required"),
    ({"coach": "abc", "stage": ""}, "Only an active coach"),
    ({"coach": "999999", "stage": ""}, "Only an active coach"),
    ({"coach": "coach_b", "stage": ""}, "Only an active coach"),  # another team's coach
    ({"coach": "client_a2", "stage": ""}, "Only an active coach"),  # not a coach
    ({"coach": "coach_a", "stage": ""}, "Only an active coach"),  # already the main coach
    ({"coach": "team_admin_a", "stage": ""}, "Only an active coach"),  # no coaching role
    ({"coach": "coach_a3", "stage": "not-a-stage"}, "not part of the program"),
])
def test_bad_input_is_a_form_error(client, world, data, error):
    e = world.enrollment_a1
    data = {k: (str(getattr(world, v).pk) if hasattr(world, v) else v) for k, v in data.items()}
    before = snapshot(e)
    response = add(client, world.admin, e, data)
    assert response.status_code == 302
    assert any(error in m for m in message_texts(response)), message_texts(response)
    assert snapshot(e) == before


def test_nul_bytes_are_refused(client, world):
    e = world.enrollment_a1
    before = snapshot(e)
    response = add(client, world.admin, e, {"coach": f"{world.coach_a3.pk}\x00", "stage": ""})
    assert response.status_code == 400
    response = add(client, world.admin, e, {"coach": world.coach_a3.pk, "stage": "\x00"})
    assert response.status_code == 400
    assert snapshot(e) == before


def test_the_co_coach_of_another_enrollment_cannot_be_removed_here(client, world):
    a1, a2 = world.enrollment_a1, world.enrollment_a2
    add_co_coach(a2, world.coach_a3)
    before, other_before = snapshot(a1), snapshot(a2)
    response = remove(client, world.admin, a1, {"coach": world.coach_a3.pk})
    assert response.status_code == 302
    assert any("not a co-coach of this client" in m for m in message_texts(response))
    assert snapshot(a1) == before and snapshot(a2) == other_before
    # The main coach is not a co-coach either: removing them here does nothing.
    response = remove(client, world.admin, a1, {"coach": world.coach_a.pk})
    assert snapshot(a1) == before


def test_another_teams_client_does_not_exist_for_a_coach(client, world):
    b1 = world.enrollment_b1
    before = snapshot(b1)
    response = add(client, world.coach_a, b1, {"coach": world.coach_a3.pk, "stage": ""})
    assert response.status_code == 404
    assert snapshot(b1) == before


def test_an_unknown_enrollment_is_not_found(client, world):
    as_user(client, world.admin)
    url = reverse("wagtail_coaching_admin:add_co_coach",
                  args=["00000000-0000-0000-0000-000000000000"])
    assert client.post(url, {"coach": world.coach_a3.pk}).status_code == 404


def test_the_service_refuses_too(world):
    e = world.enrollment_a1
    before = snapshot(e)
    with pytest.raises(CoachUnavailable):
        add_co_coach(e, world.coach_b)  # outside the team
    with pytest.raises(CoachUnavailable):
        add_co_coach(e, world.coach_a)  # already coaches the client
    with pytest.raises(JourneyError):
        add_co_coach(e, world.coach_a3, stage_block_id="elsewhere")
    with pytest.raises(NotCoCoaching):
        remove_co_coach(e, world.coach_a3)
    assert snapshot(e) == before
    add_co_coach(e, world.coach_a3)
    with pytest.raises(CoachUnavailable):
        add_co_coach(e, world.coach_a3)  # once at a time


def test_a_co_coach_made_the_main_coach_is_no_longer_a_co_coach(client, world):
    e = world.enrollment_a1
    add_co_coach(e, world.coach_a2)
    response = as_user(client, world.admin).post(
        card_url(e, "reassign_coach"), {"coach": world.coach_a2.pk}
    )
    assert response.status_code == 302
    assert co_coaches(e) == []
    current = CoachAssignment.objects.filter(enrollment=e, ended_at__isnull=True)
    assert list(current.values_list("coach__username", "role")) == [("coach_a2", "coach")]
    assert JourneyEvent.objects.filter(enrollment=e, kind=EventKind.CO_COACH_REMOVED).count() == 1
