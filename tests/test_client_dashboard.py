"""The client dashboard: journeys, progress, what comes next, recent events, empty state."""

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from wagtail.users.models import UserProfile

from wagtail_coaching.journeys import complete_activity, enroll
from wagtail_coaching.models import ActivityState, EnrollmentStatus, JourneyEvent
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.programs import activity, sized_program, stage

from .text import mentions

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("wagtail_coaching:dashboard")


def dashboard(client, user):
    client.force_login(user)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    return response.content.decode()


def set_time_zone(user, name):
    profile, _ = UserProfile.objects.get_or_create(user=user)
    profile.current_time_zone = name
    profile.save()


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert "coaching" in response["Location"]


def test_empty_state_invites_to_browse(client, client_user):
    make_engagement(title="Resilient Teams", summary="Stay steady")
    html = dashboard(client, client_user)
    assert "not enrolled in an engagement yet" in html
    assert "Resilient Teams" in html
    assert "Stay steady" in html
    assert "Browse engagements" in html
    assert "Recent activity" not in html


def test_journey_shows_progress_stages_and_next_step(client, client_user):
    page = make_engagement(program=sized_program(2, 3), title="Leadership Foundations")
    enrollment = enroll(client_user, page)
    first = enrollment.activities.get(stage_position=0, position=0)
    complete_activity(first, actor=client_user)
    second = enrollment.activities.get(stage_position=0, position=1)

    html = dashboard(client, client_user)

    assert "Leadership Foundations" in html
    # Overall progress: a bar and its text alternative.
    assert re.search(r'<progress class="coaching-progress__bar" max="6" value="1"', html)
    assert "1 of 6 steps done" in html
    assert "(17%)" in html
    # Per-stage progress.
    assert "Stage 1" in html and "Stage 2" in html
    assert "1 of 3 done" in html
    assert "0 of 3 done" in html
    # The next step links to the activity page.
    next_url = reverse("wagtail_coaching:activity", args=[second.public_id])
    assert "Your next step" in html
    assert f'class="coaching-button" href="{next_url}"' in html
    assert "Step 1.2" in html
    # Locked steps say when they open, and are not links.
    assert "Opens when you finish the step before" in html
    third = enrollment.activities.get(stage_position=0, position=2)
    assert reverse("wagtail_coaching:activity", args=[third.public_id]) not in html


def _stages(html):
    """[(stage title, its step titles or None when only summed up, its link)]."""
    found = []
    stage_item = (
        r'<li class="coaching-outline__stage.*?</li>'
        r'\s*(?=<li class="coaching-outline__stage|</ol>\s*$)'
    )
    for item in re.findall(stage_item, html, re.S):
        title = re.search(r'coaching-outline__stage-title">(.*?)<', item).group(1)
        steps = re.findall(r'class="coaching-step__title"[^>]*>(.*?)<', item)
        link = re.search(r'class="coaching-outline__more" href="([^"]+)"', item)
        found.append((title, steps or None, link.group(1) if link else None))
    return found


def outline_of(html):
    (outline,) = re.findall(r'<ol class="coaching-outline[^"]*">.*?\n</ol>', html, re.S)
    return _stages(outline)


def test_only_the_stage_in_progress_lists_its_steps(client, client_user):
    page = make_engagement(program=sized_program(3, 2), title="Three stages")
    enrollment = enroll(client_user, page)
    for position in (0, 1):
        complete_activity(
            enrollment.activities.get(stage_position=0, position=position), actor=client_user
        )
    html = dashboard(client, client_user)
    assert outline_of(html) == [
        ("Stage 1", None, f"{page.url}?stage=1#journey-stage-1"),
        ("Stage 2", ["Step 2.1", "Step 2.2"], None),
        ("Stage 3", None, f"{page.url}?stage=3#journey-stage-3"),
    ]
    # Every stage is summed up, and the whole journey is one link away.
    assert "2 of 2 done" in html and html.count("0 of 2 done") == 2
    assert f'href="{page.url}#my-journey-title"' in html


def test_with_no_step_open_the_first_unfinished_stage_is_listed(client, client_user):
    program = [
        stage("Later", [activity("lesson", "In a week", rule="days_after_enrollment", days=7)]),
        stage("After", [activity("lesson", "Then", rule="after_previous")]),
    ]
    enroll(client_user, make_engagement(program=program))
    stages = outline_of(dashboard(client, client_user))
    assert [(title, steps) for title, steps, _link in stages] == [
        ("Later", ["In a week"]), ("After", None),
    ]


def test_a_finished_journey_sums_up_every_stage(client, client_user):
    page = make_engagement(program=sized_program(2, 1))
    enrollment = enroll(client_user, page)
    for row in enrollment.activities.order_by("stage_position", "position"):
        complete_activity(row, actor=client_user)
    stages = outline_of(dashboard(client, client_user))
    assert [steps for _title, steps, _link in stages] == [None, None]
    assert [link for _title, _steps, link in stages] == [
        f"{page.url}?stage=1#journey-stage-1", f"{page.url}?stage=2#journey-stage-2",
    ]


def test_upcoming_date_is_shown_in_the_clients_time_zone(client, client_user):
    # Opens at midnight London time on 1 March 2030, which is still 28 February in New York.
    program = [stage("Start", [
        activity("lesson", "Welcome", rule="immediately"),
        activity("lesson", "Spring lesson", rule="on_date", date=datetime.date(2030, 3, 1)),
    ])]
    enroll(client_user, make_engagement(program=program))

    html = dashboard(client, client_user)
    assert "Coming up" in html
    assert "Opens on March 1, 2030 at midnight" in html

    set_time_zone(client_user, "America/New_York")
    html = dashboard(client, client_user)
    assert "Opens on Feb. 28, 2030 at 7 p.m." in html
    assert "March 1, 2030" not in html
    assert 'datetime="2030-02-28T19:00:00-05:00"' in html


def test_unknown_time_zone_falls_back_to_the_default(client, client_user):
    program = [stage("Start", [
        activity("lesson", "Welcome", rule="immediately"),
        activity("lesson", "Spring lesson", rule="on_date", date=datetime.date(2030, 3, 1)),
    ])]
    enroll(client_user, make_engagement(program=program))
    set_time_zone(client_user, "Not/AZone")
    assert "Opens on March 1, 2030 at midnight" in dashboard(client, client_user)


def test_manual_steps_say_the_coach_opens_them(client, client_user):
    program = [stage("Start", [
        activity("lesson", "Welcome", rule="immediately"),
        activity("one_to_one", "Kick-off call", rule="manual"),
    ])]
    enroll(client_user, make_engagement(program=program))
    html = dashboard(client, client_user)
    assert "Coming up" in html
    assert "Kick-off call" in html
    assert "Your coach opens this step" in html


def test_recent_activity_lists_the_clients_events(client, client_user):
    page = make_engagement(program=sized_program(1, 3), title="Leadership Foundations")
    enrollment = enroll(client_user, page)
    complete_activity(enrollment.activities.get(position=0), actor=client_user)

    html = dashboard(client, client_user)
    assert "Recent activity" in html
    assert "You joined Leadership Foundations" in html
    assert "You completed “Step 1.1”" in html
    assert "“Step 1.2” opened" in html


def test_recent_activity_leaves_out_the_staffs_events(client, client_user):
    page = make_engagement(program=sized_program(1, 2), title="Leadership Foundations")
    enrollment = enroll(client_user, page)
    coach = UserFactory(first_name="Cora")
    for kind in ("rule_fired", "at_risk", "back_on_track", "note_added"):
        JourneyEvent.objects.create(enrollment=enrollment, kind=kind, actor=coach,
                                    at=timezone.now(), data={})

    html = dashboard(client, client_user)
    assert "You joined Leadership Foundations" in html
    for label in ("Automation rule applied", "Flagged as at risk", "No longer at risk",
                  "Note added"):
        assert label not in html


def test_a_free_order_reads_as_access_not_payment(client, client_user):
    page = make_engagement(title="Stress Reset")
    enrollment = enroll(client_user, page)
    for amount in ("0.00", "490.00"):
        JourneyEvent.objects.create(enrollment=enrollment, kind="paid", at=timezone.now(),
                                    data={"amount": amount, "currency": "eur"})

    html = dashboard(client, client_user)
    assert html.count("You got free access to Stress Reset") == 1
    assert html.count("Payment received") == 1


def test_dashboard_shows_only_the_clients_own_journeys(client, client_user, other_client):
    mine = make_engagement(title="Mine")
    theirs = make_engagement(title="Theirs only")
    enroll(client_user, mine)
    other_enrollment = enroll(other_client, theirs)
    complete_activity(other_enrollment.activities.get(stage_position=0, position=0),
                      actor=other_client)

    html = dashboard(client, client_user)
    assert "Mine" in html
    assert "Theirs only" not in html
    assert not mentions(html, "Olly")
    assert other_client.email not in html


def test_paused_and_completed_engagements_say_so(client, client_user):
    paused = enroll(client_user, make_engagement(title="Paused one"))
    paused.status = EnrollmentStatus.PAUSED
    paused.save()
    done_page = make_engagement(title="Done one", program=[stage("Only", [
        activity("lesson", "Single", rule="immediately"),
    ])])
    done = enroll(client_user, done_page)
    complete_activity(done.activities.get(), actor=client_user)

    html = dashboard(client, client_user)
    assert "This engagement is paused" in html
    assert "You completed this engagement" in html
    assert "You completed Done one" in html


def cancelled_enrollment(user, title):
    enrollment = enroll(user, make_engagement(title=title))
    enrollment.status = EnrollmentStatus.CANCELLED
    enrollment.save()
    return enrollment


def test_cancelled_enrollments_are_not_shown(client, client_user):
    cancelled_enrollment(client_user, "Cancelled one")
    html = dashboard(client, client_user)
    assert "not enrolled in an engagement yet" in html
    assert 'class="coaching-card coaching-journey' not in html
    assert "Your journey" not in html


def test_recent_activity_is_of_the_journeys_shown(client, client_user):
    enroll(client_user, make_engagement(title="Still going"))
    cancelled_enrollment(client_user, "Given up")
    html = dashboard(client, client_user)
    assert "You joined Still going" in html
    assert "Given up" not in html


def test_names_and_titles_are_escaped(client):
    user = UserFactory(username="evil", first_name="<script>alert('name')</script>")
    program = [stage("<script>alert('stage')</script>", [
        activity("lesson", "<script>alert('title')</script>", rule="immediately"),
    ])]
    enroll(user, make_engagement(program=program, title="<b>Bold</b> engagement"))

    html = dashboard(client, user)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;stage&#x27;)&lt;/script&gt;" in html
    assert "<b>Bold</b>" not in html


def _dashboard_queries(client, user):
    client.force_login(user)
    client.get(DASHBOARD)  # warm caches that are filled once per process (site root paths)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(DASHBOARD)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_query_count_does_not_grow_with_enrollments_or_activities(client):
    small = UserFactory(username="small")
    enrollment = enroll(small, make_engagement(program=sized_program(1, 5), title="Small"))
    complete_activity(enrollment.activities.get(position=0), actor=small)

    large = UserFactory(username="large")
    for index in range(5):
        page = make_engagement(program=sized_program(4, 10), title=f"Large {index}")
        enrollment = enroll(large, page)
        complete_activity(enrollment.activities.get(stage_position=0, position=0), actor=large)

    small_count, small_html = _dashboard_queries(client, small)
    large_count, large_html = _dashboard_queries(client, large)

    assert small_html.count('class="coaching-step ') == 5
    # The dashboard lists the steps of each journey's stage in progress (10 each) and sums
    # up the other stages.
    assert large_html.count('class="coaching-step ') == 5 * 10
    assert large_html.count('<li class="coaching-outline__stage') == 5 * 4
    assert small_count == large_count, (small_count, large_count)


def test_query_count_is_small_and_fixed(client, client_user):
    enroll(client_user, make_engagement(program=sized_program(2, 3)))
    count, _ = _dashboard_queries(client, client_user)
    # Session, user, profile, enrollments, steps, coaches, events, registrations,
    # notifications, unread messages, employer sponsors and the site lookup, and the portal
    # header's conversation with the viewer's roles. (The check-in chart is drawn on the
    # engagement page, so its scores are not read here; coach profiles are read only when a
    # journey has coaches; the header reuses the unread notifications counted here.)
    assert count == 14, count


def test_completed_state_of_steps_is_marked(client, client_user):
    page = make_engagement(program=sized_program(1, 3))
    enrollment = enroll(client_user, page)
    complete_activity(enrollment.activities.get(position=0), actor=client_user)
    html = dashboard(client, client_user)
    assert html.count("coaching-step--completed") == 1
    assert html.count("coaching-step--available") == 1
    assert html.count("coaching-step--locked") == 1
    assert enrollment.activities.filter(state=ActivityState.COMPLETED).count() == 1


# -- The greeting ----------------------------------------------------------------------------------

NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


def greeting(html):
    return re.search(r'<p class="coaching-lead">(.*?)</p>', html).group(1)


@time_machine.travel(NOON, tick=False)
def test_a_new_client_is_welcomed_not_welcomed_back(client):
    cara = UserFactory(username="cara", first_name="Cara")
    page = make_engagement(program=sized_program(1, 2), title="Foundations")
    enrollment = enroll(cara, page)
    # Enrolled today, nothing done yet: the first visit.
    assert greeting(dashboard(client, cara)) == "Welcome, Cara."
    # Once a step is done they have been here before.
    complete_activity(enrollment.activities.get(position=0), actor=cara)
    assert greeting(dashboard(client, cara)) == "Welcome back, Cara."


@time_machine.travel(NOON, tick=False)
def test_a_client_enrolled_before_today_is_welcomed_back(client):
    from wagtail_coaching.models import Enrollment

    cara = UserFactory(username="cara", first_name="Cara")
    enrollment = enroll(cara, make_engagement(program=sized_program(1, 2), title="Foundations"))
    Enrollment.objects.filter(pk=enrollment.pk).update(
        created_at=NOON - datetime.timedelta(days=1)
    )
    assert greeting(dashboard(client, cara)) == "Welcome back, Cara."
    # A second engagement today does not make them new.
    enroll(cara, make_engagement(program=sized_program(1, 2), title="Second", slug="second"))
    assert greeting(dashboard(client, cara)) == "Welcome back, Cara."


@time_machine.travel(NOON, tick=False)
def test_without_a_journey_the_account_age_decides(client):
    cara = UserFactory(username="cara", first_name="Cara")
    assert greeting(dashboard(client, cara)) == "Welcome, Cara."
    cara.date_joined = NOON - datetime.timedelta(days=7)
    cara.save()
    assert greeting(dashboard(client, cara)) == "Welcome back, Cara."
