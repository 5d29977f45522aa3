"""Automation rules in the coaching admin: who sees and changes which rules, the form's
checks, pause and resume, the dry run, the list's query count."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from wagtail_coaching.journeys.program import flatten_program, program_stages
from wagtail_coaching.models import (
    AutomationRule,
    JourneyEvent,
    Notification,
    RuleFiring,
    Trigger,
)
from wagtail_coaching.permissions import allowed, visible

from .test_admin_clients import admin_world, as_user, message_texts

INDEX = "coaching_rules_modeladmin_index"
CREATE = "coaching_rules_modeladmin_create"
EDIT = "coaching_rules_modeladmin_edit"
INSPECT = "coaching_rules_modeladmin_inspect"


def rule(name, engagement=None, trigger=Trigger.ENROLLED, actions=None, **fields):
    return AutomationRule.objects.create(
        name=name, engagement=engagement, trigger=trigger,
        actions=actions if actions is not None else [
            {"type": "flag_at_risk", "value": {"reason": "test"}}
        ],
        **fields,
    )


def build_shared_world():
    w = admin_world()
    w.rule_a = rule("Rule of A", w.engagement_a)
    w.rule_b = rule("Rule of B", w.engagement_b)
    w.rule_all = rule("Rule for all")
    return w


@pytest.fixture
def world(shared):
    return shared


def block_ids(engagement, kind=None):
    return [s.block_id for s in flatten_program(engagement.program)
            if kind is None or s.kind == kind]


def stage_id(engagement):
    return next(iter(program_stages(engagement.program)))


def notify(**value):
    return ("notify", {"recipient": "client", "channel": "email", "template": "welcome",
                       "subject": "", "body": "", **value})


def form_data(engagement=None, trigger="enrolled", actions=None, active=True, **fields):
    data = {
        "name": "New rule", "description": "", "engagement": engagement.pk if engagement else "",
        "trigger": trigger, "days": "", "hours": "", "activity_block_id": "", "question": "",
        "value": "", "threshold": "", "stage_block_id": "", "company": "", "tag": "",
        "actions": streamfield(actions if actions is not None else [notify()]),
    }
    if active:
        data["active"] = "on"
    data.update(fields)
    return nested_form_data(data)


def error_messages(errors):
    """Every message of a form's errors, StreamField block errors included."""
    found = []

    def walk(error):
        for attr in ("non_block_errors",):
            for e in getattr(error, attr, None) or []:
                walk(e)
        block_errors = getattr(error, "block_errors", None)
        if block_errors:
            for e in block_errors.values():
                walk(e)
            return
        if hasattr(error, "non_block_errors"):
            return
        found.extend(getattr(error, "messages", [str(error)]))

    for error_list in errors.values():
        for error in error_list.as_data():
            walk(error)
    return found


# -- The matrix -----------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["view_automationrule", "change_automationrule"])
def test_predicate_and_queryset_agree(world, action):
    rules = list(AutomationRule.objects.all())
    for user in [*world.users(), AnonymousUser()]:
        listed = set(visible(user, action).values_list("pk", flat=True))
        for obj in rules:
            assert allowed(user, action, obj) == (obj.pk in listed), (action, user, obj)


def test_coaches_see_their_teams_rules_and_the_rules_for_all(world):
    w = world
    builtins = set(AutomationRule.objects.filter(key__isnull=False).values_list("pk", flat=True))
    assert builtins, "the migration ships the built-in rules"
    seen = set(visible(w.coach_a, "view_automationrule").values_list("pk", flat=True))
    assert seen == {w.rule_a.pk, w.rule_all.pk} | builtins
    seen = set(visible(w.coach_b, "view_automationrule").values_list("pk", flat=True))
    assert seen == {w.rule_b.pk, w.rule_all.pk} | builtins
    assert not visible(w.coach_a, "change_automationrule").exists()
    for user in (w.sales, w.hr_acme, w.client_a1):
        assert not visible(user, "view_automationrule").exists()
    assert visible(w.admin, "change_automationrule").count() == AutomationRule.objects.count()


# -- The list -------------------------------------------------------------------------------

def test_list_shows_each_rule_in_words(client, world):
    w = world
    now = timezone.now()
    w.rule_a.trigger, w.rule_a.days = Trigger.ENROLLMENT_DAYS, 3
    w.rule_a.save()
    RuleFiring.objects.create(rule=w.rule_a, enrollment=w.enrollment_a1, occurrence="x",
                              fired_at=now - timedelta(days=1))
    RuleFiring.objects.create(rule=w.rule_a, enrollment=w.enrollment_a2, occurrence="x",
                              fired_at=now - timedelta(days=2))
    RuleFiring.objects.create(rule=w.rule_a, enrollment=w.enrollment_a1, occurrence="old",
                              fired_at=now - timedelta(days=40))
    pause = w.rule_b
    pause.active = False
    pause.save()
    html = as_user(client, w.admin).get(reverse(INDEX)).content.decode()
    assert "Rule of A" in html and "Rule of B" in html and "Rule for all" in html
    assert "3 days after the enrollment starts" in html
    assert "All engagements" in html
    assert "Paused" in html and "Active" in html
    assert "Built-in" in html and "Welcome on enrollment" in html
    row = html[html.index("Rule of A"):]
    row = row[:row.index("</tr>")]
    assert ">2<" in row.replace(" ", "").replace("\n", "")  # fired twice in 30 days
    assert "Dry run" in html
    # A coach counts the firings for the clients they may see.
    RuleFiring.objects.create(rule=w.rule_all, enrollment=w.enrollment_a1, occurrence="x",
                              fired_at=now)
    RuleFiring.objects.create(rule=w.rule_all, enrollment=w.enrollment_b1, occurrence="x",
                              fired_at=now)
    for user, fired in ((w.admin, 2), (w.coach_b, 1)):
        html = as_user(client, user).get(reverse(INDEX)).content.decode()
        row = html[html.index("Rule for all"):]
        row = row[:row.index("</tr>")].replace(" ", "").replace("\n", "")
        assert f">{fired}<" in row, (user, row)


def test_coach_lists_own_team_and_global_rules_without_edit_buttons(client, world):
    w = world
    response = as_user(client, w.coach_a).get(reverse(INDEX))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rule of A" in html and "Rule for all" in html
    assert "Rule of B" not in html
    assert reverse(EDIT, args=[w.rule_a.pk]) not in html
    assert reverse(CREATE) not in html


@pytest.mark.parametrize("who", ["sales", "hr_acme"])
def test_other_staff_are_refused(client, world, who):
    user = getattr(world, who)
    assert as_user(client, user).get(reverse(INDEX)).status_code == 403
    url = reverse(INSPECT, args=[world.rule_all.pk])
    assert as_user(client, user).get(url).status_code == 404


def test_clients_are_sent_to_the_login_page(client, world):
    response = as_user(client, world.client_a1).get(reverse(INDEX))
    assert response.status_code == 302 and "/login/" in response["Location"]


def _list_queries(client, user):
    client.get(reverse(INDEX))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(INDEX))
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["admin", "coach_a"])
def test_list_query_count_does_not_grow_with_rules(client, world, who):
    w = world
    user = getattr(w, who)
    as_user(client, user)
    few = _list_queries(client, user)
    for index in range(15):
        made = rule(f"More {index}", w.engagement_a if index % 2 else None,
                    trigger=Trigger.ENROLLMENT_DAYS, days=index)
        RuleFiring.objects.create(rule=made, enrollment=w.enrollment_a1, occurrence="x",
                                  fired_at=timezone.now())
    many = _list_queries(client, user)
    assert few == many, (few, many)


# -- Create and edit ------------------------------------------------------------------------

def test_admin_creates_a_rule_that_acts_from_now_on(client, world):
    w = world
    before = timezone.now()
    ids = block_ids(w.engagement_a)
    response = as_user(client, w.admin).post(reverse(CREATE), form_data(
        w.engagement_a, trigger="enrollment_days", days="3", name="Nudge after 3 days",
        actions=[("unlock_activity", {"activity_block_id": ids[2]}),
                 notify(template="custom", subject="Hi {{ client_name }}", body="Keep going")],
    ))
    made = AutomationRule.objects.get(name="Nudge after 3 days")
    assert response.status_code == 302
    assert response["Location"] == reverse(INSPECT, args=[made.pk])
    assert made.engagement_id == w.engagement_a.pk and made.days == 3 and made.active
    assert made.active_since is not None and made.active_since >= before
    assert [a.block_type for a in made.actions] == ["unlock_activity", "notify"]
    # Details that do not belong to the trigger are not kept.
    assert made.hours is None and made.threshold is None and made.question == ""


def test_a_paused_rule_has_no_active_since(client, world):
    response = as_user(client, world.admin).post(reverse(CREATE), form_data(
        trigger="no_activity", days="5", name="Quiet", active=False,
    ))
    assert response.status_code == 302
    made = AutomationRule.objects.get(name="Quiet")
    assert not made.active and made.active_since is None


BAD_INPUTS = {
    "days missing": (None, {"trigger": "enrollment_days"}, "days", "Say after how many days."),
    "negative days": (None, {"trigger": "cohort_days", "days": "-2"}, "days",
                      "Count the days after the start: 0 (the same day) or more."),
    "access end needs days before": (None, {"trigger": "access_end_days", "days": "0"},
                                     "days", "Count the days before the access ends: 1 or more."),
    "access end days missing": (None, {"trigger": "access_end_days"}, "days",
                                "Say how many days before the access ends."),
    "no activity needs a day": (None, {"trigger": "no_activity", "days": "0"}, "days",
                                "Count the days without activity: 1 or more."),
    "hours missing": (None, {"trigger": "session_upcoming"}, "hours",
                      "Say how many hours before the session."),
    "zero hours": (None, {"trigger": "session_upcoming", "hours": "0"}, "hours",
                   "Count the hours before the session: 1 or more."),
    "threshold missing": (None, {"trigger": "check_in_above"}, "threshold",
                          "Give the check-in score to compare with."),
    "threshold too high": (None, {"trigger": "check_in_below", "threshold": "11"}, "threshold",
                           "The threshold is a check-in score: from 0 to 10."),
    "question missing": (None, {"trigger": "form_answer", "value": "Yes"}, "question",
                         "Write the question as the form asks it."),
    "answer missing": (None, {"trigger": "form_answer", "question": "Ready?"}, "value",
                       "Write the answer that fires the rule."),
    "activity on a trigger without one": (
        None, {"trigger": "enrolled", "activity_block_id": "abc"}, "activity_block_id",
        "Only a trigger about an activity (completed, answered, check-in, session) can be "
        "narrowed to one activity."),
    "unknown activity": ("engagement_a", {"trigger": "activity_completed",
                                          "activity_block_id": "nope"},
                         "activity_block_id", "“nope” is not an activity of Engagement A."),
    "unknown stage": ("engagement_a", {"stage_block_id": "nowhere"}, "stage_block_id",
                      "“nowhere” is not a stage of Engagement A."),
    "no actions": (None, {"actions": []}, "actions",
                   "Add at least one action: a rule that does nothing cannot be saved."),
    "unlock an unknown activity": (
        "engagement_a", {"actions": [("unlock_activity", {"activity_block_id": "ghost"})]},
        "actions", "“ghost” is not an activity of Engagement A."),
    "custom message without text": (
        None, {"actions": [notify(template="custom", subject="", body="")]}, "actions",
        "A custom message needs a subject."),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_saved(client, world, case):
    engagement_attr, fields, field, message = BAD_INPUTS[case]
    engagement = getattr(world, engagement_attr) if engagement_attr else None
    count = AutomationRule.objects.count()
    response = as_user(client, world.admin).post(
        reverse(CREATE), form_data(engagement, **fields)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(m.startswith(message) for m in error_messages({field: errors[field]})), (
        error_messages(errors)
    )
    assert AutomationRule.objects.count() == count


def test_the_trigger_needs_an_activity_of_the_right_kind(client, world):
    w = world
    lesson = block_ids(w.engagement_a, "lesson")[0]
    response = as_user(client, w.admin).post(reverse(CREATE), form_data(
        w.engagement_a, trigger="check_in_above", threshold="7", activity_block_id=lesson,
    ))
    messages = error_messages(response.context["form"].errors)
    assert any("This trigger needs a check-in activity" in m for m in messages), messages
    check_in = block_ids(w.engagement_a, "check_in")[0]
    response = client.post(reverse(CREATE), form_data(
        w.engagement_a, trigger="check_in_above", threshold="7", activity_block_id=check_in,
        name="High stress",
    ))
    assert response.status_code == 302
    assert AutomationRule.objects.get(name="High stress").activity_block_id == check_in


def add_lesson(stage):
    return ("add_activity", {
        "activity": streamfield([("lesson", {
            "title": "Extra", "unlock": {"rule": "immediately", "days": "", "date": ""},
            "lead_role": "", "body": rich_text("<p>x</p>"), "video": "", "document": "",
        })]),
        "stage_block_id": stage,
    })


def test_an_extra_activity_goes_into_a_stage_of_the_engagement(client, world):
    w = world
    response = as_user(client, w.admin).post(reverse(CREATE), form_data(
        w.engagement_a, stage_block_id=stage_id(w.engagement_a), name="In stage",
        actions=[add_lesson("missing-stage")],
    ))
    messages = error_messages(response.context["form"].errors)
    assert any("“missing-stage” is not a stage of Engagement A" in m for m in messages), messages
    assert not AutomationRule.objects.filter(name="In stage").exists()
    data = form_data(w.engagement_a, stage_block_id=stage_id(w.engagement_a), name="In stage",
                     actions=[add_lesson(stage_id(w.engagement_a))])
    assert client.post(reverse(CREATE), data).status_code == 302
    made = AutomationRule.objects.get(name="In stage")
    html = client.get(reverse(INSPECT, args=[made.pk])).content.decode()
    assert "while the client is in the stage “Start”" in html
    assert "Add the extra activity “Extra” in the stage “Start”" in html


def test_bad_edit_leaves_the_rule_as_it_was(client, world):
    w = world
    url = reverse(EDIT, args=[w.rule_a.pk])
    response = as_user(client, w.admin).post(url, form_data(
        w.engagement_a, trigger="access_end_days", days="0", name="Renamed",
    ))
    assert response.status_code == 200
    w.rule_a.refresh_from_db()
    assert w.rule_a.name == "Rule of A" and w.rule_a.trigger == Trigger.ENROLLED


def test_switching_a_rule_back_on_in_the_form_sets_active_since(client, world):
    w = world
    long_ago = timezone.now() - timedelta(days=100)
    AutomationRule.objects.filter(pk=w.rule_a.pk).update(active=False, active_since=long_ago)
    url = reverse(EDIT, args=[w.rule_a.pk])
    data = form_data(w.engagement_a, trigger="enrollment_days", days="2", name="Rule of A",
                     active=False)
    assert as_user(client, w.admin).post(url, data).status_code == 302
    w.rule_a.refresh_from_db()
    assert w.rule_a.active_since == long_ago  # still paused: untouched
    data = form_data(w.engagement_a, trigger="enrollment_days", days="2", name="Rule of A")
    assert client.post(url, data).status_code == 302
    w.rule_a.refresh_from_db()
    assert w.rule_a.active and w.rule_a.active_since > long_ago
    # Editing only the description of an active rule keeps it.
    since = w.rule_a.active_since
    data = form_data(w.engagement_a, trigger="enrollment_days", days="2", name="Rule of A",
                     description="Explained")
    assert client.post(url, data).status_code == 302
    w.rule_a.refresh_from_db()
    assert w.rule_a.description == "Explained" and w.rule_a.active_since == since
    # Changing the timing of an active time-based rule counts as switching it on again.
    data = form_data(w.engagement_a, trigger="enrollment_days", days="9", name="Rule of A")
    assert client.post(url, data).status_code == 302
    w.rule_a.refresh_from_db()
    assert w.rule_a.active_since > since


def test_coaches_cannot_create_or_edit(client, world):
    w = world
    as_user(client, w.coach_a)
    count = AutomationRule.objects.count()
    assert client.get(reverse(CREATE)).status_code == 403
    assert client.post(reverse(CREATE), form_data(name="Sneaky")).status_code == 403
    assert client.get(reverse(EDIT, args=[w.rule_a.pk])).status_code == 403
    response = client.post(reverse(EDIT, args=[w.rule_a.pk]),
                           form_data(w.engagement_a, name="Sneaky"))
    assert response.status_code == 403
    assert client.get(reverse(EDIT, args=[w.rule_b.pk])).status_code == 404
    assert AutomationRule.objects.count() == count
    w.rule_a.refresh_from_db()
    assert w.rule_a.name == "Rule of A"


def test_every_built_in_rule_reads_in_words(client, world):
    as_user(client, world.admin)
    for made in AutomationRule.objects.filter(key__isnull=False):
        response = client.get(reverse(INSPECT, args=[made.pk]))
        assert response.status_code == 200, made.key
        assert made.name in response.content.decode()
    html = client.get(reverse(INSPECT, args=[
        AutomationRule.objects.get(key="session-follow-up").pk
    ])).content.decode()
    assert "Open the next locked activity of type Practice" in html
    html = client.get(reverse(INSPECT, args=[
        AutomationRule.objects.get(key="renewal-review").pk
    ])).content.decode()
    assert "14 days before the access ends" in html
    assert "Send “Renewal review before access ends” to the client&#x27;s coach (email)" in html


def test_built_in_rules_can_be_edited_but_not_deleted(client, world):
    welcome = AutomationRule.objects.get(key="welcome")
    as_user(client, world.admin)
    assert client.get(reverse(EDIT, args=[welcome.pk])).status_code == 200
    with pytest.raises(NoReverseMatch):
        reverse("coaching_rules_modeladmin_delete", args=[welcome.pk])
    html = client.get(reverse(INSPECT, args=[welcome.pk])).content.decode()
    assert "cannot be deleted" in html
    assert "Send “Welcome to the engagement” to the client (email and in the app)" in html


# -- The rule's page, pause and resume --------------------------------------------------------

def test_rule_page_lists_firings_the_viewer_may_see(client, world):
    w = world
    now = timezone.now()
    for enrollment in (w.enrollment_a1, w.enrollment_b1):
        RuleFiring.objects.create(rule=w.rule_all, enrollment=enrollment,
                                  occurrence=f"event:{enrollment.pk}", fired_at=now)
    url = reverse(INSPECT, args=[w.rule_all.pk])
    html = as_user(client, w.admin).get(url).content.decode()
    assert "Ada Acme" in html and "Bea Globex" in html
    assert "Flag the client as at risk: test" in html
    assert "Pause" in html
    html = as_user(client, w.coach_a).get(url).content.decode()
    assert "Ada Acme" in html and "Bea Globex" not in html
    assert "Fired once for clients you can see." in html
    assert 'value="Pause"' not in html and ">Pause<" not in html


def test_pause_and_resume(client, world):
    w = world
    as_user(client, w.admin)
    pause = reverse("wagtail_coaching_admin:rule_pause", args=[w.rule_a.pk])
    resume = reverse("wagtail_coaching_admin:rule_resume", args=[w.rule_a.pk])
    assert client.get(pause).status_code == 405
    response = client.post(pause)
    assert response.status_code == 302
    assert response["Location"] == reverse(INSPECT, args=[w.rule_a.pk])
    w.rule_a.refresh_from_db()
    assert not w.rule_a.active
    assert "was already paused" in " ".join(message_texts(client.post(pause)))
    before = timezone.now()
    response = client.post(resume)
    assert "is active again" in " ".join(message_texts(response))
    w.rule_a.refresh_from_db()
    assert w.rule_a.active and w.rule_a.active_since >= before


def test_coaches_cannot_pause(client, world):
    w = world
    as_user(client, w.coach_a)
    assert client.post(
        reverse("wagtail_coaching_admin:rule_pause", args=[w.rule_a.pk])
    ).status_code == 403
    assert client.post(
        reverse("wagtail_coaching_admin:rule_pause", args=[w.rule_b.pk])
    ).status_code == 404
    assert AutomationRule.objects.filter(pk__in=[w.rule_a.pk, w.rule_b.pk], active=True).count() \
        == 2


# -- Dry run ----------------------------------------------------------------------------------

def _dry_run(client, user, made):
    response = as_user(client, user).get(
        reverse("wagtail_coaching_admin:rule_dry_run", args=[made.pk])
    )
    assert response.status_code == 200
    return response.content.decode()


def test_dry_run_lists_what_is_due_for_the_viewer_and_fires_nothing(client, world):
    w = world
    since = timezone.now() - timedelta(days=1)
    everyone = rule("Day zero", trigger=Trigger.ENROLLMENT_DAYS, days=0, active_since=since,
                    actions=[{"type": "notify", "value": {
                        "recipient": "client", "channel": "both", "template": "welcome",
                        "subject": "", "body": ""}}])
    only_a = rule("Day zero in A", w.engagement_a, trigger=Trigger.ENROLLMENT_DAYS, days=0,
                  active_since=since)
    counts = (RuleFiring.objects.count(), Notification.objects.count(),
              JourneyEvent.objects.count())

    html = _dry_run(client, w.admin, everyone)
    assert "3 enrollments you can see." in html
    assert all(name in html for name in ("Ada Acme", "Abe Private", "Bea Globex"))
    html = _dry_run(client, w.coach_a, everyone)
    assert "2 enrollments you can see." in html
    assert "Bea Globex" not in html
    html = _dry_run(client, w.coach_b, everyone)
    assert "1 enrollment you can see." in html and "Bea Globex" in html
    html = _dry_run(client, w.admin, only_a)
    assert "2 enrollments you can see." in html and "Bea Globex" not in html
    # Already fired for a1: not due again.
    RuleFiring.objects.create(rule=only_a, enrollment=w.enrollment_a1, occurrence="days:0",
                              fired_at=timezone.now())
    counts = (counts[0] + 1, *counts[1:])
    html = _dry_run(client, w.admin, only_a)
    assert "1 enrollment you can see." in html and "Ada Acme" not in html

    assert (RuleFiring.objects.count(), Notification.objects.count(),
            JourneyEvent.objects.count()) == counts


def test_dry_run_is_refused_to_those_who_cannot_see_the_rule(client, world):
    w = world
    url = reverse("wagtail_coaching_admin:rule_dry_run", args=[w.rule_b.pk])
    assert as_user(client, w.coach_a).get(url).status_code == 404
    assert as_user(client, w.sales).get(url).status_code == 404
