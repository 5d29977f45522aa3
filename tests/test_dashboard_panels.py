"""Dashboard panels: clients who need attention and recent completions, per role."""

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from wagtail_coaching.admin.panels import (
    ClientsNeedingAttentionPanel,
    RecentCompletionsPanel,
    clients_needing_attention,
    recent_completions,
)
from wagtail_coaching.journeys import complete_activity, enroll_many
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement

from .test_admin_clients import admin_world, as_user, card_url

ATTENTION = "Clients who need attention"
COMPLETIONS = "Recent completions"


@pytest.fixture
def world(db):
    return admin_world()


def names(rows):
    return sorted(row["name"] for row in rows)


def sessions_engagement(world, slug="sessions"):
    """An engagement of team A whose first step is 1:1 sessions, open at once."""
    return make_engagement(
        program=[programs.stage("Work", [
            programs.activity("one_to_one", "Kick-off call", rule="immediately"),
            programs.activity("lesson", "Read this", rule="immediately"),
        ])],
        title=f"Sessions {slug}", slug=slug, team=world.team_a, assignment_policy="manual",
    )


@pytest.mark.parametrize("who, shown", [
    ("admin", True), ("coach_a", True), ("coach_b", True),
    ("hr_acme", False), ("sales", False),
])
def test_panels_show_to_people_who_work_on_journeys(client, world, who, shown):
    html = as_user(client, getattr(world, who)).get("/admin/").content.decode()
    assert (ATTENTION in html) is shown
    assert (COMPLETIONS in html) is shown


def test_a_waiting_coach_step_needs_attention(world):
    engagement = sessions_engagement(world)
    newcomer = UserFactory(username="newcomer", first_name="Nina", last_name="New")
    enroll_many([newcomer], engagement)
    rows = clients_needing_attention(world.coach_a)
    assert names(rows) == ["Nina New"]
    assert rows[0]["waiting"] == "Kick-off call"
    assert clients_needing_attention(world.coach_b) == []


def test_quiet_clients_need_attention_after_the_set_days(world):
    later = timezone.now() + datetime.timedelta(days=8)
    assert clients_needing_attention(world.coach_a) == []
    assert names(clients_needing_attention(world.coach_a, now=later)) == ["Abe Private", "Ada Acme"]
    assert names(clients_needing_attention(world.coach_b, now=later)) == ["Bea Globex"]
    with override_settings(WAGTAIL_COACHING={"ATTENTION_AFTER_DAYS": 30}):
        assert clients_needing_attention(world.coach_a, now=later) == []


def test_paused_clients_do_not_need_attention(world):
    from wagtail_coaching.journeys import pause_enrollment

    pause_enrollment(world.enrollment_a2)
    later = timezone.now() + datetime.timedelta(days=8)
    assert names(clients_needing_attention(world.coach_a, now=later)) == ["Ada Acme"]


def test_recent_completions(world):
    welcome = world.enrollment_a1.activities.get(title="Welcome")
    complete_activity(welcome, actor=world.client_a1)
    rows = recent_completions(world.coach_a)
    assert [(r["name"], r["what"]) for r in rows] == [("Ada Acme", "Welcome")]
    assert rows[0]["url"] == card_url(world.enrollment_a1)
    assert recent_completions(world.coach_b) == []


def test_panel_names_open_the_card(client, world):
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"), actor=world.client_a1)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        html = as_user(client, world.coach_a).get("/admin/").content.decode()
    link = f'<a href="{card_url(world.enrollment_a1)}" data-coaching-card>Ada Acme</a>'
    assert html.count(link) == 2  # in both panels
    assert "Bea Globex" not in html


def test_a_hostile_name_is_escaped_in_the_panel(client, world):
    world.client_a1.first_name = "<script>alert(1)</script>"
    world.client_a1.save()
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"), actor=world.client_a1)
    html = as_user(client, world.coach_a).get("/admin/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def render_queries(rf, user_pk):
    user = get_user_model().objects.get(pk=user_pk)
    request = rf.get("/admin/")
    request.user = user
    with CaptureQueriesContext(connection) as queries:
        for panel in (ClientsNeedingAttentionPanel(request), RecentCompletionsPanel(request)):
            panel.render_html({})
    return len(queries)


def add_clients(world, engagement, count, prefix):
    clients = [UserFactory(username=f"{prefix}{i}") for i in range(count)]
    created, _ = enroll_many(clients, engagement)
    for enrollment in created:
        complete_activity(enrollment.activities.get(title="Read this"), actor=enrollment.client)
    return created


def test_the_panels_query_count_does_not_grow_with_clients(rf, world):
    few = sessions_engagement(world, "few")
    add_clients(world, few, 3, "few")
    assert len(clients_needing_attention(world.coach_a)) == 3
    with_three = render_queries(rf, world.coach_a.pk)
    many = sessions_engagement(world, "many")
    add_clients(world, many, 27, "many")
    assert len(clients_needing_attention(world.coach_a, limit=100)) == 30
    assert render_queries(rf, world.coach_a.pk) == with_three
