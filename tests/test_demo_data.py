"""The sandbox's demo data: complete, believable, and safe to load twice."""

import datetime
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone
from wagtail.models import Page, Revision, Site

from sandbox.home.demo import LOGINS, PASSWORD
from sandbox.home.models import HomePage
from wagtail_coaching.blocks import ACTIVITY_BLOCKS, UnlockRule
from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.models import (
    ActivityState,
    ClientActivity,
    CoachAssignment,
    CoachProfile,
    Cohort,
    Company,
    EngagementPage,
    Enrollment,
    EnrollmentStatus,
    JourneyEvent,
    Notification,
    SessionNote,
    Team,
)
from wagtail_coaching.permissions import visible

pytestmark = pytest.mark.django_db

COUNTED = [
    get_user_model(), Group, Page, Revision, Site, Company, Cohort, Enrollment, ClientActivity,
    JourneyEvent, Notification, Team, CoachProfile, CoachAssignment, SessionNote,
]


def load_demo():
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def snapshot():
    counts = {model._meta.label: model.objects.count() for model in COUNTED}
    activities = list(
        ClientActivity.objects.order_by("id").values_list(
            "id", "state", "unlock_at", "unlocked_at", "completed_at", "updated_at"
        )
    )
    enrollments = list(Enrollment.objects.order_by("id").values_list("id", "status"))
    users = list(get_user_model().objects.order_by("id").values_list("username", "password"))
    return counts, activities, enrollments, users


def build_shared_world():
    return load_demo()


@pytest.fixture
def demo(shared):
    return shared


def test_loading_twice_changes_nothing(demo):
    before = snapshot()
    output = load_demo()
    assert snapshot() == before
    assert "nothing changed" in output
    assert before[0]["wagtail_coaching.Enrollment"] == 8


def test_logins_are_printed(demo):
    for username, where, _what in LOGINS:
        line = next(line for line in demo.splitlines() if line.strip().startswith(username))
        assert PASSWORD in line and where in line


def test_home_page_is_the_site_root(demo):
    site = Site.objects.get(is_default_site=True)
    assert isinstance(site.root_page.specific, HomePage)
    assert site.root_page.live
    # Wagtail's "Welcome to your new Wagtail site!" page is gone.
    assert not Page.objects.filter(depth=2).exclude(pk=site.root_page.pk).exists()
    titles = set(EngagementPage.objects.child_of(site.root_page).live().values_list(
        "title", flat=True
    ))
    assert titles == {"Leadership Foundations", "Stress Reset"}


def test_leadership_foundations_shows_every_activity_type_and_unlock_rule(demo):
    page = EngagementPage.objects.get(slug="leadership-foundations")
    assert page.live and page.live_revision_id is not None
    stages = page.program.raw_data
    assert len(stages) == 3
    activities = [a for stage in stages for a in stage["value"]["activities"]]
    assert {a["type"] for a in activities} == set(ACTIVITY_BLOCKS)
    rules = {a["value"]["unlock"]["rule"] for a in activities}
    assert {
        UnlockRule.IMMEDIATELY, UnlockRule.AFTER_PREVIOUS, UnlockRule.DAYS_AFTER_ENROLLMENT,
        UnlockRule.DAYS_AFTER_COHORT_START, UnlockRule.MANUAL,
    } <= rules
    intake = next(a for a in activities if a["type"] == "form")
    assert intake["value"]["consent_text"]
    assert len({q["value"]["kind"] for q in intake["value"]["questions"]}) >= 5
    # The stored program is valid for its blocks (what an editor saving it would check).
    page.program.stream_block.clean(page.program)
    assert len(EngagementPage.objects.get(slug="stress-reset").program.raw_data) == 2


def test_role_users_exist_and_can_log_in(demo, client):
    groups = coaching_settings.ROLE_GROUPS
    User = get_user_model()
    expected = {
        "coach": groups["coach"], "sales": groups["sales_manager"], "hr": groups["hr_partner"],
    }
    for username, group in expected.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.has_perm("wagtailadmin.access_admin")
    assert User.objects.get(username="admin").is_superuser
    demo_client = User.objects.get(username="client")
    assert not demo_client.groups.exists()
    assert not demo_client.has_perm("wagtailadmin.access_admin")

    for username, where, _what in LOGINS:
        assert client.login(username=username, password=PASSWORD), username
        assert client.get(where).status_code == 200, (username, where)
        client.logout()


def test_the_acme_cohort_and_journeys_at_different_points(demo):
    cohort = Cohort.objects.get(name="Acme Spring Leaders")
    assert cohort.company.name == "Acme Corp"
    assert cohort.engagement.slug == "leadership-foundations"
    assert cohort.start_date == timezone.localdate() - datetime.timedelta(weeks=3)
    assert cohort.enrollments.count() >= 3

    statuses = set(Enrollment.objects.values_list("status", flat=True))
    assert {EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED, EnrollmentStatus.COMPLETED} <= (
        statuses
    )
    # Someone who has only just started: nothing completed yet.
    assert Enrollment.objects.filter(
        status=EnrollmentStatus.ACTIVE, starts_at__gte=timezone.now() - datetime.timedelta(2)
    ).exclude(activities__state=ActivityState.COMPLETED).exists()

    halfway = Enrollment.objects.get(client__username="client", engagement=cohort.engagement)
    done = halfway.activities.filter(state=ActivityState.COMPLETED)
    assert 0 < done.count() < halfway.activities.count()
    assert done.filter(kind="check_in", score__isnull=False).exists()
    intake = done.get(kind="form")
    assert intake.response["consent"] is True and len(intake.response["answers"]) >= 5
    # The timeline lies in the past, not all at the moment the demo was loaded.
    assert done.filter(completed_at__lt=timezone.now() - datetime.timedelta(days=7)).exists()
    assert halfway.events.order_by("at").first().at < timezone.now() - datetime.timedelta(14)


def test_client_dashboard_renders_for_the_demo_client(demo, client):
    client.force_login(get_user_model().objects.get(username="client"))
    response = client.get("/coaching/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Leadership Foundations" in html
    assert "Stress Reset" in html
    assert "How is it going?" in html  # her next step


def test_the_team_coaches_and_hr_see_what_they_should(demo):
    users = get_user_model().objects.in_bulk(["coach", "nina", "hr", "sales"],
                                             field_name="username")
    team = Team.objects.get()
    assert {m.user.username for m in team.memberships.all()} == {"coach", "nina"}
    assert EngagementPage.objects.filter(team=team).count() == 2
    # Round-robin shared the clients between the two coaches.
    loads = {u: CoachAssignment.objects.filter(coach=users[u], ended_at__isnull=True).count()
             for u in ("coach", "nina")}
    assert all(loads.values()) and abs(loads["coach"] - loads["nina"]) <= 1
    # Acme's HR partner sees the Acme-sponsored enrollments of the two consenting clients
    # (Casey has two), nothing else.
    assert sorted(e.client.username for e in visible(users["hr"], "view_enrollment")) == [
        "client", "client", "priya"
    ]
    assert not visible(users["sales"], "view_enrollment").exists()
    paused = Enrollment.objects.get(status=EnrollmentStatus.PAUSED)
    assert paused.notes.filter(visibility="team").exists()


def test_one_to_one_steps_match_the_sessions_they_used(demo):
    """A step marked done has every session of its allotment held; an open one has some
    left; a locked one has used none: the step page and the allotment never disagree."""
    from wagtail_coaching.scheduling import allotment

    steps = ClientActivity.objects.filter(kind="one_to_one").select_related(
        "enrollment__engagement"
    )
    assert steps.filter(state=ActivityState.COMPLETED).exists()
    for step in steps:
        allot = allotment(step)
        held = step.coaching_sessions.filter(status="completed").count()
        if step.state == ActivityState.COMPLETED:
            assert held == allot.used == allot.total, (step.enrollment.client, step.title)
        elif step.state == ActivityState.AVAILABLE:
            assert allot.used < allot.total, (step.enrollment.client, step.title)
        else:
            assert allot.used == 0, (step.enrollment.client, step.title)


def test_both_coaches_offer_times_in_each_coming_week(demo):
    from wagtail_coaching.models import AvailabilitySlot

    today = timezone.localdate()
    for username in ("coach", "nina"):
        slots = AvailabilitySlot.objects.filter(coach__username=username)
        assert not slots.filter(starts_at__lt=timezone.now()).exists(), username
        for week in range(3):
            start = timezone.make_aware(datetime.datetime.combine(
                today + datetime.timedelta(days=1 + 7 * week), datetime.time(0)))
            assert slots.filter(
                starts_at__gte=start, starts_at__lt=start + datetime.timedelta(days=7)
            ).exists(), (username, week)


def test_the_demo_client_can_book_her_next_kick_off_session(demo, client):
    from wagtail_coaching.scheduling import allotment, bookable_times

    casey = get_user_model().objects.get(username="client")
    kickoff = ClientActivity.objects.get(
        enrollment__client=casey, title="Kick-off sessions with your coach"
    )
    assert kickoff.state == ActivityState.AVAILABLE
    assert (allotment(kickoff).used, allotment(kickoff).total) == (1, 2)
    assert bookable_times(kickoff)
    client.force_login(casey)
    step = client.get(f"/coaching/activity/{kickoff.public_id}/").content.decode()
    assert "marked this step as done" not in step
    html = client.get(f"/coaching/book/{kickoff.public_id}/").content.decode()
    assert "1 of 2 sessions used, 1 left." in html
    assert 'name="starts_at"' in html and "coaching-week__day" in html


def test_availability_is_topped_up_for_the_weeks_ahead(demo):
    from sandbox.home.demo import DemoReport, ensure_availability
    from wagtail_coaching.models import AvailabilitySlot

    coaches = get_user_model().objects.filter(username__in=["coach", "nina"])
    before = AvailabilitySlot.objects.count()
    report = DemoReport()
    ensure_availability(report, *coaches)
    assert AvailabilitySlot.objects.count() == before and not report.created
    # A week later, the week that came into reach is offered too.
    ensure_availability(report, *coaches, today=timezone.localdate() + datetime.timedelta(7))
    assert AvailabilitySlot.objects.count() > before and report.created
