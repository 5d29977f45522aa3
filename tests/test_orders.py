"""The buyer's orders on the site: "My orders" and each order's receipt (who may see them,
what they show of installments paid and due, bad input), and the notice that a client has
one 1:1 session left."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from wagtail_coaching.models import (
    Notification,
    NotificationPreference,
    Order,
    OrderPayment,
    OrderSource,
    OrderStatus,
    PaymentModel,
)
from wagtail_coaching.payments.receipts import add_interval, payments_due
from wagtail_coaching.scheduling import book_session, cancel_session, publish_availability
from wagtail_coaching.testing.factories import UserFactory

from .stripe_fake import INSTALLMENTS, make_offer
from .test_admin_clients import admin_world
from .world_sessions import ONE_TO_ONE, in_days

NOW = timezone.now()


def installment_order(buyer, offer, paid=1, payments=1):
    order = Order.objects.create(
        buyer=buyer, offer=offer, status=OrderStatus.PAID, source=OrderSource.CHECKOUT,
        price_label="Three payments", payment_model=PaymentModel.INSTALLMENTS,
        amount=Decimal("170.00"), currency="eur", interval="month", installments_total=3,
        installments_paid=paid, paid_at=NOW, fulfilled_at=NOW, created_at=NOW,
        access_until=datetime.datetime(2031, 1, 31, 12, tzinfo=datetime.UTC),
        stripe_subscription_id=f"sub_{uuid.uuid4().hex[:8]}",
    )
    for i in range(payments):
        OrderPayment.objects.create(
            order=order, amount=Decimal("170.00"), currency="eur", paid_at=NOW,
            stripe_invoice_id=f"in_{uuid.uuid4().hex[:10]}",
            stripe_payment_intent_id=f"pi_{uuid.uuid4().hex[:10]}",
            invoice_url=f"https://invoice.stripe.com/i/{i}",
            receipt_url=f"https://pay.stripe.com/receipts/{i}",
        )
    return order


def build_shared_world():
    world = admin_world()
    offer = make_offer([world.engagement_b], prices=[INSTALLMENTS], title="Plan B", slug="plan-b")
    world.plan = installment_order(world.client_b1, offer)
    world.granted = Order.objects.get(buyer=world.client_a1)
    return world


def receipt_url(order):
    return f"/coaching/orders/{order.public_id}/receipt/"


# -- Who sees what ------------------------------------------------------------------------


def test_my_orders_lists_only_ones_own(client, shared):
    client.force_login(shared.client_b1)
    html = client.get("/coaching/orders/").content.decode()
    assert "Plan B" in html and "Offer A" not in html
    assert "1 of 3 installments paid" in html and "2 to come" in html
    assert "Next payment: €170.00 on 31 January 2031" in html
    client.force_login(shared.client_a1)
    html = client.get("/coaching/orders/").content.decode()
    assert "Offer A" in html and "Plan B" not in html
    # Staff see their own purchases there too, not everyone's.
    client.force_login(shared.admin)
    html = client.get("/coaching/orders/").content.decode()
    assert "You have no orders yet." in html and "Plan B" not in html


@pytest.mark.parametrize("who, status", [
    ("client_b1", 200), ("admin", 200), ("sales", 200), ("client_a1", 404), ("coach_b", 404),
    ("hr_globex", 404),
])
def test_the_receipt_is_the_buyers_and_staffs_only(client, shared, who, status):
    client.force_login(getattr(shared, who))
    response = client.get(receipt_url(shared.plan))
    assert response.status_code == status
    if status == 404:
        assert "Plan B" not in response.content.decode()


def test_anonymous_visitors_sign_in_first(client, shared):
    for url in ("/coaching/orders/", receipt_url(shared.plan)):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_receipt_shows_payments_documents_and_what_is_due(client, shared):
    client.force_login(shared.client_b1)
    html = client.get(receipt_url(shared.plan)).content.decode()
    assert "https://invoice.stripe.com/i/0" in html
    assert "https://pay.stripe.com/receipts/0" in html
    assert "Total paid" in html and "€170.00" in html
    # The two installments to come: when the paid period ends, and a (calendar) month later.
    assert "€170.00 on 31 January 2031" in html and "€170.00 on 28 February 2031" in html
    assert "Print this receipt" in html and str(shared.plan.public_id) in html


def test_a_manual_grant_shows_its_offline_payment(client, shared):
    client.force_login(shared.client_a1)
    html = client.get(receipt_url(shared.granted)).content.decode()
    assert "€100.00" in html and "INV-1" in html


def test_bad_input_gives_a_clear_answer(client, shared):
    client.force_login(shared.client_b1)
    assert client.get("/coaching/orders/not-a-uuid/receipt/").status_code == 404
    assert client.get(f"/coaching/orders/{uuid.uuid4()}/receipt/").status_code == 404
    assert client.get("/coaching/orders/?page=\x00").status_code == 400
    assert client.get("/coaching/orders/?page=" + "9" * 2000).status_code == 400
    for odd in ("?page=abc", "?page=-1", "?status=paid&order_by=buyer"):
        assert client.get("/coaching/orders/" + odd).status_code == 200
    assert client.post("/coaching/orders/").status_code == 405
    assert client.post(receipt_url(shared.plan)).status_code == 405


def test_the_list_takes_the_same_queries_however_many_orders(client, shared,
                                                            django_assert_max_num_queries):
    client.force_login(shared.client_b1)
    with django_assert_max_num_queries(12) as few:
        client.get("/coaching/orders/")
    offer = shared.plan.offer
    for _ in range(8):
        installment_order(shared.client_b1, offer, payments=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/coaching/orders/")
    assert response.content.decode().count("coaching-order ") == 9


# -- What is due ----------------------------------------------------------------------------


def test_nothing_is_due_once_the_plan_is_paid_ended_or_refunded(shared):
    plan = shared.plan
    assert [d.at.day for d in payments_due(plan)] == [31, 28]
    for change in ({"installments_paid": 3}, {"subscription_ends_at": NOW},
                   {"status": OrderStatus.REFUNDED}, {"plan_completed_at": NOW}):
        copy = Order.objects.get(pk=plan.pk)
        for field, value in change.items():
            setattr(copy, field, value)
        assert payments_due(copy) == [], change
    assert payments_due(shared.granted) == []


def test_billing_months_are_counted_as_stripe_does():
    jan31 = datetime.datetime(2031, 1, 31, tzinfo=datetime.UTC)
    assert add_interval(jan31, "month").date() == datetime.date(2031, 2, 28)
    assert add_interval(jan31, "month", 13).date() == datetime.date(2032, 2, 29)
    assert add_interval(jan31, "year").date() == datetime.date(2032, 1, 31)


# -- One session left -----------------------------------------------------------------------


def low_notices():
    return list(
        Notification.objects.filter(kind__in=("allotment_low", "coach_allotment_low"))
        .order_by("kind").values_list("kind", "recipient__username")
    )


def test_one_session_left_is_told_once_to_client_and_coach(shared, enqueue_at_once):
    from wagtail_coaching.journeys import add_extra_activity
    from wagtail_coaching.testing.jobs import drain

    w = shared
    offer = make_offer([w.engagement_a], title="Renew A", slug="renew-a")
    make_offer([w.engagement_a], title="Old offer", slug="old-offer", publish=False)
    publish_availability(w.coach_a, start=in_days(3, 9), end=in_days(3, 14), slot_minutes=60)
    step = add_extra_activity(w.enrollment_a1, "one_to_one", {**ONE_TO_ONE, "sessions": 3})
    mail.outbox.clear()
    book_session(step, in_days(3, 9), actor=w.client_a1)
    assert low_notices() == []  # two left
    second = book_session(step, in_days(3, 10), actor=w.client_a1)
    assert low_notices() == [("allotment_low", "client_a1"), ("coach_allotment_low", "coach_a")]
    drain()
    (to_client,) = [m for m in mail.outbox if m.to == [w.client_a1.email]
                    and "One 1:1 session left" in m.subject]
    assert "Renew A" in to_client.body and "/renew-a/" in to_client.body
    assert "Old offer" not in to_client.body

    # Cancelled in time and booked again: one left again, but nobody is told twice.
    cancel_session(second, actor=w.client_a1)
    book_session(step, in_days(3, 11), actor=w.client_a1)
    assert len(low_notices()) == 2
    book_session(step, in_days(3, 12), actor=w.client_a1)  # the last one
    assert len(low_notices()) == 2
    assert offer.live


def test_the_notice_respects_who_switched_it_off(shared, enqueue_at_once):
    from wagtail_coaching.journeys import add_extra_activity
    from wagtail_coaching.testing.jobs import drain

    w = shared
    NotificationPreference.objects.create(user=w.client_a1, kind="allotment_low", enabled=False)
    publish_availability(w.coach_a, start=in_days(4, 9), end=in_days(4, 11), slot_minutes=60)
    step = add_extra_activity(w.enrollment_a1, "one_to_one", {**ONE_TO_ONE, "sessions": 2})
    mail.outbox.clear()
    book_session(step, in_days(4, 9), actor=w.client_a1)
    drain()
    subjects = [(m.to, m.subject) for m in mail.outbox]
    assert not any("One 1:1 session left" in s for _to, s in subjects), subjects
    assert any("has one 1:1 session left" in s for _to, s in subjects), subjects


def test_a_new_client_without_orders_sees_an_empty_list(client, db):
    client.force_login(UserFactory(username="nobody"))
    assert "You have no orders yet." in client.get("/coaching/orders/").content.decode()
