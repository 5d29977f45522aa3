"""The client's side of teams: choosing a coach, and deciding what the employer sees."""

import pytest
from django.urls import reverse

from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import CoachAssignment, CoachProfile, Consent, Team, TeamMembership
from wagtail_coaching.permissions import visible
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import CompanyFactory, UserFactory, make_engagement


@pytest.fixture
def choice(db):
    team = Team.objects.create(name="Choice")
    coaches = []
    for name, max_clients in (("Nia", 5), ("Full", 0)):
        user = UserFactory(username=name.lower(), first_name=name, last_name="Coach")
        CoachProfile.objects.create(user=user, max_clients=max_clients, bio=f"Bio of {name}")
        TeamMembership.objects.create(team=team, user=user, role="coach")
        coaches.append(user)
    page = make_engagement(
        program=[programs.stage("S", [programs.activity("lesson", "L", rule="immediately")])],
        team=team, assignment_policy="client_choice", slug="choice",
    )
    client = UserFactory(username="chooser")
    return page, enroll(client, page), client, coaches


def test_the_client_sees_only_coaches_with_room(client, choice):
    page, enrollment, user, (nia, full) = choice
    client.force_login(user)
    response = client.get(reverse("wagtail_coaching:choose_coach", args=[enrollment.public_id]))
    assert response.status_code == 200
    assert "Bio of Nia" in response.text
    assert "Bio of Full" not in response.text


def test_choosing_a_coach(client, choice):
    page, enrollment, user, (nia, full) = choice
    client.force_login(user)
    url = reverse("wagtail_coaching:choose_coach", args=[enrollment.public_id])
    response = client.post(url, {"coach": full.pk})
    assert response.status_code == 400
    assert not CoachAssignment.objects.exists()
    response = client.post(url, {"coach": "not-a-number"})
    assert response.status_code == 400
    response = client.post(url, {"coach": nia.pk, "role": "lead_coach", "method": "manual"})
    assert response.status_code == 302
    assignment = CoachAssignment.objects.get()
    assert (assignment.coach, assignment.role, assignment.method) == (nia, "coach",
                                                                       "client_choice")
    # Once chosen, the choice is the team's to change.
    assert client.post(url, {"coach": nia.pk}).status_code == 409
    assert CoachAssignment.objects.count() == 1


def test_another_clients_enrollment_is_not_found(client, choice):
    page, enrollment, user, coaches = choice
    client.force_login(UserFactory(username="intruder"))
    url = reverse("wagtail_coaching:choose_coach", args=[enrollment.public_id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"coach": coaches[0].pk}).status_code == 404
    assert not CoachAssignment.objects.exists()


def test_anonymous_is_sent_to_login(client, choice):
    page, enrollment, user, coaches = choice
    url = reverse("wagtail_coaching:choose_coach", args=[enrollment.public_id])
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]


def test_consent_controls_what_hr_sees(client, db):
    company = CompanyFactory(name="Initech")
    hr = UserFactory(username="hr")
    company.hr_partners.add(hr)
    from django.contrib.auth.models import Group

    from wagtail_coaching.conf import coaching_settings

    hr.groups.add(Group.objects.get(name=coaching_settings.ROLE_GROUPS["hr_partner"]))
    page = make_engagement(slug="b2b")
    user = UserFactory(username="employee")
    enroll(user, page, company=company)
    client.force_login(user)
    url = reverse("wagtail_coaching:privacy")
    assert "Initech" in client.get(url).text
    assert not visible(hr, "view_enrollment").exists()
    assert client.post(url, {"share_progress": "maybe"}).status_code == 400
    assert not Consent.objects.exists()
    assert client.post(url, {"share_progress": "yes"}).status_code == 302
    hr._coaching_roles = None
    assert visible(hr, "view_enrollment").count() == 1
    client.post(url, {"share_progress": "no"})
    assert not visible(hr, "view_enrollment").exists()
    assert user.coaching_enrollments.get().events.filter(kind="consent_changed").count() == 2


def test_dashboard_shows_the_coach_or_the_choice(client, choice):
    page, enrollment, user, (nia, full) = choice
    client.force_login(user)
    dashboard = reverse("wagtail_coaching:dashboard")
    text = client.get(dashboard).text
    assert reverse("wagtail_coaching:choose_coach", args=[enrollment.public_id]) in text
    client.post(reverse("wagtail_coaching:choose_coach", args=[enrollment.public_id]),
                {"coach": nia.pk})
    text = client.get(dashboard).text
    assert "Your coach: Nia Coach" in text
    assert reverse("wagtail_coaching:choose_coach", args=[enrollment.public_id]) not in text
