"""The rule editor's choosers of stages and steps: titles from the engagement's published
program, block ids stored, renamed steps followed, removed steps flagged, other engagements'
ids refused, and the JSON the editor's script reads (admins only)."""

import json
import re
from html import unescape

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from wagtail_coaching.admin.rules.program import Program
from wagtail_coaching.automation.dispatch import dispatch_events
from wagtail_coaching.journeys.enroll import enroll
from wagtail_coaching.journeys.progress import complete_activity, unlock_activity
from wagtail_coaching.models import (
    AutomationRule,
    EngagementPage,
    RuleFiring,
    TeamMembership,
    Trigger,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement, publish_program
from wagtail_coaching.testing.jobs import run_jobs

from .test_admin_clients import admin_world, as_user, message_texts
from .test_admin_rules import error_messages, form_data, notify

CREATE = "coaching_rules_modeladmin_create"
EDIT = "coaching_rules_modeladmin_edit"
INSPECT = "coaching_rules_modeladmin_inspect"
PROGRAM = "wagtail_coaching_admin:rule_program"

# Stable block ids of the engagement the rules are about.
DISCOVER, PRACTISE = "stage-discover", "stage-practise"
KICK_OFF, INTAKE, STRESS, BREATHING = "step-kick-off", "step-intake", "step-stress", "step-breath"


def the_program(kick_off="Kick-off", breathing=True, extra=()):
    practise = [programs.activity("check_in", "Stress check", block_id=STRESS)]
    if breathing:
        practise.append(programs.activity("practice", "Breathing", block_id=BREATHING))
    return [
        programs.stage("Discover", [
            programs.activity("lesson", kick_off, rule="immediately", block_id=KICK_OFF),
            programs.activity("form", "Intake", block_id=INTAKE),
            *extra,
        ], block_id=DISCOVER),
        programs.stage("Practise", practise, block_id=PRACTISE),
    ]


def build_shared_world():
    w = admin_world()
    w.rules_engagement = make_engagement(
        program=the_program(), title="Rules journey", slug="rules-journey", team=w.team_a,
    )
    # A draft that is not published: its step must not be offered.
    draft = EngagementPage.objects.get(pk=w.rules_engagement.pk)
    draft.program = the_program(extra=[programs.activity("lesson", "Draft only")])
    with run_jobs():
        draft.save_revision()
    w.other_engagement = make_engagement(
        program=[programs.stage("Elsewhere", [
            programs.activity("lesson", "Foreign step", block_id="step-foreign"),
        ], block_id="stage-foreign")],
        title="Other journey", slug="other-journey", team=w.team_b,
    )
    w.rule = AutomationRule.objects.create(
        name="After kick-off", engagement=w.rules_engagement,
        trigger=Trigger.ACTIVITY_COMPLETED, activity_block_id=KICK_OFF,
        stage_block_id=DISCOVER, active_since=timezone.now(),
        actions=[{"type": "unlock_activity", "value": {"activity_block_id": BREATHING}}],
    )
    return w


@pytest.fixture
def world(shared):
    return shared


def options(html, name):
    """[(value, label, selected)] of the <select> named ``name`` (optgroups flattened)."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no chooser {name}"
    return [
        (value, label.strip(), bool(selected))
        for value, selected, label in re.findall(
            r'<option value="([^"]*)"[^>]*?( selected)?[^>]*>([^<]*)</option>', select.group(1)
        )
    ]


def groups(html, name):
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<optgroup label="([^"]*)">', select)


def block_definition(html):
    """The actions StreamField's block definition, as the page hands it to Wagtail's JS."""
    match = re.search(r'data-w-block-data-value="([^"]*)"', html)
    return json.dumps(json.loads(unescape(match.group(1))), ensure_ascii=False)


# -- What the choosers offer -------------------------------------------------------------------

def test_choosers_offer_the_published_program_by_stage(client, world):
    w = world
    html = as_user(client, w.admin).get(reverse(EDIT, args=[w.rule.pk])).content.decode()
    steps = options(html, "activity_block_id")
    assert [value for value, _label, _sel in steps] == ["", KICK_OFF, INTAKE, STRESS, BREATHING]
    assert ("step-kick-off", "Kick-off · Lesson", True) in steps
    assert groups(html, "activity_block_id") == ["Discover", "Practise"]
    assert options(html, "stage_block_id") == [
        ("", "Any stage", False), (DISCOVER, "Discover", True), (PRACTISE, "Practise", False),
    ]
    assert "Draft only" not in html  # a draft never reaches the choices
    # The kinds each trigger needs travel with the chooser; each option carries its kind.
    assert 'data-kind="check_in"' in html
    assert "check_in_above&quot;: &quot;check_in" in html
    assert "wagtail_coaching/admin/rule-editor.js" in html
    # The actions' chooser (inside the StreamField) offers the same steps, by title.
    definition = block_definition(html)
    assert "Breathing · Practice" in definition and BREATHING in definition
    assert "Draft only" not in definition
    # The engagement is a plain list (so the script hears it change), "all" included.
    engagement = re.search(r'<select name="engagement"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert "All engagements" in engagement and "Rules journey" in engagement


def test_a_rule_for_all_engagements_offers_kinds_not_steps(client, world):
    html = as_user(client, world.admin).get(reverse(CREATE)).content.decode()
    assert options(html, "activity_block_id") == [
        ("", "Any activity (of the kind the trigger needs)", True)
    ]
    assert options(html, "stage_block_id") == [("", "Any stage", True)]
    # A hand-made id is refused, and "open an activity" asks for an engagement.
    response = client.post(reverse(CREATE), form_data(
        None, trigger="activity_completed", activity_block_id=KICK_OFF, name="Global",
        actions=[("unlock_activity", {"activity_block_id": BREATHING})],
    ))
    messages = error_messages(response.context["form"].errors)
    assert "A rule for all engagements cannot name one engagement's step: choose the " \
           "engagement first." in messages
    assert any(m.startswith("A rule for all engagements cannot open one engagement's")
               for m in messages), messages
    assert not AutomationRule.objects.filter(name="Global").exists()


# -- Saving --------------------------------------------------------------------------------------

def test_saving_stores_the_block_ids(client, world):
    w = world
    response = as_user(client, w.admin).post(reverse(CREATE), form_data(
        w.rules_engagement, trigger="form_answer", question="Ready?", value="Yes",
        activity_block_id=INTAKE, stage_block_id=DISCOVER, name="Intake answered",
        actions=[("unlock_activity", {"activity_block_id": BREATHING}),
                 ("add_activity", add_lesson(PRACTISE)), notify()],
    ))
    assert response.status_code == 302, error_messages(response.context["form"].errors)
    made = AutomationRule.objects.get(name="Intake answered")
    assert (made.activity_block_id, made.stage_block_id) == (INTAKE, DISCOVER)
    assert made.actions[0].value["activity_block_id"] == BREATHING
    assert made.actions[1].value["stage_block_id"] == PRACTISE
    html = client.get(reverse(INSPECT, args=[made.pk])).content.decode()
    assert "for the activity “Intake”" in html
    assert "while the client is in the stage “Discover”" in html
    assert "Open the activity “Breathing”" in html


def add_lesson(stage):
    from .test_admin_rules import add_lesson as lesson

    return lesson(stage)[1]


def test_a_step_of_the_wrong_kind_is_refused(client, world):
    response = as_user(client, world.admin).post(reverse(CREATE), form_data(
        world.rules_engagement, trigger="check_in_below", threshold="3",
        activity_block_id=INTAKE, name="Wrong kind",
    ))
    messages = error_messages(response.context["form"].errors)
    assert any("This trigger needs a check-in activity; “Intake” is not one. The "
               "engagement's: “Stress check”." in m for m in messages), messages
    assert not AutomationRule.objects.filter(name="Wrong kind").exists()


@pytest.mark.parametrize("where", ["activity_block_id", "stage_block_id", "unlock", "add"])
def test_an_id_from_another_engagement_is_refused(client, world, where):
    w = world
    fields = {
        "activity_block_id": {"trigger": "activity_completed",
                              "activity_block_id": "step-foreign"},
        "stage_block_id": {"stage_block_id": "stage-foreign"},
        "unlock": {"actions": [("unlock_activity", {"activity_block_id": "step-foreign"})]},
        "add": {"actions": [("add_activity", add_lesson("stage-foreign"))]},
    }[where]
    count = AutomationRule.objects.count()
    response = as_user(client, w.admin).post(
        reverse(CREATE), form_data(w.rules_engagement, name="Foreign", **fields)
    )
    assert response.status_code == 200
    messages = error_messages(response.context["form"].errors)
    assert any("is not an activity of Rules journey" in m or "is not a stage of Rules journey"
               in m for m in messages), messages
    assert AutomationRule.objects.count() == count
    # The rule's own ids cannot be moved to another engagement either.
    response = client.post(reverse(EDIT, args=[w.rule.pk]), form_data(
        w.other_engagement, trigger="activity_completed", activity_block_id=KICK_OFF,
        name="Moved",
    ))
    assert response.status_code == 200
    w.rule.refresh_from_db()
    assert w.rule.engagement_id == w.rules_engagement.pk and w.rule.name == "After kick-off"


# -- The program changes -------------------------------------------------------------------------

def test_renaming_and_moving_a_step_keeps_the_rule_working(client, world):
    w = world
    newcomer = UserFactory(username="newcomer")
    with run_jobs():
        enrollment = enroll(newcomer, w.rules_engagement)
        dispatch_events()
        # Renamed, moved after a new first step: the same block id.
        publish_program(w.rules_engagement, [
            programs.stage("Discover", [
                programs.activity("lesson", "Hello", rule="immediately"),
                programs.activity("lesson", "Kick-off, renamed", rule="immediately",
                                  block_id=KICK_OFF),
                programs.activity("form", "Intake", block_id=INTAKE),
            ], block_id=DISCOVER),
            programs.stage("Practise", [
                programs.activity("check_in", "Stress check", block_id=STRESS),
                programs.activity("practice", "Breathing", rule="manual", block_id=BREATHING),
            ], block_id=PRACTISE),
        ])
    html = as_user(client, w.admin).get(reverse(EDIT, args=[w.rule.pk])).content.decode()
    assert (KICK_OFF, "Kick-off, renamed · Lesson", True) in options(html, "activity_block_id")
    assert "removed step" not in html
    html = client.get(reverse(INSPECT, args=[w.rule.pk])).content.decode()
    assert "for the activity “Kick-off, renamed”" in html
    # The rule still fires for that step, and opens the step it names.
    step = enrollment.activities.get(block_id=KICK_OFF)
    if step.state == "locked":
        unlock_activity(step)
    complete_activity(step)
    dispatch_events()
    assert RuleFiring.objects.filter(rule=w.rule, enrollment=enrollment).count() == 1
    assert enrollment.activities.get(block_id=BREATHING).state == "available"


def test_a_removed_step_is_flagged_and_the_rule_still_opens(client, world):
    w = world
    with run_jobs():
        publish_program(w.rules_engagement, the_program(breathing=False))
    response = as_user(client, w.admin).get(reverse(EDIT, args=[w.rule.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "(removed step: Breathing)" in block_definition(html)
    # Only where it is named: the trigger's chooser does not offer the removed step.
    assert BREATHING not in [v for v, _l, _s in options(html, "activity_block_id")]
    assert any("names (removed step: Breathing): the published program of Rules journey no "
               "longer has it" in m for m in message_texts(response)), message_texts(response)
    html = client.get(reverse(INSPECT, args=[w.rule.pk])).content.decode()
    assert "Open the activity (removed step: Breathing)" in html
    # Saving other changes keeps the rule as it was: no error for what was already there.
    response = client.post(reverse(EDIT, args=[w.rule.pk]), form_data(
        w.rules_engagement, trigger="activity_completed", activity_block_id=KICK_OFF,
        stage_block_id=DISCOVER, name="After kick-off (renamed)",
        actions=[("unlock_activity", {"activity_block_id": BREATHING})],
    ))
    assert response.status_code == 302, error_messages(response.context["form"].errors)
    w.rule.refresh_from_db()
    assert w.rule.name == "After kick-off (renamed)"
    assert w.rule.actions[0].value["activity_block_id"] == BREATHING
    # ... but another rule cannot start naming the removed step.
    response = client.post(reverse(CREATE), form_data(
        w.rules_engagement, name="New", actions=[
            ("unlock_activity", {"activity_block_id": BREATHING})],
    ))
    assert response.status_code == 200
    assert not AutomationRule.objects.filter(name="New").exists()


def test_a_rule_for_all_engagements_naming_a_step_opens_and_says_so(client, world):
    legacy = AutomationRule.objects.create(
        name="Legacy", trigger=Trigger.ACTIVITY_COMPLETED, activity_block_id="typed-by-hand",
        actions=[{"type": "flag_at_risk", "value": {"reason": "x"}}],
    )
    response = as_user(client, world.admin).get(reverse(EDIT, args=[legacy.pk]))
    assert response.status_code == 200
    assert ("typed-by-hand", "(removed step: typed-by-hand)", True) in options(
        response.content.decode(), "activity_block_id")
    assert any(m.startswith("This rule for all engagements names (removed step: "
                            "typed-by-hand)") for m in message_texts(response))
    response = client.post(reverse(EDIT, args=[legacy.pk]), form_data(
        None, trigger="activity_completed", activity_block_id="typed-by-hand", name="Legacy",
        actions=[("flag_at_risk", {"reason": "y"})],
    ))
    assert response.status_code == 302, error_messages(response.context["form"].errors)


def test_an_id_never_seen_reads_as_itself(world):
    program = Program(world.rules_engagement)
    assert program.activity_title("ghost") == "(removed step: ghost)"
    assert program.activity_title(KICK_OFF) == "“Kick-off”"


# -- The editor's JSON -------------------------------------------------------------------------

def test_the_program_json_lists_the_published_stages_and_steps(
    client, world, django_assert_max_num_queries
):
    as_user(client, world.admin)
    url = reverse(PROGRAM, args=[world.rules_engagement.pk])
    client.get(url)  # the session and the user are read once
    with django_assert_max_num_queries(6):
        response = client.get(url)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["stages"] == [{"id": DISCOVER, "title": "Discover"},
                              {"id": PRACTISE, "title": "Practise"}]
    assert [g["stage"] for g in data["activities"]] == ["Discover", "Practise"]
    assert data["activities"][0]["steps"][1] == {
        "id": INTAKE, "title": "Intake", "kind": "form", "kind_label": "Questionnaire"}
    assert "Draft only" not in response.content.decode()


def test_the_program_json_is_for_rule_editors_only(client, world):
    w = world
    url = reverse(PROGRAM, args=[w.rules_engagement.pk])
    for user in (w.coach_a, w.sales, w.hr_acme):
        assert as_user(client, user).get(url).status_code == 403, user
    response = as_user(client, w.client_a1).get(url)
    assert response.status_code == 302 and "Kick-off" not in response.content.decode()
    assert as_user(client, None).get(url).status_code == 302
    assert as_user(client, w.admin).get(reverse(PROGRAM, args=[999999])).status_code == 404


def test_a_team_scoped_rule_editor_reads_only_their_teams_engagements(client, world):
    w = world
    supervisor = UserFactory(username="supervisor")
    supervisor.groups.add(Group.objects.create(name="Supervisors"))
    TeamMembership.objects.create(team=w.team_a, user=supervisor, role="coach")
    with override_settings(WAGTAIL_COACHING={
        "ROLE_GROUPS": {"admin": "Coaching admins", "coach": "Coaches",
                        "sales_manager": "Sales managers", "hr_partner": "HR partners",
                        "supervisor": "Supervisors"},
        "ROLE_PERMISSIONS": {"supervisor": {"automate_engagement": "engagement_team"}},
    }):
        as_user(client, supervisor)
        own = client.get(reverse(PROGRAM, args=[w.rules_engagement.pk]))
        other = client.get(reverse(PROGRAM, args=[w.other_engagement.pk]))
    assert own.status_code == 200 and json.loads(own.content)["stages"]
    assert other.status_code == 403 and "Foreign step" not in other.content.decode()


def test_an_engagement_never_published_offers_no_steps(client, world):
    unpublished = make_engagement(
        program=the_program(), title="Not yet out", slug="not-yet-out", publish=False,
    )
    assert Program(unpublished).as_json()["published"] is False
    response = as_user(client, world.admin).post(reverse(CREATE), form_data(
        unpublished, trigger="activity_completed", activity_block_id=KICK_OFF, name="Early",
    ))
    assert "Not yet out has no published program yet: publish it to choose its steps." in \
        error_messages(response.context["form"].errors)
    assert not AutomationRule.objects.filter(name="Early").exists()
