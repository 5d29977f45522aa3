"""Checkout: sign-in first, server-side amounts, one session per double submit, free prices,
and the success page."""

import datetime
import threading

import pytest
import stripe
from django.db import connection
from django.test import Client

from tests.stripe_fake import (
    FREE,
    MONTHLY,
    ONE_TIME,
    FakeStripe,
    make_offer,
    post_event,
    price_of,
)
from wagtail_coaching.models import (
    Enrollment,
    EnrollmentSource,
    EventKind,
    JourneyEvent,
    Order,
    OrderSource,
    OrderStatus,
)
from wagtail_coaching.payments.checkout import start_checkout
from wagtail_coaching.payments.stripe_client import stripe_client
from wagtail_coaching.testing.factories import UserFactory, make_engagement

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def offer(engagement):
    return make_offer([engagement], prices=[ONE_TIME, MONTHLY, FREE], access_days=90)


def checkout_url(price):
    return f"/coaching/checkout/{price.pk}/"


# -- Signing in first -----------------------------------------------------------------------


def test_anonymous_buyers_sign_in_first_and_come_back(client, offer, stripe_fake):
    price = price_of(offer, "Pay once")
    response = client.post(checkout_url(price))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/coaching/checkout/{price.pk}/"
    assert not Order.objects.exists()
    assert stripe_fake.requests == []


def test_confirmation_page_offers_sign_in_and_sign_up(client, offer, stripe_fake, settings):
    settings.WAGTAIL_COACHING = {**settings.WAGTAIL_COACHING, "SIGNUP_URL": "/join/"}
    price = price_of(offer, "Pay once")
    html = client.get(checkout_url(price)).content.decode()
    assert f'href="/accounts/login/?next=%2Fcoaching%2Fcheckout%2F{price.pk}%2F"' in html
    assert f'href="/join/?next=%2Fcoaching%2Fcheckout%2F{price.pk}%2F"' in html
    assert "€490.00" in html and "Leadership Foundations" in html


def test_a_site_with_the_accounts_pages_offers_their_sign_up_by_default(
    client, offer, stripe_fake, settings
):
    """A site that mounts the accounts pages and sets no SIGNUP_URL (as docs/install.md has
    it) still offers sign-up on the confirmation page; SIGNUP_URL = "" takes the link away."""
    settings.WAGTAIL_COACHING = {
        k: v for k, v in settings.WAGTAIL_COACHING.items() if k != "SIGNUP_URL"
    }
    price = price_of(offer, "Pay once")
    link = f'href="/accounts/signup/?next=%2Fcoaching%2Fcheckout%2F{price.pk}%2F"'
    assert link in client.get(checkout_url(price)).content.decode()

    settings.WAGTAIL_COACHING = {**settings.WAGTAIL_COACHING, "SIGNUP_URL": ""}
    html = client.get(checkout_url(price)).content.decode()
    assert "/accounts/signup/" not in html and "Create an account" not in html
    assert f'href="/accounts/login/?next=%2Fcoaching%2Fcheckout%2F{price.pk}%2F"' in html


def test_signed_in_buyer_sees_the_pay_button(client, offer, buyer, stripe_fake):
    client.force_login(buyer)
    html = client.get(checkout_url(price_of(offer, "Pay once"))).content.decode()
    assert "Continue to payment" in html
    assert "90 days" in html


# -- Paid prices ----------------------------------------------------------------------------


def test_paid_price_creates_order_and_checkout_session(client, offer, buyer, stripe_fake):
    price = price_of(offer, "Pay once")
    client.force_login(buyer)
    # Whatever a buyer posts, the amount comes from the server's price.
    response = client.post(checkout_url(price), {"amount": "1.00", "currency": "usd"})
    order = Order.objects.get()
    assert order.status == OrderStatus.PENDING
    assert (order.buyer, order.price, order.source) == (buyer, price, OrderSource.CHECKOUT)
    assert (str(order.amount), order.currency, order.access_days) == ("490.00", "eur", 90)
    assert response.status_code == 303
    assert response["Location"] == order.stripe_session_url

    [call] = stripe_fake.calls("POST", "/v1/checkout/sessions")
    params = call["params"]
    assert call["idempotency_key"] == f"coaching-checkout-{order.public_id}"
    assert params["client_reference_id"] == str(order.public_id)
    assert params["mode"] == "payment"
    assert params["line_items"][0]["price_data"]["unit_amount"] == "49000"
    assert params["line_items"][0]["price_data"]["currency"] == "eur"
    # Nothing personal in metadata: only the order reference.
    assert params["metadata"] == {"order": str(order.public_id)}
    assert params["payment_intent_data"]["metadata"] == {"order": str(order.public_id)}
    assert params["success_url"] == f"http://testserver/coaching/orders/{order.public_id}/"
    assert params["cancel_url"] == f"http://testserver{offer.url}"
    assert "allow_promotion_codes" not in params
    assert order.stripe_session_id in stripe_fake.sessions


def test_subscription_checkout_with_trial_and_promotion_codes(client, engagement, buyer,
                                                              stripe_fake):
    offer = make_offer([engagement], prices=[
        {**MONTHLY, "trial_days": 14, "allow_promotion_codes": True, "interval_count": 3}
    ])
    client.force_login(buyer)
    client.post(checkout_url(price_of(offer, "Monthly")))
    [call] = stripe_fake.calls("POST", "/v1/checkout/sessions")
    params = call["params"]
    assert params["mode"] == "subscription"
    assert params["line_items"][0]["price_data"]["recurring"] == {
        "interval": "month", "interval_count": "3"
    }
    assert params["subscription_data"] == {
        "metadata": {"order": str(Order.objects.get().public_id)}, "trial_period_days": "14",
    }
    assert params["allow_promotion_codes"] == "true"


def test_double_submit_creates_one_session(client, offer, buyer, stripe_fake):
    price = price_of(offer, "Pay once")
    client.force_login(buyer)
    first = client.post(checkout_url(price))
    second = client.post(checkout_url(price))
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1
    assert len(stripe_fake.sessions) == 1


def test_racing_submits_share_the_order_and_its_idempotency_key(offer, buyer, stripe_fake):
    """Two submits that both reach Stripe before either stored the session: Stripe's
    idempotency (same key, same parameters) answers both with one session."""
    price = price_of(offer, "Pay once")

    def success_url(order):
        return f"https://site.test/orders/{order.public_id}/"

    first = start_checkout(buyer, price, success_url=success_url, cancel_url="https://site.test/")
    Order.objects.update(stripe_session_id=None, stripe_session_url="")  # the "lost" write
    second = start_checkout(buyer, price, success_url=success_url,
                            cancel_url="https://site.test/")
    assert first.order.pk == second.order.pk
    assert first.payment_url == second.payment_url
    calls = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert len(calls) == 2 and len({c["idempotency_key"] for c in calls}) == 1
    assert len(stripe_fake.sessions) == 1


def test_the_fake_refuses_a_reused_key_with_other_parameters(stripe_fake):
    client = stripe_client()
    params = {"mode": "payment", "success_url": "https://s.test/", "line_items": [
        {"price_data": {"currency": "eur", "unit_amount": 100, "product_data": {"name": "x"}},
         "quantity": 1}]}
    one = client.v1.checkout.sessions.create(params, {"idempotency_key": "k1"})
    again = client.v1.checkout.sessions.create(params, {"idempotency_key": "k1"})
    assert one.id == again.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create({**params, "mode": "subscription"},
                                           {"idempotency_key": "k1"})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_creates_one_order_and_session(stripe_fake):
    engagement = make_engagement(title="Leadership Foundations", slug="leadership")
    offer = make_offer([engagement], prices=[ONE_TIME])
    buyer = UserFactory(username="cara", email="cara@example.com")
    price = price_of(offer, "Pay once")
    barrier = threading.Barrier(4)
    locations = []

    def submit():
        try:
            c = Client()
            c.force_login(buyer)
            barrier.wait()
            locations.append(c.post(checkout_url(price))["Location"])
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(locations)) == 1 and len(locations) == 4
    assert Order.objects.count() == 1
    assert len(stripe_fake.sessions) == 1


def test_changed_price_replaces_the_open_checkout(client, offer, buyer, stripe_fake):
    price = price_of(offer, "Pay once")
    client.force_login(buyer)
    client.post(checkout_url(price))
    price.amount = "450.00"
    price.save()
    client.post(checkout_url(price))
    old, new = Order.objects.order_by("id")
    assert old.status == OrderStatus.CANCELLED
    assert new.status == OrderStatus.PENDING and str(new.amount) == "450.00"
    assert len(stripe_fake.sessions) == 2


def test_expired_session_starts_a_new_checkout(client, offer, buyer, stripe_fake):
    price = price_of(offer, "Pay once")
    client.force_login(buyer)
    client.post(checkout_url(price))
    first = Order.objects.get()
    stripe_fake.sessions[first.stripe_session_id]["status"] = "expired"
    response = client.post(checkout_url(price))
    first.refresh_from_db()
    second = Order.objects.exclude(pk=first.pk).get()
    assert first.status == OrderStatus.EXPIRED
    assert response["Location"] == second.stripe_session_url != first.stripe_session_url


def test_stripe_failure_says_so_and_a_retry_reuses_the_order(client, offer, buyer, stripe_fake):
    price = price_of(offer, "Pay once")
    client.force_login(buyer)
    stripe_fake.fail_next("/v1/checkout/sessions", status=500)
    response = client.post(checkout_url(price), follow=True)
    assert "could not be opened" in response.content.decode()
    order = Order.objects.get()
    assert order.stripe_session_id is None and order.status == OrderStatus.PENDING
    response = client.post(checkout_url(price))
    order.refresh_from_db()
    assert response["Location"] == order.stripe_session_url
    assert Order.objects.count() == 1


def test_unpublished_engagement_makes_the_offer_unavailable(client, offer, engagement, buyer,
                                                           stripe_fake):
    engagement.unpublish()
    client.force_login(buyer)
    assert client.post(checkout_url(price_of(offer, "Pay once"))).status_code == 404
    assert not Order.objects.exists()


def test_buyer_with_access_is_not_charged_again(client, offer, buyer, stripe_fake):
    client.force_login(buyer)
    client.post(checkout_url(price_of(offer, "Taster")))
    response = client.post(checkout_url(price_of(offer, "Pay once")), follow=True)
    assert "already have access" in response.content.decode()
    assert Order.objects.count() == 1
    assert stripe_fake.calls("POST", "/v1/checkout/sessions") == []


# -- Free prices ----------------------------------------------------------------------------


def test_free_price_enrolls_at_once(client, offer, engagement, buyer, stripe_fake):
    client.force_login(buyer)
    response = client.post(checkout_url(price_of(offer, "Taster")))
    order = Order.objects.get()
    assert (order.status, order.source, order.amount) == (OrderStatus.PAID, OrderSource.FREE, 0)
    assert response.status_code == 303
    assert response["Location"] == f"/coaching/orders/{order.public_id}/"
    enrollment = Enrollment.objects.get(client=buyer, engagement=engagement)
    assert enrollment.source == EnrollmentSource.OFFER
    assert enrollment.ends_at == order.fulfilled_at + datetime.timedelta(days=90)
    assert JourneyEvent.objects.filter(enrollment=enrollment, kind=EventKind.PAID).count() == 1
    assert stripe_fake.requests == []
    html = client.get(response["Location"]).content.decode()
    assert "Thank you!" in html and "Leadership Foundations" in html


# -- The success page -----------------------------------------------------------------------


def start_paid_checkout(client, offer, buyer):
    client.force_login(buyer)
    client.post(checkout_url(price_of(offer, "Pay once")))
    return Order.objects.get()


def test_success_page_shows_processing_until_paid(client, offer, buyer, stripe_fake):
    order = start_paid_checkout(client, offer, buyer)
    html = client.get(f"/coaching/orders/{order.public_id}/").content.decode()
    assert "Processing your payment" in html
    assert 'http-equiv="refresh"' in html
    assert not Enrollment.objects.exists()
    # Completed but the (asynchronous) payment is not through yet: still processing.
    stripe_fake.complete_session(order.stripe_session_id, payment_status="unpaid")
    html = client.get(f"/coaching/orders/{order.public_id}/").content.decode()
    assert "Processing your payment" in html
    assert not Enrollment.objects.exists()


def test_success_page_confirms_with_stripe_and_the_webhook_adds_nothing(
    client, offer, buyer, engagement, stripe_fake
):
    order = start_paid_checkout(client, offer, buyer)
    session = stripe_fake.complete_session(order.stripe_session_id)
    html = client.get(f"/coaching/orders/{order.public_id}/").content.decode()
    assert "Thank you!" in html
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.fulfilled_at is not None
    assert order.stripe_payment_intent_id == session["payment_intent"]
    response = post_event(Client(), FakeStripe.event("checkout.session.completed", session))
    assert response.json()["outcome"] == "already_processed"
    assert Enrollment.objects.filter(client=buyer, engagement=engagement).count() == 1
    assert order.grants.count() == 1


def test_another_users_success_page_is_refused(client, offer, buyer, stripe_fake):
    order = start_paid_checkout(client, offer, buyer)
    stripe_fake.complete_session(order.stripe_session_id)
    intruder = Client()
    intruder.force_login(UserFactory(username="olly"))
    assert intruder.get(f"/coaching/orders/{order.public_id}/").status_code == 404
    order.refresh_from_db()
    assert order.fulfilled_at is None  # the intruder's visit confirmed nothing
    anonymous = Client().get(f"/coaching/orders/{order.public_id}/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_success_page_survives_stripe_being_unreachable(client, offer, buyer, stripe_fake):
    order = start_paid_checkout(client, offer, buyer)
    stripe_fake.fail_next("/v1/checkout/sessions/", status=500)
    response = client.get(f"/coaching/orders/{order.public_id}/")
    assert response.status_code == 200
    assert "Processing your payment" in response.content.decode()


def test_a_full_discount_still_fulfils(client, offer, buyer, stripe_fake):
    order = start_paid_checkout(client, offer, buyer)
    stripe_fake.complete_session(order.stripe_session_id, payment_status="no_payment_required")
    stripe_fake.sessions[order.stripe_session_id]["amount_total"] = 0
    client.get(f"/coaching/orders/{order.public_id}/")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.grants.count() == 1
