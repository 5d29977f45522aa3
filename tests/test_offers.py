"""Offers: the landing page, its prices, bundles, referral codes, and Stripe switched off."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import translation

from tests.stripe_fake import (
    FREE,
    INSTALLMENTS,
    MONTHLY,
    ONE_TIME,
    configure,
    make_offer,
    price_of,
)
from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.models import (
    OfferPage,
    OfferPrice,
    Order,
    OrderStatus,
    PaymentModel,
    SalesManagerProfile,
)
from wagtail_coaching.models.offers import REFERRAL_SESSION_KEY, describe_price
from wagtail_coaching.payments import checks
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.utils.money import format_amount, to_minor_units

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def stripe_off(settings):
    configure(settings, None)


def landing_body():
    return [
        {"type": "hero", "value": {"heading": "Lead with confidence", "subheading": "12 weeks",
                                   "image": None, "call_to_action": "See prices"}},
        {"type": "text", "value": "<p>Public introduction text.</p>"},
        {"type": "testimonials", "value": {"heading": "What clients say", "testimonials": [
            {"quote": "It changed how I lead.", "name": "Ana", "role": "CTO", "photo": None},
        ]}},
        {"type": "faq", "value": {"heading": "Questions", "questions": [
            {"question": "How long does it take?", "answer": "<p>Twelve weeks.</p>"},
        ]}},
        {"type": "pricing", "value": {"heading": "Pick a plan", "intro": "Prices include VAT."}},
        {"type": "paywall", "value": {
            "teaser": "<p>Buyers get the workbook.</p>",
            "content": [{"type": "text", "value": "<p>SECRET-WORKBOOK-LINK</p>"}],
        }},
    ]


@pytest.fixture
def sales_manager(db):
    user = UserFactory(username="sam")
    user.groups.add(Group.objects.get(name=coaching_settings.ROLE_GROUPS["sales_manager"]))
    SalesManagerProfile.objects.create(user=user, referral_code="sam-2025")
    return user


# -- The landing page -----------------------------------------------------------------------


def test_offer_page_renders_landing_blocks_and_its_own_prices(client, engagement, stripe_fake):
    offer = make_offer([engagement], prices=[ONE_TIME, MONTHLY, INSTALLMENTS, FREE],
                       body=landing_body())
    response = client.get(offer.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lead with confidence" in html
    assert "It changed how I lead." in html
    assert "<summary>How long does it take?</summary>" in html
    assert "Pick a plan" in html and "Prices include VAT." in html
    assert "€490.00" in html
    assert "€49.00 / month" in html
    assert "3 × €170.00 / month" in html
    assert "Free" in html
    # One buy form per active price, posting to the checkout of that price.
    for price in offer.prices.all():
        assert f'action="/coaching/checkout/{price.pk}/"' in html
    # The paywall shows its teaser, never its content, to a visitor.
    assert "Buyers get the workbook." in html
    assert "SECRET-WORKBOOK-LINK" not in html


def test_inactive_prices_are_not_offered(client, engagement, stripe_fake):
    offer = make_offer([engagement], prices=[ONE_TIME, {**MONTHLY, "active": False}])
    html = client.get(offer.url).content.decode()
    assert f"/coaching/checkout/{price_of(offer, 'Pay once').pk}/" in html
    assert f"/coaching/checkout/{price_of(offer, 'Monthly').pk}/" not in html
    # ... and cannot be bought by posting to them directly.
    client.force_login(UserFactory())
    response = client.post(f"/coaching/checkout/{price_of(offer, 'Monthly').pk}/")
    assert response.status_code == 404
    assert not Order.objects.exists()


def test_offer_without_pricing_block_still_shows_prices(client, engagement, stripe_fake):
    offer = make_offer([engagement], prices=[ONE_TIME])
    html = client.get(offer.url).content.decode()
    assert 'id="pricing"' in html
    assert f"/coaching/checkout/{price_of(offer, 'Pay once').pk}/" in html


def test_one_engagement_sold_by_many_offers_without_copies(engagement):
    solo = make_offer([engagement], title="Solo", prices=[ONE_TIME])
    other = make_engagement(title="Team Dynamics", slug="team")
    bundle = make_offer([engagement, other], title="Bundle",
                        prices=[{**ONE_TIME, "amount": "790.00"}])
    assert set(engagement.offers.all()) == {solo, bundle}
    assert set(bundle.engagements.all()) == {engagement, other}
    from wagtail_coaching.models import EngagementPage

    assert EngagementPage.objects.count() == 2


# -- Prices ---------------------------------------------------------------------------------


def _price(**fields):
    offer = OfferPage(title="x")
    return OfferPrice(offer=offer, **{"label": "p", **fields})


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"payment_model": "free", "amount": Decimal("5")}, "amount"),
        ({"payment_model": "one_time", "amount": Decimal("0")}, "amount"),
        ({"payment_model": "subscription", "amount": Decimal("9"), "interval": ""}, "interval"),
        ({"payment_model": "installments", "amount": Decimal("9"), "interval": "month"},
         "installments"),
        ({"payment_model": "one_time", "amount": Decimal("9"), "installments": 3},
         "installments"),
        ({"payment_model": "one_time", "amount": Decimal("9"), "trial_days": 7}, "trial_days"),
        ({"payment_model": "one_time", "amount": Decimal("9.50"), "currency": "jpy"}, "amount"),
    ],
)
def test_price_validation_explains_what_is_wrong(fields, field):
    with pytest.raises(ValidationError) as info:
        _price(**fields).clean()
    assert field in info.value.message_dict


def test_valid_prices_pass_and_currency_is_normalised():
    price = _price(payment_model="subscription", amount=Decimal("19"), interval="month",
                   currency="EUR", trial_days=14)
    price.clean()
    assert price.currency == "eur"


def test_money_in_minor_units_and_words():
    assert to_minor_units(Decimal("49.90"), "eur") == 4990
    assert to_minor_units(Decimal("5000"), "jpy") == 5000
    assert to_minor_units(Decimal("1.230"), "kwd") == 1230
    with pytest.raises(ValueError):
        to_minor_units(Decimal("1.005"), "eur")
    assert format_amount(Decimal("120"), "chf") == "CHF120.00"
    price = OfferPrice(label="x", payment_model=PaymentModel.SUBSCRIPTION, amount=Decimal("19"),
                       currency="eur", interval="month", interval_count=3)
    assert describe_price(price) == "€19.00 / 3 months"


def test_amounts_are_written_in_the_active_language():
    amount = Decimal("1490")
    assert format_amount(amount, "eur") == "€1,490.00"
    with translation.override("de"):
        assert format_amount(amount, "eur") == "1.490,00\xa0€"
        assert format_amount(Decimal("5000"), "jpy") == "5.000\xa0¥"  # no decimals: none charged
    with translation.override("fr"):
        assert format_amount(Decimal("1.23"), "kwd") == "1,230\xa0KWD"


# -- Sales attribution ----------------------------------------------------------------------


def test_ref_link_credits_the_sales_manager_on_the_order(client, engagement, sales_manager,
                                                         stripe_fake):
    offer = make_offer([engagement])
    response = client.get(offer.url + "?ref=sam-2025")
    assert client.session[REFERRAL_SESSION_KEY] == "sam-2025"
    assert 'name="ref" value="sam-2025"' in response.content.decode()
    buyer = UserFactory(username="buyer")
    client.force_login(buyer)  # signing in keeps the session's data
    client.post(f"/coaching/checkout/{price_of(offer, 'Pay once').pk}/")
    order = Order.objects.get()
    assert order.sales_manager == sales_manager
    assert REFERRAL_SESSION_KEY not in client.session


def test_unknown_or_foreign_ref_codes_credit_nobody(client, engagement, stripe_fake):
    not_sales = UserFactory(username="coachy")
    SalesManagerProfile.objects.create(user=not_sales, referral_code="not-sales")
    offer = make_offer([engagement])
    client.get(offer.url + "?ref=nope")
    assert REFERRAL_SESSION_KEY not in client.session
    client.force_login(UserFactory(username="buyer"))
    client.post(f"/coaching/checkout/{price_of(offer, 'Pay once').pk}/", {"ref": "not-sales"})
    assert Order.objects.get().sales_manager is None


# -- Without Stripe -------------------------------------------------------------------------


def test_without_stripe_paid_prices_are_not_available_yet(client, engagement, stripe_off):
    offer = make_offer([engagement], prices=[ONE_TIME, FREE])
    html = client.get(offer.url).content.decode()
    assert "Not available yet" in html
    assert f"/coaching/checkout/{price_of(offer, 'Pay once').pk}/" not in html
    assert f"/coaching/checkout/{price_of(offer, 'Taster').pk}/" in html
    assert "Payments are not configured" not in html  # visitors get no admin warning


def test_without_stripe_admins_see_a_clear_warning(client, engagement, stripe_off):
    offer = make_offer([engagement], prices=[ONE_TIME])
    client.force_login(UserFactory(username="boss", is_superuser=True, is_staff=True))
    html = client.get(offer.url).content.decode()
    assert "Payments are not configured" in html
    assert "STRIPE_SECRET_KEY" in html


def test_without_stripe_buying_a_paid_price_changes_nothing(client, engagement, stripe_off):
    offer = make_offer([engagement], prices=[ONE_TIME, FREE])
    client.force_login(UserFactory(username="buyer"))
    response = client.post(f"/coaching/checkout/{price_of(offer, 'Pay once').pk}/",
                           follow=True)
    assert not Order.objects.exists()
    assert "not available yet" in response.content.decode()
    # A free price still works.
    client.post(f"/coaching/checkout/{price_of(offer, 'Taster').pk}/")
    order = Order.objects.get()
    assert order.status == OrderStatus.PAID and order.grants.count() == 1


# -- System checks --------------------------------------------------------------------------


def ids(messages):
    return {m.id for m in messages}


def test_stripe_without_webhook_secret_fails_the_system_check():
    assert ids(checks.stripe_setting_messages("sk_live_x", None, 300)) == {
        "wagtail_coaching.E101"
    }
    assert ids(checks.stripe_setting_messages("sk_live_x", "whsec_x", 0)) == {
        "wagtail_coaching.E102"
    }
    assert ids(checks.stripe_setting_messages(None, "whsec_x", 300)) == {"wagtail_coaching.W101"}
    assert checks.stripe_setting_messages("sk_live_x", "whsec_x", 300) == []
    assert checks.stripe_setting_messages(None, None, 300) == []


def test_the_check_is_registered_and_reads_the_settings(settings):
    from django.core.checks import run_checks

    settings.WAGTAIL_COACHING = {"STRIPE_SECRET_KEY": "sk_test_x"}
    assert "wagtail_coaching.E101" in ids(run_checks())
    settings.WAGTAIL_COACHING = {"STRIPE_SECRET_KEY": "sk_test_x",
                                 "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    assert "wagtail_coaching.E101" not in ids(run_checks())
