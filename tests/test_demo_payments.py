"""The sandbox's demo payments: its checkout page pays with no real money and delivers the
events Stripe would, signed, through the package's real webhook and fulfilment; its plan
page moves installments and subscriptions on to their next payment; its state survives a
restart; without ``DEMO_PAYMENTS`` it answers nothing."""

import datetime
import re

import pytest
from django.utils import timezone

from sandbox.demo_payments import store
from sandbox.demo_payments.stripe import FakeStripe, add_interval
from tests.stripe_fake import INSTALLMENTS, MONTHLY, ONE_TIME, make_offer, price_of
from wagtail_coaching.models import (
    Enrollment,
    Order,
    OrderPayment,
    OrderStatus,
    StripeEvent,
)
from wagtail_coaching.testing.factories import UserFactory

pytestmark = [pytest.mark.django_db]

TRIAL = {**MONTHLY, "label": "Monthly with a trial", "trial_days": 14}


@pytest.fixture
def demo(stripe_fake, settings):
    """The test fake as the demo's stand-in: its pages at /demo-payments/, its events
    delivered in-process to the webhook view (as the demo does)."""
    settings.DEMO_PAYMENTS = True
    stripe_fake.hosted_base = "http://testserver/demo-payments"
    stripe_fake.deliver_to = store.post_to_webhook
    store.use(stripe_fake)
    yield stripe_fake
    store.use(None)


@pytest.fixture
def offer(engagement):
    return make_offer([engagement], prices=[ONE_TIME, INSTALLMENTS, TRIAL],
                      title="Leadership plans", access_days=365)


@pytest.fixture
def buyer(client):
    user = UserFactory(username="kim", email="kim@example.com")
    client.force_login(user)
    return user


def buy(client, price):
    """Checkout on the site, then the demo's page: returns the order and the pay page."""
    response = client.post(f"/coaching/checkout/{price.pk}/")
    assert response.status_code == 303
    pay_url = response["Location"]
    assert re.match(r"^http://testserver/demo-payments/pay/cs_test\w+/$", pay_url), pay_url
    page = client.get(pay_url)
    return Order.objects.get(price=price), pay_url, page


def outcomes(order):
    ids = [order.stripe_session_id, order.stripe_subscription_id]
    return list(
        StripeEvent.objects.filter(processed_at__isnull=False)
        .exclude(outcome="deferred").order_by("received_at", "pk")
        .filter(object_id__in=[i for i in ids if i])
        .values_list("type", "outcome")
    )


def test_a_one_time_price_is_paid_on_the_demo_page_and_fulfilled(client, demo, offer, buyer):
    order, pay_url, page = buy(client, price_of(offer, "Pay once"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Demo payment, no real money" in html
    assert "€490.00" in html and "Leadership" in html

    response = client.post(pay_url)
    assert response.status_code == 303
    assert response["Location"].endswith(f"/coaching/orders/{order.public_id}/")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.fulfilled_at is not None
    assert Enrollment.objects.filter(client=buyer, engagement__in=offer.engagements.all()).exists()
    assert [(t, s) for t, _o, s, _b in demo.deliveries] == [
        ("checkout.session.completed", 200), ("charge.succeeded", 200),
    ]
    (payment,) = order.payments.all()
    assert payment.amount == 490 and payment.receipt_url.startswith(
        "http://testserver/demo-payments/receipts/ch_test"
    )
    receipt = client.get(payment.receipt_url.removeprefix("http://testserver"))
    assert receipt.status_code == 200 and "€490.00" in receipt.content.decode()

    # Paying twice (a double click) charges nothing more.
    client.post(pay_url)
    assert order.payments.count() == 1 and len(demo.deliveries) == 2


def test_installments_run_to_the_end_through_the_demo_control(client, demo, offer, buyer):
    order, pay_url, _page = buy(client, price_of(offer, "Three payments"))
    assert "3 payments" in _page.content.decode()
    client.post(pay_url)
    order.refresh_from_db()
    assert (order.status, order.installments_paid) == (OrderStatus.PAID, 1)
    first = order.payments.get()
    assert first.invoice_url.startswith("http://testserver/demo-payments/invoices/in_test")
    assert first.receipt_url

    # The plan page says when the next installment is charged.
    page = client.get("/demo-payments/").content.decode()
    next_at = add_interval(int(first.paid_at.timestamp()), "month")
    when = datetime.datetime.fromtimestamp(next_at, tz=datetime.UTC)
    assert "The next payment of €170.00 will be charged on" in page
    assert when.strftime("%-d %B %Y") in page

    advance = f"/demo-payments/advance/{order.stripe_subscription_id}/"
    for expected in (2, 3):
        assert client.post(advance).status_code == 303
        order.refresh_from_db()
        assert order.installments_paid == expected
    assert order.plan_completed_at is not None
    # The last installment told Stripe (the stand-in) to bill no more.
    sub = demo.subscriptions[order.stripe_subscription_id]
    assert sub["cancel_at_period_end"] is True
    assert order.payments.count() == 3
    assert "No more payments: the plan ends on" in client.get("/demo-payments/").content.decode()

    client.post(advance)  # the period ends: the subscription with it
    order.refresh_from_db()
    assert order.subscription_ends_at is not None and order.status == OrderStatus.PAID
    assert ("customer.subscription.deleted", "plan_completed") in outcomes(order)
    assert order.payments.count() == 3
    client.post(advance)  # nothing left to move on
    assert order.payments.count() == 3
    assert all(status == 200 for _t, _o, status, _b in demo.deliveries)


def test_a_trial_charges_nothing_first_then_the_next_payment(client, demo, offer, buyer):
    order, pay_url, page = buy(client, price_of(offer, "Monthly with a trial"))
    assert "free trial of 14 days" in page.content.decode()
    client.post(pay_url)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.fulfilled_at is not None
    assert order.payments.count() == 0
    assert order.access_until > timezone.now() + datetime.timedelta(days=13)
    client.post(f"/demo-payments/advance/{order.stripe_subscription_id}/")
    order.refresh_from_db()
    (payment,) = order.payments.all()
    assert payment.amount == 49


def test_only_the_buyer_sees_and_moves_on_their_plan(client, demo, offer, buyer):
    order, pay_url, _page = buy(client, price_of(offer, "Three payments"))
    client.post(pay_url)
    order.refresh_from_db()
    other = UserFactory(username="other")
    client.force_login(other)
    assert "Leadership" not in client.get("/demo-payments/").content.decode()
    response = client.post(f"/demo-payments/advance/{order.stripe_subscription_id}/")
    assert response.status_code == 404
    order.refresh_from_db()
    assert order.installments_paid == 1
    client.logout()
    assert client.get("/demo-payments/").status_code == 302  # to sign in


def test_odd_requests_are_refused(client, demo, buyer):
    assert client.get("/demo-payments/pay/cs_nope/").status_code == 404
    assert client.post("/demo-payments/pay/cs_nope/").status_code == 404
    assert client.get("/demo-payments/invoices/in_nope/").status_code == 404
    assert client.get("/demo-payments/other/x/").status_code == 404
    assert client.get("/demo-payments/advance/sub_x/").status_code == 405
    assert client.post("/demo-payments/advance/sub_x/").status_code == 404
    # The API wants the demo's key, like Stripe wants yours.
    response = client.post("/demo-payments/v1/checkout/sessions", data="mode=payment",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401
    response = client.post("/demo-payments/v1/checkout/sessions", data=b"\xff",
                           content_type="application/x-www-form-urlencoded",
                           HTTP_AUTHORIZATION=f"Bearer {demo.api_key}")
    assert response.status_code == 400


def test_without_demo_payments_nothing_answers(client, settings, buyer):
    settings.DEMO_PAYMENTS = False
    for path in ("/demo-payments/", "/demo-payments/pay/cs_x/", "/demo-payments/v1/charges"):
        assert client.get(path).status_code == 404


def test_the_stand_in_keeps_its_state_across_a_restart(tmp_path, settings, stripe_fake,
                                                       client, offer, buyer):
    settings.DEMO_PAYMENTS = True
    settings.DEMO_PAYMENTS_STATE = str(tmp_path / "state.json")
    stripe_fake.on_change = store.save
    stripe_fake.hosted_base = "http://testserver/demo-payments"
    stripe_fake.deliver_to = store.post_to_webhook
    store.use(stripe_fake)
    try:
        order, pay_url, _page = buy(client, price_of(offer, "Three payments"))
        client.post(pay_url)
        order.refresh_from_db()
        store.use(None)  # the server restarts: a new stand-in reads the saved state
        restarted = store.demo_stripe()
        assert restarted is not stripe_fake
        assert set(restarted.subscriptions) == {order.stripe_subscription_id}
        assert restarted.schedule(order.stripe_subscription_id)["next_at"]
        # Its idempotency memory too: the same key and parameters replay the first answer.
        key, (fingerprint, status, payload) = next(iter(stripe_fake._idempotent.items()))
        assert restarted._idempotent[key] == (fingerprint, status, payload)
    finally:
        store.use(None)


def test_billing_dates_follow_calendar_months():
    jan31 = int(datetime.datetime(2027, 1, 31, 9, tzinfo=datetime.UTC).timestamp())
    feb = datetime.datetime.fromtimestamp(add_interval(jan31, "month"), tz=datetime.UTC)
    assert (feb.month, feb.day) == (2, 28)
    year = datetime.datetime.fromtimestamp(add_interval(jan31, "year"), tz=datetime.UTC)
    assert (year.year, year.month, year.day) == (2028, 1, 31)
    assert add_interval(jan31, "week", 2) - jan31 == 14 * 86400


def test_the_fake_is_one_implementation():
    from tests import stripe_fake

    assert stripe_fake.FakeStripe is FakeStripe
    assert OrderPayment  # the rows the demo's payments leave
