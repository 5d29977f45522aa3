"""Consent that makes sense: a form's own consent is required to send it; sharing attendance
and progress with an employer is a separate, optional choice, asked only of a client whose
coaching a company sponsors, and stored as their consent (never with the answers)."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.journeys import enroll, set_consent
from wagtail_coaching.models import ActivityState, Consent, ConsentPurpose, EventKind
from wagtail_coaching.permissions import visible
from wagtail_coaching.testing.factories import CompanyFactory, UserFactory, make_engagement
from wagtail_coaching.testing.programs import activity, question, stage

pytestmark = pytest.mark.django_db

FORM_CONSENT = "I agree that my coaching team keeps these answers."
SHARE_LABEL = "Share my attendance and progress with the HR partner of Initech"
PRIVACY = reverse("wagtail_coaching:privacy")
PROFILE = reverse("account_profile")
DASHBOARD = reverse("wagtail_coaching:dashboard")


def build_shared_world():
    page = make_engagement(program=[stage("Start", [
        activity("form", "Intake", rule="immediately", questions=[
            question("Your goal", "short_text"),
        ], consent_text=FORM_CONSENT),
        activity("form", "Mid-point review", rule="immediately", questions=[
            question("What changed?", "short_text"),
        ]),
    ])], title="Leadership", slug="consent-leadership")
    company = CompanyFactory(name="Initech")
    hr = UserFactory(username="consent-hr")
    company.hr_partners.add(hr)
    hr.groups.add(Group.objects.get(name=coaching_settings.ROLE_GROUPS["hr_partner"]))
    sponsored = UserFactory(username="sponsored")
    private = UserFactory(username="self-paying")
    return SimpleNamespace(
        hr=hr,
        sponsored=sponsored,
        private=private,
        sponsored_enrollment=enroll(sponsored, page, company=company),
        private_enrollment=enroll(private, page),
    )


@pytest.fixture
def w(shared):
    return shared


def step(enrollment, title):
    return enrollment.activities.get(title=title)


def step_url(row):
    return reverse("wagtail_coaching:activity", args=[row.public_id])


def answers(**extra):
    return {"q0": "Lead with calm", **extra}


def hr_sees(w):
    w.hr._coaching_roles = None
    return visible(w.hr, "view_enrollment").filter(client=w.sponsored).exists()


def test_the_form_is_sent_without_sharing_with_the_employer(client, w):
    intake = step(w.sponsored_enrollment, "Intake")
    client.force_login(w.sponsored)
    page = client.get(step_url(intake)).text
    assert FORM_CONSENT in page and SHARE_LABEL in page
    # The form's own consent is required: nothing is sent without it.
    response = client.post(step_url(intake), answers())
    assert response.status_code == 400
    assert "Tick the box to give your consent." in response.text
    intake.refresh_from_db()
    assert intake.state == ActivityState.AVAILABLE
    assert not Consent.objects.filter(client=w.sponsored).exists()
    # With it, and without the employer box, the answers are sent and nothing is shared.
    response = client.post(step_url(intake), answers(consent="on"))
    assert response.status_code == 302
    intake.refresh_from_db()
    assert intake.state == ActivityState.COMPLETED
    assert intake.response["consent"] is True
    assert "share_progress" not in intake.response
    consent = Consent.objects.get(client=w.sponsored)
    assert (consent.purpose, consent.granted) == (ConsentPurpose.SHARE_PROGRESS, False)
    assert not hr_sees(w)


def test_sharing_ticked_on_the_form_is_stored_as_consent_of_its_own(client, w):
    intake = step(w.sponsored_enrollment, "Intake")
    client.force_login(w.sponsored)
    response = client.post(step_url(intake), answers(consent="on", share_progress="on"))
    assert response.status_code == 302
    intake.refresh_from_db()
    assert intake.state == ActivityState.COMPLETED
    assert set(intake.response) == {"answers", "consent"}
    consent = Consent.objects.get(client=w.sponsored, purpose=ConsentPurpose.SHARE_PROGRESS)
    assert consent.granted is True
    assert w.sponsored_enrollment.events.filter(
        kind=EventKind.CONSENT_CHANGED, data__granted=True
    ).count() == 1
    assert hr_sees(w)
    # Once chosen, the next form does not ask again: the privacy page is where it changes.
    review = step(w.sponsored_enrollment, "Mid-point review")
    page = client.get(step_url(review)).text
    assert "HR partner" not in page
    client.post(step_url(review), {"q0": "More calm", "share_progress": "on"})
    assert client.post(PRIVACY, {"share_progress": "no"}).status_code == 302
    assert not hr_sees(w)
    privacy = client.get(PRIVACY).text
    assert 'value="no" checked' in privacy and "Last changed: " in privacy


def test_a_form_not_sent_changes_no_consent(client, w):
    intake = step(w.sponsored_enrollment, "Intake")
    client.force_login(w.sponsored)
    # The employer box ticked but the form's own consent missing: nothing at all is saved.
    response = client.post(step_url(intake), answers(share_progress="on"))
    assert response.status_code == 400
    assert not Consent.objects.exists()
    intake.refresh_from_db()
    assert intake.state == ActivityState.AVAILABLE


def test_a_client_without_a_sponsor_is_never_asked(client, w):
    intake = step(w.private_enrollment, "Intake")
    client.force_login(w.private)
    page = client.get(step_url(intake)).text
    assert FORM_CONSENT in page
    assert "HR partner" not in page and "employer" not in page
    # A hand-made share box is ignored: no consent is stored.
    response = client.post(step_url(intake), answers(consent="on", share_progress="on"))
    assert response.status_code == 302
    assert not Consent.objects.exists()
    # The privacy page says nobody outside the team sees progress, and asks nothing.
    privacy = client.get(PRIVACY)
    assert privacy.status_code == 200
    assert "No employer sponsors your coaching" in privacy.text
    assert 'name="share_progress"' not in privacy.text
    refused = client.post(PRIVACY, {"share_progress": "yes"})
    assert refused.status_code == 400
    assert not Consent.objects.exists()
    # Neither the dashboard nor the profile offers the choice.
    for url in (DASHBOARD, PROFILE):
        text = client.get(url).text
        assert PRIVACY not in text and "what your employer sees" not in text


def test_a_sponsored_client_finds_the_choice_on_the_dashboard_and_profile(client, w):
    client.force_login(w.sponsored)
    for url in (DASHBOARD, PROFILE):
        assert f'href="{PRIVACY}"' in client.get(url).text
    privacy = client.get(PRIVACY).text
    assert "sponsored by Initech" in privacy
    assert "You have not chosen yet, so nothing is shared." in privacy


def test_the_privacy_page_looks_like_the_portal(client, w):
    client.force_login(w.sponsored)
    html = client.get(PRIVACY).text
    assert 'class="coaching-root"' in html and "coaching-site-header" in html
    assert 'class="coaching-breadcrumb"' in html and 'class="coaching-button"' in html
    assert '<button type="submit">' not in html


def test_saving_the_same_choice_again_notes_nothing_new(w):
    set_consent(w.sponsored, ConsentPurpose.SHARE_PROGRESS, True)
    set_consent(w.sponsored, ConsentPurpose.SHARE_PROGRESS, True)
    assert w.sponsored_enrollment.events.filter(kind=EventKind.CONSENT_CHANGED).count() == 1
    set_consent(w.sponsored, ConsentPurpose.SHARE_PROGRESS, False)
    assert w.sponsored_enrollment.events.filter(kind=EventKind.CONSENT_CHANGED).count() == 2
