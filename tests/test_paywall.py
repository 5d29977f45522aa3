"""The paywall: buyers see the paid content; visitors, former buyers, previews for
non-editors, the search index and the API do not."""

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.test import Client, RequestFactory
from django.utils import timezone
from wagtail.models import GroupPagePermission, Page

from tests.stripe_fake import (
    FREE,
    ONE_TIME,
    FakeStripe,
    make_offer,
    post_event,
    price_of,
)
from wagtail_coaching.blocks import PaywallBlock
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import ClientActivity, EnrollmentStatus, OfferPage
from wagtail_coaching.payments.access import paywall_open
from wagtail_coaching.payments.checkout import start_checkout
from wagtail_coaching.payments.fulfilment import grant_offer
from wagtail_coaching.permissions import (
    enrollment_access_q,
    has_offer_access,
    offers_accessible_to,
)
from wagtail_coaching.testing.factories import UserFactory, make_engagement

pytestmark = [pytest.mark.django_db]

SECRET = "SECRET-WORKBOOK-LINK"
PAYWALL = {"type": "paywall", "value": {
    "teaser": "<p>Buyers get the workbook.</p>",
    "content": [{"type": "text", "value": f"<p>{SECRET}</p>"}],
}}


@pytest.fixture
def offer(engagement):
    return make_offer([engagement], prices=[ONE_TIME, FREE], body=[
        {"type": "text", "value": "<p>Open introduction about resilience.</p>"}, PAYWALL,
    ])


def page_html(user, offer):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(offer.url).content.decode()


def buy(buyer, offer, stripe_fake):
    order = start_checkout(
        buyer, price_of(offer, "Pay once"),
        success_url=lambda o: "https://site.test/done/", cancel_url="https://site.test/",
    ).order
    session = stripe_fake.complete_session(order.stripe_session_id)
    post_event(Client(), FakeStripe.event("checkout.session.completed", session))
    order.refresh_from_db()
    return order, session


# -- On the page ----------------------------------------------------------------------------


def test_visitors_and_non_buyers_see_only_the_teaser(offer, buyer, stripe_fake):
    for user in (None, buyer):
        html = page_html(user, offer)
        assert "Buyers get the workbook." in html
        assert SECRET not in html


def test_buyers_see_the_paid_content(offer, buyer, stripe_fake):
    buy(buyer, offer, stripe_fake)
    html = page_html(buyer, offer)
    assert SECRET in html
    assert "You have access to this offer." in html


def test_a_refund_closes_the_paywall_again(offer, buyer, stripe_fake):
    order, session = buy(buyer, offer, stripe_fake)
    post_event(Client(), FakeStripe.event(
        "charge.refunded", stripe_fake.charge(session["payment_intent"])))
    assert SECRET not in page_html(buyer, offer)
    assert not has_offer_access(buyer, offer)


def test_free_and_manual_grants_open_the_paywall(offer, buyer, stripe_fake):
    other = UserFactory(username="b2b")
    Client().force_login(buyer)
    start_checkout(buyer, price_of(offer, "Taster"), success_url=lambda o: "",
                   cancel_url="")
    grant_offer(other, offer, actor=UserFactory(username="boss", is_superuser=True),
                amount=0, currency="eur", reference="INV-1")
    assert SECRET in page_html(buyer, offer)
    assert SECRET in page_html(other, offer)


def test_editors_see_the_content_with_a_note(offer, stripe_fake):
    editors = Group.objects.create(name="Offer editors")
    editors.permissions.add(Permission.objects.get(codename="access_admin"))
    GroupPagePermission.objects.create(
        group=editors, page=Page.get_first_root_node(),
        permission=Permission.objects.get(codename="change_page"),
    )
    editor = UserFactory(username="ed")
    editor.groups.add(editors)
    html = page_html(editor, offer)
    assert SECRET in html
    assert "because you can edit this page" in html


def test_previews_open_the_paywall_for_editors_only(offer, buyer, stripe_fake):
    buy(buyer, offer, stripe_fake)
    request = RequestFactory().get("/")
    request.is_preview = True
    request.user = buyer  # a buyer, but not an editor
    assert paywall_open(request, offer) is False
    request.user = UserFactory(username="boss", is_superuser=True)
    assert paywall_open(request, offer) is True


def test_without_request_or_outside_an_offer_the_paywall_is_closed(offer, buyer):
    request = RequestFactory().get("/")
    request.user = buyer
    assert paywall_open(None, offer) is False
    assert paywall_open(request, Page.get_first_root_node()) is False
    block = PaywallBlock()
    value = block.to_python(PAYWALL["value"])
    assert SECRET not in block.render(value, context={})


# -- Search and API -------------------------------------------------------------------------


def test_paid_content_is_not_in_the_search_index(offer):
    assert list(OfferPage.objects.live().search("resilience")) == [offer]
    assert list(OfferPage.objects.live().search("workbook")) == [offer]  # the teaser is public
    assert list(OfferPage.objects.live().search(SECRET)) == []
    block = PaywallBlock()
    text = " ".join(block.get_searchable_content(block.to_python(PAYWALL["value"])))
    assert "workbook" in text and SECRET not in text


def test_the_api_representation_is_locked_without_access(offer, buyer, stripe_fake):
    block = PaywallBlock()
    value = block.to_python(PAYWALL["value"])
    request = RequestFactory().get("/api/")
    request.user = buyer
    locked = block.get_api_representation(value, context={"request": request})
    assert locked == {"locked": True, "teaser": "<p>Buyers get the workbook.</p>"}
    assert SECRET not in str(block.get_api_representation(value, context=None))
    buy(buyer, offer, stripe_fake)
    request = RequestFactory().get("/api/")
    request.user = buyer
    open_ = block.get_api_representation(value, context={"request": request, "page": offer})
    assert open_["locked"] is False and SECRET in str(open_["content"])


# -- The access rule ------------------------------------------------------------------------


def test_enrollment_in_every_engagement_of_a_bundle_gives_access(engagement, buyer):
    second = make_engagement(title="Team Dynamics", slug="team")
    bundle = make_offer([engagement, second], title="Bundle")
    enroll(buyer, engagement)
    assert not has_offer_access(buyer, bundle)
    enrollment = enroll(buyer, second)
    assert has_offer_access(buyer, bundle)
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.save()
    assert not has_offer_access(buyer, bundle)
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.ends_at = timezone.now() - datetime.timedelta(minutes=1)
    enrollment.save()
    assert not has_offer_access(buyer, bundle)


def test_predicate_and_queryset_agree(engagement, stripe_fake):
    second = make_engagement(title="Team Dynamics", slug="team")
    offers = [
        make_offer([engagement], title="Solo", prices=[ONE_TIME, FREE]),
        make_offer([engagement, second], title="Bundle", prices=[ONE_TIME]),
        make_offer([], title="Workbook only", prices=[FREE]),
        make_offer([second], title="Team offer", prices=[ONE_TIME]),
    ]
    users = [UserFactory(username=f"u{i}") for i in range(5)]
    enroll(users[0], engagement)
    enroll(users[1], engagement)
    enroll(users[1], second)
    start_checkout(users[2], price_of(offers[2], "Taster"), success_url=lambda o: "",
                   cancel_url="")
    start_checkout(users[3], price_of(offers[0], "Taster"), success_url=lambda o: "",
                   cancel_url="")
    paused = enroll(users[4], second)
    paused.status = EnrollmentStatus.PAUSED
    paused.save()
    population = [*users, AnonymousUser()]
    checked = 0
    for user in population:
        listed = set(offers_accessible_to(user).values_list("pk", flat=True))
        for offer in offers:
            assert has_offer_access(user, offer) == (offer.pk in listed), (user, offer.title)
            checked += has_offer_access(user, offer)
    assert checked == 6  # u0: solo; u1: solo, bundle, team; u2: workbook; u3: solo


def test_activities_of_a_revoked_enrollment_fall_outside_the_access_filter(
    offer, buyer, stripe_fake
):
    order, session = buy(buyer, offer, stripe_fake)
    open_rows = ClientActivity.objects.filter(
        enrollment__client=buyer).filter(enrollment_access_q(timezone.now(), "enrollment__"))
    assert open_rows.exists()
    post_event(Client(), FakeStripe.event(
        "charge.refunded", stripe_fake.charge(session["payment_intent"])))
    assert not open_rows.exists()


def test_activity_urls_close_when_access_is_revoked(offer, buyer, stripe_fake):
    order, session = buy(buyer, offer, stripe_fake)
    activity = ClientActivity.objects.filter(enrollment__client=buyer, state="available").first()
    client = Client()
    client.force_login(buyer)
    url = f"/coaching/activity/{activity.public_id}/"
    assert client.get(url).status_code == 200
    post_event(Client(), FakeStripe.event(
        "charge.refunded", stripe_fake.charge(session["payment_intent"])))
    assert client.get(url).status_code == 404
