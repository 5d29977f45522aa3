"""Every URL of the package, as every role, against bad input: never a 5xx, never a filter
the list did not declare.

The URL table is ``tests/test_admin_matrix.py``'s (a meta-test there keeps it complete); the
URLs it leaves to other modules are added here with arguments of their own. Each URL is
called with its path ids filled with every target object of the world (other people's
included), by one user of each role and by an anonymous visitor, with these probes:

- GET: undeclared parameters, relation lookups that would read a password hash or a
  check-in score (``client__password__startswith``, ``activities__score__lt``...), NUL bytes
  in a parameter's name and value, an over-long value;
- POST: an empty body, a truncated body (half the fields of a valid one), NUL bytes in every
  field;
- the path itself: NUL bytes and an over-long value in place of each string id.

Nothing may answer 5xx; NUL bytes are answered 400 and change nothing; a list shows the same
rows with and without undeclared parameters. Each request runs in a savepoint that is rolled
back, so the world is built once for the whole walk.
"""

import re

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wagtail_coaching.models import (
    Enquiry,
    GroupSession,
    OfferPage,
    OfferPrice,
    Registration,
)
from wagtail_coaching.scheduling.feeds import feed_of
from wagtail_coaching.scheduling.invites import rsvp_token

from .test_admin_matrix import EXEMPT, ROUTES, Setup, as_user
from .world import staff

UNDECLARED = {
    "foo": "bar",
    "client__username": "client_a1",
    "client__password__startswith": "pbkdf2_sha256$",
    "buyer__password__startswith": "pbkdf2_sha256$",
    "user__password__startswith": "pbkdf2_sha256$",
    "activities__score__lt": "5",
    "activities__response__icontains": "a",
    "enrollment__client__email__contains": "@",
    "pk__in": "1,2,3",
    "id__gt": "0",
}
NUL_QUERY = {"status": "\x00", "q\x00": "1", "engagement": "1\x00"}
LONG_QUERY = {"q": "a" * 5000}

LISTS = re.compile(r"(_modeladmin_index|:report_\w+)$")


def every_model_count():
    """One query: the number of rows of every model of the package."""
    tables = [m._meta.db_table for m in apps.get_app_config("wagtail_coaching").get_models()]
    sql = "SELECT " + ", ".join(
        f"(SELECT COUNT(*) FROM {connection.ops.quote_name(t)})" for t in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def exempt_routes(setup):
    """The URLs the matrix leaves to other modules, with arguments of their own."""
    w = setup.world
    price = OfferPrice.objects.order_by("pk").first()
    session = GroupSession.objects.order_by("pk").first()
    registration = Registration.objects.filter(session=session).first()
    tokens = [feed_of(u).token for u in (w.client_a1, w.coach_a)]
    rsvp = [rsvp_token(registration, "yes")] if registration is not None else ["nothing"]
    enquiry = Enquiry.objects.create(
        offer=price.offer, price=price, name="Ada", email="ada@example.com", message="?",
        sales_manager=w.sales,
    )
    return {
        "wagtail_coaching:checkout": ("post", [[price.pk]], {"price": price.pk}),
        "wagtail_coaching:enquire": ("post", [[price.offer_id], [999999]], {
            "name": "Ada", "email": "ada@example.com", "message": "Which plan?",
            "price": price.pk, "website": "",
        }),
        "wagtail_coaching:enquiry_checkout": (
            "post", [[enquiry.checkout_token], ["garbage"]], {}
        ),
        "wagtail_coaching:stripe_webhook": ("post", [[]], {}),
        "wagtail_coaching:rsvp": ("get", [rsvp, ["garbage"]], {}),
        "wagtail_coaching:calendar_feed": ("get", [[t] for t in tokens], {}),
        "wagtail_coaching_admin:payouts": ("get", [[]], {}),
    }


class Walk:
    def __init__(self, client):
        self.client = client
        self.failures = []
        self.sent = 0

    def send(self, what, method, url, data=None):
        """Send one request in a rolled-back savepoint; returns the response."""
        with transaction.atomic():
            response = getattr(self.client, method)(url, data or {})
            transaction.set_rollback(True)
        self.sent += 1
        if response.status_code >= 500:
            self.failures.append(f"{what}: {method.upper()} {short(url)!r} answered "
                                 f"{response.status_code}")
        return response

    def refused(self, what, method, url, data=None):
        """A request that must be answered 400 and change nothing."""
        before = every_model_count()
        with transaction.atomic():
            response = getattr(self.client, method)(url, data or {})
            after = every_model_count()
            transaction.set_rollback(True)
        self.sent += 1
        # Anonymous visitors of the admin are sent to sign in before any view runs.
        if response.status_code not in (400, 302, 404):
            self.failures.append(f"{what}: {method.upper()} {short(url)!r} answered "
                                 f"{response.status_code}, not 400")
        if before != after:
            changed = {t for t in before if before[t] != after[t]}
            self.failures.append(f"{what}: {short(url)!r} changed {sorted(changed)}")


def rows(response):
    context = getattr(response, "context", None)
    if response.status_code != 200 or context is None or "object_list" not in context:
        return None
    return [getattr(o, "pk", o) for o in context["object_list"]]


def path_variants(url, args):
    """The URL with each string argument replaced by NUL bytes, then by a very long value."""
    for arg in args:
        text = str(arg)
        if text and text in url and not text.isdecimal():
            yield url.replace(text, "%00", 1)
            yield url.replace(text, "x" * 3000, 1)


def short(url):
    return url if len(url) < 120 else url[:100] + "..."


def probe_route(walk, name, method, arg_lists, data, user):
    """The probes for one URL and one user. Path ids take every target object; the probes
    refused before any view runs (NUL bytes, over-long values) are sent for the first."""
    who = getattr(user, "username", "anonymous")
    what = f"{name} as {who}"
    for index, args in enumerate(arg_lists):
        url = reverse(name, args=args)
        first = index == 0
        if first:
            for bad in path_variants(url, args):
                walk.send(f"{what} (path)", "get", bad)
        if method == "get":
            plain = walk.send(what, "get", url)
            undeclared = walk.send(what, "get", url + "?" + urlencode(UNDECLARED))
            if LISTS.search(name) and rows(plain) != rows(undeclared):
                walk.failures.append(f"{what}: undeclared parameters changed the rows "
                                     f"{rows(plain)} -> {rows(undeclared)}")
            if first:
                walk.refused(what, "get", url + "?" + urlencode(NUL_QUERY))
                walk.refused(what, "get", url + "?" + urlencode(LONG_QUERY))
        else:
            walk.send(f"{what} (empty body)", "post", url, {})
            keys = sorted(data)
            walk.send(f"{what} (truncated)", "post", url,
                      {k: data[k] for k in keys[: len(keys) // 2]})
            if first:
                nul = {k: f"{v}\x00" for k, v in data.items()} or {"x": "\x00"}
                walk.refused(f"{what} (NUL)", "post", url, nul)


def urlencode(params):
    from urllib.parse import urlencode as encode

    return encode(params)


# One user of each role, and an anonymous visitor.
ROLES = ["admin", "root", "coach_a", "sales", "hr_acme", "client_a1", "anonymous"]


def build_shared_world():
    setup = Setup()
    superuser = staff("root", "admin")
    superuser.is_superuser = True
    superuser.save(update_fields=["is_superuser"])
    setup.world.root = superuser
    return setup


def user_of(setup, role):
    return None if role == "anonymous" else getattr(setup.world, role)


@pytest.fixture
def setup(shared):
    return shared


@pytest.mark.exhaustive
@pytest.mark.parametrize("role", ROLES)
def test_every_url_survives_bad_input(client, setup, role):
    """Every URL of the package, as one role (one test per role, so the walk is shared
    out between test processes)."""
    walk = Walk(client)
    extra = exempt_routes(setup)
    assert set(extra) == EXEMPT, "every exempt URL gets arguments here"
    user = user_of(setup, role)
    as_user(client, user)
    for name, route in sorted(ROUTES.items()):
        with transaction.atomic():
            if route.prepare:
                route.prepare(setup)
            objects = getattr(setup, route.targets) if route.targets else [None]
            probe_route(walk, name, route.method, [route.args(o) for o in objects],
                        route.data(setup, objects[0]), user)
            transaction.set_rollback(True)
    for name, (method, arg_lists, data) in sorted(extra.items()):
        probe_route(walk, name, method, arg_lists, data, user)
    print(f"\n{role}: {walk.sent} requests (URL x probe), {len(walk.failures)} failures")
    assert walk.sent > 400, "the walk reached the URLs"
    assert not walk.failures, "\n".join(walk.failures[:60])


def test_our_pages_refuse_nul_bytes(client, setup):
    w = setup.world
    walk = Walk(client)
    pages = [w.engagement_a.url, OfferPage.objects.get(slug="offer-a").url]
    for user in (w.client_a1, None):
        as_user(client, user)
        for url in pages:
            walk.send(f"{url} plain", "get", url)
            for query in ({"ref": "\x00"}, {"stage": "\x00"}, {"ref": "x" * 5000}):
                walk.refused(f"{url} {list(query)}", "get", url + "?" + urlencode(query))
            walk.send(f"{url} odd stage", "get", url + "?stage=99999999999999999999")
    assert not walk.failures, "\n".join(walk.failures)


# -- The lists: any undeclared parameter leaves the rows as they are ------------------------------

LIST_NAMES = sorted(n for n in ROUTES if n.endswith("_modeladmin_index"))
FIELDS = ["client", "buyer", "user", "coach", "enrollment", "activities", "engagement", "status",
          "password", "username", "score", "response", "email", "pk", "id", "session"]
LOOKUPS = ["", "__startswith", "__lt", "__gt", "__icontains", "__in", "__isnull", "__exact",
           "__regex"]


@st.composite
def undeclared_parameters(draw):
    path = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3))
    key = "__".join(path) + draw(st.sampled_from(LOOKUPS))
    value = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                blacklist_characters="\x00"), max_size=20))
    return key, value


@pytest.fixture
def list_world(setup):
    return setup, [user_of(setup, role) for role in ROLES if role != "anonymous"]


@pytest.mark.exhaustive
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), params=st.lists(undeclared_parameters(), min_size=1, max_size=4))
def test_no_undeclared_parameter_changes_a_list(client, list_world, data, params):
    setup, users = list_world
    user = data.draw(st.sampled_from(users), label="user")
    name = data.draw(st.sampled_from(LIST_NAMES), label="list")
    as_user(client, user)
    url = reverse(name)
    plain = client.get(url)
    view = plain.context and plain.context.get("view")
    declared = view.declared_parameters() if view is not None else set()
    query = urlencode([(k, v) for k, v in params if k not in declared])
    probed = client.get(f"{url}?{query}")
    assert probed.status_code < 500, (name, query, probed.status_code)
    assert rows(plain) == rows(probed), (name, user.username, query)


def test_the_password_oracle_is_closed(client, setup):
    """As an HR partner (and a sales manager), the hash of a client's password cannot be
    read back from the clients or orders lists."""
    w = setup.world
    prefix = w.client_a1.password[:12]
    for user, name in ((w.hr_acme, "coaching_clients_modeladmin_index"),
                       (w.sales, "wagtail_coaching_order_modeladmin_index")):
        as_user(client, user)
        url = reverse(name)
        field = "client" if "clients" in name else "buyer"
        right = client.get(f"{url}?{field}__password__startswith={prefix}")
        wrong = client.get(f"{url}?{field}__password__startswith=zzz")
        assert right.status_code == wrong.status_code == 200
        assert rows(right) == rows(wrong) == rows(client.get(url))
        assert rows(right), f"{name} shows {user.username} some rows to compare"
