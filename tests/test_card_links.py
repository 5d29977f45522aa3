"""The client card one click away wherever the admin names a client: group session
registrations and attendance, the orders list and page, the coach's upcoming sessions and
Wagtail's users list. Only for viewers the permission layer lets open that card; the others
read the plain name. The cards a list may link are asked once for the whole list."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wagtail_coaching.admin.display import ClientCards, client_name
from wagtail_coaching.admin.group_sessions.views import session_page
from wagtail_coaching.admin.panels import upcoming_sessions
from wagtail_coaching.admin.user_listing import client_card_buttons
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import CoachAssignment, Order, TeamMembership
from wagtail_coaching.payments.fulfilment import grant_offer
from wagtail_coaching.permissions import may_use_admin, visible
from wagtail_coaching.scheduling import register
from wagtail_coaching.testing.factories import UserFactory

from .test_admin_clients import admin_world, as_user, card_url
from .world_sessions import add_sessions

ORDERS = reverse("wagtail_coaching_order_modeladmin_index")
USERS = "/admin/users/"
ROLES = ["admin", "coach_a", "coach_a2", "coach_b", "sales", "hr_acme", "client_a1"]


def build_shared_world():
    w = add_sessions(admin_world())
    register(w.session_a, w.client_a2)
    w.session_a.co_coaches.add(w.coach_b)  # runs the session, coaches none of its people
    w.superuser = UserFactory(username="root", is_superuser=True, first_name="Root")
    return w


@pytest.fixture
def world(shared):
    return shared


def link(enrollment, name):
    return f'<a href="{card_url(enrollment)}" data-coaching-card>{name}</a>'


def card_links(html):
    return set(re.findall(r'/admin/coaching/client/([0-9a-f-]{36})/', html))


# -- The helper --------------------------------------------------------------------------------

@pytest.mark.parametrize("who", [*ROLES, None])
def test_the_cards_a_viewer_may_open_are_the_permission_layers(world, who):
    viewer = getattr(world, who) if who else AnonymousUser()
    clients = [world.client_a1, world.client_a2, world.client_b1, world.coach_a]
    cards = ClientCards(viewer, clients)
    expected = set()
    if may_use_admin(viewer):
        expected = set(visible(viewer, "view_enrollment").values_list("client_id", flat=True))
    assert {c.pk for c in clients if cards.url(c)} == expected
    assert {c.pk for c in clients if c in cards} == expected


@pytest.mark.parametrize("who, linked", [
    ("admin", {"a1", "a2", "b1"}),
    ("coach_a", {"a1", "a2"}),
    ("coach_b", {"b1"}),
    ("hr_acme", {"a1"}),  # the one Acme client who shares their progress
    ("sales", set()),
    ("client_a1", set()),
])
def test_each_role_links_exactly_the_cards_it_may_open(world, who, linked):
    cards = ClientCards(getattr(world, who), [world.client_a1, world.client_a2, world.client_b1])
    enrollments = {"a1": world.enrollment_a1, "a2": world.enrollment_a2,
                   "b1": world.enrollment_b1}
    for key, enrollment in enrollments.items():
        html = client_name(enrollment.client, cards)
        name = enrollment.client.get_full_name()
        if key in linked:
            assert html == link(enrollment, name)
        else:
            assert html == name and "href" not in html


def test_the_name_is_escaped_and_the_email_shown_on_request(world):
    world.client_a1.first_name = "<b>Ada</b>"
    cards = ClientCards(world.admin, [world.client_a1])
    html = client_name(world.client_a1, cards, with_email=True)
    assert "&lt;b&gt;Ada&lt;/b&gt;" in html and "<b>" not in html
    assert f'<span class="coaching-email">{world.client_a1.email}</span>' in html
    assert client_name(None, cards) == ""


def test_one_query_for_a_whole_list(world, django_assert_max_num_queries):
    many = [UserFactory(username=f"extra{i}") for i in range(30)]
    viewer = type(world.admin).objects.get(pk=world.admin.pk)
    viewer._coaching_roles = frozenset({"admin"})  # roles already read by the request
    with django_assert_max_num_queries(1):
        cards = ClientCards(viewer, [world.client_a1, *many])
        for user in [world.client_a1, *many]:
            client_name(user, cards)


# -- Group sessions: registered list, waitlist, attendance -----------------------------------

def session_page_url(session):
    return reverse("coaching_sessions_modeladmin_inspect", args=[session.pk])


@pytest.mark.parametrize("who, linked", [
    ("admin", True), ("coach_a", True), ("coach_a2", True), ("coach_b", False),
])
def test_the_registered_list_opens_the_card_where_allowed(client, world, who, linked):
    html = as_user(client, getattr(world, who)).get(session_page_url(world.session_a))
    html = html.content.decode()
    for enrollment in (world.enrollment_a1, world.enrollment_a2):
        name = enrollment.client.get_full_name()
        assert name in html
        assert (link(enrollment, name) in html) is linked


def test_people_who_may_not_change_the_session_see_no_names(client, world):
    for who in ("hr_acme", "sales"):
        response = as_user(client, getattr(world, who)).get(session_page_url(world.session_a))
        assert not card_links(response.content.decode())


def test_the_attendance_list_opens_the_card(world):
    after = world.session_a.ends_at + timezone.timedelta(minutes=5)
    page = session_page(world.coach_a, world.session_a, now=after)
    assert page["can_take_attendance"]
    assert [str(name) for _, name in page["seat_holders"]] == [
        link(world.enrollment_a1, "Ada Acme"), link(world.enrollment_a2, "Abe Private"),
    ]
    page = session_page(world.coach_b, world.session_a, now=after)
    assert [str(name) for _, name in page["seat_holders"]] == ["Ada Acme", "Abe Private"]


def test_the_session_page_asks_for_cards_once(client, world, django_assert_max_num_queries):
    as_user(client, world.admin)
    url = session_page_url(world.session_a)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(8):
        walkin = UserFactory(username=f"walkin{i}")
        enroll(walkin, world.engagement_a)
        register(world.session_a, walkin)
    with django_assert_max_num_queries(len(few)):
        html = client.get(url).content.decode()
    assert len(card_links(html)) == 10


# -- The coach's upcoming sessions ---------------------------------------------------------------

def test_upcoming_one_to_ones_open_the_card(client, world):
    [row] = [r for r in upcoming_sessions(world.coach_a) if r["kind"] == "one_to_one"]
    assert row["with_link"] == link(world.enrollment_a1, "Ada Acme")
    html = as_user(client, world.coach_a).get("/admin/").content.decode()
    assert link(world.enrollment_a1, "Ada Acme") in html


def test_a_coach_who_may_no_longer_open_the_card_reads_the_name(world):
    TeamMembership.objects.filter(user=world.coach_b).update(active=False)
    CoachAssignment.objects.filter(coach=world.coach_b).update(ended_at=timezone.now())
    [row] = [r for r in upcoming_sessions(world.coach_b) if r["kind"] == "one_to_one"]
    assert row["with_link"] == "Bea Globex" and row["with"] == "Bea Globex"


# -- Orders ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("who, linked", [("admin", True), ("sales", False)])
def test_orders_name_the_buyer_with_the_card_where_allowed(client, world, who, linked):
    order = Order.objects.get(buyer=world.client_a1)
    as_user(client, getattr(world, who))
    for url in (ORDERS, reverse("wagtail_coaching_order_modeladmin_inspect", args=[order.pk])):
        html = client.get(url).content.decode()
        assert "Ada Acme" in html and world.client_a1.email in html
        assert (link(world.enrollment_a1, "Ada Acme") in html) is linked, url
        if not linked:
            assert not card_links(html)


@pytest.mark.parametrize("who", ["coach_a", "hr_acme", "client_a1", None])
def test_others_see_no_orders(client, world, who):
    response = as_user(client, getattr(world, who) if who else None).get(ORDERS)
    assert response.status_code in (302, 403)
    assert "Ada Acme" not in response.content.decode()


def test_the_orders_list_runs_a_fixed_number_of_queries(
    client, world, django_assert_max_num_queries
):
    as_user(client, world.admin)
    with CaptureQueriesContext(connection) as few:
        client.get(ORDERS)
    offer = Order.objects.get().offer
    for i in range(6):
        grant_offer(UserFactory(username=f"buyer{i}"), offer, actor=world.admin, amount=1,
                    currency="eur", reference=f"INV-{i}")
    with django_assert_max_num_queries(len(few)):
        html = client.get(ORDERS).content.decode()
    assert len(card_links(html)) == 7


# -- Wagtail's users list -------------------------------------------------------------------------

def test_the_users_list_offers_the_card_of_clients(client, world):
    html = as_user(client, world.superuser).get(USERS).content.decode()
    for enrollment in (world.enrollment_a1, world.enrollment_a2, world.enrollment_b1):
        assert f'href="{card_url(enrollment)}"' in html
    assert "Client card" in html
    assert len(card_links(html)) == 3  # staff have no card


@pytest.mark.parametrize("who, linked", [
    ("admin", {"a1", "a2", "b1"}), ("coach_a", {"a1", "a2"}), ("coach_b", {"b1"}),
    ("sales", set()), ("client_a1", set()),
])
def test_the_users_list_button_follows_the_permission_layer(world, who, linked):
    viewer = getattr(world, who)
    people = {"a1": world.client_a1, "a2": world.client_a2, "b1": world.client_b1}
    shown = {key for key, user in people.items() if client_card_buttons(user, viewer)}
    assert shown == linked


def test_the_users_list_asks_for_cards_once(client, world, django_assert_max_num_queries):
    as_user(client, world.superuser)
    with CaptureQueriesContext(connection) as few:
        client.get(USERS)
    offer = Order.objects.get().offer
    for i in range(6):
        grant_offer(UserFactory(username=f"member{i}"), offer, actor=world.admin, amount=1,
                    currency="eur", reference=f"INV-{i}")
    with django_assert_max_num_queries(len(few)):
        html = client.get(USERS).content.decode()
    assert len(card_links(html)) == 9
