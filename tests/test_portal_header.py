"""The portal header: the client's places on every client page, the current one marked, a
menu for phones, and a fixed number of queries however much the client has."""

import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse

from wagtail_coaching.conversations import post_message
from wagtail_coaching.journeys import assign_coach, enroll
from wagtail_coaching.models import AssignmentMethod, CoachAssignment, Team
from wagtail_coaching.notifications.in_app import unread_count
from wagtail_coaching.templatetags import coaching_portal
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.programs import activity, question, stage

from .world import coach_in

pytestmark = pytest.mark.django_db

LINK = re.compile(
    r'<a class="coaching-portal-nav__link" href="(?P<url>[^"]+)"'
    r'(?: aria-current="(?P<current>[^"]+)")?>(?P<label>[^<]+)'
)


def program():
    return [stage("Start", [
        activity("form", "Intake", rule="immediately", questions=[question("Goal", "short_text")]),
        activity("one_to_one", "Kick-off", rule="immediately", sessions=2),
    ])]


def build_shared_world():
    team = Team.objects.create(name="Header team")
    coach = coach_in(team, "header-coach")
    page = make_engagement(program=program(), team=team, title="Header", slug="header")
    client = UserFactory(username="header-client")
    enrollment = enroll(client, page)
    if not CoachAssignment.objects.filter(enrollment=enrollment, ended_at__isnull=True).exists():
        assign_coach(enrollment, coach=coach, method=AssignmentMethod.MANUAL)
    post_message(enrollment, coach, "Welcome aboard")
    loner = UserFactory(username="header-loner")
    enroll(loner, make_engagement(program=program(), title="Solo", slug="header-solo"))
    return SimpleNamespace(coach=coach, client=client, enrollment=enrollment, loner=loner,
                           team=team, page=page)


@pytest.fixture
def w(shared):
    return shared


def places(html):
    """The header's row of places: {label: (url, aria-current)} (the phone menu repeats it)."""
    nav = html.split('<nav class="coaching-portal-nav"', 1)[1].split("</nav>", 1)[0]
    row = nav.split('<details class="coaching-portal-nav__menu">', 1)
    found = {m["label"].strip(): (m["url"], m["current"]) for m in LINK.finditer(row[0])}
    menu = {m["label"].strip(): (m["url"], m["current"]) for m in LINK.finditer(row[1])}
    assert menu == found, "the phone menu lists the same places"
    return found


def client_pages(w):
    """(URL, the place marked current, whether it is that place's own page) of every
    client page."""
    step = w.enrollment.activities.get(title="Intake")
    allotment = w.enrollment.activities.get(title="Kick-off")
    pages = [
        (reverse("wagtail_coaching:dashboard"), "My coaching", "page"),
        (reverse("wagtail_coaching:activity", args=[step.public_id]), "My coaching", "true"),
        (reverse("wagtail_coaching:book", args=[allotment.public_id]), "My coaching", "true"),
        (reverse("wagtail_coaching:sessions"), "Sessions", "page"),
        (reverse("wagtail_coaching:conversation", args=[w.enrollment.public_id]), "Messages",
         "page"),
        (reverse("wagtail_coaching:notifications"), "Notifications", "page"),
        (reverse("wagtail_coaching:notification_settings"), "Account", "true"),
        (reverse("wagtail_coaching:privacy"), "Account", "true"),
        (reverse("wagtail_coaching:my_data"), "Account", "true"),
        (reverse("account_profile"), "Account", "page"),
        (reverse("password_change"), "Account", "true"),
    ]
    orders = coaching_portal.reverse_or_none("wagtail_coaching:orders")
    if orders:
        pages.append((orders, "My orders", "page"))
    return pages


def test_every_client_page_has_the_header_with_its_place_marked(client, w):
    client.force_login(w.client)
    for url, current, kind in client_pages(w):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.text
        found = places(html)
        expected = ["My coaching", "Sessions", "Messages", "Notifications", "Account"]
        assert [label for label in found if label != "My orders"] == expected, url
        assert found[current][1] == kind, (url, found)
        assert [label for label, (_, mark) in found.items() if mark] == [current], url
        assert 'class="coaching-portal-nav__button coaching-link-button">Sign out' in html
        # The phone menu: a disclosure that needs no script.
        assert '<summary class="coaching-portal-nav__toggle">' in html, url
    assert found["Messages"][0] == reverse(
        "wagtail_coaching:conversation", args=[w.enrollment.public_id]
    )


def test_the_header_counts_what_waits(client, w):
    client.force_login(w.client)
    html = client.get(reverse("wagtail_coaching:sessions")).text
    notices = unread_count(w.client)
    badge = '{n}</span><span class="coaching-visually-hidden">({n} new)'
    assert notices and ">Notifications <span" in html and badge.format(n=notices) in html
    assert ">Messages <span" in html and badge.format(n=1) in html
    # Reading the conversation clears its count.
    client.get(reverse("wagtail_coaching:conversation", args=[w.enrollment.public_id]))
    html = client.get(reverse("wagtail_coaching:sessions")).text
    assert ">Messages</a>" in html


def test_no_messages_place_without_a_coach_or_a_conversation(client, w):
    client.force_login(w.loner)
    found = places(client.get(reverse("wagtail_coaching:dashboard")).text)
    assert list(found) == ["My coaching", "Sessions", "Notifications", "My orders", "Account"]


def test_my_orders_appears_once_its_url_resolves(client, w, monkeypatch):
    client.force_login(w.client)
    real = coaching_portal.reverse_or_none
    monkeypatch.setattr(
        coaching_portal, "reverse_or_none",
        lambda name: "/coaching/orders/" if name == "wagtail_coaching:orders" else real(name),
    )
    found = places(client.get(reverse("wagtail_coaching:dashboard")).text)
    assert list(found)[-2:] == ["My orders", "Account"]
    assert found["My orders"] == ("/coaching/orders/", None)
    monkeypatch.setattr(
        coaching_portal, "reverse_or_none",
        lambda name: None if name == "wagtail_coaching:orders" else real(name),
    )
    assert "My orders" not in places(client.get(reverse("wagtail_coaching:dashboard")).text)


def test_a_visitor_gets_sign_in_and_no_places(client, w):
    html = client.get(w.page.url).text
    assert '<nav class="coaching-portal-nav" aria-label="Account">' in html
    assert 'href="/accounts/login/?next=' in html and "My coaching</a>" not in html
    # Not on the sign-in page itself.
    html = client.get(reverse("login")).text
    assert "coaching-portal-nav" not in html


def render_header(user, url):
    request = RequestFactory().get(url)
    # A fresh user each time, as each request has (its roles are read again).
    request.user = type(user).objects.get(pk=user.pk)
    request.resolver_match = resolve(url)
    template = Template("{% load coaching_portal %}{% coaching_portal_nav %}")
    context = Context({"request": request, "csrf_token": "t0ken"})
    with CaptureQueriesContext(connection) as queries:
        html = template.render(context)
    return html, len(queries.captured_queries)


def test_the_header_runs_a_fixed_number_of_queries(w):
    url = reverse("wagtail_coaching:sessions")
    html, few = render_header(w.client, url)
    assert "Messages" in html and few <= 3
    # More journeys, conversations, messages and notifications: not one query more.
    for index in range(3):
        page = make_engagement(program=program(), team=w.team, slug=f"header-more-{index}")
        enrollment = enroll(w.client, page)
        if not CoachAssignment.objects.filter(enrollment=enrollment).exists():
            assign_coach(enrollment, coach=w.coach, method=AssignmentMethod.MANUAL)
        for n in range(4):
            post_message(enrollment, w.coach, f"Message {n}")
    html, many = render_header(w.client, url)
    assert many == few
    assert unread_count(w.client) > 1
