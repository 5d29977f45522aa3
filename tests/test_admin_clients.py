"""The clients list of the coaching admin: who sees which clients, filters, search, enrolling.

The helpers at the top are shared by the other coaching-admin test modules.
"""

import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.admin.search import admin_search_areas

from wagtail_coaching.journeys import assign_coach, complete_activity, enroll_many
from wagtail_coaching.models import (
    CoachProfile,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
)
from wagtail_coaching.testing.factories import UserFactory

from .text import mentions
from .world import build_world

STAFF_ROLES = ("admin", "coach", "sales_manager", "hr_partner")
CLIENTS_URL = "/admin/coaching/clients/"
LOGIN_PATH = "/admin/login/"


def admin_world():
    """``build_world()``: staff roles reach the Wagtail admin through the permission layer
    (no group permission needed); clients do not."""
    return build_world()


def card_url(enrollment, name="client_card"):
    return reverse(f"wagtail_coaching_admin:{name}", args=[enrollment.public_id])


def as_user(client, user):
    client.logout()
    if user is not None:
        client.force_login(user)
    return client


def message_texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def is_login_redirect(response):
    return response.status_code == 302 and response["Location"].startswith(LOGIN_PATH)


def listed_clients(response):
    """Usernames of the clients whose card links the page shows."""
    ids = set(re.findall(r'/admin/coaching/client/([0-9a-f-]{36})/"', response.content.decode()))
    return sorted(
        Enrollment.objects.filter(public_id__in=ids).values_list("client__username", flat=True)
    )


def build_shared_world():
    return admin_world()


@pytest.fixture
def world(shared):
    return shared


# -- Who sees what ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "who, expected",
    [
        ("admin", ["client_a1", "client_a2", "client_b1"]),
        ("coach_a", ["client_a1", "client_a2"]),
        ("coach_a2", ["client_a1", "client_a2"]),
        ("coach_b", ["client_b1"]),
        ("hr_acme", ["client_a1"]),  # client_a2 did not consent
        ("hr_globex", ["client_b1"]),
    ],
)
def test_the_list_shows_exactly_the_clients_the_role_may_see(client, world, who, expected):
    response = as_user(client, getattr(world, who)).get(CLIENTS_URL)
    assert response.status_code == 200
    assert listed_clients(response) == expected


def test_sales_managers_cannot_open_the_list(client, world):
    response = as_user(client, world.sales).get(CLIENTS_URL)
    assert response.status_code == 403
    for enrollment in (world.enrollment_a1, world.enrollment_b1):
        assert enrollment.client.email not in response.content.decode()


def test_clients_and_visitors_are_sent_to_the_login(client, world):
    assert is_login_redirect(as_user(client, world.client_a1).get(CLIENTS_URL))
    assert is_login_redirect(as_user(client, None).get(CLIENTS_URL))


def test_columns_show_engagement_status_coach_progress_company(client, world):
    html = as_user(client, world.admin).get(CLIENTS_URL).content.decode()
    assert "Engagement A" in html and "Engagement B" in html
    assert "Acme" in html and "Globex" in html
    # Ada's row: her coach, and her progress (one of three steps open, none done: 0%).
    row = next(r for r in html.split("<tr") if "Ada Acme" in r)
    assert world.coach_a.get_full_name() in row
    assert "0%" in row


def test_progress_counts_done_steps(client, world):
    first = world.enrollment_a1.activities.order_by("stage_position", "position").first()
    complete_activity(first, actor=world.client_a1)
    html = as_user(client, world.admin).get(CLIENTS_URL).content.decode()
    row = next(r for r in html.split("<tr") if "Ada Acme" in r)
    assert "33%" in row


def test_client_names_open_the_card(client, world):
    html = as_user(client, world.coach_a).get(CLIENTS_URL).content.decode()
    link = f'<a href="{card_url(world.enrollment_a1)}" data-coaching-card>Ada Acme</a>'
    assert link in html


def test_the_list_never_offers_generic_edit_or_delete(client, world):
    html = as_user(client, world.admin).get(CLIENTS_URL).content.decode()
    assert "/admin/coaching/clients/edit/" not in html
    assert "/admin/coaching/clients/delete/" not in html
    pk = world.enrollment_a1.pk
    for view in ("edit", "delete", "inspect", "history"):
        assert client.get(f"/admin/coaching/clients/{view}/{pk}/").status_code == 404


# -- Filters and search ----------------------------------------------------------------------

def test_filter_by_engagement(client, world):
    response = as_user(client, world.admin).get(
        CLIENTS_URL, {"engagement": world.engagement_b.pk}
    )
    assert listed_clients(response) == ["client_b1"]


def test_filter_by_current_coach(client, world):
    response = as_user(client, world.admin).get(CLIENTS_URL, {"coach": world.coach_a.pk})
    assert listed_clients(response) == ["client_a1"]
    # A handed-over client is listed under the new coach only.
    assign_coach(world.enrollment_a1, coach=world.coach_a2, actor=world.admin)
    assert listed_clients(client.get(CLIENTS_URL, {"coach": world.coach_a.pk})) == []
    assert listed_clients(client.get(CLIENTS_URL, {"coach": world.coach_a2.pk})) == ["client_a1"]


def test_filter_by_status(client, world):
    Enrollment.objects.filter(pk=world.enrollment_a2.pk).update(status=EnrollmentStatus.PAUSED)
    response = as_user(client, world.admin).get(CLIENTS_URL, {"status__exact": "paused"})
    assert listed_clients(response) == ["client_a2"]


def test_filter_by_company_and_cohort(client, world):
    response = as_user(client, world.admin).get(CLIENTS_URL, {"company": world.globex.pk})
    assert listed_clients(response) == ["client_b1"]
    cohort = world.acme.cohorts.get()
    Enrollment.objects.filter(pk=world.enrollment_a2.pk).update(cohort=cohort)
    assert listed_clients(client.get(CLIENTS_URL, {"cohort": cohort.pk})) == ["client_a2"]


def test_a_filter_value_that_is_not_an_id_matches_nothing(client, world):
    response = as_user(client, world.admin).get(CLIENTS_URL, {"coach": "1 OR 1=1"})
    assert response.status_code == 200
    assert listed_clients(response) == []


def test_filter_choices_name_only_what_the_viewer_may_see(client, world):
    html = as_user(client, world.coach_b).get(CLIENTS_URL).content.decode()
    assert "Engagement A" not in html
    assert not mentions(html, "Acme")
    assert world.coach_a.get_full_name() not in html


def test_filtering_never_reaches_beyond_what_the_viewer_sees(client, world):
    response = as_user(client, world.coach_b).get(
        CLIENTS_URL, {"engagement": world.engagement_a.pk}
    )
    assert listed_clients(response) == []


@pytest.mark.parametrize("query, expected", [
    ("Ada", ["client_a1"]),
    ("globex", ["client_b1"]),  # last name
    ("client_a2@example", ["client_a2"]),  # email
    ("Ada Acme", ["client_a1"]),
    ("nobody", []),
])
def test_search_by_name_and_email(client, world, query, expected):
    response = as_user(client, world.admin).get(CLIENTS_URL, {"q": query})
    assert listed_clients(response) == expected


def test_search_stays_within_what_the_viewer_sees(client, world):
    response = as_user(client, world.coach_a).get(CLIENTS_URL, {"q": "Bea"})
    assert listed_clients(response) == []


def test_admin_search_offers_the_clients_area(client, rf, world):
    def areas(user):
        request = rf.get("/admin/")
        request.user = user
        return [a.url for a in admin_search_areas.search_items_for_request(request)]

    # Without page permissions, the sidebar's search box searches clients.
    assert areas(world.coach_a)[0] == CLIENTS_URL
    assert areas(world.hr_acme)[0] == CLIENTS_URL
    assert CLIENTS_URL not in areas(world.sales)
    # Next to the page search, "Clients" carries the query to the clients list.
    world.admin.is_superuser = True
    world.admin.save()
    response = as_user(client, world.admin).get("/admin/pages/search/", {"q": "Ada"})
    assert f'href="{CLIENTS_URL}?q=Ada"' in response.content.decode()
    assert listed_clients(client.get(CLIENTS_URL, {"q": "Ada"})) == ["client_a1"]


def test_the_coaching_menu_follows_the_matrix(client, world):
    def menu(user):
        html = as_user(client, user).get("/admin/").content.decode()
        return {
            name for name in ("clients", "teams", "coaches", "companies", "cohorts")
            if f"/admin/coaching/{name}/" in html
        }

    assert menu(world.admin) == {"clients", "teams", "coaches", "companies", "cohorts"}
    assert menu(world.coach_a) == {"clients", "teams", "coaches", "cohorts"}
    assert menu(world.hr_acme) == {"clients", "companies", "cohorts"}
    assert menu(world.sales) == set()


# -- Enroll a client -------------------------------------------------------------------------

ENROLL_URL = "/admin/coaching/clients/create/"


def test_only_admins_see_the_enroll_button(client, world):
    assert ENROLL_URL in as_user(client, world.admin).get(CLIENTS_URL).content.decode()
    for user in (world.coach_a, world.hr_acme):
        assert ENROLL_URL not in as_user(client, user).get(CLIENTS_URL).content.decode()


@pytest.mark.parametrize("who", ["coach_a", "coach_b", "hr_acme", "sales"])
def test_only_admins_may_enroll(client, world, who):
    user = getattr(world, who)
    before = Enrollment.objects.count()
    response = as_user(client, user).post(ENROLL_URL, {
        "email": world.client_b1.email, "engagement": world.engagement_a.pk,
    })
    assert response.status_code == 403
    assert Enrollment.objects.count() == before


def test_enroll_a_client(client, world):
    response = as_user(client, world.admin).post(ENROLL_URL, {
        "email": world.client_b1.email.upper(), "engagement": world.engagement_a.pk,
        "company": world.globex.pk,
    })
    enrollment = Enrollment.objects.get(client=world.client_b1, engagement=world.engagement_a)
    assert response.status_code == 302
    assert response["Location"] == card_url(enrollment)
    assert enrollment.company == world.globex
    assert enrollment.activities.count() == 3
    assert JourneyEvent.objects.filter(
        enrollment=enrollment, kind=EventKind.ENROLLED, actor=world.admin
    ).exists()
    assert any("enrolled" in m for m in message_texts(response))


def test_enrolling_twice_says_so_and_changes_nothing(client, world):
    before = Enrollment.objects.count()
    response = as_user(client, world.admin).post(ENROLL_URL, {
        "email": world.client_a1.email, "engagement": world.engagement_a.pk,
    })
    assert response.status_code == 200
    assert "already enrolled" in response.content.decode()
    assert Enrollment.objects.count() == before


@pytest.mark.parametrize("data, error", [
    ({"email": "nobody@example.com"}, "Nobody has an account"),
    ({"email": "not an email"}, "valid email"),
])
def test_enrolling_with_bad_input_says_why(client, world, data, error):
    before = Enrollment.objects.count()
    response = as_user(client, world.admin).post(
        ENROLL_URL, {"engagement": world.engagement_a.pk, **data}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Enrollment.objects.count() == before


def test_a_cohort_of_another_engagement_is_refused(client, world):
    cohort = world.acme.cohorts.get()  # engagement A
    response = as_user(client, world.admin).post(ENROLL_URL, {
        "email": world.client_b1.email, "engagement": world.engagement_b.pk,
        "cohort": cohort.pk,
    })
    assert "another engagement" in response.content.decode()
    assert not Enrollment.objects.filter(client=world.client_b1, cohort=cohort).exists()


# -- Escaping --------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def test_a_hostile_name_is_escaped_in_the_list(client, world):
    world.client_a1.first_name = SCRIPT
    world.client_a1.save()
    html = as_user(client, world.coach_a).get(CLIENTS_URL).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- Cost ------------------------------------------------------------------------------------

def test_the_list_costs_the_same_for_3_and_30_clients(client, world):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(CLIENTS_URL).status_code == 200
        return len(captured)

    as_user(client, world.coach_a)
    client.get(CLIENTS_URL)  # warm caches (content types, site)
    three = queries()
    created, _ = enroll_many(
        [UserFactory(username=f"more{i}") for i in range(27)], world.engagement_a,
        company=world.acme,
    )
    CoachProfile.objects.filter(user=world.coach_a2).update(max_clients=100)
    for enrollment in created:
        assign_coach(enrollment, coach=world.coach_a2, actor=world.admin)
    assert len(listed_clients(client.get(CLIENTS_URL))) == 29
    assert queries() == three


def test_staff_roles_reach_the_admin_and_clients_do_not(client, world):
    for user in (world.admin, world.coach_a, world.sales, world.hr_acme):
        assert user.has_perm("wagtailadmin.access_admin"), user
        as_user(client, user)
        assert client.get("/admin/").status_code == 200
    assert not world.client_a1.has_perm("wagtailadmin.access_admin")
    as_user(client, world.client_a1)
    response = client.get("/admin/")
    assert response.status_code == 302 and LOGIN_PATH in response["Location"]
