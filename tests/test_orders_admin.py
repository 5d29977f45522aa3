"""The Orders panel: who may use it, filters, CSV export, manual grants and refunds."""

import csv
import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from tests.stripe_fake import (
    MONTHLY,
    ONE_TIME,
    FakeStripe,
    configure,
    make_offer,
    post_event,
    price_of,
)
from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.models import (
    Enrollment,
    EnrollmentStatus,
    Order,
    OrderSource,
    OrderStatus,
    SalesManagerProfile,
)
from wagtail_coaching.payments.checkout import start_checkout
from wagtail_coaching.payments.fulfilment import grant_offer
from wagtail_coaching.testing.factories import UserFactory

pytestmark = [pytest.mark.django_db]

INDEX = "wagtail_coaching_order_modeladmin_index"
GRANT = "wagtail_coaching_order_modeladmin_grant"
REFUND = "wagtail_coaching_order_modeladmin_refund"
INSPECT = "wagtail_coaching_order_modeladmin_inspect"
REFERRALS = "wagtail_coaching_salesmanagerprofile_modeladmin_index"


def role_user(username, role=None, admin_access=True):
    user = UserFactory(username=username, email=f"{username}@example.com")
    if role is not None:
        group, _ = Group.objects.get_or_create(name=coaching_settings.ROLE_GROUPS[role])
        if admin_access:
            group.permissions.add(Permission.objects.get(codename="access_admin"))
        user.groups.add(group)
    return user


@pytest.fixture
def people(db):
    return {
        "admin": UserFactory(username="boss", is_superuser=True, is_staff=True),
        "sales": role_user("sam", "sales_manager"),
        "coach": role_user("coco", "coach"),
        "hr": role_user("hilda", "hr_partner"),
        "client": role_user("cara"),
    }


def as_user(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def offer(engagement):
    return make_offer([engagement], prices=[ONE_TIME, MONTHLY])


def paid_order(buyer, offer, stripe_fake, label="Pay once"):
    order = start_checkout(
        buyer, price_of(offer, label), success_url=lambda o: "https://site.test/done/",
        cancel_url="https://site.test/",
    ).order
    session = stripe_fake.complete_session(order.stripe_session_id)
    post_event(Client(), FakeStripe.event("checkout.session.completed", session))
    if label == "Monthly":
        post_event(Client(), FakeStripe.event("invoice.paid", stripe_fake.invoice(
            session["subscription"], 4900, 1, 2)))
    order.refresh_from_db()
    return order


# -- Who may use it -------------------------------------------------------------------------


@pytest.mark.parametrize("who, allowed", [
    ("admin", True), ("sales", True), ("coach", False), ("hr", False), ("client", False),
    (None, False),
])
def test_only_admins_and_sales_managers_see_orders(people, offer, stripe_fake, who, allowed):
    grant_offer(people["client"], offer, actor=people["admin"], amount=100, currency="eur",
                reference="INV-SECRET-7")
    client = as_user(people.get(who))
    order = Order.objects.get()
    for url in (
        reverse(INDEX), reverse(INDEX) + "?export=csv", reverse(GRANT),
        reverse(INSPECT, args=[order.pk]), reverse(REFUND, args=[order.pk]),
    ):
        response = client.get(url)
        if allowed:
            assert response.status_code == 200, url
        elif who in (None, "client"):
            assert response.status_code == 302, url  # to the admin's login
            assert "/admin/login/" in response["Location"]
        else:
            # Staff without the right: refused (403), or the order does not exist (404).
            assert response.status_code in (403, 404), url
            assert b"INV-SECRET-7" not in response.content


def test_forbidden_users_cannot_grant_or_refund(people, offer, stripe_fake):
    order = paid_order(people["client"], offer, stripe_fake)
    for who in ("coach", "hr", "client"):
        client = as_user(people[who])
        client.post(reverse(GRANT), {"buyer": people["client"].pk, "offer": offer.pk,
                                     "amount": "0", "currency": "eur", "reference": "X"})
        client.post(reverse(REFUND, args=[order.pk]))
    assert Order.objects.count() == 1
    assert stripe_fake.calls("POST", "/v1/refunds") == []
    order.refresh_from_db()
    assert order.refund_requested_at is None


# -- Listing, filters, export ---------------------------------------------------------------


@pytest.fixture
def orders(people, offer, stripe_fake):
    profile = SalesManagerProfile.objects.create(user=people["sales"], referral_code="sam")
    bob = UserFactory(username="bob", email="=HYPERLINK(evil)@example.com")
    manual = grant_offer(bob, offer, actor=people["admin"], amount=1200, currency="eur",
                         reference="=cmd|' /C calc'!A0", sales_manager=profile.user)
    paid = paid_order(people["client"], offer, stripe_fake)
    pending = start_checkout(
        UserFactory(username="pat"), price_of(offer, "Pay once"),
        success_url=lambda o: "https://s.test/", cancel_url="https://s.test/",
    ).order
    return {"manual": manual, "paid": paid, "pending": pending}


def listed(response):
    return response.context["view"].queryset if response.context else None


def test_filters_narrow_the_list(people, orders):
    client = as_user(people["sales"])
    everything = client.get(reverse(INDEX))
    assert set(listed(everything)) == set(orders.values())
    by_status = client.get(reverse(INDEX) + "?status__exact=pending")
    assert set(listed(by_status)) == {orders["pending"]}
    by_source = client.get(reverse(INDEX) + "?source__exact=manual")
    assert set(listed(by_source)) == {orders["manual"]}
    by_manager = client.get(reverse(INDEX) + f"?sales_manager={people['sales'].pk}")
    assert set(listed(by_manager)) == {orders["manual"]}
    nobody = client.get(reverse(INDEX) + "?sales_manager=none")
    assert set(listed(nobody)) == {orders["paid"], orders["pending"]}
    searched = client.get(reverse(INDEX) + "?q=cara")
    assert set(listed(searched)) == {orders["paid"]}


def test_csv_export_follows_the_filters_and_defuses_formulas(people, orders):
    response = as_user(people["admin"]).get(reverse(INDEX) + "?export=csv&source__exact=manual")
    assert response["Content-Type"] == "text/csv"
    assert 'filename="orders.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    [row] = rows
    assert row["Order"] == str(orders["manual"].public_id)
    assert row["Buyer"] == "bob"
    assert row["Sales manager"] == "sam"
    assert row["Amount"] == "1200.00"
    assert row["Reference"] == "'=cmd|' /C calc'!A0"
    assert row["Buyer email"] == "'=HYPERLINK(evil)@example.com"


def test_admins_are_warned_when_stripe_is_off(people, orders, settings):
    configure(settings, None)
    html = as_user(people["admin"]).get(reverse(INDEX)).content.decode()
    assert "Stripe is not configured." in html
    assert "Grant an offer" in html


# -- Manual grants --------------------------------------------------------------------------


def test_manual_grant_creates_a_paid_order_and_enrolls(people, offer, engagement, stripe_fake):
    buyer = UserFactory(username="b2b", email="hr@acme.example")
    response = as_user(people["sales"]).post(reverse(GRANT), {
        "buyer": buyer.pk, "offer": offer.pk, "amount": "4500.00", "currency": "EUR",
        "reference": "INV-2025-042", "note": "Acme pilot", "sales_manager": "",
    })
    assert response.status_code == 302 and response["Location"] == reverse(INDEX)
    order = Order.objects.get()
    assert (order.buyer, order.status, order.source) == (buyer, OrderStatus.PAID,
                                                         OrderSource.MANUAL)
    assert (str(order.amount), order.currency, order.reference) == ("4500.00", "eur",
                                                                    "INV-2025-042")
    assert order.created_by == people["sales"]
    enrollment = Enrollment.objects.get(client=buyer)
    assert enrollment.engagement == engagement and enrollment.source == "offer"
    assert stripe_fake.requests == []  # works without Stripe


@pytest.mark.parametrize("data, message", [
    ({"buyer": "987654"}, "Choose a client from the list."),
    ({"amount": "-5"}, "greater than or equal to 0"),
    ({"currency": "euro"}, "three-letter ISO currency code"),
    ({"reference": ""}, "This field is required."),
])
def test_a_bad_grant_says_why_and_changes_nothing(people, offer, data, message):
    b2b = UserFactory(username="b2b")
    form = {"buyer": b2b.pk, "offer": offer.pk, "amount": "10", "currency": "eur",
            "reference": "INV-1", **data}
    response = as_user(people["admin"]).post(reverse(GRANT), form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists() and not Enrollment.objects.exists()


def test_an_offer_with_an_unpublished_engagement_cannot_be_granted(people, offer, engagement):
    b2b = UserFactory(username="b2b")
    engagement.unpublish()
    response = as_user(people["admin"]).post(reverse(GRANT), {
        "buyer": b2b.pk, "offer": offer.pk, "amount": "0", "currency": "eur",
        "reference": "INV-1",
    })
    assert response.status_code == 400
    assert "not published" in response.content.decode()
    assert not Order.objects.exists()


# -- Refunds --------------------------------------------------------------------------------


def test_refund_calls_stripe_and_the_webhook_revokes(people, offer, stripe_fake):
    order = paid_order(people["client"], offer, stripe_fake)
    admin = as_user(people["sales"])
    assert "Refund in full" in admin.get(reverse(REFUND, args=[order.pk])).content.decode()
    response = admin.post(reverse(REFUND, args=[order.pk]))
    assert response.status_code == 302
    [call] = stripe_fake.calls("POST", "/v1/refunds")
    assert call["params"]["payment_intent"] == order.stripe_payment_intent_id
    assert call["idempotency_key"] == f"coaching-refund-{order.public_id}"
    order.refresh_from_db()
    assert order.refund_requested_at is not None and order.stripe_refund_id
    assert order.status == OrderStatus.PAID  # the webhook finishes the job
    enrollment = Enrollment.objects.get(client=people["client"])
    assert enrollment.status == EnrollmentStatus.ACTIVE

    # A second click asks Stripe nothing more.
    response = admin.post(reverse(REFUND, args=[order.pk]))
    assert response.status_code == 409
    assert len(stripe_fake.calls("POST", "/v1/refunds")) == 1

    post_event(Client(), FakeStripe.event(
        "charge.refunded", stripe_fake.charge(order.stripe_payment_intent_id)))
    order.refresh_from_db()
    enrollment.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert enrollment.status == EnrollmentStatus.CANCELLED


def test_refunding_a_subscription_also_cancels_it(people, offer, stripe_fake):
    order = paid_order(people["client"], offer, stripe_fake, label="Monthly")
    as_user(people["admin"]).post(reverse(REFUND, args=[order.pk]))
    assert len(stripe_fake.calls("POST", "/v1/refunds")) == 1
    assert stripe_fake.calls("DELETE", f"/v1/subscriptions/{order.stripe_subscription_id}")
    assert stripe_fake.subscriptions[order.stripe_subscription_id]["status"] == "canceled"


def test_offline_orders_are_not_refunded_through_stripe(people, offer, stripe_fake):
    order = grant_offer(people["client"], offer, actor=people["admin"], amount=10,
                        currency="eur", reference="INV-1")
    response = as_user(people["admin"]).post(reverse(REFUND, args=[order.pk]))
    assert response.status_code == 409
    assert "refund offline payments offline" in response.content.decode()
    assert stripe_fake.calls("POST", "/v1/refunds") == []


def test_a_refused_refund_changes_nothing(people, offer, stripe_fake):
    order = paid_order(people["client"], offer, stripe_fake)
    stripe_fake.fail_next("/v1/refunds", status=402, message="Charge already disputed.")
    response = as_user(people["admin"]).post(reverse(REFUND, args=[order.pk]))
    assert response.status_code == 409
    assert "Charge already disputed." in response.content.decode()
    order.refresh_from_db()
    assert order.refund_requested_at is None and order.status == OrderStatus.PAID


# -- Referral codes -------------------------------------------------------------------------


def test_sales_managers_see_their_own_referral_code_only(people):
    mine = SalesManagerProfile.objects.create(user=people["sales"], referral_code="sam-code")
    other = SalesManagerProfile.objects.create(
        user=role_user("sue", "sales_manager"), referral_code="sue-code"
    )
    as_sales = as_user(people["sales"]).get(reverse(REFERRALS))
    assert list(as_sales.context["view"].queryset) == [mine]
    as_admin = as_user(people["admin"]).get(reverse(REFERRALS))
    assert set(as_admin.context["view"].queryset) == {mine, other}
    assert as_user(people["coach"]).get(reverse(REFERRALS)).status_code == 403


def test_the_stripe_event_log_is_for_admins(people, offer, stripe_fake):
    paid_order(people["client"], offer, stripe_fake)
    url = reverse("wagtail_coaching_stripeevent_modeladmin_index")
    response = as_user(people["admin"]).get(url)
    assert response.status_code == 200
    assert "checkout.session.completed" in response.content.decode()
    assert as_user(people["sales"]).get(url).status_code == 403
