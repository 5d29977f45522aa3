"""Stage hand-offs fire however the client reaches a stage led by another role (a completed
step, the unlock job, a coach opening a step by hand, enrollment, a program update), exactly
once, whatever the engagement's coach assignment policy; and an engagement that would leave
its clients with no coach says so (on publish, on the admin's home page, on the card)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Site
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from wagtail_coaching.journeys import (
    assign_coach,
    complete_activity,
    enroll,
    sync_engagement,
    unlock_activity,
    unlock_due_activities,
)
from wagtail_coaching.journeys.co_coaching import add_co_coach
from wagtail_coaching.models import (
    ActivityState,
    AssignmentMethod,
    ClientActivity,
    CoachAssignment,
    CoachProfile,
    EngagementPage,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Notification,
    Team,
)
from wagtail_coaching.notifications.emails import render_email
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement, publish_program

from .test_admin_clients import as_user, card_url, message_texts
from .world import coach_in, staff


def program(first_lead=""):
    return [
        programs.stage("Start", [
            programs.activity("lesson", "Hello", rule="immediately"),
        ], block_id="start", lead_role=first_lead),
        programs.stage("Deep", [
            programs.activity("lesson", "Deep dive", rule="manual"),
            programs.activity("lesson", "Deep timed", rule="days_after_enrollment", days=30),
        ], block_id="deep", lead_role="lead_coach"),
    ]


class World:
    pass


def build_shared_world():
    w = World()
    w.team = Team.objects.create(name="Hand-off team")
    w.main = coach_in(w.team, "main")
    w.lead = coach_in(w.team, "lead", role="lead_coach")
    w.admin = staff("admin", "admin")
    w.editor = UserFactory(username="editor", is_superuser=True)  # a coaching admin too
    w.pages = {
        policy: make_engagement(
            program=program(), title=f"Deep {policy}", slug=f"deep-{policy}", team=w.team,
            assignment_policy=policy,
        )
        for policy in AssignmentMethod.values
    }
    w.led_from_start = make_engagement(
        program=program(first_lead="lead_coach"), title="Led from the start",
        slug="led-from-start", team=w.team, assignment_policy="round_robin",
    )
    w.no_team = make_engagement(program=program(), title="Nobody's engagement",
                                slug="nobodys", assignment_policy="round_robin")
    w.enrollments = {}
    for policy, page in w.pages.items():
        client = staff(f"client_{policy}", "client")
        enrollment = enroll(client, page)
        if policy in (AssignmentMethod.MANUAL, AssignmentMethod.CLIENT_CHOICE):
            assign_coach(enrollment, coach=w.main, method=policy)
        w.enrollments[policy] = enrollment
    w.orphan = enroll(staff("orphan", "client"), w.no_team)
    return w


@pytest.fixture
def w(shared):
    return shared


def step(enrollment, title):
    return enrollment.activities.get(title=title)


def hand_offs(enrollment):
    return JourneyEvent.objects.filter(enrollment=enrollment, kind=EventKind.COACH_HANDOFF)


def stage_coaches(enrollment):
    return list(CoachAssignment.objects.filter(
        enrollment=enrollment, role="lead_coach", ended_at__isnull=True
    ).values_list("coach__username", "stage_block_id"))


def told(kind, since=0):
    """Who was sent ``kind`` (after notification ``since``)."""
    return sorted(Notification.objects.filter(kind=kind, pk__gt=since)
                  .values_list("recipient__username", flat=True))


def last_notification():
    return Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def run_unlock_job(enrollment, title):
    """The unlock job opens ``title`` because its time has come."""
    past = timezone.now() - datetime.timedelta(minutes=1)
    ClientActivity.objects.filter(enrollment=enrollment, title=title).update(unlock_at=past)
    unlock_due_activities()


# -- Opening a step by hand ----------------------------------------------------------------------

def test_a_coach_opening_a_step_by_hand_hands_off(client, w):
    e = w.enrollments["round_robin"]
    assert stage_coaches(e) == []
    since = last_notification()
    response = as_user(client, w.main).post(
        card_url(e, "unlock_activity"), {"activity": step(e, "Deep dive").public_id}
    )
    assert response.status_code == 302
    assert step(e, "Deep dive").state == ActivityState.AVAILABLE
    assert stage_coaches(e) == [("lead", "deep")]
    assert hand_offs(e).count() == 1
    assert told("coach_handoff", since) == ["main"]
    assert told("coach_new_client", since) == ["lead"]
    # The client keeps their coach.
    assert CoachAssignment.objects.get(enrollment=e, role="coach", ended_at__isnull=True
                                       ).coach == w.main


def test_automation_opening_a_step_hands_off_too(w):
    # Rules open steps through the same service (automation.engine.unlock_activity).
    e = w.enrollments["least_loaded"]
    unlock_activity(step(e, "Deep dive"))
    assert stage_coaches(e) == [("lead", "deep")] and hand_offs(e).count() == 1


# -- Exactly once, whichever paths open the stage ------------------------------------------------

def test_by_hand_then_by_the_job_hands_off_once(w):
    e = w.enrollments["round_robin"]
    since = last_notification()
    unlock_activity(step(e, "Deep dive"), actor=w.main)
    run_unlock_job(e, "Deep timed")
    assert step(e, "Deep timed").state == ActivityState.AVAILABLE
    assert hand_offs(e).count() == 1 and len(stage_coaches(e)) == 1
    assert told("coach_handoff", since) == ["main"]
    assert told("coach_new_client", since) == ["lead"]


def test_by_the_job_then_by_hand_hands_off_once(w):
    e = w.enrollments["round_robin"]
    run_unlock_job(e, "Deep timed")
    assert stage_coaches(e) == [("lead", "deep")]
    unlock_activity(step(e, "Deep dive"), actor=w.main)
    complete_activity(step(e, "Deep dive"), actor=e.client)
    assert hand_offs(e).count() == 1
    assert told("coach_handoff") == ["main"]


# -- Every policy -------------------------------------------------------------------------------

def test_manual_policy_asks_the_coaching_admins_once(w):
    e = w.enrollments["manual"]
    unlock_activity(step(e, "Deep dive"), actor=w.main)
    run_unlock_job(e, "Deep timed")
    assert stage_coaches(e) == []  # nobody is picked by the package on a manual engagement
    events = JourneyEvent.objects.filter(enrollment=e, kind=EventKind.STAGE_NEEDS_COACH)
    assert [ev.data["stage"] for ev in events] == ["deep"]
    assert told("stage_needs_coach") == ["admin", "editor"]
    subject, text, _html = render_email(Notification.objects.filter(
        kind="stage_needs_coach").first())
    assert 'Stage "Deep" needs a coach' in subject
    assert 'reached the stage "Deep" of Deep manual' in text
    assert reverse("wagtail_coaching_admin:client_card", args=[e.public_id]) in text


def test_the_card_timeline_says_the_stage_needs_a_coach(client, w):
    e = w.enrollments["manual"]
    unlock_activity(step(e, "Deep dive"), actor=w.main)
    html = as_user(client, w.admin).get(card_url(e)).content.decode()
    assert "A stage needs a coach: Deep" in html
    # Staff business: the client's own timeline leaves it out.
    client.force_login(e.client)
    dashboard = client.get(reverse("wagtail_coaching:dashboard")).content.decode()
    assert "needs a coach" not in dashboard


def test_a_co_coach_for_the_stage_answers_it(w):
    e = w.enrollments["manual"]
    add_co_coach(e, w.lead, stage_block_id="deep", actor=w.admin)
    unlock_activity(step(e, "Deep dive"), actor=w.main)
    assert told("stage_needs_coach") == []
    assert not JourneyEvent.objects.filter(enrollment=e, kind=EventKind.STAGE_NEEDS_COACH)


def test_clients_choice_falls_back_to_the_least_loaded_coach_of_the_role(w):
    e = w.enrollments["client_choice"]
    complete_activity(step(e, "Hello"), actor=e.client)  # nothing of "Deep" opens yet
    assert stage_coaches(e) == []
    unlock_activity(step(e, "Deep dive"), actor=w.main)
    assignment = CoachAssignment.objects.get(enrollment=e, role="lead_coach")
    assert assignment.coach == w.lead and assignment.method == AssignmentMethod.LEAST_LOADED
    assert hand_offs(e).count() == 1


def test_nobody_with_room_asks_the_admins_instead(w):
    CoachProfile.objects.filter(user=w.lead).update(max_clients=0)
    e = w.enrollments["round_robin"]
    unlock_activity(step(e, "Deep dive"), actor=w.main)
    assert stage_coaches(e) == [] and hand_offs(e).count() == 0
    assert told("stage_needs_coach") == ["admin", "editor"]


# -- Enrollment and program updates --------------------------------------------------------------

def test_enrolling_into_a_led_first_stage_hands_off_at_once(w):
    e = enroll(staff("early", "client"), w.led_from_start)
    assert stage_coaches(e) == [("lead", "start")]
    assert CoachAssignment.objects.filter(enrollment=e, role="coach").count() == 1
    assert hand_offs(e).count() == 1


def test_a_program_update_that_opens_a_led_stage_hands_off(w):
    page = w.pages["least_loaded"]
    e = w.enrollments["least_loaded"]
    new_program = program()
    new_program.insert(1, programs.stage("Bonus", [
        programs.activity("lesson", "Bonus now", rule="immediately"),
    ], block_id="bonus", lead_role="lead_coach"))
    publish_program(EngagementPage.objects.get(pk=page.pk), new_program)
    sync_engagement(page.pk)
    assert step(e, "Bonus now").state == ActivityState.AVAILABLE
    assert stage_coaches(e) == [("lead", "bonus")] and hand_offs(e).count() == 1


# -- An engagement with no coach says so -------------------------------------------------------

def engagement_form(team=""):
    return nested_form_data({
        "title": "Fresh engagement", "slug": "fresh", "summary": "",
        "intro": rich_text("<p>New.</p>"), "program": streamfield([]), "team": team,
        "assignment_policy": "round_robin", "capacity": "", "action-publish": "publish",
    })


def add_url():
    root = Site.objects.get(is_default_site=True).root_page
    return reverse("wagtailadmin_pages:add",
                   args=["wagtail_coaching", "engagementpage", root.pk])


def test_publishing_an_engagement_with_no_team_warns(client, w):
    response = as_user(client, w.editor).post(add_url(), engagement_form())
    assert response.status_code == 302
    assert EngagementPage.objects.get(slug="fresh").live  # published all the same
    assert any("has no team" in m for m in message_texts(response))


def test_publishing_with_a_team_of_coaches_does_not_warn(client, w):
    response = as_user(client, w.editor).post(add_url(), engagement_form(w.team.pk))
    assert response.status_code == 302
    assert not any("coach" in m for m in message_texts(response))


def test_publishing_with_a_team_without_coaches_warns(client, w):
    empty = Team.objects.create(name="Empty team")
    response = as_user(client, w.editor).post(add_url(), engagement_form(empty.pk))
    assert any("has no active coach" in m for m in message_texts(response))


def test_publishing_with_a_stage_role_nobody_holds_warns(w):
    from wagtail_coaching.journeys.staffing import staffing_problems

    page = w.pages["round_robin"]
    assert staffing_problems(page) == []
    w.lead.coaching_memberships.update(active=False)
    assert [p for p in staffing_problems(page) if "Lead coach" in p or "lead_coach" in p]


def home(client, user):
    as_user(client, user)
    response = client.get(reverse("wagtailadmin_home"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_admin_home_lists_engagements_with_clients_and_no_coach(client, w):
    html = home(client, w.admin)
    assert "Clients with no coach" in html
    panel = html[html.index("coaching-waiting-for-coaches"):]
    panel = panel[:panel.index("</table>")]
    assert "Nobody&#x27;s engagement" in panel or "Nobody's engagement" in panel
    assert "No team" in panel
    # Engagements whose clients all have a coach are not listed.
    assert "Deep manual" not in panel and "Deep round_robin" not in panel
    # A client of a manual engagement still waiting for their coach is.
    enroll(staff("waiting", "client"), w.pages["manual"])
    assert "Deep manual" in home(client, w.admin)


def test_coaches_do_not_get_the_panel(client, w):
    assert "Clients with no coach" not in home(client, w.main)


def test_no_panel_when_every_client_has_a_coach(client, w):
    Enrollment.objects.filter(pk=w.orphan.pk).update(status=EnrollmentStatus.COMPLETED)
    assert "Clients with no coach" not in home(client, w.admin)


def test_the_panel_costs_the_same_with_more_engagements(client, w):
    home(client, w.admin)
    with CaptureQueriesContext(connection) as few:
        home(client, w.admin)
    for n in range(3):
        page = make_engagement(program=program(), title=f"Empty {n}", slug=f"empty-{n}")
        enroll(staff(f"lonely_{n}", "client"), page)
    with CaptureQueriesContext(connection) as more:
        html = home(client, w.admin)
    assert "Empty 2" in html
    assert len(more) <= len(few)


def test_the_card_says_no_coach_yet(client, w):
    html = as_user(client, w.admin).get(card_url(w.orphan)).content.decode()
    assert "No coach yet." in html
    assert "This engagement has no team" in html
