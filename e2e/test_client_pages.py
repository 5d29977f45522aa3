"""The client-facing pages as a whole: accessibility (axe-core), no dead links, and a phone's
width. The pages are those a visitor and a client meet: offers, sign-in and sign-up,
checkout, the dashboard (with and without journeys), every kind of activity, sessions,
notifications, privacy and my data."""

from urllib.parse import urljoin, urlsplit

import pytest
from helpers import (
    PASSWORD,
    SCREENSHOTS,
    axe_violations,
    format_violations,
    sign_in,
    slug,
    unique,
)
from playwright.sync_api import expect

PHONE_WIDTH = 375
CRAWL_LIMIT = 250


def visitor_pages():
    from wagtail_coaching.models import OfferPage

    free = OfferPage.objects.get(slug="try-stress-reset")
    return [
        ("home", "/"),
        ("offer (free)", free.url),
        ("offer (paid)", OfferPage.objects.get(slug="join-leadership-foundations").url),
        ("engagement", "/leadership-foundations/"),
        ("checkout", f"/coaching/checkout/{free.prices.get().pk}/"),
        ("sign in", "/accounts/login/?next=/coaching/"),
        ("sign up", "/accounts/signup/"),
        ("password reset", "/accounts/password/reset/"),
    ]


def client_pages():
    """Casey's pages (the demo's "client"): one activity of each kind she can open."""
    from django.contrib.auth import get_user_model

    from wagtail_coaching.models import ClientActivity, GroupSession
    from wagtail_coaching.permissions import activities_client_may_open

    casey = get_user_model().objects.get(username="client")
    pages = [
        ("dashboard", "/coaching/"),
        ("sessions", "/coaching/sessions/"),
        ("notifications", "/coaching/notifications/"),
        ("notification settings", "/coaching/notifications/settings/"),
        ("my data", "/coaching/my-data/"),
        ("privacy", "/coaching/privacy/"),
        ("profile", "/accounts/profile/"),
    ]
    seen = set()
    for activity in activities_client_may_open(casey).order_by("enrollment_id", "stage_position",
                                                                "position"):
        if activity.kind not in seen:
            seen.add(activity.kind)
            pages.append(
                (f"activity: {activity.kind}", f"/coaching/activity/{activity.public_id}/")
            )
    session = GroupSession.objects.filter(
        registrations__user=casey, title="Acme leadership circle"
    ).order_by("-starts_at").first()
    pages.append(("group session", f"/coaching/sessions/{session.public_id}/"))
    kickoff = ClientActivity.objects.filter(enrollment__client=casey, kind="one_to_one").first()
    pages.append(("book a 1:1", f"/coaching/book/{kickoff.public_id}/"))
    return pages


def newcomer_pages(page):
    """A new account with no engagement yet: the empty dashboard, sessions, notifications."""
    username = unique("newcomer")
    page.goto("/accounts/signup/")
    page.get_by_label("First name").fill("Nia")
    page.get_by_label("Last name").fill("New")
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My coaching")
    return [
        ("empty dashboard", "/coaching/"),
        ("no sessions", "/coaching/sessions/"),
        ("no notifications", "/coaching/notifications/"),
    ]


ACTIVITY_KINDS = ["check_in", "feedback", "form", "group_session", "lesson", "one_to_one",
                  "practice"]


def visit_all(new_page, check, width=1280):
    """Open every page as the person who sees it and run ``check(page, name)``, which
    returns a list of problems. Returns every problem, page by page."""
    problems, checked = [], []

    def visit(page, name, path):
        response = page.goto(path)
        assert response.ok, f"{name} ({path}) answered {response.status}"
        problems.extend(f"{name} ({path}): {p}" for p in check(page, name))
        checked.append(name)

    visitor = new_page("visitor", width=width)
    for name, path in visitor_pages():
        visit(visitor, name, path)
    casey = new_page("client", width=width)
    sign_in(casey, "client")
    for name, path in client_pages():
        visit(casey, name, path)
    newcomer = new_page("newcomer", width=width)
    for name, path in newcomer_pages(newcomer):
        visit(newcomer, name, path)
    # Every kind of activity page was among them (Casey's Leadership Foundations has all).
    assert sorted(n.split(": ")[1] for n in checked if n.startswith("activity")) == ACTIVITY_KINDS
    assert len(checked) == len(visitor_pages()) + 9 + len(ACTIVITY_KINDS) + 3
    return problems


def test_client_pages_have_no_serious_accessibility_violations(new_page):
    def check(page, name):
        found = axe_violations(page)
        return [format_violations(found)] if found else []

    problems = visit_all(new_page, check)
    assert not problems, "axe-core (serious or critical):\n" + "\n".join(problems)


def test_client_pages_fit_a_phone_screen(new_page):
    """At 375 px wide nothing makes the page scroll sideways."""
    folder = SCREENSHOTS / "phone"
    folder.mkdir(parents=True, exist_ok=True)

    def check(page, name):
        page.screenshot(path=str(folder / f"{slug(name)}.png"), full_page=True)
        width, inner, culprits = page.evaluate(
            """() => {
                const inner = window.innerWidth;
                const wide = [...document.querySelectorAll("body *")]
                    .filter(e => e.getBoundingClientRect().right > inner + 1)
                    .slice(0, 5)
                    .map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className)
                        .trim().split(/\\s+/).join(".") : ""));
                return [document.documentElement.scrollWidth, inner, wide];
            }"""
        )
        if width <= inner:
            return []
        return [f"{width}px wide for a {inner}px screen; too wide: {', '.join(culprits)}"]

    problems = visit_all(new_page, check, width=PHONE_WIDTH)
    assert not problems, "Horizontal overflow:\n" + "\n".join(problems)


@pytest.mark.parametrize("who", ["visitor", "client"])
def test_no_dead_links(new_page, sandbox, who):
    """Follow every link of the public site and the client's pages (not the admin): each
    answers below 400."""
    page = new_page(who)
    if who == "client":
        sign_in(page, "client")
        start = ["/coaching/"]
    else:
        start = ["/", *[path for _name, path in visitor_pages()]]
    origin = urlsplit(sandbox.base_url).netloc
    queue, seen, dead = [sandbox.url(p) for p in start], set(), []
    linked_from = {}
    while queue and len(seen) < CRAWL_LIMIT:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = page.request.get(url, max_redirects=5)
        if response.status >= 400:
            dead.append(f"{response.status} {url} (linked from {linked_from.get(url)})")
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        page.goto(url)
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            target = urljoin(url, href).split("#")[0]
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https") or parts.netloc != origin:
                continue
            if parts.path.startswith(("/admin/", "/static/", "/documents/")):
                continue
            linked_from.setdefault(target, url)
            if target not in seen:
                queue.append(target)
    assert len(seen) > 10, f"The crawl found only {sorted(seen)}"
    assert not dead, "Dead links:\n" + "\n".join(dead)
