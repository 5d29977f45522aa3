"""The activity page: who may open it, showing its content, completing it."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from wagtail.documents.models import Document
from wagtail.embeds.embeds import get_embed_hash
from wagtail.embeds.models import Embed
from wagtail.users.models import UserProfile

from wagtail_coaching.journeys import add_extra_activity, complete_activity, enroll
from wagtail_coaching.models import (
    ActivityState,
    ClientActivity,
    EnrollmentStatus,
    JourneyEvent,
)
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.programs import activity, question, stage

from .text import mentions

pytestmark = pytest.mark.django_db

LESSON_BODY = "<p>The body of the welcome lesson.</p>"


def url(row):
    return reverse("wagtail_coaching:activity", args=[row.public_id])


def program():
    return [
        stage("Getting started", [
            activity("lesson", "Welcome", rule="immediately", body=LESSON_BODY),
            activity("check_in", "Stress check", rule="after_previous"),
            activity("feedback", "First impressions", rule="after_previous"),
        ]),
        stage("Going deeper", [
            activity("form", "Intake", rule="after_previous", questions=[
                question("Your goal", "short_text"),
                question("Team size", "number", required=False),
            ], consent_text="I agree to share my answers with my coach."),
            activity("one_to_one", "Coaching sessions", rule="after_previous"),
        ]),
    ]


@pytest.fixture
def engagement(db):
    return make_engagement(program=program(), title="Leadership Foundations")


@pytest.fixture
def enrollment(client_user, engagement):
    return enroll(client_user, engagement)


def row(enrollment, title):
    return enrollment.activities.get(title=title)


def open_row(enrollment, title):
    """Open the step now (as a coach would), whatever its rule."""
    target = row(enrollment, title)
    ClientActivity.objects.filter(pk=target.pk).update(state=ActivityState.AVAILABLE)
    target.refresh_from_db()
    return target


def snapshot(activity):
    activity.refresh_from_db()
    return (activity.state, activity.completed_at, activity.response, activity.score,
            JourneyEvent.objects.filter(enrollment=activity.enrollment_id).count())


@pytest.fixture
def signed_in(client, client_user):
    client.force_login(client_user)
    return client


# -- Who may open a step ---------------------------------------------------------------

def test_anonymous_is_sent_to_login_and_nothing_changes(client, enrollment):
    welcome = row(enrollment, "Welcome")
    before = snapshot(welcome)
    for response in (client.get(url(welcome)), client.post(url(welcome), {})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    assert snapshot(welcome) == before


def test_locked_step_is_not_found_on_get_and_post(signed_in, enrollment):
    locked = row(enrollment, "Stress check")
    assert locked.state == ActivityState.LOCKED
    before = snapshot(locked)
    assert signed_in.get(url(locked)).status_code == 404
    assert signed_in.post(url(locked), {"score_value": 5}).status_code == 404
    assert snapshot(locked) == before


def test_removed_step_is_not_found(signed_in, enrollment):
    welcome = row(enrollment, "Welcome")
    ClientActivity.objects.filter(pk=welcome.pk).update(state=ActivityState.REMOVED)
    before = snapshot(welcome)
    assert signed_in.get(url(welcome)).status_code == 404
    assert signed_in.post(url(welcome), {}).status_code == 404
    assert snapshot(welcome) == before


def test_another_clients_step_is_not_found_and_leaks_nothing(
    client, client_user, other_client, engagement
):
    theirs = enroll(other_client, engagement)
    welcome = row(theirs, "Welcome")
    before = snapshot(welcome)
    client.force_login(client_user)
    for response in (client.get(url(welcome)), client.post(url(welcome), {})):
        assert response.status_code == 404
        html = response.content.decode()
        assert "Page not found" in html
        assert not mentions(html, "Olly")
        assert other_client.email not in html
        assert "The body of the welcome lesson" not in html
    assert snapshot(welcome) == before


def test_unknown_step_is_not_found(signed_in, enrollment):
    response = signed_in.get(reverse("wagtail_coaching:activity",
                                     args=["00000000-0000-0000-0000-000000000000"]))
    assert response.status_code == 404


def test_post_without_csrf_token_is_refused(client_user, enrollment):
    welcome = row(enrollment, "Welcome")
    before = snapshot(welcome)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(client_user)
    response = browser.post(url(welcome), {})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Nothing was saved" in html
    assert not mentions(html, "Cara") and client_user.email not in html
    assert snapshot(welcome) == before


def test_post_with_csrf_token_completes(client_user, enrollment):
    welcome = row(enrollment, "Welcome")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(client_user)
    page = browser.get(url(welcome))
    token = page.context["csrf_token"]
    assert f'name="csrfmiddlewaretoken" value="{token}"' in page.content.decode()
    response = browser.post(url(welcome), {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    welcome.refresh_from_db()
    assert welcome.state == ActivityState.COMPLETED


# -- Showing a step --------------------------------------------------------------------

def test_lesson_page_shows_content_breadcrumb_outline_and_form(signed_in, enrollment):
    welcome = row(enrollment, "Welcome")
    response = signed_in.get(url(welcome))
    assert response.status_code == 200
    assert "wagtail_coaching/activities/lesson.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert LESSON_BODY in html
    # Breadcrumb back to the dashboard.
    assert 'aria-label="Breadcrumb"' in html
    assert f'href="{reverse("wagtail_coaching:dashboard")}"' in html
    # The outline in the side column: every step, this one marked as current.
    assert "Your journey" in html
    for title in ("Stress check", "First impressions", "Intake", "Coaching sessions"):
        assert title in html
    assert f'href="{url(welcome)}" aria-current="page"' in html
    assert "0 of 5 steps done" in html
    # The form to complete it.
    assert 'method="post"' in html
    assert "Mark lesson as done" in html


def test_lesson_video_and_document(signed_in, client_user):
    video_url = "https://www.youtube.com/watch?v=coaching"
    Embed.objects.create(
        hash=get_embed_hash(video_url), url=video_url, type="video",
        html='<iframe title="Coaching video" src="https://www.youtube.com/embed/x"></iframe>',
    )
    document = Document.objects.create(
        title="Workbook", file=ContentFile(b"%PDF-1.4", name="workbook.pdf")
    )
    page = make_engagement(program=[stage("Start", [
        activity("lesson", "Watch this", rule="immediately", video=video_url,
                 document=document.pk),
    ])])
    lesson = enroll(client_user, page).activities.get()
    html = signed_in.get(url(lesson)).content.decode()
    assert '<iframe title="Coaching video"' in html
    assert f'href="{video_url}"' in html
    assert f'href="{document.url}"' in html
    assert "Download “Workbook”" in html
    assert "(PDF)" in html


def test_every_kind_has_its_own_template(signed_in, enrollment):
    expected = {
        "Stress check": ("check_in.html", "Stress today"),
        "First impressions": ("feedback.html", "How satisfied are you so far?"),
        "Intake": ("form.html", "Your goal"),
        "Coaching sessions": ("one_to_one.html", "What happens next"),
    }
    for title, (template, text) in expected.items():
        target = open_row(enrollment, title)
        response = signed_in.get(url(target))
        assert response.status_code == 200
        assert f"wagtail_coaching/activities/{template}" in [t.name for t in response.templates]
        assert text in response.content.decode()


def test_practice_and_group_session_pages(signed_in, client_user):
    page = make_engagement(program=[stage("Start", [
        activity("practice", "Breathing", rule="immediately", cadence="daily"),
        activity("group_session", "Kick-off workshop", rule="immediately",
                 description="<p>Meet the cohort.</p>"),
    ])])
    enrollment = enroll(client_user, page)
    html = signed_in.get(url(row(enrollment, "Breathing"))).content.decode()
    assert "Practise: Breathing" in html
    assert "Do this every day." in html
    # Practised day by day (tests/test_practices.py), not done for good by one click.
    assert "I practised today" in html and "0 of 7 days practised" in html
    html = signed_in.get(url(row(enrollment, "Kick-off workshop"))).content.decode()
    assert "Meet the cohort." in html
    assert "What happens next" in html
    assert "invitation" in html
    assert 'method="post"' not in html.split("<main", 1)[1]


def test_extra_activity_renders_from_its_own_value(signed_in, client_user, enrollment):
    extra = add_extra_activity(enrollment, "lesson", {
        "title": "Just for you", "body": "<p>Extra reading.</p>",
        "video": None, "document": None,
    })
    response = signed_in.get(url(extra))
    assert response.status_code == 200
    assert "Extra reading." in response.content.decode()


# -- Completing a step -----------------------------------------------------------------

def test_completing_redirects_to_the_next_open_step(signed_in, enrollment, client_user):
    welcome = row(enrollment, "Welcome")
    response = signed_in.post(url(welcome), {})
    check = row(enrollment, "Stress check")
    assert response.status_code == 302
    assert response["Location"] == url(check)
    welcome.refresh_from_db()
    assert welcome.state == ActivityState.COMPLETED
    assert check.state == ActivityState.AVAILABLE
    follow = signed_in.get(response["Location"])
    assert "Done: “Welcome”." in follow.content.decode()


def test_completing_the_last_step_goes_to_the_dashboard(signed_in, client_user):
    page = make_engagement(program=[stage("Only", [
        activity("lesson", "Single", rule="immediately"),
    ])], title="Short course")
    lesson = enroll(client_user, page).activities.get()
    response = signed_in.post(url(lesson), {})
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtail_coaching:dashboard")
    html = signed_in.get(response["Location"]).content.decode()
    assert "You have completed every step of Short course" in html


def test_completing_when_nothing_else_is_open_goes_to_the_dashboard(signed_in, client_user):
    page = make_engagement(program=[stage("Only", [
        activity("lesson", "First", rule="immediately"),
        activity("lesson", "Later", rule="manual"),
    ])])
    lesson = enroll(client_user, page).activities.get(title="First")
    response = signed_in.post(url(lesson), {})
    assert response["Location"] == reverse("wagtail_coaching:dashboard")
    html = signed_in.get(response["Location"]).content.decode()
    assert "Your next step is not open yet" in html


def test_completing_twice_is_refused_and_changes_nothing(signed_in, enrollment):
    welcome = row(enrollment, "Welcome")
    assert signed_in.post(url(welcome), {}).status_code == 302
    before = snapshot(welcome)
    response = signed_in.post(url(welcome), {})
    assert response.status_code == 409
    html = response.content.decode()
    assert "You have already completed this step" in html
    assert 'method="post"' not in html.split("<main", 1)[1]
    assert snapshot(welcome) == before


def test_check_in_scores_out_of_range_are_refused(signed_in, enrollment):
    check = open_row(enrollment, "Stress check")
    before = snapshot(check)
    for bad in ("-1", "11", "", "lots"):
        response = signed_in.post(url(check), {"score_value": bad, "note": "hm"})
        assert response.status_code == 400, bad
        html = response.content.decode()
        assert "Please check your answers" in html
        assert "Choose a score from 0 to 10." in html
        # The error is tied to the group of choices for assistive technology.
        assert 'id="id_score_value_error"' in html
        assert 'aria-describedby="id_score_value_helptext id_score_value_error"' in html
    assert snapshot(check) == before


def test_check_in_stores_score_and_note_then_shows_them(signed_in, enrollment):
    check = open_row(enrollment, "Stress check")
    response = signed_in.post(url(check), {"score_value": "7", "note": "Busy week"})
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.state == ActivityState.COMPLETED
    assert check.score == 7
    assert check.response == {"note": "Busy week"}
    html = signed_in.get(url(check)).content.decode()
    assert "7 out of 10" in html
    assert "Busy week" in html
    assert 'name="score_value"' not in html


def test_feedback_scores_out_of_range_are_refused(signed_in, enrollment):
    feedback = open_row(enrollment, "First impressions")
    before = snapshot(feedback)
    for bad in ("0", "6"):
        response = signed_in.post(url(feedback), {"score_value": bad})
        assert response.status_code == 400
        assert "Choose a score from 1 to 5." in response.content.decode()
    assert snapshot(feedback) == before
    assert signed_in.post(url(feedback), {"score_value": "5", "comment": "Great"}).status_code \
        == 302
    feedback.refresh_from_db()
    assert (feedback.score, feedback.response) == (5, {"comment": "Great"})
    html = signed_in.get(url(feedback)).content.decode()
    assert "5 out of 5" in html and "Great" in html


def test_questionnaire_errors_then_answers_shown_read_only(signed_in, enrollment):
    intake = open_row(enrollment, "Intake")
    before = snapshot(intake)
    response = signed_in.post(url(intake), {"q0": "", "q1": "many"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please answer this question." in html
    assert "Enter a number." in html
    assert 'href="#id_q0"' in html  # the error summary links to the field
    assert snapshot(intake) == before

    response = signed_in.post(url(intake), {"q0": "Lead calmly", "q1": "12", "consent": "on"})
    assert response.status_code == 302
    intake.refresh_from_db()
    assert intake.response == {
        "answers": [
            {"question": "Your goal", "kind": "short_text", "answer": "Lead calmly"},
            {"question": "Team size", "kind": "number", "answer": "12"},
        ],
        "consent": True,
    }
    html = signed_in.get(url(intake)).content.decode()
    assert "Your answers" in html
    assert "Lead calmly" in html
    assert 'name="q0"' not in html


def test_questionnaire_without_consent_is_refused(signed_in, enrollment):
    intake = open_row(enrollment, "Intake")
    before = snapshot(intake)
    response = signed_in.post(url(intake), {"q0": "Lead calmly"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "I agree to share my answers with my coach." in html
    assert "Tick the box to give your consent." in html
    assert snapshot(intake) == before


def test_coach_completed_step_cannot_be_completed_by_the_client(signed_in, enrollment):
    sessions = open_row(enrollment, "Coaching sessions")
    before = snapshot(sessions)
    html = signed_in.get(url(sessions)).content.decode()
    assert "What happens next" in html
    assert "4 one-to-one sessions of 60 minutes each" in html
    response = signed_in.post(url(sessions), {})
    assert response.status_code == 400
    assert "Your coach marks this step as done with you." in response.content.decode()
    assert snapshot(sessions) == before


def test_paused_enrollment_can_view_but_not_complete(signed_in, enrollment):
    welcome = row(enrollment, "Welcome")
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.save()
    before = snapshot(welcome)
    response = signed_in.get(url(welcome))
    assert response.status_code == 200
    html = response.content.decode()
    assert LESSON_BODY in html
    assert "This engagement is paused" in html
    assert "Mark lesson as done" not in html
    response = signed_in.post(url(welcome), {})
    assert response.status_code == 409
    assert "paused, so steps cannot be completed" in response.content.decode()
    assert snapshot(welcome) == before


def test_completed_date_is_shown_in_the_clients_zone(signed_in, client_user, enrollment):
    welcome = row(enrollment, "Welcome")
    # 1 March 2030, 02:00 UTC: still 28 February in New York.
    complete_activity(welcome, actor=client_user,
                      now=datetime.datetime(2030, 3, 1, 2, 0, tzinfo=datetime.UTC))
    assert "completed this step on March 1, 2030" in signed_in.get(url(welcome)).content.decode()
    UserProfile.objects.create(user=client_user, current_time_zone="America/New_York")
    html = signed_in.get(url(welcome)).content.decode()
    assert "completed this step on Feb. 28, 2030" in html


def test_titles_and_answers_are_escaped(client):
    user = UserFactory(username="eve", first_name="<script>alert(1)</script>")
    page = make_engagement(program=[stage("Start", [
        activity("check_in", "<script>alert('title')</script>", rule="immediately"),
    ])])
    check_in = enroll(user, page).activities.get()
    client.force_login(user)
    client.post(url(check_in), {"score_value": "3", "note": "<script>alert('note')</script>"})
    html = client.get(url(check_in)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;note&#x27;)&lt;/script&gt;" in html


def test_step_no_longer_in_the_program_still_shows_the_answers(signed_in, enrollment):
    check = open_row(enrollment, "Stress check")
    assert signed_in.post(url(check), {"score_value": "4"}).status_code == 302
    ClientActivity.objects.filter(pk=check.pk).update(block_id="gone-from-the-program")
    before = snapshot(check)
    response = signed_in.get(url(check))
    assert response.status_code == 200
    html = response.content.decode()
    assert "no longer part of the program" in html
    assert "You completed this step on" in html
    assert "4 out of 10" in html
    assert signed_in.post(url(check), {"score_value": "9"}).status_code == 409
    assert snapshot(check) == before


def test_error_pages_never_show_the_exception_or_other_users(rf, client_user, other_client):
    from django.core.exceptions import PermissionDenied
    from django.http import Http404
    from django.views.defaults import page_not_found, permission_denied

    request = rf.get("/coaching/activity/x/")
    request.user = client_user
    secret = f"{other_client.get_full_name()} <{other_client.email}>"
    for handler, exc in ((page_not_found, Http404(secret)),
                         (permission_denied, PermissionDenied(secret))):
        response = handler(request, exc)
        html = response.content.decode()
        assert response.status_code in (403, 404)
        assert other_client.email not in html
        assert other_client.get_full_name() not in html
        assert "wagtail_coaching/coaching.css" in html
