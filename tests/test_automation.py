"""Automation rules: triggers, conditions, actions, once per occurrence, the timeline,
time-based rules in batches, the dry run and the built-in rules."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wagtail_coaching.automation.dispatch import dispatch_events
from wagtail_coaching.automation.timed import due_now, evaluate_timed_rules
from wagtail_coaching.journeys import (
    assign_coach,
    complete_activity,
    enroll,
    enroll_many,
    pause_enrollment,
)
from wagtail_coaching.metrics import at_risk, is_at_risk
from wagtail_coaching.models import (
    ActivityState,
    AssignmentMethod,
    AutomationRule,
    CoachAssignment,
    Cohort,
    Enrollment,
    EventKind,
    JourneyEvent,
    Notification,
    RuleFiring,
    Trigger,
)
from wagtail_coaching.scheduling import (
    book_session,
    mark_attendance,
    publish_availability,
    register,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement

from .world import build_world, coach_in
from .world_sessions import ONE_TO_ONE, in_days

BUILTIN_KEYS = {
    "welcome", "session-reminder-24h", "session-reminder-1h", "session-follow-up", "at-risk",
    "back-on-track", "renewal-review",
}


def build_shared_world():
    world = build_world()
    dispatch_events()  # the world's own history is not what these tests are about
    return world


@pytest.fixture
def world(shared):
    return shared


@pytest.fixture
def quiet(db):
    """Only the rules a test makes are active."""
    AutomationRule.objects.update(active=False)


def notify(recipient="client", template="custom", channel="email", subject="Hi {{ client_name }}",
           body="About {{ engagement_title }}"):
    return {"type": "notify", "value": {"recipient": recipient, "channel": channel,
                                        "template": template, "subject": subject, "body": body}}


def make_rule(trigger, actions, **kw):
    return AutomationRule.objects.create(
        name=kw.pop("name", f"Rule {trigger}"), trigger=trigger, actions=actions,
        active_since=kw.pop("active_since", timezone.now() - timedelta(days=365)), **kw
    )


def sent(kind="rule_message", **filters):
    return list(Notification.objects.filter(kind=kind, **filters).order_by("pk"))


# -- Event triggers --------------------------------------------------------------------------

def test_an_enrollment_fires_a_rule_once_and_the_timeline_says_so(world, quiet):
    rule = make_rule(Trigger.ENROLLED, [notify()])
    newcomer = UserFactory(username="newcomer", first_name="Nia")
    enrollment = enroll(newcomer, world.engagement_a)
    handled, fired = dispatch_events()
    assert fired == 1
    assert dispatch_events() == (0, 0)  # nothing left
    (message,) = sent()
    assert message.recipient == newcomer
    assert message.payload["subject"] == "Hi Nia Smith" or message.payload["subject"].startswith(
        "Hi Nia"
    )
    assert message.payload["body"] == "About Engagement A"
    event = JourneyEvent.objects.get(enrollment=enrollment, kind=EventKind.RULE_FIRED)
    assert event.data["rule"] == rule.pk and event.data["name"] == rule.name
    assert RuleFiring.objects.filter(rule=rule, enrollment=enrollment).count() == 1


def test_a_rule_fires_once_per_occurrence_even_if_events_are_seen_again(world, quiet):
    rule = make_rule(Trigger.ENROLLED, [notify()])
    enrollment = enroll(UserFactory(), world.engagement_a)
    dispatch_events()
    # As if a second dispatcher had read the same event.
    JourneyEvent.objects.filter(enrollment=enrollment).update(rules_done=False)
    dispatch_events()
    assert RuleFiring.objects.filter(rule=rule).count() == 1
    assert len(sent()) == 1


def test_paused_rules_do_nothing(world, quiet):
    rule = make_rule(Trigger.ENROLLED, [notify()], active=False)
    enroll(UserFactory(), world.engagement_a)
    dispatch_events()
    assert sent() == [] and not rule.firings.exists()


def test_activity_completed_for_one_activity(world, quiet):
    welcome = world.enrollment_a1.activities.get(title="Welcome")
    rule = make_rule(Trigger.ACTIVITY_COMPLETED, [notify()], activity_block_id=welcome.block_id)
    complete_activity(welcome)
    complete_activity(world.enrollment_a1.activities.get(title="How are you?"), score=3)
    dispatch_events()
    assert [f.enrollment_id for f in rule.firings.all()] == [world.enrollment_a1.pk]


@pytest.mark.parametrize("trigger, threshold, score, fires", [
    (Trigger.CHECK_IN_ABOVE, 7, 8, True),
    (Trigger.CHECK_IN_ABOVE, 7, 7, False),
    (Trigger.CHECK_IN_BELOW, 3, 2, True),
    (Trigger.CHECK_IN_BELOW, 3, 3, False),
])
def test_check_in_thresholds(world, quiet, trigger, threshold, score, fires):
    make_rule(trigger, [notify()], threshold=threshold)
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"))
    complete_activity(world.enrollment_a1.activities.get(title="How are you?"), score=score)
    dispatch_events()
    assert len(sent()) == (1 if fires else 0)


def test_a_form_answered_with_a_given_value(world, quiet):
    page = make_engagement(program=[programs.stage("Intake", [
        programs.activity("form", "Intake", rule="immediately", questions=[
            programs.question("Do you manage people?", kind="yes_no"),
        ]),
    ])], title="Intake", slug="intake")
    make_rule(Trigger.FORM_ANSWER, [notify()], question="do you manage people?", value="Yes")
    yes, no = (enroll(UserFactory(username=u), page) for u in ("manager", "solo"))
    for enrollment, answer in ((yes, "yes"), (no, "no")):
        complete_activity(enrollment.activities.get(), response={"answers": [
            {"question": "Do you manage people?", "kind": "yes_no", "answer": answer}
        ]})
    dispatch_events()
    assert [m.recipient.username for m in sent()] == ["manager"]


def test_conditions_engagement_company_tag_and_stage(world, quiet):
    make_rule(Trigger.ACTIVITY_COMPLETED, [notify()], engagement=world.engagement_a,
              company=world.acme, tag="vip")
    world.enrollment_a1.tags.add("VIP")
    for enrollment in (world.enrollment_a1, world.enrollment_a2, world.enrollment_b1):
        complete_activity(enrollment.activities.get(title="Welcome"))
    dispatch_events()
    assert [m.recipient for m in sent()] == [world.client_a1]


def test_a_stage_condition_looks_at_the_step_completed(world, quiet):
    welcome = world.enrollment_a1.activities.get(title="Welcome")
    make_rule(Trigger.ACTIVITY_COMPLETED, [notify()], stage_block_id=welcome.stage_block_id)
    make_rule(Trigger.ACTIVITY_COMPLETED, [notify(subject="other")], stage_block_id="elsewhere")
    complete_activity(welcome)
    dispatch_events()
    assert [m.payload["subject"] for m in sent()] == ["Hi Ada Acme"]


def test_sessions_attended_and_missed(world, quiet):
    attended = make_rule(Trigger.SESSION_ATTENDED, [notify(subject="thanks")])
    missed = make_rule(Trigger.SESSION_MISSED, [notify(subject="missed you")])
    from wagtail_coaching.models import Audience
    from wagtail_coaching.scheduling import SessionPlan, create_sessions

    (session,) = create_sessions(SessionPlan(
        title="Circle", coach=world.coach_a, starts_at=in_days(1), duration=timedelta(hours=1),
        audience=Audience.ENGAGEMENT, engagement=world.engagement_a), [in_days(1)], invite=False)
    register(session, world.client_a1)
    register(session, world.client_a2)
    mark_attendance(session, {world.client_a1.pk: "attended", world.client_a2.pk: "no_show"},
                    now=session.starts_at + timedelta(hours=2))
    dispatch_events()
    assert [f.enrollment_id for f in attended.firings.all()] == [world.enrollment_a1.pk]
    assert [f.enrollment_id for f in missed.firings.all()] == [world.enrollment_a2.pk]


def test_a_failed_payment(world, quiet):
    rule = make_rule(Trigger.PAYMENT_FAILED, [notify(template="payment_problem")])
    JourneyEvent.objects.create(enrollment=world.enrollment_a1, kind=EventKind.PAYMENT_FAILED,
                                at=timezone.now(), data={"invoice": "in_1"})
    dispatch_events()
    assert rule.firings.count() == 1
    assert sent("payment_problem")[0].recipient == world.client_a1


# -- Actions ---------------------------------------------------------------------------------

def test_notify_the_coach_the_admins_and_in_the_app(world, quiet):
    make_rule(Trigger.ACTIVITY_COMPLETED, [
        notify("coach", channel="both"), notify("admins", subject="admins"),
    ])
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"))
    dispatch_events()
    by = {(m.recipient.username, m.channel) for m in sent()}
    assert by == {("coach_a", "email"), ("coach_a", "in_app"), ("admin", "email")}


def test_open_an_activity_and_the_next_of_a_type(world, quiet):
    later = world.enrollment_a1.activities.get(title="Later")
    make_rule(Trigger.ACTIVITY_COMPLETED, [
        {"type": "unlock_activity", "value": {"activity_block_id": later.block_id}},
    ], activity_block_id=world.enrollment_a1.activities.get(title="Welcome").block_id)
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"))
    dispatch_events()
    later.refresh_from_db()
    assert later.state == ActivityState.AVAILABLE


def test_add_an_extra_activity_from_a_template(world, quiet):
    lesson = programs.activity("lesson", "Resources for managers", rule="immediately")
    make_rule(Trigger.ENROLLED, [{"type": "add_activity", "value": {
        "activity": [{"type": "lesson", "value": lesson["value"]}], "stage_block_id": "",
    }}])
    enrollment = enroll(UserFactory(), world.engagement_a)
    dispatch_events()
    extra = enrollment.activities.get(title="Resources for managers")
    assert extra.source == "extra" and extra.state == ActivityState.AVAILABLE


def test_assign_and_hand_off(world, quiet):
    world.engagement_a.assignment_policy = AssignmentMethod.ROUND_ROBIN
    world.engagement_a.save()
    specialist = coach_in(world.team_a, "spec", role="specialist")
    make_rule(Trigger.ACTIVITY_COMPLETED, [
        {"type": "assign_coach", "value": {"role": "", "hand_off": False}},
        {"type": "assign_coach", "value": {"role": "specialist", "hand_off": True}},
    ])
    complete_activity(world.enrollment_a2.activities.get(title="Welcome"))
    dispatch_events()
    roles = dict(CoachAssignment.objects.filter(
        enrollment=world.enrollment_a2, ended_at=None).values_list("role", "coach"))
    assert roles["specialist"] == specialist.pk and "coach" in roles
    assert JourneyEvent.objects.filter(enrollment=world.enrollment_a2,
                                       kind=EventKind.COACH_HANDOFF).exists()


def test_flag_and_clear_at_risk(world, quiet):
    make_rule(Trigger.SESSION_MISSED, [{"type": "flag_at_risk", "value": {"reason": "Missed"}}])
    make_rule(Trigger.ACTIVITY_COMPLETED, [{"type": "clear_at_risk", "value": None}])
    JourneyEvent.objects.create(enrollment=world.enrollment_a1, kind=EventKind.SESSION_MISSED,
                                at=timezone.now())
    dispatch_events()
    world.enrollment_a1.refresh_from_db()
    assert world.enrollment_a1.at_risk_reason == "Missed" and world.enrollment_a1.is_at_risk
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"))
    dispatch_events()
    world.enrollment_a1.refresh_from_db()
    assert not world.enrollment_a1.is_at_risk
    kinds = list(JourneyEvent.objects.filter(
        enrollment=world.enrollment_a1, kind__in=[EventKind.AT_RISK, EventKind.BACK_ON_TRACK]
    ).order_by("pk").values_list("kind", flat=True))
    assert kinds == [EventKind.AT_RISK, EventKind.BACK_ON_TRACK]


def test_enroll_in_a_follow_up_engagement(world, quiet):
    follow_up = make_engagement(title="Next steps", slug="next-steps")
    rule = make_rule(Trigger.ACTIVITY_COMPLETED, [{"type": "enroll", "value": {
        "engagement": follow_up.pk}}])
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"))
    complete_activity(world.enrollment_a1.activities.get(title="How are you?"), score=5)
    dispatch_events()
    # Two completions, two occurrences: the second finds the client already enrolled.
    assert Enrollment.objects.filter(client=world.client_a1, engagement=follow_up).count() == 1
    results = [e.data["results"] for e in JourneyEvent.objects.filter(
        enrollment=world.enrollment_a1, kind=EventKind.RULE_FIRED, data__rule=rule.pk
    ).order_by("pk")]
    assert results[0] == ["enrolled in Next steps"]
    assert results[1][0].startswith("skipped:")


def test_one_closed_journey_does_not_stop_the_rule_for_the_others(world, quiet):
    later_a1 = world.enrollment_a1.activities.get(title="Later")
    make_rule(Trigger.NO_ACTIVITY, [
        {"type": "unlock_activity", "value": {"activity_block_id": later_a1.block_id}},
        notify(),
    ], days=1)
    pause_enrollment(world.enrollment_a2)  # paused: still open, but unlocking refuses
    now = timezone.now() + timedelta(days=3)
    evaluate_timed_rules(now=now)
    later_a1.refresh_from_db()
    assert later_a1.state == ActivityState.AVAILABLE
    assert {m.recipient for m in sent()} >= {world.client_a1}


# -- Time-based rules --------------------------------------------------------------------------

def test_days_after_enrollment_fire_once_when_due(world, quiet):
    rule = make_rule(Trigger.ENROLLMENT_DAYS, [notify()], days=3)
    assert evaluate_timed_rules() == {rule.pk: 0}
    later = timezone.now() + timedelta(days=3, minutes=1)
    assert evaluate_timed_rules(now=later) == {rule.pk: 3}
    assert evaluate_timed_rules(now=later) == {rule.pk: 0}


def test_a_new_rule_does_not_fire_for_what_came_due_before_it(world, quiet):
    rule = make_rule(Trigger.ENROLLMENT_DAYS, [notify()], days=3,
                     active_since=timezone.now() + timedelta(days=10))
    assert evaluate_timed_rules(now=timezone.now() + timedelta(days=5)) == {rule.pk: 0}


def test_days_after_the_cohort_starts(world, quiet):
    cohort = Cohort.objects.get(name="Acme spring")
    newcomer = UserFactory(username="cohorty")
    enroll(newcomer, world.engagement_a, cohort=cohort)
    rule = make_rule(Trigger.COHORT_DAYS, [notify()], days=2)
    assert evaluate_timed_rules() == {rule.pk: 0}
    assert evaluate_timed_rules(now=timezone.now() + timedelta(days=2, hours=1)) == {rule.pk: 1}


def test_days_before_access_ends_and_again_after_an_extension(world, quiet):
    rule = make_rule(Trigger.ACCESS_END_DAYS, [notify()], days=14)
    ends = timezone.now() + timedelta(days=20)
    Enrollment.objects.filter(pk=world.enrollment_a1.pk).update(ends_at=ends)
    assert evaluate_timed_rules() == {rule.pk: 0}
    assert evaluate_timed_rules(now=ends - timedelta(days=13)) == {rule.pk: 1}
    assert evaluate_timed_rules(now=ends - timedelta(days=12)) == {rule.pk: 0}
    Enrollment.objects.filter(pk=world.enrollment_a1.pk).update(ends_at=ends + timedelta(days=30))
    assert evaluate_timed_rules(now=ends + timedelta(days=17)) == {rule.pk: 1}


def test_no_activity_for_n_days_fires_once_per_quiet_spell(world, quiet):
    rule = make_rule(Trigger.NO_ACTIVITY, [notify()], days=5)
    assert evaluate_timed_rules() == {rule.pk: 0}
    later = timezone.now() + timedelta(days=6)
    assert evaluate_timed_rules(now=later) == {rule.pk: 3}
    assert evaluate_timed_rules(now=later + timedelta(days=1)) == {rule.pk: 0}
    # The client comes back, then goes quiet again.
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"), now=later)
    assert evaluate_timed_rules(now=later + timedelta(days=6)) == {rule.pk: 1}


def test_session_reminders(world, quiet):
    reminder = make_rule(Trigger.SESSION_UPCOMING, [notify(template="session_reminder")],
                         hours=24)
    from wagtail_coaching.models import Audience
    from wagtail_coaching.scheduling import SessionPlan, create_sessions

    start = timezone.now() + timedelta(hours=30)
    # Led by another coach: coach_a cannot hold a group session and a 1:1 at once.
    (session,) = create_sessions(SessionPlan(
        title="Circle", coach=world.coach_a2, starts_at=start, duration=timedelta(hours=1),
        audience=Audience.ENGAGEMENT, engagement=world.engagement_a), [start], invite=False)
    register(session, world.client_a1)
    publish_availability(world.coach_a, start=start, end=start + timedelta(hours=1),
                         slot_minutes=60)
    step = __import__("wagtail_coaching.journeys", fromlist=["add_extra_activity"]) \
        .add_extra_activity(world.enrollment_a1, "one_to_one", ONE_TO_ONE)
    book_session(step, start)
    assert evaluate_timed_rules() == {reminder.pk: 0}  # 30 hours ahead
    in_window = start - timedelta(hours=23)
    assert evaluate_timed_rules(now=in_window) == {reminder.pk: 2}
    assert evaluate_timed_rules(now=in_window) == {reminder.pk: 0}
    assert {m.recipient for m in sent("session_reminder")} == {world.client_a1}
    assert len(sent("session_reminder")) == 2  # the group seat and the 1:1


def test_at_risk_by_metrics(world, quiet):
    rule = make_rule(Trigger.AT_RISK, [{"type": "flag_at_risk", "value": {"reason": ""}}])
    now = timezone.now()
    assert not at_risk(now).exists()
    later = now + timedelta(days=11)
    assert set(at_risk(later).values_list("pk", flat=True)) == {
        world.enrollment_a1.pk, world.enrollment_a2.pk, world.enrollment_b1.pk
    }
    assert evaluate_timed_rules(now=later) == {rule.pk: 3}
    world.enrollment_a1.refresh_from_db()
    assert world.enrollment_a1.at_risk_reason.startswith("No activity for 11 days")
    # Flagged clients are not flagged again.
    assert evaluate_timed_rules(now=later) == {rule.pk: 0}


def test_two_missed_sessions_in_a_row_is_at_risk(world):
    e = world.enrollment_a1
    now = timezone.now()
    for days, kind in ((3, EventKind.SESSION_MISSED), (2, EventKind.SESSION_ATTENDED),
                       (1, EventKind.SESSION_MISSED)):
        JourneyEvent.objects.create(enrollment=e, kind=kind, at=now - timedelta(days=days))
    assert not is_at_risk(e, now)
    JourneyEvent.objects.create(enrollment=e, kind=EventKind.SESSION_MISSED, at=now)
    assert is_at_risk(e, now)


def test_time_based_rules_cost_a_fixed_number_of_queries_per_batch(world, quiet):
    page = make_engagement(title="Scale", slug="scale")
    people = [UserFactory(username=f"scale{i}") for i in range(60)]
    enroll_many(people, page, starts_at=timezone.now() - timedelta(days=1))
    rule = make_rule(Trigger.ENROLLMENT_DAYS, [
        notify(), {"type": "flag_at_risk", "value": {"reason": "x"}},
    ], days=0, engagement=page)
    with CaptureQueriesContext(connection) as q20:
        evaluate_timed_rules(batch_size=20)
    assert rule.firings.count() == 60
    RuleFiring.objects.all().delete()
    Enrollment.objects.update(at_risk_since=None)
    with CaptureQueriesContext(connection) as q10:
        evaluate_timed_rules(batch_size=10)
    per_batch = (len(q10) - len(q20)) / 3  # 6 batches instead of 3
    assert per_batch == int(per_batch), (len(q10), len(q20))
    assert per_batch <= 25


# -- Dry run -----------------------------------------------------------------------------------

def test_a_dry_run_lists_and_fires_nothing(world, quiet):
    rule = make_rule(Trigger.NO_ACTIVITY, [notify()], days=0, engagement=world.engagement_a)
    listed = due_now(rule, now=timezone.now() + timedelta(hours=1))
    assert {e.pk for e in listed} == {world.enrollment_a1.pk, world.enrollment_a2.pk}
    assert not rule.firings.exists() and sent() == []
    event_rule = make_rule(Trigger.ENROLLED, [notify()], company=world.globex)
    assert [e.pk for e in due_now(event_rule)] == [world.enrollment_b1.pk]


# -- Built-in rules ----------------------------------------------------------------------------

def test_the_built_in_rules_ship_enabled(db):
    rules = {r.key: r for r in AutomationRule.objects.filter(key__isnull=False)}
    assert set(rules) == BUILTIN_KEYS
    assert all(r.active for r in rules.values())
    assert rules["renewal-review"].days == 14
    assert {rules["session-reminder-24h"].hours, rules["session-reminder-1h"].hours} == {24, 1}


def test_the_welcome_rule_greets_new_clients_once(world):
    newcomer = UserFactory(username="hello")
    enrollment = enroll(newcomer, world.engagement_a)
    dispatch_events()
    dispatch_events()
    welcomes = Notification.objects.filter(recipient=newcomer, kind="welcome")
    assert sorted(welcomes.values_list("channel", flat=True)) == ["email", "in_app"]
    assert welcomes.first().payload["engagement_title"] == "Engagement A"
    # Paused, it says nothing.
    AutomationRule.objects.filter(key="welcome").update(active=False)
    enroll(UserFactory(username="quiet"), world.engagement_b)
    dispatch_events()
    assert not Notification.objects.filter(recipient__username="quiet", kind="welcome").exists()
    assert enrollment.pk


def test_after_a_session_the_next_practice_opens(world):
    page = make_engagement(program=[programs.stage("Work", [
        programs.activity("group_session", "Circle", rule="immediately"),
        programs.activity("practice", "Practise it", rule="manual"),
    ])], title="Circle work", slug="circle-work", team=world.team_a)
    enrollment = enroll(world.client_a1, page)
    from wagtail_coaching.models import Audience
    from wagtail_coaching.scheduling import SessionPlan, create_sessions

    (session,) = create_sessions(SessionPlan(
        title="Circle", coach=world.coach_a, starts_at=in_days(1), duration=timedelta(hours=1),
        audience=Audience.ENGAGEMENT, engagement=page), [in_days(1)], invite=False)
    register(session, world.client_a1)
    mark_attendance(session, {world.client_a1.pk: "attended"},
                    now=session.starts_at + timedelta(hours=2))
    dispatch_events()
    assert enrollment.activities.get(title="Practise it").state == ActivityState.AVAILABLE
    # The coach's after-session message is the one message about a session: the built-in
    # rule sends no generic note of its own.
    assert not Notification.objects.filter(recipient=world.client_a1,
                                           kind="session_follow_up").exists()


def test_coach_assignment_stays_when_assigning_again(world, quiet):
    make_rule(Trigger.ACTIVITY_COMPLETED, [{"type": "assign_coach", "value": {"role": ""}}])
    assign_coach(world.enrollment_a2, coach=world.coach_a2)
    complete_activity(world.enrollment_a2.activities.get(title="Welcome"))
    dispatch_events()
    assert list(CoachAssignment.objects.filter(
        enrollment=world.enrollment_a2, ended_at=None).values_list("coach", flat=True)) == [
        world.coach_a2.pk
    ]


def test_the_client_card_shows_the_at_risk_flag(world, quiet, client):
    from django.urls import reverse

    make_rule(Trigger.SESSION_MISSED, [{"type": "flag_at_risk", "value": {"reason": "Missed"}}])
    JourneyEvent.objects.create(enrollment=world.enrollment_a1, kind=EventKind.SESSION_MISSED,
                                at=timezone.now())
    dispatch_events()
    client.force_login(world.coach_a)
    url = reverse("wagtail_coaching_admin:client_card", args=[world.enrollment_a1.public_id])
    html = client.get(url).content.decode()
    assert "At risk since" in html and "Missed" in html
