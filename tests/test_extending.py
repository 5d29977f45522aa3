"""A site's own page classes (tests/extending_app, as docs/extending.md shows them) go
everywhere the package's pages go: the page tree and the editor, sale by an offer, enrolling,
program sync on publish, the client's pages, the admin lists, client card and reports,
automation rules, and their own templates and fields.

``LeadershipProgramPage`` and ``CorporateOfferPage`` have a template of their own;
``RetreatPage`` and ``WorkshopOfferPage`` have none and are shown with the package's.
"""

import copy
import re
from dataclasses import dataclass

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.models import Page
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from tests.extending_app.models import (
    CorporateOfferPage,
    LeadershipProgramPage,
    RetreatPage,
    WorkshopOfferPage,
)
from wagtail_coaching.automation.dispatch import dispatch_events
from wagtail_coaching.checks import page_class_warnings
from wagtail_coaching.journeys import AlreadyEnrolled, EngagementFull, complete_activity, enroll
from wagtail_coaching.models import (
    AbstractEngagementPage,
    ActivityState,
    AutomationRule,
    CoachAssignment,
    EngagementPage,
    Enrollment,
    EnrollmentSource,
    EventKind,
    JourneyEvent,
    OfferPage,
    OfferPageMixin,
    Order,
    OrderStatus,
    Team,
    Trigger,
)
from wagtail_coaching.payments.fulfilment import grant_offer
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import (
    UserFactory,
    make_engagement,
    publish_program,
    site_root,
)
from wagtail_coaching.testing.jobs import run_jobs

from .stripe_fake import FREE, ONE_TIME, make_offer, post_event, price_of
from .test_admin_clients import as_user, listed_clients
from .world import built_quietly, coach_in, staff

SPONSOR = "Dana Director"
PARTNER = "Acme Corp"
SECRET = "Buyers-only workbook"
PAYWALL = {"type": "paywall", "value": {
    "teaser": "<p>Buyers get the workbook.</p>",
    "content": [{"type": "text", "value": f"<p>{SECRET}</p>"}],
}}


def program(*extra):
    return [
        programs.stage("Start", [
            programs.activity("lesson", "Welcome", rule="immediately", block_id="welcome"),
            programs.activity("check_in", "How are you?", rule="after_previous",
                              block_id="check-in"),
            *extra,
        ], block_id="start"),
    ]


@dataclass
class World:
    admin: object
    editor: object
    coach: object
    client: object
    team: object
    leadership: object
    retreat: object
    corporate_offer: object
    workshop_offer: object
    enrollment: object


def build():
    team = Team.objects.create(name="Leaders")
    coach = coach_in(team, "coach")
    leadership = make_engagement(
        program=program(), page_class=LeadershipProgramPage, title="Leading Others",
        slug="leading-others", executive_sponsor=SPONSOR, team=team,
        assignment_policy="round_robin", intro="<p>Twelve weeks with your peers.</p>",
    )
    retreat = make_engagement(
        program=program(), page_class=RetreatPage, title="Quiet Retreat", slug="retreat",
        venue="Lake house",
    )
    corporate_offer = make_offer(
        [leadership], prices=[ONE_TIME, FREE], title="Leaders at Acme", slug="acme-leaders",
        page_class=CorporateOfferPage, partner_company=PARTNER, access_days=90, body=[PAYWALL],
    )
    workshop_offer = make_offer(
        [retreat], prices=[FREE], title="Retreat weekend", slug="retreat-weekend",
        page_class=WorkshopOfferPage, seats_note="Twelve rooms",
    )
    admin = staff("admin", "admin")
    editor = UserFactory(username="editor", is_staff=True, is_superuser=True)
    client = staff("client", "client", first_name="Cleo", last_name="Client")
    # Sold by the site's own offer: fulfilment enrolls in the site's own engagement.
    order = grant_offer(client, corporate_offer, actor=admin, amount="100.00", currency="eur",
                        reference="INV-7")
    enrollment = Enrollment.objects.get(client=client, engagement=leadership)
    assert order.status == OrderStatus.PAID
    return World(admin, editor, coach, client, team, leadership, retreat, corporate_offer,
                 workshop_offer, enrollment)


def build_shared_world():
    return built_quietly(build)


@pytest.fixture
def w(shared):
    return shared


def html_of(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# -- What the package sees ------------------------------------------------------------------

def test_the_subclasses_are_the_package_pages(w):
    assert isinstance(w.leadership, EngagementPage)
    assert isinstance(w.corporate_offer, OfferPage)
    found = EngagementPage.objects.get(pk=w.leadership.pk)
    assert type(found) is EngagementPage  # the package reads its own table ...
    assert found.specific.executive_sponsor == SPONSOR  # ... and the site's is one step away
    assert set(EngagementPage.objects.live().values_list("title", flat=True)) >= {
        "Leading Others", "Quiet Retreat",
    }
    assert list(w.leadership.offers.all()) == [OfferPage.objects.get(pk=w.corporate_offer.pk)]
    assert Page.objects.get(pk=w.retreat.pk).specific_class is RetreatPage


# -- Sold and enrolled ----------------------------------------------------------------------

def test_a_grant_on_the_sites_offer_enrolls_in_the_sites_engagement(w):
    e = w.enrollment
    assert e.source == EnrollmentSource.OFFER
    assert e.engagement_id == w.leadership.pk
    assert e.program_revision_id == w.leadership.live_revision_id
    # The program copied into the client's rows, the first step open.
    rows = dict(e.activities.values_list("block_id", "state"))
    assert rows == {"welcome": ActivityState.AVAILABLE, "check-in": ActivityState.LOCKED}
    # The engagement's team and policy found a coach.
    assert CoachAssignment.objects.get(enrollment=e, ended_at__isnull=True).coach == w.coach
    kinds = set(JourneyEvent.objects.filter(enrollment=e).values_list("kind", flat=True))
    assert {EventKind.ENROLLED, EventKind.PAID, EventKind.COACH_ASSIGNED} <= kinds
    assert Order.objects.get(buyer=w.client).offer_id == w.corporate_offer.pk


def test_a_free_price_of_the_sites_offer_enrolls_at_once(w, client, stripe_fake):
    buyer = UserFactory(username="newbuyer")
    client.force_login(buyer)
    response = client.post(f"/coaching/checkout/{price_of(w.workshop_offer, 'Taster').pk}/")
    assert response.status_code == 303
    enrollment = Enrollment.objects.get(client=buyer)
    assert enrollment.engagement.specific == w.retreat
    assert enrollment.activities.count() == 2
    assert stripe_fake.requests == []


def test_a_paid_price_of_the_sites_offer_enrolls_when_stripe_says_paid(w, client, stripe_fake):
    buyer = UserFactory(username="payer")
    client.force_login(buyer)
    client.post(f"/coaching/checkout/{price_of(w.corporate_offer, 'Pay once').pk}/")
    order = Order.objects.get(buyer=buyer)
    assert order.offer_id == w.corporate_offer.pk and order.status == OrderStatus.PENDING
    session = stripe_fake.complete_session(order.stripe_session_id)
    response = post_event(client, stripe_fake.event("checkout.session.completed", session))
    assert response.json()["outcome"] == "fulfilled"
    assert Enrollment.objects.get(client=buyer).engagement_id == w.leadership.pk


def test_enroll_takes_the_subclass_or_the_package_page(w):
    newcomer = UserFactory(username="newcomer")
    as_base = EngagementPage.objects.get(pk=w.retreat.pk)
    enrollment = enroll(newcomer, as_base)
    assert enrollment.activities.count() == 2
    with pytest.raises(AlreadyEnrolled):
        enroll(newcomer, w.retreat)


def test_the_capacity_of_the_sites_engagement_holds(w):
    RetreatPage.objects.filter(pk=w.retreat.pk).update(capacity=1)
    enroll(UserFactory(username="first"), w.retreat)
    with pytest.raises(EngagementFull):
        enroll(UserFactory(username="second"), w.retreat)


# -- Publishing ----------------------------------------------------------------------------

def test_publishing_a_new_program_syncs_the_clients_and_keeps_the_sites_fields(w):
    extra = programs.activity("practice", "Daily reflection", rule="immediately",
                              block_id="reflection")
    with run_jobs():
        page = publish_program(w.leadership, program(extra))
    assert type(page) is LeadershipProgramPage
    assert page.executive_sponsor == SPONSOR
    assert page.get_latest_revision().as_object().executive_sponsor == SPONSOR
    rows = dict(w.enrollment.activities.values_list("block_id", "state"))
    assert rows["reflection"] == ActivityState.AVAILABLE
    assert rows["welcome"] == ActivityState.AVAILABLE
    w.enrollment.refresh_from_db()
    assert w.enrollment.program_revision_id == page.live_revision_id


# -- The page tree and the editor --------------------------------------------------------

def test_the_editor_offers_the_sites_page_types(w, client):
    as_user(client, w.editor)
    html = html_of(client.get(reverse("wagtailadmin_pages:add_subpage", args=[site_root().pk])))
    for model in (LeadershipProgramPage, RetreatPage, CorporateOfferPage, WorkshopOfferPage,
                  EngagementPage, OfferPage):
        assert f"/{model._meta.app_label}/{model._meta.model_name}/" in html, model
    # The site's own rule: below a leadership program, only another one.
    assert LeadershipProgramPage.allowed_subpage_models() == [LeadershipProgramPage]
    assert LeadershipProgramPage in EngagementPage.clean_subpage_models()


def test_a_site_can_offer_only_its_own_engagement_type(w, client, monkeypatch):
    """As a site's ``AppConfig.ready()`` would: ``EngagementPage.is_creatable = False``."""
    monkeypatch.setattr(EngagementPage, "is_creatable", False)
    as_user(client, w.editor)
    html = html_of(client.get(reverse("wagtailadmin_pages:add_subpage", args=[site_root().pk])))
    assert "/wagtail_coaching/engagementpage/" not in html
    assert "/extending_app/leadershipprogrampage/" in html
    # Existing engagements of the package's type stay as they are.
    assert EngagementPage.objects.live().exists()


def test_an_editor_creates_and_publishes_the_sites_engagement(w, client):
    as_user(client, w.editor)
    url = reverse("wagtailadmin_pages:add", args=[
        "extending_app", "leadershipprogrampage", site_root().pk,
    ])
    assert "executive_sponsor" in html_of(client.get(url))
    data = nested_form_data({
        "title": "Leading Change", "slug": "leading-change", "summary": "",
        "intro": rich_text("<p>For new managers.</p>"), "program": streamfield([]),
        "executive_sponsor": "Sam Sponsor", "team": w.team.pk,
        "assignment_policy": "least_loaded", "capacity": "", "action-publish": "publish",
    })
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    page = LeadershipProgramPage.objects.get(slug="leading-change")
    assert page.live and page.executive_sponsor == "Sam Sponsor"
    assert page.team_id == w.team.pk
    edit = html_of(client.get(reverse("wagtailadmin_pages:edit", args=[page.pk])))
    assert "Sam Sponsor" in edit
    enroll(UserFactory(username="changer"), page)
    assert page.enrollments.count() == 1


# -- The public pages ------------------------------------------------------------------------

def templates_of(response):
    return [t.name for t in response.templates if t.name]


def test_the_sites_engagement_template_shows_its_field_around_the_packages(w, client):
    response = client.get(w.leadership.url)
    html = html_of(response)
    assert templates_of(response)[:2] == [
        "extending_app/leadership_program_page.html", "wagtail_coaching/engagement_page.html",
    ]
    assert f'<p class="coaching-sponsor">Sponsored by {SPONSOR}</p>' in html
    assert "Twelve weeks with your peers." in html  # the package's blocks, kept
    assert "How the journey unfolds" in html
    assert f'href="{w.corporate_offer.url}"' in html  # where to join: the site's offer
    client.force_login(w.client)
    html = html_of(client.get(w.leadership.url))
    assert "Your journey" in html and "Continue your journey" in html
    assert f"Sponsored by {SPONSOR}" in html


def test_an_engagement_without_a_template_is_shown_with_the_packages(w, client):
    assert RetreatPage.template == "extending_app/retreat_page.html"  # Wagtail's name: absent
    response = client.get(w.retreat.url)
    html = html_of(response)
    assert templates_of(response)[0] == "wagtail_coaching/engagement_page.html"
    assert "Quiet Retreat" in html and "How the journey unfolds" in html
    assert "Lake house" not in html  # the site's field shows where its template puts it


def test_the_sites_offer_templates(w, client, stripe_fake):
    response = client.get(w.corporate_offer.url)
    html = html_of(response)
    assert templates_of(response)[:2] == [
        "extending_app/corporate_offer_page.html", "wagtail_coaching/offers/offer_page.html",
    ]
    assert f'<p class="coaching-partner">In partnership with {PARTNER}</p>' in html
    assert "Pay once" in html and "Taster" in html
    assert "Buyers get the workbook." in html and SECRET not in html
    client.force_login(w.client)  # a buyer: the paywall opens
    assert SECRET in html_of(client.get(w.corporate_offer.url))
    client.logout()
    response = client.get(w.workshop_offer.url)
    html = html_of(response)
    assert templates_of(response)[0] == "wagtail_coaching/offers/offer_page.html"
    assert "Retreat weekend" in html and "Taster" in html


def site_templates(settings, templates):
    """The site's own ``templates`` (name: source), found before the apps' (locmem)."""
    engine = copy.deepcopy(settings.TEMPLATES[0])
    engine["APP_DIRS"] = False
    engine["OPTIONS"]["loaders"] = [
        ("django.template.loaders.locmem.Loader", templates),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    settings.TEMPLATES = [engine]


def test_a_template_at_wagtails_default_path_is_used(w, client, settings):
    site_templates(settings, {
        "extending_app/retreat_page.html": "Retreat at {{ page.venue }}",
    })
    assert html_of(client.get(w.retreat.url)) == "Retreat at Lake house"


def test_the_sites_override_of_the_package_template_shows_subclasses_too(w, client, settings):
    site_templates(settings, {
        "wagtail_coaching/engagement_page.html": (
            '{% extends "wagtail_coaching/base.html" %}'
            "{% block content %}The site's engagement: {{ page.title }}{% endblock %}"
        ),
    })
    assert "The site's engagement: Quiet Retreat" in html_of(client.get(w.retreat.url))
    plain = make_engagement(program=program(), title="Plain", slug="plain")
    assert "The site's engagement: Plain" in html_of(client.get(plain.url))


def test_the_editors_preview_uses_the_sites_template(w, client):
    as_user(client, w.editor)
    url = reverse("wagtailadmin_pages:preview_on_edit", args=[w.leadership.pk])
    data = nested_form_data({
        "title": "Leading Others", "slug": "leading-others", "summary": "",
        "intro": rich_text("<p>Draft intro.</p>"), "program": streamfield([]),
        "executive_sponsor": "Pat Previewed", "team": w.team.pk,
        "assignment_policy": "round_robin", "capacity": "",
    })
    assert client.post(url, data).json()["is_valid"]
    html = html_of(client.get(url))
    assert "Sponsored by Pat Previewed" in html and "Draft intro." in html
    assert "Preview: you see the whole program" in html
    assert LeadershipProgramPage.objects.get(pk=w.leadership.pk).executive_sponsor == SPONSOR


def test_the_clients_dashboard_and_step_pages(w, client):
    client.force_login(w.client)
    html = html_of(client.get(reverse("wagtail_coaching:dashboard")))
    assert "Leading Others" in html and w.leadership.url in html
    welcome = w.enrollment.activities.get(block_id="welcome")
    url = reverse("wagtail_coaching:activity", args=[welcome.public_id])
    assert "Welcome" in html_of(client.get(url))
    response = client.post(url, {})
    assert response.status_code == 302
    welcome.refresh_from_db()
    assert welcome.state == ActivityState.COMPLETED


def test_the_dashboard_costs_what_it_costs_with_the_package_page(w, client):
    """A journey in a subclass page adds no query to the dashboard."""
    plain = make_engagement(program=program(), title="Plain", slug="plain")
    first, second = UserFactory(username="first"), UserFactory(username="second")
    enroll(first, plain)
    enroll(second, w.retreat)
    counts = []
    for user in (first, second):
        client.force_login(user)
        client.get(reverse("wagtail_coaching:dashboard"))  # sessions and caches warmed
        with CaptureQueriesContext(connection) as queries:
            html_of(client.get(reverse("wagtail_coaching:dashboard")))
        counts.append(len(queries))
    assert counts[0] == counts[1]


# -- The admin -------------------------------------------------------------------------------

def test_the_clients_list_filters_by_the_sites_engagement(w, client):
    as_user(client, w.admin)
    html = html_of(client.get("/admin/coaching/clients/"))
    assert "Leading Others" in html
    response = client.get("/admin/coaching/clients/", {"engagement": w.leadership.pk})
    assert listed_clients(response) == ["client"]
    response = client.get("/admin/coaching/clients/", {"engagement": w.retreat.pk})
    assert listed_clients(response) == []


def test_the_client_card(w, client):
    as_user(client, w.coach)
    url = reverse("wagtail_coaching_admin:client_card", args=[w.enrollment.public_id])
    html = html_of(client.get(url))
    assert "Leading Others" in html and "Welcome" in html


def test_enrolling_from_the_admin_offers_the_sites_engagements(w, client):
    as_user(client, w.admin)
    url = "/admin/coaching/clients/create/"
    html = html_of(client.get(url))
    assert re.search(rf'<option value="{w.retreat.pk}"[^>]*>\s*Quiet Retreat', html)
    response = client.post(url, {"email": w.client.email, "engagement": w.retreat.pk})
    assert response.status_code == 302, response.context["form"].errors
    assert Enrollment.objects.filter(client=w.client, engagement=w.retreat).exists()


def test_group_sessions_can_be_aimed_at_the_sites_engagement(w, client):
    as_user(client, w.coach)
    html = html_of(client.get(reverse("coaching_sessions_modeladmin_create")))
    assert re.search(rf'<option value="{w.leadership.pk}"[^>]*>\s*Leading Others', html)


def test_the_orders_list_filters_by_the_sites_offer(w, client):
    as_user(client, w.admin)
    url = reverse("wagtail_coaching_order_modeladmin_index")
    html = html_of(client.get(url))
    assert f'href="?offer__page_ptr__exact={w.corporate_offer.pk}">Leaders at Acme' in html
    response = client.get(url, {"offer__page_ptr__exact": w.corporate_offer.pk})
    assert [o.buyer for o in response.context["view"].queryset] == [w.client]
    response = client.get(url, {"offer__page_ptr__exact": w.workshop_offer.pk})
    assert list(response.context["view"].queryset) == []


@pytest.mark.parametrize("slug, title", [
    *((slug, "Leading Others") for slug in (
        "progress", "retention", "time_to_first_session", "satisfaction", "outcomes", "company",
    )),
    ("sales", "Leaders at Acme"),
])
def test_the_reports_name_the_sites_pages(w, client, slug, title):
    as_user(client, w.admin)
    html = html_of(client.get(reverse(f"wagtail_coaching_admin:report_{slug}")))
    assert title in html


# -- Automation ------------------------------------------------------------------------------

def test_the_engagement_chooser_offers_the_sites_engagements(w, client):
    """Rules (and their "enroll" action) choose an engagement with Wagtail's page chooser."""
    as_user(client, w.admin)
    response = client.get(reverse("wagtailadmin_choose_page"),
                          {"page_type": "wagtail_coaching.engagementpage"})
    choosable = re.findall(r'class="choose-page"[^>]*data-title="([^"]+)"', response.json()["html"])
    assert choosable == ["Leading Others", "Quiet Retreat"]  # not the offers, not the home


def test_a_rule_of_the_sites_engagement_enrolls_in_another(w):
    AutomationRule.objects.update(active=False)
    dispatch_events()
    rule = AutomationRule.objects.create(
        name="Then the retreat", engagement=w.leadership, trigger=Trigger.ACTIVITY_COMPLETED,
        activity_block_id="welcome",
        actions=[{"type": "enroll", "value": {"engagement": w.retreat.pk}}],
    )
    complete_activity(w.enrollment.activities.get(block_id="welcome"), actor=w.client)
    handled, fired = dispatch_events()
    assert fired == 1
    assert Enrollment.objects.filter(client=w.client, engagement=w.retreat).exists()
    assert rule.engagement.specific.executive_sponsor == SPONSOR


def test_the_rule_form_knows_the_sites_engagement_program(w, client):
    from .test_admin_rules import CREATE, form_data

    as_user(client, w.admin)
    url = reverse(CREATE)
    html_of(client.get(url))
    bad = client.post(url, form_data(w.leadership, trigger="activity_completed",
                                     activity_block_id="nope"))
    assert bad.status_code == 200
    assert "is not an activity of Leading Others" in bad.content.decode()
    good = client.post(url, form_data(w.leadership, trigger="activity_completed",
                                      activity_block_id="check-in"))
    assert good.status_code == 302
    assert AutomationRule.objects.get(name="New rule").engagement_id == w.leadership.pk


# -- What is not supported --------------------------------------------------------------------

def test_a_page_built_on_the_mixins_alone_is_warned_about():
    class ComposedEngagement(AbstractEngagementPage):
        class Meta:
            abstract = True  # (kept out of the app registry: the check sees any class)
            app_label = "extending_app"

    class ComposedOffer(OfferPageMixin):
        class Meta:
            abstract = True
            app_label = "extending_app"

    warnings = page_class_warnings([
        ComposedEngagement, ComposedOffer, EngagementPage, OfferPage, LeadershipProgramPage,
        RetreatPage, CorporateOfferPage, WorkshopOfferPage, Team,
    ])
    assert [(m.id, m.obj) for m in warnings] == [
        ("wagtail_coaching.W005", ComposedEngagement), ("wagtail_coaching.W005", ComposedOffer),
    ]
    assert "Subclass wagtail_coaching.EngagementPage" in warnings[0].hint
    assert "Subclass wagtail_coaching.OfferPage" in warnings[1].hint


def test_the_sites_subclasses_pass_the_checks():
    assert "wagtail_coaching.W005" not in {m.id for m in run_checks()}
