"""Teams, coaches, companies and cohorts in the coaching admin."""

import re

import pytest

from wagtail_coaching.models import CoachProfile, Cohort, Enrollment, Team, TeamMembership
from wagtail_coaching.testing.factories import UserFactory

from .test_admin_clients import admin_world, as_user, is_login_redirect, message_texts

TEAMS = "/admin/coaching/teams/"
COACHES = "/admin/coaching/coaches/"
COMPANIES = "/admin/coaching/companies/"
COHORTS = "/admin/coaching/cohorts/"


def build_shared_world():
    return admin_world()


@pytest.fixture
def world(shared):
    return shared


def rows(response, base):
    """Object ids the list links to (inspect or edit)."""
    html = response.content.decode()
    return {int(pk) for pk in re.findall(rf'href="{base}(?:inspect|edit)/(\d+)/"', html)}


def inline_data(team, members):
    data = {
        "name": team.name if team else "New team",
        "description": "",
        "memberships-TOTAL_FORMS": str(len(members)),
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, (user, role) in enumerate(members):
        data.update({
            f"memberships-{i}-user": user.pk, f"memberships-{i}-role": role,
            f"memberships-{i}-capacity": "", f"memberships-{i}-active": "on",
            f"memberships-{i}-ORDER": str(i), f"memberships-{i}-DELETE": "",
            f"memberships-{i}-id": "",
        })
    return data


# -- Teams -----------------------------------------------------------------------------------

@pytest.mark.parametrize("who, teams", [
    ("admin", {"team_a", "team_b"}), ("coach_a", {"team_a"}), ("coach_b", {"team_b"}),
])
def test_teams_list(client, world, who, teams):
    response = as_user(client, getattr(world, who)).get(TEAMS)
    assert response.status_code == 200
    assert rows(response, TEAMS) == {getattr(world, t).pk for t in teams}


@pytest.mark.parametrize("who", ["sales", "hr_acme"])
def test_teams_list_refused(client, world, who):
    assert as_user(client, getattr(world, who)).get(TEAMS).status_code == 403


def test_coaches_see_their_team_but_do_not_edit_it(client, world):
    as_user(client, world.coach_a)
    html = client.get(TEAMS).content.decode()
    assert f"{TEAMS}edit/" not in html and f"{TEAMS}create/" not in html
    response = client.get(f"{TEAMS}inspect/{world.team_a.pk}/")
    assert response.status_code == 200
    assert world.coach_a2.get_full_name() in response.content.decode()
    assert client.get(f"{TEAMS}edit/{world.team_a.pk}/").status_code == 403
    response = client.post(f"{TEAMS}edit/{world.team_a.pk}/", inline_data(None, []))
    assert response.status_code == 403
    assert Team.objects.get(pk=world.team_a.pk).name == "Team A"
    assert client.get(f"{TEAMS}inspect/{world.team_b.pk}/").status_code == 404
    assert client.get(f"{TEAMS}edit/{world.team_b.pk}/").status_code == 404
    assert client.get(f"{TEAMS}create/").status_code == 403


def test_admins_create_teams_with_members(client, world):
    response = as_user(client, world.admin).post(
        f"{TEAMS}create/", inline_data(None, [(world.coach_b, "coach")])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    team = Team.objects.get(name="New team")
    assert list(team.memberships.values_list("user_id", "role")) == [(world.coach_b.pk, "coach")]


def test_admins_edit_teams(client, world):
    response = as_user(client, world.admin).get(f"{TEAMS}edit/{world.team_b.pk}/")
    assert response.status_code == 200
    data = inline_data(world.team_b, [(world.coach_a, "specialist")])
    data["name"] = "Team Bravo"
    existing = list(world.team_b.memberships.all())
    data["memberships-INITIAL_FORMS"] = str(len(existing))
    data["memberships-TOTAL_FORMS"] = str(len(existing) + 1)
    # Keep the existing member as form 0, add the new one as form 1.
    new = {k.replace("memberships-0-", "memberships-1-"): v for k, v in data.items()
           if k.startswith("memberships-0-")}
    data.update(new)
    data.update({
        "memberships-0-id": existing[0].pk, "memberships-0-user": existing[0].user_id,
        "memberships-0-role": existing[0].role, "memberships-1-ORDER": "1",
    })
    response = client.post(f"{TEAMS}edit/{world.team_b.pk}/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    team = Team.objects.get(pk=world.team_b.pk)
    assert team.name == "Team Bravo"
    assert TeamMembership.objects.filter(team=team, user=world.coach_a, role="specialist").exists()


def test_nothing_is_deleted_from_the_coaching_admin(client, world):
    as_user(client, world.admin)
    for base, pk in ((TEAMS, world.team_a.pk), (COMPANIES, world.acme.pk)):
        assert client.get(f"{base}delete/{pk}/").status_code == 404
        assert client.post(f"{base}delete/{pk}/").status_code == 404
        assert client.get(f"{base}history/{pk}/").status_code == 404
    assert Team.objects.filter(pk=world.team_a.pk).exists()


# -- Coaches ---------------------------------------------------------------------------------

def profile(user):
    return CoachProfile.objects.get(user=user)


@pytest.mark.parametrize("who, coaches", [
    ("admin", {"coach_a", "coach_a2", "coach_b"}),
    ("coach_a", {"coach_a", "coach_a2"}),
    ("coach_b", {"coach_b"}),
])
def test_coaches_list(client, world, who, coaches):
    response = as_user(client, getattr(world, who)).get(COACHES)
    assert response.status_code == 200
    assert rows(response, COACHES) == {profile(getattr(world, c)).pk for c in coaches}


def test_coaches_list_shows_load_and_teams(client, world):
    html = as_user(client, world.admin).get(COACHES).content.decode()
    row = next(r for r in html.split("<tr") if world.coach_a.get_full_name() in r)
    assert "1 / 10" in row and "Team A" in row


@pytest.mark.parametrize("who", ["sales", "hr_acme"])
def test_coaches_list_refused(client, world, who):
    assert as_user(client, getattr(world, who)).get(COACHES).status_code == 403


def test_a_coach_edits_their_own_profile_but_not_their_limit(client, world):
    mine = profile(world.coach_a)
    as_user(client, world.coach_a)
    url = f"{COACHES}edit/{mine.pk}/"
    assert client.get(url).status_code == 200
    response = client.post(url, {
        "bio": "I help leaders.", "specialties": "", "languages": "en", "time_zone": "",
        "photo": "", "active": "on", "max_clients": "99", "user": world.coach_b.pk,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    mine.refresh_from_db()
    assert mine.bio == "I help leaders."
    assert mine.max_clients == 10 and mine.user == world.coach_a
    assert client.get(f"{COACHES}edit/{profile(world.coach_a2).pk}/").status_code == 403
    assert client.get(f"{COACHES}inspect/{profile(world.coach_a2).pk}/").status_code == 200
    assert client.get(f"{COACHES}edit/{profile(world.coach_b).pk}/").status_code == 404
    assert client.get(f"{COACHES}create/").status_code == 403


def test_admins_create_coach_profiles(client, world):
    newcomer = UserFactory(username="newcoach")
    response = as_user(client, world.admin).post(f"{COACHES}create/", {
        "user": newcomer.pk, "bio": "", "specialties": "", "languages": "", "time_zone": "",
        "photo": "", "active": "on", "max_clients": "5",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert profile(newcomer).max_clients == 5


# -- Companies -------------------------------------------------------------------------------

@pytest.mark.parametrize("who, companies", [
    ("admin", {"acme", "globex"}), ("hr_acme", {"acme"}), ("hr_globex", {"globex"}),
])
def test_companies_list(client, world, who, companies):
    response = as_user(client, getattr(world, who)).get(COMPANIES)
    assert response.status_code == 200
    assert rows(response, COMPANIES) == {getattr(world, c).pk for c in companies}


@pytest.mark.parametrize("who", ["sales", "coach_a"])
def test_companies_list_refused(client, world, who):
    assert as_user(client, getattr(world, who)).get(COMPANIES).status_code == 403


def test_hr_partners_see_their_company_and_its_consenting_clients(client, world):
    as_user(client, world.hr_acme)
    html = client.get(f"{COMPANIES}inspect/{world.acme.pk}/").content.decode()
    assert world.hr_acme.get_full_name() in html
    assert "Ada Acme" in html and "Abe Private" not in html
    assert client.get(f"{COMPANIES}edit/{world.acme.pk}/").status_code == 403
    assert client.get(f"{COMPANIES}inspect/{world.globex.pk}/").status_code == 404


def test_admins_edit_companies_and_their_hr_partners(client, world):
    response = as_user(client, world.admin).post(
        f"{COMPANIES}edit/{world.acme.pk}/",
        {"name": "Acme Corp", "hr_partners": [world.hr_acme.pk, world.hr_globex.pk]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    world.acme.refresh_from_db()
    assert world.acme.name == "Acme Corp"
    assert set(world.acme.hr_partners.all()) == {world.hr_acme, world.hr_globex}


# -- Cohorts ---------------------------------------------------------------------------------

@pytest.fixture
def cohorts(world):
    spring = Cohort.objects.get(name="Acme spring")
    autumn = Cohort.objects.create(
        name="Globex autumn", company=world.globex, engagement=world.engagement_b,
        start_date=spring.start_date,
    )
    return spring, autumn


@pytest.mark.parametrize("who, names", [
    ("admin", {"Acme spring", "Globex autumn"}),
    ("coach_a", {"Acme spring"}),  # their team's engagement
    ("coach_b", {"Globex autumn"}),
    ("hr_acme", {"Acme spring"}),  # their company
    ("hr_globex", {"Globex autumn"}),
])
def test_cohorts_list(client, world, cohorts, who, names):
    response = as_user(client, getattr(world, who)).get(COHORTS)
    assert response.status_code == 200
    assert rows(response, COHORTS) == {c.pk for c in cohorts if c.name in names}


def test_cohorts_list_refused_to_sales(client, world):
    assert as_user(client, world.sales).get(COHORTS).status_code == 403
    assert is_login_redirect(as_user(client, world.client_a1).get(COHORTS))


def enroll_url(cohort):
    return f"/admin/coaching/cohort/{cohort.pk}/enroll/"


def test_enroll_a_cohort(client, world, cohorts):
    spring, _ = cohorts
    newcomer = UserFactory(username="newcomer")
    spring.members.add(world.client_a1, newcomer)  # Ada is already enrolled
    as_user(client, world.admin)
    assert enroll_url(spring) in client.get(COHORTS).content.decode()
    assert client.get(enroll_url(spring)).status_code == 200
    response = client.post(enroll_url(spring))
    assert response.status_code == 302
    assert message_texts(response) == ["Acme spring: 1 member enrolled; 1 was already enrolled."]
    enrollment = Enrollment.objects.get(client=newcomer)
    assert enrollment.cohort == spring and enrollment.company == world.acme
    # Again: nobody new.
    response = client.post(enroll_url(spring))
    assert message_texts(response)[-1] == (
        "Acme spring: 0 members enrolled; 2 were already enrolled."
    )


@pytest.mark.parametrize("who, status", [
    ("coach_a", 403), ("hr_acme", 403), ("coach_b", 404), ("hr_globex", 404), ("sales", 404),
])
def test_only_admins_enroll_a_cohort(client, world, cohorts, who, status):
    spring, _ = cohorts
    spring.members.add(UserFactory(username="newcomer"))
    before = Enrollment.objects.count()
    as_user(client, getattr(world, who))
    assert enroll_url(spring) not in client.get(COHORTS).content.decode()
    assert client.get(enroll_url(spring)).status_code == status
    assert client.post(enroll_url(spring)).status_code == status
    assert Enrollment.objects.count() == before


def test_the_cohort_page_lists_only_clients_the_viewer_may_see(client, world, cohorts):
    spring, _ = cohorts
    Enrollment.objects.filter(client__in=[world.client_a1, world.client_a2]).update(
        cohort=spring
    )
    html = as_user(client, world.hr_acme).get(f"{COHORTS}inspect/{spring.pk}/").content.decode()
    assert "Ada Acme" in html and "Abe Private" not in html
    html = as_user(client, world.coach_a).get(f"{COHORTS}inspect/{spring.pk}/").content.decode()
    assert "Ada Acme" in html and "Abe Private" in html


def test_admins_create_cohorts_with_members(client, world):
    response = as_user(client, world.admin).post(f"{COHORTS}create/", {
        "name": "Acme winter", "company": world.acme.pk, "engagement": world.engagement_a.pk,
        "start_date": "2030-01-15", "members": [world.client_a2.pk, world.client_b1.pk],
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    cohort = Cohort.objects.get(name="Acme winter")
    assert cohort.engagement_id == world.engagement_a.pk
    assert set(cohort.members.all()) == {world.client_a2, world.client_b1}
