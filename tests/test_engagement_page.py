"""The engagement page: visitors see the introduction, clients their journey, editors the
whole program in preview."""

import re

import pytest
from django.urls import reverse
from wagtail.models import Page, Site

from sandbox.home.models import HomePage
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import EnrollmentStatus
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.programs import activity, question, stage

pytestmark = pytest.mark.django_db

SECRET_BODY = "Only enrolled clients read this lesson body"
SECRET_PRACTICE = "Breathe in for four counts"


def program():
    return [
        stage("Discover", [
            activity("lesson", "Welcome lesson", rule="immediately",
                     body=f"<p>{SECRET_BODY}</p>"),
            activity("form", "Intake form", questions=[
                question("What brings you here?", "long_text"),
                question("Preferred time", "choice", choices=["Morning", "Evening"]),
            ]),
        ], description="Getting to know you"),
        stage("Practise", [
            activity("practice", "Daily breathing", instructions=f"<p>{SECRET_PRACTICE}</p>",
                     cadence="daily"),
            activity("check_in", "Stress check"),
        ]),
    ]


@pytest.fixture
def engagement(db):
    return make_engagement(
        program=program(), title="Calm Leadership", summary="Lead without burning out",
        intro="<p>Eight weeks to a steadier you.</p>",
    )


def get(client, page):
    response = client.get(page.url)
    assert response.status_code == 200
    return response.content.decode()


def test_visitor_sees_intro_and_stage_titles_only(client, engagement):
    html = get(client, engagement)
    assert "Calm Leadership" in html
    assert "Lead without burning out" in html
    assert "Eight weeks to a steadier you." in html
    assert "How the journey unfolds" in html
    assert "Discover" in html and "Practise" in html
    for hidden in (SECRET_BODY, SECRET_PRACTICE, "Welcome lesson", "Intake form",
                   "What brings you here?", "Continue your journey"):
        assert hidden not in html
    # A way in for clients who are not signed in.
    assert f'href="/accounts/login/?next={engagement.url}"' in html


def test_signed_in_visitor_who_is_not_enrolled_sees_no_program(client, engagement):
    client.force_login(UserFactory(username="visitor"))
    html = get(client, engagement)
    assert "Eight weeks to a steadier you." in html
    assert SECRET_BODY not in html and "Welcome lesson" not in html
    assert "Continue your journey" not in html


def test_enrolled_client_sees_continue_link_and_outline(client, client_user, engagement):
    enrollment = enroll(client_user, engagement)
    first = enrollment.activities.get(title="Welcome lesson")
    client.force_login(client_user)
    html = get(client, engagement)
    assert "Continue your journey" in html
    assert f'href="{reverse("wagtail_coaching:activity", args=[first.public_id])}"' in html
    assert "Next: Welcome lesson" in html
    assert "0 of 4 steps done" in html
    for title in ("Welcome lesson", "Intake form", "Daily breathing", "Stress check"):
        assert title in html
    # Titles, not content: the lesson itself is read on its own page.
    assert SECRET_BODY not in html
    assert SECRET_PRACTICE not in html
    assert "How the journey unfolds" not in html


def open_stages(html):
    return re.findall(
        r'<details class="coaching-outline__details" open>\s*'
        r'<summary class="coaching-outline__summary">\s*'
        r'<span class="coaching-outline__stage-head">\s*'
        r'<span class="coaching-outline__stage-title">(.*?)<',
        html,
    )


def test_the_stage_a_link_names_is_shown_open(client, client_user, engagement):
    """The dashboard links each stage it only sums up to ``?stage=N#journey-stage-N``."""
    enroll(client_user, engagement)
    client.force_login(client_user)
    assert open_stages(get(client, engagement)) == ["Discover"]  # the stage in progress
    response = client.get(engagement.url, {"stage": "2"})
    html = response.content.decode()
    assert open_stages(html) == ["Discover", "Practise"]
    assert 'id="journey-stage-2"' in html
    # Anything else is ignored.
    for value in ("0", "3", "-1", "two", "", "1e3"):
        response = client.get(engagement.url, {"stage": value})
        assert response.status_code == 200
        assert open_stages(response.content.decode()) == ["Discover"], value


def test_another_clients_enrollment_does_not_show(client, client_user, other_client, engagement):
    enroll(other_client, engagement)
    client.force_login(client_user)
    html = get(client, engagement)
    assert "Continue your journey" not in html
    assert "Welcome lesson" not in html


def test_paused_client_is_told(client, client_user, engagement):
    enrollment = enroll(client_user, engagement)
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.save()
    client.force_login(client_user)
    assert "This engagement is paused" in get(client, engagement)


def test_cancelled_client_sees_the_visitor_page(client, client_user, engagement):
    enrollment = enroll(client_user, engagement)
    enrollment.status = EnrollmentStatus.CANCELLED
    enrollment.save()
    client.force_login(client_user)
    html = get(client, engagement)
    assert "Continue your journey" not in html
    assert "How the journey unfolds" in html


def test_editor_preview_shows_the_whole_program(client, engagement):
    editor = UserFactory(username="editor", is_superuser=True, is_staff=True)
    client.force_login(editor)
    response = client.get(reverse("wagtailadmin_pages:view_draft", args=[engagement.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Preview: you see the whole program" in html
    assert SECRET_BODY in html
    assert SECRET_PRACTICE in html
    assert "Do this every day." in html
    assert "What brings you here?" in html
    assert "Morning" in html and "Evening" in html
    assert "Getting to know you" in html
    assert "Stress today" in html
    assert "After the previous activity is completed" in html


def test_editor_preview_of_a_draft_shows_unpublished_changes(client, engagement):
    page = engagement.specific
    page.program = [stage("Brand new stage", [
        activity("lesson", "Draft lesson", rule="immediately", body="<p>Draft only body</p>"),
    ])]
    page.save_revision()
    editor = UserFactory(username="editor", is_superuser=True, is_staff=True)
    client.force_login(editor)
    html = client.get(
        reverse("wagtailadmin_pages:view_draft", args=[engagement.pk])
    ).content.decode()
    assert "Draft only body" in html
    # The live page is unchanged for visitors.
    client.logout()
    live = get(client, engagement)
    assert "Brand new stage" not in live and "Draft only body" not in live


def test_titles_are_escaped(client):
    page = make_engagement(
        program=[stage("<script>alert('stage')</script>", [
            activity("lesson", "Lesson", rule="immediately"),
        ])],
        title="<script>alert('title')</script>",
        summary="<script>alert('summary')</script>",
    )
    html = get(client, page)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;stage&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;summary&#x27;)&lt;/script&gt;" in html


def test_visitor_is_shown_the_live_offers_that_sell_it(client, client_user, engagement):
    from tests.stripe_fake import FREE, make_offer

    on_sale = make_offer([engagement], prices=[FREE], title="Try Calm Leadership")
    make_offer([engagement], title="Draft bundle", publish=False)
    make_offer([make_engagement(title="Another")], title="Unrelated offer")

    html = get(client, engagement)
    assert "How to join" in html
    assert f'href="{on_sale.url}">Try Calm Leadership</a>' in html
    assert "Draft bundle" not in html and "Unrelated offer" not in html

    enroll(client_user, engagement)
    client.force_login(client_user)
    html = get(client, engagement)
    assert "How to join" not in html and "Try Calm Leadership" not in html


def test_sandbox_home_page_lists_engagements(client):
    root = Page.get_first_root_node()
    home = HomePage(title="Bright Path", slug="bright-path", intro="<p>Coaching that sticks.</p>")
    root.add_child(instance=home)
    Site.objects.filter(is_default_site=True).update(root_page=home)
    engagement = make_engagement(title="Calm Leadership", parent=home)
    html = client.get("/").content.decode()
    assert "Coaching that sticks." in html
    assert "Calm Leadership" in html
    assert f'href="{engagement.url}"' in html
    assert "Our engagements" in html
    assert "Get started" not in html  # no offer yet

    from tests.stripe_fake import FREE, make_offer

    offer = make_offer([engagement], prices=[FREE], title="Start free", parent=home)
    html = client.get("/").content.decode()
    assert "Get started" in html
    assert f'href="{offer.url}">Start free</a>' in html


def test_login_page_renders_and_reports_errors(client):
    response = client.get("/accounts/login/?next=/coaching/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label class="coaching-field__label" for="id_username">' in html
    assert 'name="next" value="/coaching/"' in html
    response = client.post("/accounts/login/", {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200
    assert "We could not sign you in" in response.content.decode()


def test_login_page_offers_to_sign_up_and_keeps_next(client):
    html = client.get("/accounts/login/?next=/coaching/checkout/3/").content.decode()
    # Built as the checkout page's sign-up link is (utils.urls.with_next).
    assert (
        'href="/accounts/signup/?next=%2Fcoaching%2Fcheckout%2F3%2F">Create an account</a>'
        in html
    )


SIGNUP = {
    "first_name": "Robin", "last_name": "Tester", "email": "robin@example.com",
    "username": "robin", "password1": "a-long-passphrase", "password2": "a-long-passphrase",
}


def test_sign_up_creates_the_account_signs_in_and_goes_on(client):
    from django.contrib.auth import get_user_model

    response = client.post("/accounts/signup/", {**SIGNUP, "next": "/coaching/checkout/3/"})
    assert response.status_code == 302
    assert response["Location"] == "/coaching/checkout/3/"
    user = get_user_model().objects.get(username="robin")
    assert (user.first_name, user.last_name, user.email) == ("Robin", "Tester",
                                                              "robin@example.com")
    assert int(client.session["_auth_user_id"]) == user.pk


def test_sign_up_ignores_a_next_on_another_site(client):
    response = client.post("/accounts/signup/", {**SIGNUP, "next": "https://evil.example/"})
    assert response["Location"] == "/coaching/"


def test_sign_up_refuses_a_taken_email_and_creates_nothing(client):
    from django.contrib.auth import get_user_model

    UserFactory(email="ROBIN@example.com", username="first")
    response = client.post("/accounts/signup/", {**SIGNUP, "password2": "something-else"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please check the form" in html
    assert "An account with this email exists already. Sign in instead." in html
    assert "The two password fields didn’t match." in html
    assert not get_user_model().objects.filter(username="robin").exists()


def test_not_found_page_uses_the_site_look(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "wagtail_coaching/coaching.css" in html
