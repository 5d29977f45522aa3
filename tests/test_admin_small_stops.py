"""Small stops in the admin: pages titled as their menu items, empty lists that say so in a
sentence, and no search box or link that leads a coaching role to a "no permission" page."""

import re
from pathlib import Path

import pytest
import wagtail.admin
from django.contrib.messages import get_messages
from wagtail.admin.search import admin_search_areas

from wagtail_coaching.models import Cohort
from wagtail_coaching.testing.factories import UserFactory

from .test_admin_clients import (
    CLIENTS_URL,
    admin_world,
    as_user,
    card_url,
    is_login_redirect,
    listed_clients,
)
from .world_sessions import add_sessions

PERMISSION_DENIED = "do not have permission"


def build_shared_world():
    w = add_sessions(admin_world())
    w.editor = UserFactory(username="editor", is_superuser=True, is_staff=True)
    return w


@pytest.fixture
def world(shared):
    return shared


def page(client, user, url, data=None):
    """(status, html, messages) of ``url`` for ``user``."""
    response = as_user(client, user).get(url, data or {})
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    return response.status_code, response.content.decode(), messages


def title_and_heading(html):
    title = re.search(r"<title>\s*(.*?)\s*</title>", html, re.S).group(1)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)
    return title, " ".join(re.sub(r"<[^>]+>", " ", heading).split())


def search_forms(html):
    """(action, placeholder) of the dashboard's search forms."""
    found = []
    for form in re.findall(r'<form[^>]*role="search".*?</form>', html, re.S):
        action = re.search(r'action="([^"]*)"', form).group(1)
        placeholder = re.search(r'placeholder="([^"]*)"', form)
        found.append((action, placeholder.group(1) if placeholder else None))
    return found


def sidebar_search(html):
    found = re.search(r'"wagtail.sidebar.SearchModule", "_args": \["([^"]*)"\]', html)
    return found.group(1) if found else None


# -- Titles ---------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["admin", "coach_a", "hr_acme"])
def test_the_clients_menu_opens_a_page_called_clients(client, world, who):
    status, html, _messages = page(client, getattr(world, who), CLIENTS_URL)
    assert status == 200
    title, heading = title_and_heading(html)
    assert title.startswith("Clients")
    assert heading == "Clients"
    assert 'placeholder="Search clients"' in html
    assert "Enrollments" not in title + heading
    # The menu item that leads here says the same.
    home = page(client, getattr(world, who), "/admin/")[1]
    assert '{"name": "clients", "label": "Clients", "icon_name": "user"' in home


def test_the_clients_list_counts_clients(client, world):
    html = page(client, world.admin, CLIENTS_URL, {"q": "nobody at all"})[1]
    assert "no clients matching" in html
    assert "0 clients" in html
    assert "enrollments" not in html.lower()
    ada = page(client, world.admin, CLIENTS_URL, {"q": "Ada"})[1]
    assert re.search(r'class="pagination__end">\s*1 client\s*<', ada)


def test_the_pages_under_clients_name_it_so_in_their_breadcrumbs(client, world):
    for url in (card_url(world.enrollment_a1), card_url(world.enrollment_a1, "erase_client"),
                CLIENTS_URL + "create/"):
        status, html, _messages = page(client, world.admin, url)
        assert status == 200, url
        title, heading = title_and_heading(html)
        assert "Enrollment" not in title + heading, url
        assert ">Enrollments<" not in html, url
    crumbs = page(client, world.admin, card_url(world.enrollment_a1, "erase_client"))[1]
    assert f'href="{CLIENTS_URL}"' in crumbs


# -- Empty lists ----------------------------------------------------------------------------

def numbered_items(html, heading):
    """The <li> texts of the list that follows ``heading``, and the text right after it."""
    after = html.split(f">{heading}</h2>", 1)[1]
    section = re.split(r"<h2|</section>|<footer", after, maxsplit=1)[0]
    items = [re.sub(r"<[^>]+>", "", item).strip()
             for item in re.findall(r"<li>(.*?)</li>", section, re.S)]
    return items, " ".join(
        re.sub(r"<[^>]+>", " ", section).split())


def test_an_empty_registered_list_is_a_sentence_not_a_numbered_item(client, world):
    url = f"/admin/coaching/sessions/inspect/{world.session_b.pk}/"
    status, html, _messages = page(client, world.coach_b, url)
    assert status == 200
    items, text = numbered_items(html, "Registered")
    assert items == [] and text == "Nobody yet."
    items, text = numbered_items(html, "Waitlist")
    assert items == [] and text.startswith("Nobody is waiting.")
    assert '<p class="coaching-empty">Nobody is waiting.</p>' in html
    assert '<p class="coaching-empty">Nobody yet.</p>' in html


def test_a_registered_list_numbers_the_people(client, world):
    url = f"/admin/coaching/sessions/inspect/{world.session_a.pk}/"
    html = page(client, world.coach_a, url)[1]
    items, _text = numbered_items(html, "Registered")
    assert items == ["Ada Acme"]
    assert "Nobody yet." not in html


def test_an_empty_client_list_on_a_company_page_is_a_sentence(client, world):
    from wagtail_coaching.models import Company

    empty = Company.objects.create(name="Initech")
    html = page(client, world.admin, f"/admin/coaching/companies/inspect/{empty.pk}/")[1]
    assert '<p class="coaching-empty">None.</p>' in html
    assert "<li>None.</li>" not in html


# -- Search ---------------------------------------------------------------------------------

@pytest.mark.parametrize("who, target", [
    ("admin", CLIENTS_URL),  # a coaching admin who edits no pages
    ("coach_a", CLIENTS_URL),
    ("hr_acme", CLIENTS_URL),
    ("sales", None),
])
def test_the_search_boxes_lead_each_role_to_a_search_that_works(client, world, who, target):
    user = getattr(world, who)
    status, html, _messages = page(client, user, "/admin/")
    assert status == 200
    assert sidebar_search(html) == target
    if target is None:
        # Nothing a sales manager may search: no box on the dashboard either.
        assert search_forms(html) == []
        return
    assert search_forms(html) == [(target, "Search clients…")]
    status, results, messages = page(client, user, target, {"q": "Ada"})
    assert status == 200 and not any(PERMISSION_DENIED in m for m in messages)
    assert listed_clients_for(client, user, "Ada") == ["client_a1"]


def listed_clients_for(client, user, query):
    return listed_clients(as_user(client, user).get(CLIENTS_URL, {"q": query}))


def test_a_coach_searches_only_their_own_clients(client, world):
    assert listed_clients_for(client, world.coach_a, "Bea") == []
    assert listed_clients_for(client, world.coach_b, "Bea") == ["client_b1"]


def test_an_editor_keeps_wagtails_page_search(client, world):
    status, html, _messages = page(client, world.editor, "/admin/")
    assert status == 200
    ((action, placeholder),) = search_forms(html)
    assert action.startswith("/admin/pages/") and placeholder == "Search all pages…"
    assert sidebar_search(html) == "/admin/pages/search/"
    status, _html, messages = page(client, world.editor, action, {"q": "Engagement"})
    assert status == 200 and not any(PERMISSION_DENIED in m for m in messages)


def test_the_old_dashboard_search_was_a_dead_end_for_coaches(client, world):
    """Why the box changed: Wagtail's page search refuses whoever edits no pages."""
    response = as_user(client, world.coach_a).get("/admin/pages/", {"q": "Ada"})
    assert response.status_code == 302
    assert any(PERMISSION_DENIED in str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("who", ["client_a1", None])
def test_clients_and_visitors_get_no_admin_search(client, world, who):
    user = getattr(world, who) if who else None
    assert is_login_redirect(as_user(client, user).get("/admin/"))
    assert is_login_redirect(as_user(client, user).get(CLIENTS_URL, {"q": "Ada"}))


def test_search_areas_follow_the_roles(rf, world):
    def first_area(user):
        request = rf.get("/admin/")
        request.user = user
        areas = admin_search_areas.search_items_for_request(request)
        return areas[0].name if areas else None

    assert first_area(world.coach_a) == "coaching-clients"
    assert first_area(world.hr_acme) == "coaching-clients"
    assert first_area(world.admin) == "coaching-clients"
    assert first_area(world.sales) is None
    assert first_area(world.editor) == "pages"


def normalised(text):
    return " ".join(text.split())


def test_the_dashboard_differs_from_wagtails_only_by_its_search_form():
    """The package's dashboard copies Wagtail's content block for the users it changes:
    if a Wagtail upgrade changes the block, this fails and the copy is brought in line."""
    wagtails = (Path(wagtail.admin.__file__).parent / "templates/wagtailadmin/home.html")
    ours = Path(__file__).resolve().parent.parent / (
        "wagtail_coaching/templates/wagtailadmin/home.html")
    theirs = wagtails.read_text().split("{% block content %}", 1)[1].split(
        "\n{% endblock %}", 1)[0]
    copy = ours.read_text().split("{% else %}", 1)[1].rsplit("{% endif %}{% endblock %}", 1)[0]
    # Theirs without its search form, ours without the part that replaces it.
    theirs = re.sub(r"<form\s.*?</form>", "", theirs, count=1, flags=re.S)
    copy = re.sub(r"\{# coaching: search #\}.*?\{# coaching: end #\}", "", copy, flags=re.S)
    copy = copy.replace("{% block branding_welcome %}{{ block.super }}{% endblock %}",
                        "{% block branding_welcome %}{{ site_name }}{% endblock %}")
    assert normalised(copy) == normalised(theirs)


# -- Links to pages a role cannot open --------------------------------------------------------

def test_the_cohort_form_links_to_the_engagement_editor_only_for_editors(client, world):
    cohort = Cohort.objects.get(name="Acme spring")
    url = f"/admin/coaching/cohorts/edit/{cohort.pk}/"
    edit_link = f"/admin/pages/{world.engagement_a.pk}/edit/"
    status, html, _messages = page(client, world.admin, url)
    assert status == 200
    assert "Engagement A" in html and edit_link not in html
    status, html, _messages = page(client, world.editor, url)
    assert status == 200 and edit_link in html
    # The chooser itself works for the coaching admin.
    parent = world.engagement_a.get_parent()
    status, html, _messages = page(client, world.admin, f"/admin/choose-page/{parent.pk}/")
    assert status == 200 and "Engagement A" in html


def test_a_coaching_admin_can_still_change_a_cohorts_engagement(client, world):
    cohort = Cohort.objects.get(name="Acme spring")
    as_user(client, world.admin)
    response = client.post(f"/admin/coaching/cohorts/edit/{cohort.pk}/", {
        "name": "Acme spring", "company": world.acme.pk, "engagement": world.engagement_b.pk,
        "start_date": cohort.start_date.isoformat(),
    })
    assert response.status_code == 302, response.content.decode()[:500]
    cohort.refresh_from_db()
    assert cohort.engagement_id == world.engagement_b.pk


def test_the_erasure_page_says_what_happens_to_the_journey(client, world):
    html = page(client, world.admin, card_url(world.enrollment_a1, "erase_client"))[1]
    text = normalised(re.sub(r"<[^>]+>", " ", html))
    assert "Ended (data erased)" in text
    assert "sessions still to come are cancelled" in text
