"""Living inside a host's theme: namespaced classes, the coaching-root wrapper, one user bar,
and the account links a host's header can use."""

import copy
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory, override_settings
from django.urls import reverse

from wagtail_coaching.journeys import add_extra_activity, complete_activity, unlock_activity
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory

from .world import build_world
from .world_sessions import add_sessions

pytestmark = pytest.mark.django_db

# Classes the client pages may carry without the coaching- prefix: none of our own. Wagtail's
# rich text and embeds add classes of theirs to editors' content; list them here when a page
# of the test world shows one.
ALLOWED_CLASSES = set()

# A host's base template, as a site that gives the client pages its own layout has it: its
# own body class, its own header, its own user bar, and a content block.
HOST_BASE = """{% load wagtailuserbar %}<!DOCTYPE html>
<html><head>{% block extra_head %}{% endblock %}</head>
<body class="{% block body_class %}host-page{% endblock %}">
<header class="navbar">Host header</header>
<main class="container">{% block content %}{% endblock %}</main>
{% wagtailuserbar %}
</body></html>"""


class ClassCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tokens = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "class" and value:
                self.tokens += [(tag, token) for token in value.split()]


def class_tokens(html):
    collector = ClassCollector()
    collector.feed(html)
    return collector.tokens


def foreign_classes(html):
    return sorted({
        f"{tag}.{token}" for tag, token in class_tokens(html)
        if not token.startswith("coaching") and token not in ALLOWED_CLASSES
    })


def wrappers(html):
    return [token for _, token in class_tokens(html) if token == "coaching-root"]


def userbars(html):
    return html.count('id="wagtail-userbar-template"')


@pytest.fixture
def w(db):
    """The test world with client_a1's steps of every kind open, the first one done."""
    w = add_sessions(build_world())
    journey = w.enrollment_a1
    for kind in ("form", "feedback", "group_session"):
        add_extra_activity(journey, kind, programs.activity(kind, f"A {kind}")["value"])
    for row in journey.activities.filter(state="locked"):
        unlock_activity(row, actor=w.admin)
    complete_activity(journey.activities.get(title="Welcome"), actor=w.client_a1)
    return w


@pytest.fixture
def host_base(settings):
    """The host's own layout in place of wagtail_coaching/base.html (a locmem loader first)."""
    engine = copy.deepcopy(settings.TEMPLATES[0])
    engine["APP_DIRS"] = False
    engine["OPTIONS"]["loaders"] = [
        ("django.template.loaders.locmem.Loader", {
            "host_base.html": HOST_BASE,
            "wagtail_coaching/base.html": '{% extends "host_base.html" %}',
        }),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    settings.TEMPLATES = [engine]


def client_pages(w):
    """The client pages of the test world that client_a1 can open: dashboard, engagement,
    every step of the journey, sessions, a group session, booking, moving and cancelling."""
    allotment = w.one_to_one[w.enrollment_a1.pk]
    urls = [
        reverse("wagtail_coaching:dashboard"),
        w.enrollment_a1.engagement.url,
        reverse("wagtail_coaching:sessions"),
        reverse("wagtail_coaching:group_session", args=[w.session_a.public_id]),
        reverse("wagtail_coaching:book", args=[allotment.public_id]),
        reverse("wagtail_coaching:reschedule", args=[w.booking_a1.public_id]),
        reverse("wagtail_coaching:cancel_booking", args=[w.booking_a1.public_id]),
        reverse("wagtail_coaching:notifications"),
    ]
    urls += [
        reverse("wagtail_coaching:activity", args=[row.public_id])
        for row in w.enrollment_a1.activities.exclude(state="locked").order_by("pk")
    ]
    return urls


def get_html(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_client_pages_use_only_namespaced_classes(client, w):
    client.force_login(w.client_a1)
    kinds = set(w.enrollment_a1.activities.values_list("kind", flat=True))
    assert len(kinds) == 7  # every kind of step, each with its own template
    problems = {}
    for url in client_pages(w):
        html = get_html(client, url)
        assert wrappers(html) == ["coaching-root"], url
        if foreign := foreign_classes(html):
            problems[url] = foreign
    assert not problems, f"Classes without the coaching- prefix: {problems}"


def test_the_namespacing_check_sees_bootstrap_names():
    html = '<div class="coaching-progress progress"><p class="lead coaching-lead">x</p></div>'
    assert foreign_classes(html) == ["div.progress", "p.lead"]


def test_the_stylesheet_selects_only_namespaced_classes():
    from django.contrib.staticfiles import finders

    for name in ("wagtail_coaching/coaching.css", "wagtail_coaching/charts.css"):
        css = open(finders.find(name), encoding="utf-8").read()
        css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
        selectors = re.findall(r"(?<![\w-])\.([a-zA-Z_][\w-]*)", css)
        # Wagtail's theme classes, which charts.css reads to follow the admin's dark theme.
        wagtails = {"w-theme-dark", "w-theme-system"}
        foreign = sorted({s for s in selectors if not s.startswith("coaching")} - wagtails)
        assert not foreign, (name, foreign)


def test_the_wrapper_stays_when_a_host_replaces_the_base_and_its_body_class(client, w, host_base):
    client.force_login(w.client_a1)
    for url in (reverse("wagtail_coaching:dashboard"), w.enrollment_a1.engagement.url):
        html = get_html(client, url)
        body = re.search(r'<body class="([^"]*)"', html).group(1)
        assert "coaching" not in body.split()  # the page's body_class replaced the host's
        assert wrappers(html) == ["coaching-root"]
        assert "Host header" in html


def test_one_user_bar_with_the_packages_base(client, w):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert userbars(get_html(client, w.enrollment_a1.engagement.url)) == 1


def test_one_user_bar_when_the_hosts_base_renders_it(client, w, host_base):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert userbars(get_html(client, w.enrollment_a1.engagement.url)) == 1


def test_no_user_bar_for_clients(client, w):
    client.force_login(w.client_a1)
    assert userbars(get_html(client, w.enrollment_a1.engagement.url)) == 0


# -- {% coaching_account_links %} ----------------------------------------------------------

def account_links(user, path="/somewhere/"):
    request = RequestFactory().get(path)
    request.user = user
    template = Template("{% load coaching_tags %}{% coaching_account_links %}")
    return template.render(Context({"request": request, "csrf_token": "t0ken"}))


def test_account_links_offer_sign_in_to_a_visitor():
    html = account_links(AnonymousUser())
    link = '<a class="coaching-account-links__link" href="/accounts/login/?next=%2Fsomewhere%2F">'
    assert link in html
    assert "Sign in" in html
    assert "Sign out" not in html and "My coaching" not in html
    assert not foreign_classes(html)


def test_account_links_leave_sign_in_out_on_the_sign_in_page():
    assert "Sign in" not in account_links(AnonymousUser(), path="/accounts/login/")


@override_settings(LOGIN_URL="login")
def test_account_links_resolve_a_login_url_name():
    assert 'href="/accounts/login/?next=%2Fsomewhere%2F"' in account_links(AnonymousUser())


def test_account_links_offer_the_dashboard_and_sign_out_to_a_signed_in_user(client_user):
    html = account_links(client_user)
    assert f'href="{reverse("wagtail_coaching:dashboard")}"' in html and "My coaching" in html
    form = re.search(r'<form class="coaching-account-links__form" method="post" action="([^"]+)">'
                     r'(.*?)</form>', html, re.S)
    assert form.group(1) == reverse("logout")
    assert 'name="csrfmiddlewaretoken" value="t0ken"' in form.group(2)
    assert "Sign out" in form.group(2)
    assert "Sign in" not in html
    assert not foreign_classes(html)


def test_account_links_prefer_allauths_logout(client_user, monkeypatch):
    from wagtail_coaching.templatetags import coaching_tags

    urls = {"account_logout": "/accounts/allauth/logout/", "logout": "/accounts/logout/"}
    monkeypatch.setattr(coaching_tags, "_reverse_or_none", lambda name: urls.get(name))
    assert 'action="/accounts/allauth/logout/"' in account_links(client_user)
    del urls["account_logout"], urls["logout"]
    html = account_links(client_user)
    assert "Sign out" not in html and "<form" not in html
