"""Every coaching URL, every role and relationship: the answer follows ``MATRIX``.

``ROUTES`` says, for each URL name, which matrix action finds its object (without it the
object does not exist: 404) and which action it performs (without it: 403). The expected
answer for each user of ``build_world()`` and each object is read from ``MATRIX`` itself,
then compared with what the URL answers. A meta-test walks the URL configuration and fails
when a coaching URL name is missing from ``ROUTES`` (or ``ROUTES`` names one that is gone).
"""

import copy
import re
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.messages import get_messages
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse

from wagtail_coaching.journeys import pause_enrollment
from wagtail_coaching.models import (
    AssignmentMethod,
    AvailabilitySlot,
    CoachProfile,
    Cohort,
    Company,
    EngagementPage,
    Order,
    SalesManagerProfile,
    StripeEvent,
    Team,
)
from wagtail_coaching.permissions import MATRIX, roles_of

from .routes import Route, by_public_id
from .routes_booking import BOOKING_ROUTES
from .routes_client_sessions import CLIENT_SESSION_ROUTES
from .routes_co_coaches import CO_COACH_ROUTES
from .routes_enquiries import ENQUIRY_ROUTES
from .routes_group_sessions import GROUP_SESSION_ROUTES
from .routes_jobs import JOB_ROUTES
from .routes_messages import MESSAGE_ROUTES
from .routes_one_to_one_admin import ONE_TO_ONE_ADMIN_ROUTES
from .routes_orders import ORDER_ROUTES
from .routes_reports import REPORT_ROUTES
from .routes_rules import RULE_ROUTES
from .test_admin_clients import admin_world, as_user
from .world import coach_in
from .world_sessions import add_sessions

OK, DENIED, MISSING, LOGIN = "ok", "denied (403)", "missing (404)", "login"


def step_of(title):
    return lambda setup, e: {"activity": e.activities.get(title=title).public_id}


def other_coach(setup, e):
    return {"coach": (setup.world.coach_b2 if e.engagement_id == setup.world.engagement_b.pk
                      else setup.world.coach_a2).pk}


def pause_all(setup):
    for e in setup.enrollments:
        pause_enrollment(e)


def clients_choose(setup):
    EngagementPage.objects.update(assignment_policy=AssignmentMethod.CLIENT_CHOICE)


def enrollment_route(action, method="post", **kw):
    return Route(method=method, targets="enrollments", lookup="view_enrollment", action=action,
                 args=by_public_id, **kw)


def list_routes(base, view_action, change_action, model, targets):
    return {
        f"coaching_{base}_modeladmin_index": Route(action=view_action),
        f"coaching_{base}_modeladmin_create": Route(action=change_action, creates=model),
        f"coaching_{base}_modeladmin_edit": Route(
            targets=targets, lookup=view_action, action=change_action
        ),
        f"coaching_{base}_modeladmin_inspect": Route(
            targets=targets, lookup=view_action, action=view_action
        ),
    }


ROUTES = {
    # The clients list and "Enroll a client" (which needs the right to assign coaches).
    "coaching_clients_modeladmin_index": Route(action="view_enrollment"),
    "coaching_clients_modeladmin_create": Route(action="reassign_enrollment"),
    # The client card and its actions.
    "wagtail_coaching_admin:client_card": enrollment_route("view_enrollment", method="get"),
    "wagtail_coaching_admin:add_extra_activity": enrollment_route(
        "change_enrollment",
        data=lambda s, e: {"kind": "lesson", "title": "Matrix", "text": "x", "stage": ""},
    ),
    "wagtail_coaching_admin:unlock_activity": enrollment_route(
        "change_enrollment", data=step_of("Later")
    ),
    "wagtail_coaching_admin:skip_activity": enrollment_route(
        "change_enrollment", data=step_of("How are you?")
    ),
    "wagtail_coaching_admin:reassign_coach": enrollment_route(
        "reassign_enrollment", data=other_coach
    ),
    "wagtail_coaching_admin:reassign_coach_review": enrollment_route(
        "reassign_enrollment", method="get"
    ),
    "wagtail_coaching_admin:pause": enrollment_route("change_enrollment"),
    "wagtail_coaching_admin:resume": enrollment_route("change_enrollment", prepare=pause_all),
    "wagtail_coaching_admin:add_note": enrollment_route(
        "change_enrollment", data=lambda s, e: {"body": "Matrix note", "visibility": "coach"}
    ),
    # Data portability and erasure (tests/test_portability.py).
    "wagtail_coaching_admin:client_data_export": enrollment_route(
        "export_client_data", method="get"
    ),
    "wagtail_coaching_admin:erase_client": enrollment_route("erase_client"),
    **list_routes("teams", "view_team", "change_team", Team, "teams"),
    **list_routes("coaches", "view_coachprofile", "change_coachprofile", CoachProfile,
                  "profiles"),
    **list_routes("companies", "view_company", "change_company", Company, "companies"),
    **list_routes("cohorts", "view_cohort", "change_cohort", Cohort, "cohorts"),
    "wagtail_coaching_admin:enroll_cohort": Route(
        method="post", targets="cohorts", lookup="view_cohort", action="change_cohort"
    ),
    # The client site: any signed-in user has a dashboard; an activity is the client's own.
    "wagtail_coaching:dashboard": Route(admin=False),
    "wagtail_coaching:activity": Route(
        admin=False, targets="activities", lookup="open_clientactivity",
        action="open_clientactivity", args=by_public_id,
    ),
    "wagtail_coaching:choose_coach": Route(
        admin=False, targets="enrollments", lookup="choose_coach", action="choose_coach",
        args=by_public_id, prepare=clients_choose,
    ),
    "wagtail_coaching:privacy": Route(admin=False),
    "wagtail_coaching:my_data": Route(admin=False),
    "wagtail_coaching:my_data_download": Route(admin=False),
    "wagtail_coaching:checkout_done": Route(
        admin=False, targets="orders", lookup="follow_order", action="follow_order",
        args=by_public_id,
    ),
    # Sales.
    "wagtail_coaching_order_modeladmin_index": Route(action="view_order"),
    "wagtail_coaching_order_modeladmin_inspect": Route(
        targets="orders", lookup="view_order", action="view_order"
    ),
    "wagtail_coaching_order_modeladmin_grant": Route(action="change_order"),
    "wagtail_coaching_order_modeladmin_refund": Route(
        targets="orders", lookup="view_order", action="change_order"
    ),
    "wagtail_coaching_salesmanagerprofile_modeladmin_index": Route(
        action="view_salesmanagerprofile"
    ),
    "wagtail_coaching_salesmanagerprofile_modeladmin_create": Route(
        action="change_salesmanagerprofile", creates=SalesManagerProfile
    ),
    "wagtail_coaching_salesmanagerprofile_modeladmin_edit": Route(
        targets="referrals", lookup="view_salesmanagerprofile",
        action="change_salesmanagerprofile",
    ),
    "wagtail_coaching_salesmanagerprofile_modeladmin_inspect": Route(
        targets="referrals", lookup="view_salesmanagerprofile", action="view_salesmanagerprofile"
    ),
    "wagtail_coaching_stripeevent_modeladmin_index": Route(action="view_stripeevent"),
    "wagtail_coaching_stripeevent_modeladmin_inspect": Route(
        targets="stripe_events", lookup="view_stripeevent", action="view_stripeevent"
    ),
    # Sessions: each area keeps its rows in its own module.
    **GROUP_SESSION_ROUTES,
    **CLIENT_SESSION_ROUTES,
    **BOOKING_ROUTES,
    **ONE_TO_ONE_ADMIN_ROUTES,
    **RULE_ROUTES,
    **JOB_ROUTES,
    **REPORT_ROUTES,
    **MESSAGE_ROUTES,
    **CO_COACH_ROUTES,
    **ORDER_ROUTES,
    **ENQUIRY_ROUTES,
}

# URLs that answer to something other than a user's role, each tested in its own module.
EXEMPT = {
    # Any signed-in visitor may start a checkout for a price on sale (tests/test_checkout.py).
    "wagtail_coaching:checkout",
    # "Ask about this" on an offer page, open to visitors, and a sales manager's personal
    # checkout link, whose secret token is the key (tests/test_enquiries.py).
    "wagtail_coaching:enquire",
    "wagtail_coaching:enquiry_checkout",
    # Stripe, authenticated by the signature on the body (tests/test_webhooks.py).
    "wagtail_coaching:stripe_webhook",
    # Signed reply links of session invitations (tests/test_session_views.py).
    "wagtail_coaching:rsvp",
    # Secret calendar feed URLs (tests/test_session_views.py, tests/test_feeds.py).
    "wagtail_coaching:calendar_feed",
    # The old payouts address, a redirect to the sessions delivered report, which has its
    # rows above (tests/test_payouts.py).
    "wagtail_coaching_admin:payouts",
}


class Setup:
    """``build_world()`` with a second coach in team B (someone to reassign Bea to) and a
    cohort of the other company."""

    def __init__(self):
        w = self.world = admin_world()
        w.coach_b2 = coach_in(w.team_b, "coach_b2")
        spring = Cohort.objects.get(name="Acme spring")
        autumn = Cohort.objects.create(
            name="Globex autumn", company=w.globex, engagement=w.engagement_b,
            start_date=spring.start_date,
        )
        self.enrollments = [w.enrollment_a1, w.enrollment_a2, w.enrollment_b1]
        self.teams = [w.team_a, w.team_b]
        self.profiles = [CoachProfile.objects.get(user=u) for u in (w.coach_a, w.coach_a2,
                                                                    w.coach_b)]
        self.companies = [w.acme, w.globex]
        self.cohorts = [spring, autumn]
        self.activities = [e.activities.get(title="Welcome") for e in self.enrollments]
        self.orders = list(Order.objects.all())
        self.referrals = list(SalesManagerProfile.objects.all())
        self.stripe_events = list(StripeEvent.objects.all())
        # Sessions (tests/world_sessions.py).
        add_sessions(w)
        self.group_sessions = [w.session_a, w.session_b]
        self.slots = list(AvailabilitySlot.objects.order_by("pk"))
        self.bookings = [w.booking_a1, w.booking_b1]
        self.allotments = list(w.one_to_one.values())
        self.users = [*w.users(), None]

    def identities(self, except_user=None):
        """Names and emails of everyone in the world but ``except_user``."""
        return [
            text for u in self.world.users() if u != except_user
            for text in (u.get_full_name(), u.email) if text
        ]


def matrix_allows(user, action, obj=None):
    """What ``MATRIX`` says, read directly: some role of the user has a scope for the action
    (and, for an object, the scope holds)."""
    scopes = MATRIX[action].roles
    mine = [scopes[r] for r in roles_of(user) if r in scopes]
    if obj is None:
        return bool(mine)
    return any(scope.test(user, obj) for scope in mine)


def expected(route, user, obj):
    if user is None:
        return LOGIN
    if route.admin and not user.has_perm("wagtailadmin.access_admin"):
        return LOGIN
    if route.lookup and not matrix_allows(user, route.lookup, obj):
        return MISSING
    target = route.creates() if route.creates else obj
    if route.action and not matrix_allows(user, route.action, target):
        return DENIED
    return OK


LOGIN_PATHS = {"/admin/login/", django_settings.LOGIN_URL}


def outcome(response):
    status = response.status_code
    if status == 302 and urlparse(response["Location"]).path in LOGIN_PATHS:
        return LOGIN
    if status == 404:
        return MISSING
    if status == 403:
        return DENIED
    if status == 200:
        return OK
    if status == 302:
        # An action that was let through: it must also have worked.
        levels = [m.level for m in get_messages(response.wsgi_request)]
        if levels and messages.ERROR not in levels:
            return OK
        # A link that leads on (opening a notification), saying nothing went wrong.
        if response.request["REQUEST_METHOD"] == "GET" and not levels:
            return OK
        return f"302 with messages {[str(m) for m in get_messages(response.wsgi_request)]}"
    return f"status {status}"


# The client site's pages, for a checkout that does not ship them yet: real templates win.
STUB_TEMPLATES = {
    "wagtail_coaching/base.html": "{% block content %}{% endblock %}",
    "wagtail_coaching/dashboard.html": "dashboard",
    "wagtail_coaching/activities/base_activity.html": "activity",
}


@pytest.fixture
def site_templates(settings):
    engine = copy.deepcopy(settings.TEMPLATES[0])
    engine["APP_DIRS"] = False
    engine["OPTIONS"]["loaders"] = [
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
        ("django.template.loaders.locmem.Loader", STUB_TEMPLATES),
    ]
    settings.TEMPLATES = [engine]


def describe(user, obj):
    who = user.username if user is not None else "anonymous"
    return f"{who} on {obj}" if obj is not None else who


def build_shared_world():
    return Setup()


# One code path (a request as each role) over every URL: a sweep, run by CI on the embedded
# default and on Wagtail LTS; each feature's own tests check its permissions on PostgreSQL.
@pytest.mark.exhaustive
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_every_url_answers_as_the_matrix_says(client, shared, site_templates, name):
    route = ROUTES[name]
    setup = shared
    if route.prepare:
        route.prepare(setup)
    objects = getattr(setup, route.targets) if route.targets else [None]
    mismatches = []
    seen = set()
    for obj in objects:
        url = reverse(name, args=route.args(obj))
        for user in setup.users:
            want = expected(route, user, obj)
            seen.add(want)
            as_user(client, user)
            with transaction.atomic():
                send = getattr(client, route.method)
                response = send(url, route.data(setup, obj)) if route.method == "post" \
                    else send(url)
                transaction.set_rollback(True)
            got = outcome(response)
            if got != want:
                mismatches.append(f"{describe(user, obj)}: expected {want}, got {got}")
            elif got in (DENIED, MISSING):
                html = response.content.decode()
                leaked = [t for t in setup.identities(except_user=user) if t in html]
                if leaked:
                    mismatches.append(f"{describe(user, obj)}: the {got} page names {leaked}")
    assert not mismatches, f"{name}:\n" + "\n".join(mismatches)
    # Each URL is tried both ways: someone is let in and someone is kept out.
    assert OK in seen and seen - {OK}, (name, seen)


# -- The table covers every URL ----------------------------------------------------------------

OURS = re.compile(
    r"^(wagtail_coaching_admin:|wagtail_coaching:|(wagtail_)?coaching_\w+_modeladmin_)"
)


def url_names():
    names = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
                walk(pattern.url_patterns, namespace)
            elif pattern.name:
                names.add(f"{prefix}{pattern.name}")

    walk(get_resolver().url_patterns, "")
    return {n for n in names if OURS.match(n)}


def test_the_table_covers_every_coaching_url():
    registered = url_names()
    assert registered, "no coaching URLs found: is the URL walk broken?"
    assert registered - set(ROUTES) - EXEMPT == set(), "URLs with no row in ROUTES"
    assert (set(ROUTES) | EXEMPT) - registered == set(), "rows for URLs that do not exist"


def test_the_table_names_only_matrix_actions():
    for name, route in ROUTES.items():
        for action in (route.lookup, route.action):
            assert action is None or action in MATRIX, (name, action)
