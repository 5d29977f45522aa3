"""Enquiries: "Ask about this" on an offer page (valid, invalid, spam, rate limits, odd
input), routing to a sales manager (the referral code's owner, else in turn), the Sales
menu's list per role, replies by email, a grant or a personal checkout link in one step,
the sales report's conversion figures, and the enquirer's data in exports and erasure."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wagtail_coaching.models import (
    Enquiry,
    EnquiryReply,
    EnquiryStatus,
    Enrollment,
    Notification,
    OfferPage,
    OfferPrice,
    Order,
    OrderSource,
    OrderStatus,
)
from wagtail_coaching.notifications.outbox import send_notification
from wagtail_coaching.payments.enquiries import next_sales_manager, submit_enquiry
from wagtail_coaching.payments.fulfilment import fulfil
from wagtail_coaching.permissions import MATRIX, allowed, visible
from wagtail_coaching.portability import client_data, erase_client
from wagtail_coaching.testing.factories import UserFactory

from .test_admin_clients import admin_world, as_user
from .world import staff

ENQUIRIES = "wagtail_coaching_enquiry_modeladmin"
QUESTION = "We are five team leads. Which plan fits us, and can we start in May?"


def build_shared_world():
    w = admin_world()
    w.offer = OfferPage.objects.get(slug="offer-a")
    w.paid = w.offer.prices.get()
    w.free = OfferPrice.objects.create(
        offer=w.offer, label="Free", amount=0, currency="eur", payment_model="free",
    )
    w.offer_b = OfferPage.objects.get(slug="offer-b")
    w.sales2 = staff("sales2", "sales_manager", first_name="Zoe", last_name="Seller")
    return w


@pytest.fixture
def world(shared):
    cache.clear()  # the rate limits count in the cache
    yield shared
    cache.clear()


def ask_url(offer, price=None):
    url = reverse("wagtail_coaching:enquire", args=[offer.pk])
    return f"{url}?price={price.pk}" if price is not None else url


def form(**data):
    return {"name": "Ada Lovelace", "email": "ada@example.com", "message": QUESTION,
            "price": "", "website": "", **data}


def admin_url(view, *args):
    return reverse(f"{ENQUIRIES}_{view}", args=args)


def prefixed(prefix, **data):
    """A form of the enquiry page: its fields carry the form's prefix."""
    return {f"{prefix}-{name}": value for name, value in data.items()}


def enquiry_for(world, manager, **fields):
    values = {"offer": world.offer, "name": "Ada Lovelace", "email": "ada@example.com",
              "message": QUESTION, "sales_manager": manager, **fields}
    return Enquiry.objects.create(**values)


# -- Asking -----------------------------------------------------------------------------------

def test_the_offer_page_offers_ask_about_this_for_each_price(client, world):
    html = client.get(world.offer.url).content.decode()
    assert html.count("Ask about this") == 2
    assert ask_url(world.offer, world.paid) in html
    page = client.get(ask_url(world.offer, world.paid))
    assert page.status_code == 200
    assert page.context["form"].initial["price"] == world.paid.pk


def test_a_question_is_stored_routed_and_its_sales_manager_told(client, world):
    response = client.post(ask_url(world.offer), form(price=world.paid.pk))
    assert response.status_code == 200
    assert "your question is on its way" in response.content.decode()
    enquiry = Enquiry.objects.get()
    assert (enquiry.name, enquiry.email, enquiry.message) == ("Ada Lovelace",
                                                              "ada@example.com", QUESTION)
    assert enquiry.price == world.paid and enquiry.price_label.startswith("Pay once")
    assert enquiry.status == EnquiryStatus.NEW
    assert enquiry.sales_manager in (world.sales, world.sales2)
    notice = Notification.objects.get(kind="enquiry_new")
    assert notice.recipient == enquiry.sales_manager
    assert send_notification(notice.pk)
    assert mail.outbox[-1].to == [enquiry.sales_manager.email]
    assert QUESTION in mail.outbox[-1].body
    assert admin_url("inspect", enquiry.pk) in mail.outbox[-1].body


@pytest.mark.parametrize("data, message", [
    ({"email": "not-an-address"}, "Enter a valid email address."),
    ({"name": "   "}, "This field is required."),
    ({"message": ""}, "This field is required."),
    ({"price": "999999"}, "Choose a price from the list."),
    ({"price": "abc"}, "Choose a price from the list."),
])
def test_an_invalid_question_says_why_and_stores_nothing(client, world, data, message):
    response = client.post(ask_url(world.offer), form(**data))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Enquiry.objects.exists() and not Notification.objects.filter(
        kind="enquiry_new").exists()


def test_a_price_of_another_offer_is_not_accepted(client, world):
    other = world.offer_b.prices.get()
    response = client.post(ask_url(world.offer), form(price=other.pk))
    assert response.status_code == 400
    assert client.get(ask_url(world.offer, other)).status_code == 404
    assert not Enquiry.objects.exists()


@pytest.mark.parametrize("query", ["?price=999999", "?price=abc", "?price=-1"])
def test_an_unknown_price_in_the_address_is_not_found(client, world, query):
    url = reverse("wagtail_coaching:enquire", args=[world.offer.pk]) + query
    assert client.get(url).status_code == 404


def test_an_unknown_or_unpublished_offer_is_not_found(client, world):
    assert client.get(reverse("wagtail_coaching:enquire", args=[999999])).status_code == 404
    world.offer.unpublish()
    assert client.post(ask_url(world.offer), form()).status_code == 404
    assert not Enquiry.objects.exists()


def test_a_nul_byte_is_refused_and_nothing_stored(client, world):
    response = client.post(ask_url(world.offer), form(message="Hello\x00there"))
    assert response.status_code == 400
    assert not Enquiry.objects.exists()
    assert client.get(ask_url(world.offer) + "?price=1%00").status_code == 400


def test_a_filled_in_honeypot_is_thanked_and_nothing_stored(client, world):
    response = client.post(ask_url(world.offer), form(website="http://spam.example"))
    assert response.status_code == 200
    assert "your question is on its way" in response.content.decode()
    assert not Enquiry.objects.exists()
    assert not Notification.objects.filter(kind="enquiry_new").exists()


def test_the_honeypot_is_hidden_from_people(client, world):
    html = client.get(ask_url(world.offer)).content.decode()
    assert 'class="coaching-enquiry__trap" aria-hidden="true"' in html
    assert 'name="website"' in html


def test_one_email_address_is_asked_to_wait(client, world, settings):
    settings.WAGTAIL_COACHING = {"ENQUIRY_RATE_LIMITS": {"email": (2, 3600), "address": None}}
    for n in range(2):
        assert client.post(ask_url(world.offer), form(
            email="Ada@Example.com" if n else "ada@example.com"
        )).status_code == 200
    response = client.post(ask_url(world.offer), form(), REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    assert "Please wait an hour" in response.content.decode()
    assert Enquiry.objects.count() == 2
    # Another address of another person is not held back.
    assert client.post(ask_url(world.offer), form(email="bob@example.com")).status_code == 200


def test_one_client_address_is_asked_to_wait(client, world, settings):
    settings.WAGTAIL_COACHING = {"ENQUIRY_RATE_LIMITS": {"email": None, "address": (3, 3600)}}
    for n in range(3):
        assert client.post(ask_url(world.offer), form(email=f"p{n}@example.com")).status_code \
            == 200
    assert client.post(ask_url(world.offer), form(email="p9@example.com")).status_code == 429
    assert Enquiry.objects.count() == 3
    other = client.post(ask_url(world.offer), form(email="p9@example.com"),
                        REMOTE_ADDR="10.1.1.1")
    assert other.status_code == 200


def test_spam_counts_against_the_address(client, world, settings):
    settings.WAGTAIL_COACHING = {"ENQUIRY_RATE_LIMITS": {"address": (2, 3600)}}
    for _n in range(2):
        client.post(ask_url(world.offer), form(website="x"))
    assert client.post(ask_url(world.offer), form()).status_code == 429
    assert not Enquiry.objects.exists()


# -- Routing ------------------------------------------------------------------------------------

def test_the_referral_codes_owner_gets_the_enquiry(client, world):
    client.get(world.offer.url + "?ref=sales1")  # remembered, whatever its case
    for n in range(3):
        client.post(ask_url(world.offer), form(email=f"r{n}@example.com"))
    assert {e.sales_manager for e in Enquiry.objects.all()} == {world.sales}
    assert set(Enquiry.objects.values_list("referral", flat=True)) == {"SALES1"}


def test_an_unknown_code_falls_back_to_the_rotation(world):
    enquiry = submit_enquiry(world.offer, name="A", email="a@example.com", message="?",
                             referral_code="nobody")
    assert enquiry.sales_manager in (world.sales, world.sales2) and enquiry.referral == ""


def test_sales_managers_take_turns(world):
    managers = [
        submit_enquiry(world.offer, name="A", email=f"a{n}@example.com", message="?")
        .sales_manager for n in range(6)
    ]
    assert managers[:2] == managers[2:4] == managers[4:]
    assert sorted(m.username for m in managers[:2]) == ["sales", "sales2"]


def test_an_inactive_sales_manager_is_skipped_and_none_left_means_nobody(world):
    world.sales2.is_active = False
    world.sales2.save()
    assert {next_sales_manager() for _ in range(3)} == {world.sales}
    world.sales.is_active = False
    world.sales.save()
    enquiry = submit_enquiry(world.offer, name="A", email="a@example.com", message="?")
    assert enquiry.sales_manager is None
    assert not Notification.objects.filter(kind="enquiry_new").exists()


# -- The Sales menu ---------------------------------------------------------------------------

def test_each_sales_manager_lists_only_their_own_enquiries(client, world):
    mine = enquiry_for(world, world.sales, name="Mine Person", email="mine@example.com")
    theirs = enquiry_for(world, world.sales2, name="Their Person", email="their@example.com")
    for user, shown, hidden in (
        (world.sales, [mine], [theirs]),
        (world.sales2, [theirs], [mine]),
        (world.admin, [mine, theirs], []),
    ):
        html = as_user(client, user).get(admin_url("index")).content.decode()
        for enquiry in shown:
            assert enquiry.email in html
        for enquiry in hidden:
            assert enquiry.email not in html
            assert client.get(admin_url("inspect", enquiry.pk)).status_code == 404
    for user in (world.coach_a, world.hr_acme):
        assert as_user(client, user).get(admin_url("index")).status_code == 403
        assert client.get(admin_url("inspect", mine.pk)).status_code == 404
    as_user(client, world.client_a1)
    assert client.get(admin_url("index")).status_code == 302


def test_the_sales_menu_lists_enquiries_for_sales_managers(client, world):
    html = as_user(client, world.sales).get(reverse("wagtailadmin_home")).content.decode()
    assert admin_url("index") in html


@pytest.mark.parametrize("action", ["view_enquiry", "change_enquiry"])
def test_predicate_and_queryset_agree_on_enquiries(world, action):
    enquiry_for(world, world.sales)
    enquiry_for(world, world.sales2)
    enquiry_for(world, None)
    assert MATRIX[action].model is Enquiry
    for user in world.users() + [world.sales2]:
        listed = set(visible(user, action))
        one_by_one = {e for e in Enquiry.objects.all() if allowed(user, action, e)}
        assert listed == one_by_one, user
    assert set(visible(world.sales, action)) == set(Enquiry.objects.filter(
        sales_manager=world.sales))
    assert visible(world.admin, action).count() == 3
    assert not visible(world.coach_a, action).exists()
    assert not visible(world.hr_acme, action).exists()


def test_the_list_takes_the_same_queries_however_many_enquiries(
        client, world, django_assert_max_num_queries):
    enquiry_for(world, world.sales)
    as_user(client, world.admin)
    with CaptureQueriesContext(connection) as few:
        assert client.get(admin_url("index")).status_code == 200
    for n in range(30):
        enquiry_for(world, world.sales if n % 2 else world.sales2, email=f"m{n}@example.com")
    with django_assert_max_num_queries(len(few)):
        assert client.get(admin_url("index")).status_code == 200


def test_the_enquiry_page_shows_the_question_and_the_actions(client, world):
    enquiry = enquiry_for(world, world.sales, price=world.paid)
    html = as_user(client, world.sales).get(admin_url("inspect", enquiry.pk)).content.decode()
    for text in (QUESTION.replace("'", "&#x27;"), "Reply by email", "Grant the offer",
                 "Send a personal checkout link", "No reply yet."):
        assert text in html


# -- Reply ------------------------------------------------------------------------------------

def test_a_reply_is_emailed_recorded_once_and_marks_the_enquiry_contacted(client, world):
    enquiry = enquiry_for(world, world.sales)
    key = str(uuid.uuid4())
    as_user(client, world.sales)
    for _twice in range(2):
        response = client.post(admin_url("reply", enquiry.pk),
                               prefixed("reply", body="Yes: the team plan. Shall we talk?",
                                        key=key))
        assert response.status_code == 302
    reply = EnquiryReply.objects.get()
    assert (reply.enquiry, reply.author) == (enquiry, world.sales)
    enquiry.refresh_from_db()
    assert enquiry.status == EnquiryStatus.CONTACTED
    notice = Notification.objects.get(kind="enquiry_reply")
    assert notice.recipient is None and notice.email == "ada@example.com"
    assert send_notification(notice.pk)
    sent = mail.outbox[-1]
    assert sent.to == ["ada@example.com"]
    assert "Yes: the team plan" in sent.body and "Hello Ada Lovelace" in sent.body
    assert "Offer A" in sent.subject


def test_an_empty_reply_is_refused(client, world):
    enquiry = enquiry_for(world, world.sales)
    response = as_user(client, world.sales).post(
        admin_url("reply", enquiry.pk), prefixed("reply", body="  ", key=str(uuid.uuid4()))
    )
    assert response.status_code == 400
    assert not EnquiryReply.objects.exists()
    assert not Notification.objects.filter(kind="enquiry_reply").exists()


def test_nobody_replies_to_someone_elses_enquiry(client, world):
    enquiry = enquiry_for(world, world.sales2)
    response = as_user(client, world.sales).post(
        admin_url("reply", enquiry.pk), prefixed("reply", body="Hi", key=str(uuid.uuid4()))
    )
    assert response.status_code == 404
    assert not EnquiryReply.objects.exists()


def test_the_status_moves_by_hand_but_an_enquiry_with_an_order_stays_won(client, world):
    enquiry = enquiry_for(world, world.sales)
    as_user(client, world.sales)
    status = admin_url("status", enquiry.pk)
    assert client.post(status, prefixed("status", status="lost")).status_code == 302
    enquiry.refresh_from_db()
    assert enquiry.status == EnquiryStatus.LOST
    assert client.post(status, prefixed("status", status="bogus")).status_code == 400
    granted = client.post(admin_url("grant", enquiry.pk), grant_data())
    assert granted.status_code == 302
    response = client.post(admin_url("status", enquiry.pk), prefixed("status", status="new"))
    assert response.status_code == 400
    assert "stays won" in response.content.decode()


# -- Grant ------------------------------------------------------------------------------------

def grant_data(**data):
    return prefixed("grant", **{"amount": "900.00", "currency": "EUR", "reference": "INV-42",
                                "note": "", "key": str(uuid.uuid4()), **data})


def test_a_grant_in_one_step_goes_through_fulfilment_once(client, world):
    enquiry = enquiry_for(world, world.sales, email="newbuyer@example.com", name="Nia Buyer")
    as_user(client, world.sales)
    data = grant_data()
    for _twice in range(2):
        assert client.post(admin_url("grant", enquiry.pk), data).status_code == 302
    # Even a fresh form (a second click from another tab) grants nothing more.
    assert client.post(admin_url("grant", enquiry.pk), grant_data()).status_code == 302
    order = Order.objects.get(buyer__email="newbuyer@example.com")
    assert (order.source, order.status, order.amount, order.currency) == (
        OrderSource.MANUAL, OrderStatus.PAID, Decimal("900.00"), "eur")
    assert order.sales_manager == world.sales and order.created_by == world.sales
    assert order.fulfilled_at is not None
    assert Enrollment.objects.filter(client=order.buyer).count() == order.grants.count() == 1
    assert (order.buyer.first_name, order.buyer.last_name) == ("Nia", "Buyer")
    enquiry.refresh_from_db()
    assert (enquiry.status, enquiry.order) == (EnquiryStatus.WON, order)
    assert Notification.objects.filter(recipient=order.buyer, kind="client_invitation").count() \
        == 1


def test_a_grant_to_an_existing_client_uses_their_account(client, world):
    enquiry = enquiry_for(world, world.sales, email=world.client_b1.email.upper())
    as_user(client, world.admin).post(admin_url("grant", enquiry.pk), grant_data())
    enquiry.refresh_from_db()
    assert enquiry.order.buyer == world.client_b1


def test_a_grant_to_a_team_members_address_is_refused(client, world):
    enquiry = enquiry_for(world, world.sales, email=world.coach_a.email)
    orders = Order.objects.count()
    response = as_user(client, world.sales).post(admin_url("grant", enquiry.pk), grant_data())
    assert response.status_code == 400
    assert "member of the team" in response.content.decode()
    assert Order.objects.count() == orders


@pytest.mark.parametrize("data", [{"amount": "-1"}, {"currency": "euro"}, {"reference": ""}])
def test_a_bad_grant_says_why_and_grants_nothing(client, world, data):
    enquiry = enquiry_for(world, world.sales, email="x@example.com")
    orders = Order.objects.count()
    response = as_user(client, world.sales).post(admin_url("grant", enquiry.pk),
                                                 grant_data(**data))
    assert response.status_code == 400
    assert Order.objects.count() == orders


# -- Personal checkout link -------------------------------------------------------------------

def send_link(client, world, enquiry, price):
    as_user(client, world.sales)
    response = client.post(admin_url("link", enquiry.pk),
                           prefixed("link", price=price.pk, body="", key=str(uuid.uuid4())))
    assert response.status_code == 302
    notice = Notification.objects.filter(kind="enquiry_reply").latest("pk")
    body = notice.payload["body"]
    assert body.startswith("Here is your personal link to buy Offer A.")
    assert EnquiryReply.objects.filter(enquiry=enquiry).latest("pk").body == body
    return body.rsplit(": ", 1)[1]


def test_a_checkout_link_sells_the_price_credited_and_wins_the_enquiry(client, world):
    enquiry = enquiry_for(world, world.sales, email="linkbuyer@example.com")
    url = send_link(client, world, enquiry, world.free)
    path = url.split("testserver", 1)[-1] if "testserver" in url else url[url.index("/", 8):]
    assert path == reverse("wagtail_coaching:enquiry_checkout", args=[enquiry.checkout_token])
    buyer = UserFactory(username="linkbuyer", email="linkbuyer@example.com")
    as_user(client, buyer)
    page = client.get(path)
    assert page.status_code == 200 and "Start for free" in page.content.decode()
    response = client.post(path)
    assert response.status_code == 303
    order = Order.objects.get(buyer=buyer)
    assert (order.sales_manager, order.source, order.fulfilled_at is not None) == (
        world.sales, OrderSource.FREE, True)
    enquiry.refresh_from_db()
    assert (enquiry.status, enquiry.order) == (EnquiryStatus.WON, order)
    # Used: the link no longer sells.
    assert client.post(path).status_code == 303
    assert Order.objects.filter(buyer=buyer).count() == 1


def test_a_paid_link_wins_the_enquiry_once_the_order_is_fulfilled(client, world, stripe_fake):
    enquiry = enquiry_for(world, world.sales, email="payer@example.com")
    url = send_link(client, world, enquiry, world.paid)
    path = url[url.index("/", 8):]
    buyer = UserFactory(username="payer", email="payer@example.com")
    response = as_user(client, buyer).post(path)
    assert response.status_code == 303
    order = Order.objects.get(buyer=buyer)
    assert (order.status, order.sales_manager) == (OrderStatus.PENDING, world.sales)
    enquiry.refresh_from_db()
    assert (enquiry.status, enquiry.order) == (EnquiryStatus.CONTACTED, order)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID, paid_at=timezone.now())
    fulfil(order)
    enquiry.refresh_from_db()
    assert enquiry.status == EnquiryStatus.WON and enquiry.won_at is not None


def test_a_visitor_signs_in_before_buying_through_a_link(client, world):
    enquiry = enquiry_for(world, world.sales, price=world.free)
    path = reverse("wagtail_coaching:enquiry_checkout", args=[enquiry.checkout_token])
    client.logout()
    html = client.get(path).content.decode()
    assert "Sign in or create an account first; you will come back here to start." in html
    response = client.post(path)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Order.objects.filter(enquiries=enquiry).exists()


@pytest.mark.parametrize("token", ["nope", "x" * 64])
def test_an_unknown_link_is_not_found(client, world, token):
    path = reverse("wagtail_coaching:enquiry_checkout", args=[token])
    assert client.get(path).status_code == 404
    assert as_user(client, world.client_a1).post(path).status_code == 404


def test_a_link_without_a_price_or_to_a_price_off_sale_is_not_found(client, world):
    enquiry = enquiry_for(world, world.sales)
    path = reverse("wagtail_coaching:enquiry_checkout", args=[enquiry.checkout_token])
    assert client.get(path).status_code == 404
    Enquiry.objects.filter(pk=enquiry.pk).update(price=world.paid)
    OfferPrice.objects.filter(pk=world.paid.pk).update(active=False)
    assert client.get(path).status_code == 404


def test_a_link_for_another_offers_price_is_refused(client, world):
    enquiry = enquiry_for(world, world.sales)
    other = world.offer_b.prices.get()
    response = as_user(client, world.sales).post(
        admin_url("link", enquiry.pk), prefixed("link", price=other.pk, key=str(uuid.uuid4()))
    )
    assert response.status_code == 400
    assert not Notification.objects.filter(kind="enquiry_reply").exists()


# -- Report -----------------------------------------------------------------------------------

SALES_REPORT = reverse("wagtail_coaching_admin:report_sales")


def report_world(world):
    now = timezone.now()
    # Sales: three enquiries, one granted after two days, one lost.
    first = enquiry_for(world, world.sales, email="r1@example.com",
                        created_at=now - timedelta(days=5))
    enquiry_for(world, world.sales, email="r2@example.com", status=EnquiryStatus.LOST)
    enquiry_for(world, world.sales, email="r3@example.com")
    # Zoe: one, still open.
    enquiry_for(world, world.sales2, email="z1@example.com")
    order = Order.objects.filter(status=OrderStatus.PAID).first()
    Order.objects.filter(pk=order.pk).update(paid_at=now - timedelta(days=3))
    Enquiry.objects.filter(pk=first.pk).update(order=order, status=EnquiryStatus.WON)


def test_the_sales_report_counts_enquiries_and_their_conversion(client, world):
    report_world(world)
    response = as_user(client, world.admin).get(SALES_REPORT, {"by": "enquiries"})
    assert response.status_code == 200
    rows = {row["sales_manager"]: row for row in response.context["object_list"]}
    sam = rows[next(name for name in rows if name != "Zoe Seller")]
    assert (sam["enquiries"], sam["open"], sam["won"], sam["lost"], sam["orders"]) == (
        3, 1, 1, 1, 1)
    assert sam["conversion"] == 33.3 and sam["days_to_order"] == 2.0
    zoe = rows["Zoe Seller"]
    assert (zoe["enquiries"], zoe["orders"], zoe["conversion"], zoe["days_to_order"]) == (
        1, 0, 0.0, None)


def test_a_sales_manager_counts_only_their_own_enquiries(client, world):
    report_world(world)
    response = as_user(client, world.sales2).get(SALES_REPORT, {"by": "enquiries"})
    rows = list(response.context["object_list"])
    assert [(r["sales_manager"], r["enquiries"]) for r in rows] == [("Zoe Seller", 1)]


def test_the_enquiry_figures_export_as_csv(client, world):
    report_world(world)
    response = as_user(client, world.admin).get(
        SALES_REPORT, {"by": "enquiries", "export": "csv"}
    )
    assert response.status_code == 200
    content = b"".join(response.streaming_content).decode() if response.streaming else \
        response.content.decode()
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0] == ["Sales manager", "Enquiries", "Open", "Won", "Lost", "Paid orders",
                       "Conversion (%)", "Days to order (median)"]
    assert len(rows) == 3


# -- Export and erasure -----------------------------------------------------------------------

def test_an_enquirer_with_an_account_gets_their_enquiries_in_the_export(world):
    enquiry = enquiry_for(world, world.sales, email=world.client_a1.email.upper())
    EnquiryReply.objects.create(enquiry=enquiry, author=world.sales, body="Gladly.")
    enquiry_for(world, world.sales, email="someone.else@example.com")
    rows = client_data(world.client_a1)["enquiries"]
    assert len(rows) == 1
    assert rows[0]["message"] == QUESTION and rows[0]["status"] == "new"
    assert rows[0]["offer"] == "Offer A"


def test_erasure_anonymises_the_enquiries_sent_with_the_address(world):
    address = world.client_a1.email
    enquiry = enquiry_for(world, world.sales, email=address)
    EnquiryReply.objects.create(enquiry=enquiry, author=world.sales, body="Gladly.")
    Notification.objects.create(kind="enquiry_reply", email=address, dedup_key="unsent",
                                payload={"body": "Gladly."})
    kept = enquiry_for(world, world.sales, email="someone.else@example.com")
    assert erase_client(world.client_a1, actor=world.admin)
    enquiry.refresh_from_db()
    assert address not in (enquiry.email, enquiry.name)
    assert enquiry.message == "[erased]" and enquiry.status == EnquiryStatus.NEW
    assert enquiry.replies.get().body == "[erased]"
    notice = Notification.objects.get(dedup_key="unsent")
    assert (notice.email, notice.payload, notice.skipped) == (enquiry.email, {}, True)
    kept.refresh_from_db()
    assert kept.message == QUESTION
    assert not Enquiry.objects.filter(email__iexact=address).exists()


# -- The offer page's wording, and signing up on the way to a free price ----------------------

SIGNUP = {
    "first_name": "Robin", "last_name": "Tester", "email": "robin@example.com",
    "username": "robin", "password1": "a-long-passphrase", "password2": "a-long-passphrase",
}


def test_free_is_said_once_and_a_free_price_is_not_paid_for(client, world):
    OfferPrice.objects.filter(pk=world.paid.pk).update(active=False)
    html = client.get(world.offer.url).content.decode()
    card = html[html.index('coaching-price--free'):html.index("</li>", html.index(
        'coaching-price--free'))]
    assert card.count("Free") == 1 and "Start for free" in card
    assert "coaching-price__amount" not in card
    assert "before paying" not in html
    assert "You will sign in or create an account to start." in html
    confirm = client.get(reverse("wagtail_coaching:checkout", args=[world.free.pk]))
    text = confirm.content.decode()
    assert "Free — Free" not in text and "come back here to start" in text


def test_a_paid_price_still_says_sign_in_before_paying(client, world, stripe_fake):
    html = client.get(world.offer.url).content.decode()
    assert "You will sign in or create an account before paying." in html
    assert "Pay once" in html and "€490.00" in html


def test_signing_up_after_start_for_free_lands_on_the_order_without_a_second_click(
        client, world):
    checkout = reverse("wagtail_coaching:checkout", args=[world.free.pk])
    client.logout()
    response = client.post(checkout)
    assert response.status_code == 302
    login = response["Location"]
    assert "next=" in login
    signup_link = client.get(login).context["signup_url"]
    assert signup_link == f"/accounts/signup/?next={checkout.replace('/', '%2F')}"
    response = client.post("/accounts/signup/", {**SIGNUP, "next": checkout})
    assert response["Location"] == checkout
    response = client.get(checkout)
    assert response.status_code == 303
    order = Order.objects.get(buyer__username="robin")
    assert response["Location"] == reverse("wagtail_coaching:checkout_done",
                                           args=[order.public_id])
    assert order.fulfilled_at is not None
    # Only once: the confirmation page shows access afterwards.
    again = client.get(checkout)
    assert again.status_code == 200 and "You already have access" in again.content.decode()
    assert Order.objects.filter(buyer__username="robin").count() == 1


def test_opening_the_confirmation_page_alone_takes_nothing(client, world):
    checkout = reverse("wagtail_coaching:checkout", args=[world.free.pk])
    as_user(client, world.client_b1)
    assert client.get(checkout).status_code == 200
    assert not Order.objects.filter(buyer=world.client_b1, price=world.free).exists()
