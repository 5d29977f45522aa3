"""Correctly signed Stripe events with odd data: a ``created`` that is no time, ids of the
wrong type, NUL characters, amounts as strings, nesting without end.

Stripe retries any answer but a 2xx for days, so an event that can never be handled is
recorded as failed (with the reason, for the admin's Stripe events list), answered 200, and
changes no order or enrollment. A failure a later delivery may not repeat still answers 500.
"""

import json
import time
import uuid

import pytest
from django.db import DataError, transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.stripe_fake import MONTHLY, ONE_TIME, FakeStripe, make_offer, post_event, sign
from wagtail_coaching.models import (
    Enrollment,
    EnrollmentStatus,
    JourneyEvent,
    Order,
    OrderEnrollment,
    OrderStatus,
    StripeEvent,
)
from wagtail_coaching.payments import handlers
from wagtail_coaching.payments.checkout import start_checkout
from wagtail_coaching.testing.factories import UserFactory

from .test_webhooks import open_checkout

pytestmark = [pytest.mark.django_db]

event = FakeStripe.event
DAY = 86400


@pytest.fixture
def offer(engagement):
    return make_offer([engagement], prices=[ONE_TIME, MONTHLY])


def deliver(stripe_event, **kwargs):
    return post_event(Client(), stripe_event, **kwargs)


def deliver_raw(body):
    """A body written by hand (for values ``json.dumps`` would not write), signed."""
    body = body.encode() if isinstance(body, str) else body
    return deliver({}, body=body, header=sign(body))


def world():
    """Every order, enrollment, grant and journey event, to compare before and after."""
    return (
        list(Order.objects.order_by("pk").values()),
        list(Enrollment.objects.order_by("pk").values()),
        list(OrderEnrollment.objects.order_by("pk").values()),
        JourneyEvent.objects.count(),
    )


def recorded_failure(response, *words):
    """The event's row, after checking the webhook said it was recorded as failed."""
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["received"] is True and body["outcome"] == "failed"
    record = StripeEvent.objects.get()
    assert record.outcome == "failed"
    assert record.processed_at is None
    assert record.error.startswith("UnprocessableEvent: ")
    for word in words:
        assert word in record.error, record.error
        assert word in body["error"]
    stored = json.dumps(record.payload) + record.event_id + record.type + record.error
    assert "\x00" not in stored and "\\u0000" not in stored
    return record


@pytest.fixture
def pending(offer, buyer, stripe_fake):
    """An order whose checkout was completed at Stripe, and the event saying so."""
    order = open_checkout(buyer, offer)
    session = stripe_fake.complete_session(order.stripe_session_id)
    return order, session


@pytest.fixture
def paid(pending):
    """A fulfilled one-time order (its enrollment active) and its checkout session."""
    order, session = pending
    assert deliver(event("checkout.session.completed", session)).json()["outcome"] == "fulfilled"
    StripeEvent.objects.all().delete()
    order.refresh_from_db()
    return order, session


@pytest.fixture
def subscribed(offer, buyer, stripe_fake):
    """A fulfilled monthly subscription and its checkout session."""
    order = open_checkout(buyer, offer, "Monthly")
    session = stripe_fake.complete_session(order.stripe_session_id)
    assert deliver(event("checkout.session.completed", session)).json()["outcome"] == "fulfilled"
    StripeEvent.objects.all().delete()
    order.refresh_from_db()
    return order, session


# -- created --------------------------------------------------------------------------------


@pytest.mark.parametrize("created", [
    "1700000000", 1700000000.0, 1.5, True, False, [1700000000], {"t": 1700000000},
    10**20, -10**20, -1, 10**12,
])
def test_a_created_that_is_no_time_is_recorded_as_failed(pending, buyer, created):
    order, session = pending
    before = world()
    completed = event("checkout.session.completed", session)
    completed["created"] = created
    record = recorded_failure(deliver(completed), "created is not a Unix time")
    assert record.created is None
    assert record.event_id == completed["id"]
    assert world() == before
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and order.fulfilled_at is None
    assert not Enrollment.objects.filter(client=buyer).exists()


# -- ids and types of the wrong type ---------------------------------------------------------


@pytest.mark.parametrize("payment_intent", [12345, {"id": 42}, [1, 2], "pi_" + "x" * 300, 1.5])
def test_a_refund_with_a_payment_intent_of_the_wrong_type_changes_nothing(
    paid, payment_intent, caplog
):
    order, session = paid
    before = world()
    charge = {"id": "ch_odd", "object": "charge", "amount": 49000, "currency": "eur",
              "amount_refunded": 49000, "refunded": True, "payment_intent": payment_intent}
    record = recorded_failure(deliver(event("charge.refunded", charge)), "payment_intent")
    assert record.type == "charge.refunded" and record.related_id == ""
    assert world() == before
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Enrollment.objects.get().status == EnrollmentStatus.ACTIVE
    assert "Could not record" not in caplog.text


@pytest.mark.parametrize("change", [
    {"id": 12345},
    {"id": {"evil": "evt_1"}},
    {"id": "evt_" + "x" * 300},
    {"id": ["evt_1"]},
    {"type": 7},
    {"type": {"name": "checkout.session.completed"}},
    {"type": "checkout.session.completed" + "x" * 100},
    {"type": None},
    {"data": None},
    {"data": {"object": ["not", "an", "object"]}},
    {"data": {"object": "cs_123"}},
])
def test_an_event_id_type_or_object_of_the_wrong_type_is_recorded_as_failed(
    pending, change
):
    order, session = pending
    before = world()
    completed = {**event("checkout.session.completed", session), **change}
    record = recorded_failure(deliver(completed), "cannot be handled")
    key, value = next(iter(change.items()))
    if key == "id":
        assert record.event_id.startswith("invalid:") and len(record.event_id) <= 255
        assert "id is not a string" in record.error
    elif key == "type":
        assert len(record.type) <= 100
        assert "type is not a string" in record.error
    else:
        assert "data.object is not an object" in record.error
    assert world() == before
    # Stripe delivers it again: the same row, nothing doubled.
    assert deliver(completed).json()["outcome"] == "failed"
    record = StripeEvent.objects.get()
    assert record.attempts == 2
    assert world() == before


def test_an_object_id_that_is_a_dict_is_recorded_as_failed(pending):
    order, session = pending
    before = world()
    completed = event("checkout.session.completed", {**session, "id": {"id": session["id"]}})
    record = recorded_failure(deliver(completed), "data.object.id")
    assert record.object_id == ""
    assert world() == before


# -- NUL characters and other text no database stores ----------------------------------------


def with_nul(target, session):
    completed = event("checkout.session.completed", session)
    if target == "event_id":
        completed["id"] += "\x00"
    elif target == "type":
        completed["type"] = "checkout.session.\x00completed"
    elif target == "object_id":
        completed["data"]["object"]["id"] += "\x00"
    elif target == "nested":
        completed["data"]["object"]["metadata"] = {"note": {"deep": ["ok", "bad\x00value"]}}
    elif target == "key":
        completed["data"]["object"]["metadata"] = {"k\x00ey": "value"}
    elif target == "surrogate":
        completed["data"]["object"]["metadata"] = {"note": "\ud800"}
    return completed


@pytest.mark.parametrize("target", ["event_id", "type", "object_id", "nested", "key",
                                    "surrogate"])
def test_nul_characters_anywhere_are_recorded_cleaned_as_failed(pending, buyer, target):
    order, session = pending
    before = world()
    completed = with_nul(target, session)
    response = deliver(completed)
    record = recorded_failure(response, "NUL characters or invalid Unicode")
    if target == "event_id":
        assert record.event_id == completed["id"].replace("\x00", "\ufffd")
    else:
        assert record.event_id == completed["id"]
    assert world() == before
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    # Delivered again: still one row, still nothing granted.
    assert deliver(completed).status_code == 200
    assert StripeEvent.objects.get().attempts == 2
    assert world() == before


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_that_are_not_finite_are_recorded_as_failed(pending, number):
    order, session = pending
    before = world()
    completed = event("checkout.session.completed", session)
    body = json.dumps(completed).replace('"pending_webhooks": 1', f'"pending_webhooks": {number}')
    assert number in body
    recorded_failure(deliver_raw(body), "not finite")
    assert world() == before


def test_nesting_without_end_is_recorded_as_failed(pending):
    order, session = pending
    before = world()
    completed = event("checkout.session.completed", session)
    deep = "x"
    for _ in range(200):
        deep = [deep]
    completed["data"]["object"]["metadata"] = {"deep": deep}
    recorded_failure(deliver(completed), "nested too deeply")
    assert world() == before


def test_nesting_too_deep_to_read_is_refused(stripe_fake):
    body = '{"id": "evt_deep", "type": "x", "data": {"object": ' + "[" * 100_000
    body += "]" * 100_000 + "}}"
    response = deliver_raw(body)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_signature_header_that_is_not_ascii_gets_400(pending):
    order, session = pending
    response = deliver(event("checkout.session.completed", session),
                       header=f"t={int(time.time())},v1=\u00e9\u00e9")
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


# -- Fields the handlers read, of the wrong type ---------------------------------------------


@pytest.mark.parametrize("field, value, where", [
    ("amount_subtotal", "49000", "amount_subtotal"),
    ("amount_subtotal", -49000, "amount_subtotal"),
    ("amount_subtotal", True, "amount_subtotal"),
    ("client_reference_id", {"id": "x"}, "client_reference_id"),
    ("currency", ["eur"], "currency"),
    ("payment_intent", 17, "payment_intent"),
    ("status", ["complete"], "status"),
    ("payment_status", 1, "payment_status"),
    ("mode", {"payment": True}, "mode"),
])
def test_a_checkout_session_field_of_the_wrong_type_grants_nothing(
    pending, buyer, field, value, where
):
    order, session = pending
    before = world()
    recorded_failure(
        deliver(event("checkout.session.completed", {**session, field: value})), where
    )
    assert world() == before
    assert not Enrollment.objects.filter(client=buyer).exists()


def test_fields_no_handler_reads_may_be_anything(pending, buyer):
    order, session = pending
    odd = {**session, "metadata": "not a dict", "customer_email": 42, "url": ["x"]}
    response = deliver(event("checkout.session.completed", odd))
    assert response.json()["outcome"] == "fulfilled"
    assert Enrollment.objects.filter(client=buyer).count() == 1


def invoice_of(stripe_fake, session, **changes):
    now = int(time.time())
    invoice = stripe_fake.invoice(session["subscription"], 4900, now, now + 30 * DAY)
    invoice.update(changes)
    return invoice


@pytest.mark.parametrize("changes, where", [
    ({"amount_paid": "4900"}, "amount_paid"),
    ({"lines": {"data": "all of them"}}, "lines.data"),
    ({"lines": {"data": [{"period": {"end": "tomorrow"}}]}}, "period.end"),
    ({"lines": {"data": [{"period": {"end": 10**20}}]}}, "period.end"),
    ({"lines": ["not", "a", "list", "object"]}, "lines"),
    ({"parent": "sub_x"}, "parent"),
    ({"payments": {"data": [{"payment": {"payment_intent": 5}}]}}, "payment_intent"),
    ({"id": {"id": "in_1"}}, "data.object.id"),
])
def test_an_invoice_with_fields_of_the_wrong_type_changes_nothing(
    subscribed, stripe_fake, changes, where
):
    order, session = subscribed
    before = world()
    invoice = invoice_of(stripe_fake, session, **changes)
    recorded_failure(deliver(event("invoice.paid", invoice)), where)
    assert world() == before


def test_a_subscription_end_with_odd_periods_changes_nothing(subscribed, stripe_fake):
    order, session = subscribed
    before = world()
    deleted = stripe_fake.subscription(session["subscription"])
    deleted["items"] = [{"current_period_end": 1}]
    recorded_failure(deliver(event("customer.subscription.deleted", deleted)), "items")
    deleted["items"] = {"data": [{"current_period_end": "soon"}]}
    deleted["ended_at"] = None
    response = deliver(event("customer.subscription.deleted", deleted))
    assert response.json()["outcome"] == "failed"
    assert world() == before
    order.refresh_from_db()
    assert order.subscription_ends_at is None and order.status == OrderStatus.PAID


@pytest.mark.parametrize("changes, where", [
    ({"amount_refunded": "49000"}, "amount_refunded"),
    ({"amount": [49000]}, "amount"),
    # The string "false" is true to Python: it must not refund in full.
    ({"refunded": "false", "amount_refunded": 100}, "refunded"),
    ({"currency": {"code": "eur"}}, "currency"),
    ({"invoice": 3}, "invoice"),
    ({"amount_refunded": 10**11, "amount": 10**11}, "amount_refunded"),
])
def test_a_refund_with_fields_of_the_wrong_type_changes_nothing(
    paid, stripe_fake, changes, where
):
    order, session = paid
    before = world()
    charge = {**stripe_fake.charge(session["payment_intent"]), **changes}
    recorded_failure(deliver(event("charge.refunded", charge)), where)
    assert world() == before
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


@pytest.mark.parametrize("event_type", ["charge.dispute.created", "charge.dispute.closed"])
@pytest.mark.parametrize("changes, where", [
    ({"status": 5}, "status"),
    ({"status": "x" * 41}, "status"),
    ({"id": ["dp_1"]}, "data.object.id"),
])
def test_a_dispute_with_fields_of_the_wrong_type_changes_nothing(
    paid, stripe_fake, event_type, changes, where
):
    order, session = paid
    before = world()
    dispute = {**stripe_fake.dispute(session["payment_intent"]), **changes}
    recorded_failure(deliver(event(event_type, dispute)), where)
    assert world() == before


def test_an_unknown_dispute_status_as_long_as_the_column_is_handled(paid, stripe_fake):
    order, session = paid
    status = "s" * 40
    dispute = stripe_fake.dispute(session["payment_intent"], status=status)
    response = deliver(event("charge.dispute.closed", dispute))
    assert response.status_code == 200
    record = StripeEvent.objects.get()
    assert record.outcome == f"dispute_{status}"[:40] and record.processed_at is not None
    order.refresh_from_db()
    assert order.dispute_status == status


# -- Permanent and transient failures ------------------------------------------------------


def test_a_value_the_database_refuses_is_a_permanent_failure(paid, stripe_fake, monkeypatch):
    order, session = paid
    before = world()

    def refuse(obj, ctx):
        raise DataError("value too long for type character varying(40)")

    monkeypatch.setitem(handlers.HANDLERS, "charge.refunded", refuse)
    response = deliver(event("charge.refunded", stripe_fake.charge(session["payment_intent"])))
    assert response.status_code == 200 and response.json()["outcome"] == "failed"
    assert "database refused" in response.json()["error"]
    record = StripeEvent.objects.get()
    assert record.outcome == "failed" and "DataError" in record.error
    assert world() == before


def test_a_transient_failure_still_answers_500(paid, stripe_fake, monkeypatch):
    order, session = paid
    charge = stripe_fake.charge(session["payment_intent"])

    def down(obj, ctx):
        raise ConnectionError("the database went away")

    monkeypatch.setitem(handlers.HANDLERS, "charge.refunded", down)
    refund = event("charge.refunded", charge)
    assert deliver(refund).status_code == 500
    assert StripeEvent.objects.get().outcome == "failed"
    monkeypatch.undo()
    assert deliver(refund).json()["outcome"] == "refunded"


def test_a_permanent_failure_that_cannot_be_recorded_answers_500(pending, monkeypatch):
    """The database goes away between claiming the event and noting its failure: Stripe
    must deliver it again."""
    order, session = pending
    before = world()
    completed = event("checkout.session.completed", session)
    completed["created"] = "yesterday"
    real_bulk_create = StripeEvent.objects.bulk_create
    calls = []

    def fails_after_the_claim(*args, **kwargs):
        calls.append(args)
        if len(calls) > 1:
            raise ConnectionError("the database went away")
        return real_bulk_create(*args, **kwargs)

    monkeypatch.setattr(StripeEvent.objects, "bulk_create", fails_after_the_claim)
    assert deliver(completed).status_code == 500
    assert len(calls) == 2
    assert not StripeEvent.objects.exists()
    assert world() == before
    monkeypatch.undo()
    recorded_failure(deliver(completed), "created")


def test_an_odd_deferred_event_fails_alone_and_the_checkout_still_fulfils(
    offer, buyer, stripe_fake
):
    """An event deferred by an earlier version, whose data turns out odd on replay."""
    order = open_checkout(buyer, offer, "Monthly")
    session = stripe_fake.complete_session(order.stripe_session_id)
    odd = invoice_of(stripe_fake, session, amount_paid="4900")
    StripeEvent.objects.create(
        event_id="evt_old_deferred", type="invoice.paid", outcome="deferred",
        related_id=session["subscription"], payload=event("invoice.paid", odd),
    )
    response = deliver(event("checkout.session.completed", session))
    assert response.json()["outcome"] == "fulfilled"
    assert Enrollment.objects.filter(client=buyer).count() == 1
    deferred = StripeEvent.objects.get(event_id="evt_old_deferred")
    assert deferred.outcome == "failed" and "amount_paid" in deferred.error
    order.refresh_from_db()
    assert order.stripe_invoice_ids == [] and order.status == OrderStatus.PAID


def test_the_stored_row_holds_no_nul_character(pending):
    """What PostgreSQL refuses (and SQLite would keep) is cleaned before it is written."""
    order, session = pending
    completed = with_nul("nested", session)
    completed["id"] += "\x00"
    completed["type"] = "charge.\x00refunded"
    recorded_failure(deliver(completed))
    event_id, event_type, payload = StripeEvent.objects.values_list(
        "event_id", "type", "payload"
    ).get()
    assert event_id == completed["id"].replace("\x00", "\ufffd")
    assert event_type == "charge.\ufffdrefunded"
    assert payload["data"]["object"]["metadata"]["note"]["deep"] == ["ok", "bad\ufffdvalue"]


# -- Any object, for the handled types: never a 5xx ----------------------------------------

FIELDS = [
    "id", "object", "client_reference_id", "currency", "amount_subtotal", "amount_total",
    "mode", "status", "payment_status", "payment_intent", "subscription", "customer",
    "parent", "subscription_details", "payments", "payment", "lines", "data", "period",
    "end", "period_end", "amount_paid", "current_period_end", "items", "ended_at", "invoice",
    "amount_refunded", "amount", "refunded", "metadata",
]
TYPES = [*handlers.HANDLERS, "customer.created"]


def json_values(known):
    scalars = (
        st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats() | st.text(max_size=12) | st.sampled_from(known)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=12,
    )


@pytest.fixture
def orders_world(offer, buyer, stripe_fake):
    """A paid one-time order and a paid subscription, built once for every example."""
    sessions = []
    for label, person in (("Pay once", buyer), ("Monthly", UserFactory(username="sam"))):
        order = start_checkout(
            person, offer.prices.get(label=label),
            success_url=lambda o: f"https://site.test/orders/{o.public_id}/",
            cancel_url="https://site.test/offer/",
        ).order
        session = stripe_fake.complete_session(order.stripe_session_id)
        assert deliver(event("checkout.session.completed", session)).status_code == 200
        sessions.append(session)
    return sessions


@pytest.mark.exhaustive
@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_object_for_any_handled_type_never_gets_a_5xx(orders_world, data):
    # Real ids and amounts of the world, so that handlers get past their lookups.
    known = [
        value for session in orders_world for value in session.values()
        if isinstance(value, str | int) and not isinstance(value, bool)
    ] + [str(uuid.uuid4()), "complete", "paid", "subscription", "payment", "eur", "lost"]
    values = json_values(known)
    obj = data.draw(st.dictionaries(st.sampled_from(FIELDS), values, max_size=10))
    odd_event = {
        **event(data.draw(st.sampled_from(TYPES)), obj),
        "created": data.draw(st.one_of(st.just(int(time.time())), values)),
    }
    if data.draw(st.booleans()):
        odd_event["id"] = data.draw(values.filter(lambda v: v not in (None, "")))
    with transaction.atomic():
        response = deliver(odd_event)
        transaction.set_rollback(True)
    assert response.status_code == 200, (response.status_code, response.content, odd_event)
