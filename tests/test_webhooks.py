"""The Stripe webhook: signatures, recording each event once, and every event type's effect
on orders and access, whatever order events arrive in."""

import datetime
import json
import threading
import time

import pytest
import time_machine
from django.db import connection
from django.test import Client

from tests.stripe_fake import (
    INSTALLMENTS,
    MONTHLY,
    ONE_TIME,
    FakeStripe,
    make_offer,
    post_event,
    price_of,
    sign,
)
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import (
    AccessState,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    OrderEnrollment,
    OrderStatus,
    StripeEvent,
)
from wagtail_coaching.payments import fulfilment
from wagtail_coaching.payments.checkout import start_checkout
from wagtail_coaching.testing.factories import UserFactory, make_engagement

pytestmark = [pytest.mark.django_db]

event = FakeStripe.event
DAY = 86400


@pytest.fixture
def offer(engagement):
    return make_offer([engagement], prices=[ONE_TIME, MONTHLY, INSTALLMENTS])


def open_checkout(buyer, offer, label="Pay once"):
    return start_checkout(
        buyer, price_of(offer, label),
        success_url=lambda order: f"https://site.test/orders/{order.public_id}/",
        cancel_url="https://site.test/offer/",
    ).order


def deliver(stripe_event, **kwargs):
    return post_event(Client(), stripe_event, **kwargs)


def enrollments_of(buyer):
    return Enrollment.objects.filter(client=buyer)


def nothing_written(buyer):
    return (
        not enrollments_of(buyer).exists()
        and not OrderEnrollment.objects.exists()
        and not JourneyEvent.objects.exists()
    )


def kinds(enrollment):
    return list(
        JourneyEvent.objects.filter(enrollment=enrollment).order_by("at", "id")
        .values_list("kind", flat=True)
    )


# -- Signatures -----------------------------------------------------------------------------


@pytest.fixture
def completed(offer, buyer, stripe_fake):
    order = open_checkout(buyer, offer)
    session = stripe_fake.complete_session(order.stripe_session_id)
    return order, event("checkout.session.completed", session)


def test_signed_event_is_accepted(completed, buyer):
    order, completed_event = completed
    response = deliver(completed_event)
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "fulfilled"}
    assert enrollments_of(buyer).count() == 1


@pytest.mark.parametrize("tamper", ["wrong_secret", "stale", "changed_byte", "no_header",
                                    "garbage_header", "not_utf8"])
def test_bad_signatures_get_400_and_write_nothing(completed, buyer, tamper):
    order, completed_event = completed
    body = json.dumps(completed_event).encode()
    kwargs = {}
    if tamper == "wrong_secret":
        kwargs = {"secret": "whsec_someone_else"}
    elif tamper == "stale":
        kwargs = {"timestamp": int(time.time()) - 301}
    elif tamper == "changed_byte":
        header = sign(body)
        body = body.replace(b'"paid"', b'"paiD"')
        kwargs = {"body": body, "header": header}
    elif tamper == "no_header":
        kwargs = {"header": ""}
    elif tamper == "garbage_header":
        kwargs = {"header": "v1=deadbeef"}
    elif tamper == "not_utf8":
        kwargs = {"body": b"\xff\xfe" + body}
    response = deliver(completed_event, **kwargs)
    assert response.status_code == 400
    assert "error" in response.json()
    assert not StripeEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert nothing_written(buyer)


def test_a_body_that_is_not_an_event_gets_400(stripe_fake):
    body = b'{"hello": "world"}'
    response = deliver({}, body=body, header=sign(body))
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_webhook_needs_no_csrf_token(completed):
    order, completed_event = completed
    response = post_event(Client(enforce_csrf_checks=True), completed_event)
    assert response.status_code == 200


def test_webhook_refuses_get(client, stripe_fake):
    assert client.get("/coaching/stripe/webhook/").status_code == 405


def test_webhook_without_a_configured_secret_refuses(completed, settings, buyer):
    order, completed_event = completed
    settings.WAGTAIL_COACHING = {**settings.WAGTAIL_COACHING, "STRIPE_WEBHOOK_SECRET": None}
    assert deliver(completed_event).status_code == 400
    assert nothing_written(buyer)


def test_personal_data_is_not_stored_with_the_event(completed):
    order, completed_event = completed
    assert "customer_details" in completed_event["data"]["object"]
    deliver(completed_event)
    stored = StripeEvent.objects.get().payload
    assert "customer_details" not in stored["data"]["object"]
    assert "customer_email" not in stored["data"]["object"]
    assert stored["data"]["object"]["client_reference_id"] == str(order.public_id)


# -- Once and only once ---------------------------------------------------------------------


def test_replaying_one_event_five_times_enrolls_once(completed, buyer):
    order, completed_event = completed
    outcomes = [deliver(completed_event).json()["outcome"] for _ in range(5)]
    assert outcomes == ["fulfilled"] + ["duplicate"] * 4
    assert enrollments_of(buyer).count() == 1
    assert StripeEvent.objects.count() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.grants.count() == 1
    [enrollment] = enrollments_of(buyer)
    assert kinds(enrollment).count(EventKind.PAID) == 1
    assert kinds(enrollment).count(EventKind.ENROLLED) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_of_one_event_enroll_once(stripe_fake):
    engagement = make_engagement(title="Leadership Foundations", slug="leadership")
    offer = make_offer([engagement], prices=[ONE_TIME])
    buyer = UserFactory(username="cara", email="cara@example.com")
    order = open_checkout(buyer, offer)
    body = json.dumps(
        event("checkout.session.completed", stripe_fake.complete_session(order.stripe_session_id))
    ).encode()
    header = sign(body)
    barrier = threading.Barrier(10)
    statuses, outcomes = [], []

    def deliver_once():
        try:
            barrier.wait()
            response = Client().post(
                "/coaching/stripe/webhook/", data=body, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )
            statuses.append(response.status_code)
            outcomes.append(response.json().get("outcome"))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_once) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 10
    assert sorted(outcomes) == ["duplicate"] * 9 + ["fulfilled"]
    assert Enrollment.objects.filter(client=buyer).count() == 1
    assert OrderEnrollment.objects.count() == 1
    assert StripeEvent.objects.count() == 1
    assert JourneyEvent.objects.filter(kind=EventKind.PAID).count() == 1


def test_two_events_for_one_checkout_session_enroll_once(completed, buyer, stripe_fake):
    order, completed_event = completed
    session = completed_event["data"]["object"]
    assert deliver(completed_event).json()["outcome"] == "fulfilled"
    again = event("checkout.session.async_payment_succeeded", session)
    assert deliver(again).json()["outcome"] == "already_processed"
    assert enrollments_of(buyer).count() == 1
    assert StripeEvent.objects.count() == 2


def test_a_bundle_enrolls_in_each_engagement_exactly_once(engagement, buyer, stripe_fake):
    second = make_engagement(title="Team Dynamics", slug="team")
    third = make_engagement(title="Resilience", slug="resilience")
    bundle = make_offer([engagement, second, third], title="Bundle", prices=[ONE_TIME])
    order = open_checkout(buyer, bundle)
    completed_event = event(
        "checkout.session.completed", stripe_fake.complete_session(order.stripe_session_id)
    )
    for _ in range(3):
        deliver(completed_event)
    got = sorted(enrollments_of(buyer).values_list("engagement_id", flat=True))
    assert got == sorted([engagement.pk, second.pk, third.pk])
    assert order.grants.count() == 3


def test_an_enrolled_buyer_keeps_their_enrollment(engagement, buyer, stripe_fake):
    second = make_engagement(title="Team Dynamics", slug="team")
    bundle = make_offer([engagement, second], title="Bundle", prices=[ONE_TIME], access_days=30)
    existing = enroll(buyer, engagement)
    order = open_checkout(buyer, bundle)
    deliver(event("checkout.session.completed",
                  stripe_fake.complete_session(order.stripe_session_id)))
    grants = {g.enrollment.engagement_id: g for g in order.grants.select_related("enrollment")}
    assert grants[engagement.pk].enrollment == existing and not grants[engagement.pk].granted
    assert grants[second.pk].granted
    existing.refresh_from_db()
    assert existing.ends_at is None  # unlimited stays unlimited
    assert enrollments_of(buyer).count() == 2


# -- Tampering ------------------------------------------------------------------------------


def test_tampered_metadata_is_ignored(offer, buyer, stripe_fake):
    victim_order = open_checkout(UserFactory(username="vic"), offer)
    order = open_checkout(buyer, offer)
    session = stripe_fake.complete_session(order.stripe_session_id)
    # Metadata claiming another order changes nothing: the reference decides.
    session["metadata"] = {"order": str(victim_order.public_id)}
    assert deliver(event("checkout.session.completed", session)).json()["outcome"] == "fulfilled"
    victim_order.refresh_from_db()
    assert victim_order.status == OrderStatus.PENDING
    assert not victim_order.grants.exists()
    assert enrollments_of(buyer).count() == 1


@pytest.mark.parametrize("change", [
    {"client_reference_id": "00000000-0000-0000-0000-000000000000"},
    {"client_reference_id": "not-a-uuid"},
    {"id": "cs_test_forged"},
    {"amount_subtotal": 100, "amount_total": 100},
    {"currency": "usd"},
    {"mode": "subscription"},
])
def test_events_not_matching_the_stored_order_grant_nothing(offer, buyer, stripe_fake, change):
    order = open_checkout(buyer, offer)
    stripe_fake.complete_session(order.stripe_session_id)
    forged = stripe_fake.session(order.stripe_session_id, **change)
    response = deliver(event("checkout.session.completed", forged))
    assert response.status_code == 200
    assert response.json()["outcome"] in {
        "unknown_order", "session_mismatch", "amount_mismatch", "mode_mismatch"}
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert nothing_written(buyer)


def test_a_session_id_of_another_order_grants_nothing(offer, buyer, stripe_fake):
    other = open_checkout(UserFactory(username="olly"), offer)
    mine = open_checkout(buyer, offer)
    stripe_fake.complete_session(other.stripe_session_id)
    # Someone else's paid session, presented as mine.
    forged = stripe_fake.session(other.stripe_session_id,
                                 client_reference_id=str(mine.public_id))
    assert deliver(event("checkout.session.completed", forged)).json()["outcome"] == (
        "session_mismatch"
    )
    assert nothing_written(buyer)


# -- Asynchronous payments and expiry -------------------------------------------------------


def test_unpaid_async_completion_grants_nothing_until_it_succeeds(offer, buyer, stripe_fake):
    order = open_checkout(buyer, offer)
    unpaid = stripe_fake.complete_session(order.stripe_session_id, payment_status="unpaid")
    assert deliver(event("checkout.session.completed", unpaid)).json()["outcome"] == (
        "awaiting_payment"
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and nothing_written(buyer)
    paid = stripe_fake.complete_session(order.stripe_session_id, payment_status="paid")
    assert deliver(event("checkout.session.async_payment_succeeded", paid)).json()[
        "outcome"] == "fulfilled"
    assert enrollments_of(buyer).count() == 1


def test_async_payment_failure_fails_the_order(offer, buyer, stripe_fake):
    order = open_checkout(buyer, offer)
    unpaid = stripe_fake.complete_session(order.stripe_session_id, payment_status="unpaid")
    deliver(event("checkout.session.async_payment_failed", unpaid))
    # The completion (unpaid) arriving late does not reopen it.
    deliver(event("checkout.session.completed", unpaid))
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert nothing_written(buyer)


def test_expired_session_expires_the_order(offer, buyer, stripe_fake):
    order = open_checkout(buyer, offer)
    expired = stripe_fake.session(order.stripe_session_id, status="expired")
    assert deliver(event("checkout.session.expired", expired)).json()["outcome"] == "expired"
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED


def test_unknown_event_types_are_recorded_and_ignored(stripe_fake):
    response = deliver(event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert StripeEvent.objects.get().outcome == "ignored"


# -- Failures roll back ---------------------------------------------------------------------


def test_a_failing_handler_returns_500_and_keeps_nothing(completed, buyer, monkeypatch):
    order, completed_event = completed
    real_create = OrderEnrollment.objects.create

    def explode(**kwargs):
        real_create(**kwargs)  # a row is written, then the handler fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(OrderEnrollment.objects, "create", explode)
    response = deliver(completed_event)
    assert response.status_code == 500
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and order.fulfilled_at is None
    assert nothing_written(buyer)
    record = StripeEvent.objects.get()
    assert record.processed_at is None and record.outcome == "failed"
    assert "disk full" in record.error

    monkeypatch.undo()
    # Stripe delivers again; this time it works, once.
    assert deliver(completed_event).json()["outcome"] == "fulfilled"
    assert enrollments_of(buyer).count() == 1
    record.refresh_from_db()
    assert record.processed_at is not None and record.error == ""


# -- Subscriptions --------------------------------------------------------------------------


def subscribe(buyer, offer, stripe_fake, label="Monthly"):
    order = open_checkout(buyer, offer, label)
    session = stripe_fake.complete_session(order.stripe_session_id)
    return order, session


def test_subscription_deleted_before_completion_never_grants_access(offer, buyer, stripe_fake):
    order, session = subscribe(buyer, offer, stripe_fake)
    deleted = stripe_fake.subscription(session["subscription"], current_period_end=int(
        time.time()) + 30 * DAY)
    assert deliver(event("customer.subscription.deleted", deleted)).json()["outcome"] == (
        "deferred"
    )
    outcome = deliver(event("checkout.session.completed", session)).json()["outcome"]
    assert outcome == "subscription_ended_before_paid"
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.fulfilled_at is None
    assert nothing_written(buyer)
    assert StripeEvent.objects.get(type="customer.subscription.deleted").outcome == (
        "subscription_ended_before_paid"
    )


def test_subscription_ended_while_its_payment_was_pending_grants_nothing(
    offer, buyer, stripe_fake
):
    order, _ = subscribe(buyer, offer, stripe_fake)
    unpaid = stripe_fake.complete_session(order.stripe_session_id, payment_status="unpaid")
    deliver(event("checkout.session.completed", unpaid))
    deleted = stripe_fake.subscription(unpaid["subscription"])
    deliver(event("customer.subscription.deleted", deleted))
    paid = stripe_fake.complete_session(order.stripe_session_id, payment_status="paid")
    assert deliver(event("checkout.session.async_payment_succeeded", paid)).json()[
        "outcome"] == "subscription_ended_before_paid"
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert nothing_written(buyer)


def test_renewals_extend_access(offer, buyer, stripe_fake, settings):
    order, session = subscribe(buyer, offer, stripe_fake)
    deliver(event("checkout.session.completed", session))
    now = int(time.time())
    first = stripe_fake.invoice(session["subscription"], 4900, now, now + 30 * DAY,
                                billing_reason="subscription_create")
    deliver(event("invoice.paid", first))
    order.refresh_from_db()
    [enrollment] = enrollments_of(buyer)
    grace = datetime.timedelta(days=7)
    assert order.access_until == datetime.datetime.fromtimestamp(now + 30 * DAY, datetime.UTC)
    assert enrollment.ends_at == order.access_until + grace
    renewal = stripe_fake.invoice(session["subscription"], 4900, now + 30 * DAY, now + 60 * DAY,
                                  old_api=True)
    deliver(event("invoice.paid", renewal))
    deliver(event("invoice.paid", renewal, event_id="evt_other_id_same_invoice"))
    order.refresh_from_db()
    enrollment.refresh_from_db()
    assert order.access_until == datetime.datetime.fromtimestamp(now + 60 * DAY, datetime.UTC)
    assert enrollment.ends_at == order.access_until + grace
    assert len(order.stripe_invoice_ids) == 2
    assert kinds(enrollment).count(EventKind.ACCESS_CHANGED) == 2


def test_invoice_paid_before_completion_is_applied_when_the_order_is_linked(
    offer, buyer, stripe_fake
):
    order, session = subscribe(buyer, offer, stripe_fake)
    now = int(time.time())
    first = stripe_fake.invoice(session["subscription"], 4900, now, now + 30 * DAY)
    assert deliver(event("invoice.paid", first)).json()["outcome"] == "deferred"
    deliver(event("checkout.session.completed", session))
    order.refresh_from_db()
    assert order.access_until == datetime.datetime.fromtimestamp(now + 30 * DAY, datetime.UTC)
    assert StripeEvent.objects.get(type="invoice.paid").outcome == "paid"
    assert enrollments_of(buyer).get().status == EnrollmentStatus.ACTIVE


def test_grace_period_pauses_and_a_later_payment_resumes(offer, buyer, stripe_fake, settings):
    settings.WAGTAIL_COACHING = {**settings.WAGTAIL_COACHING, "PAYMENT_GRACE_DAYS": 3}
    start = datetime.datetime(2025, 6, 1, 9, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        order, session = subscribe(buyer, offer, stripe_fake)
        deliver(event("checkout.session.completed", session))
        now = int(time.time())
        deliver(event("invoice.paid", stripe_fake.invoice(
            session["subscription"], 4900, now, now + 30 * DAY)))
    renewal_failed = start + datetime.timedelta(days=30)
    with time_machine.travel(renewal_failed, tick=False):
        failed = stripe_fake.invoice(session["subscription"], 0, int(time.time()),
                                     int(time.time()) + 30 * DAY)
        assert deliver(event("invoice.payment_failed", failed)).json()["outcome"] == "past_due"
        enrollment = enrollments_of(buyer).get()
        assert enrollment.status == EnrollmentStatus.ACTIVE  # within the grace period
        assert fulfilment.sweep_access() == 0
    with time_machine.travel(renewal_failed + datetime.timedelta(days=3, minutes=1), tick=False):
        assert fulfilment.sweep_access() == 1
        assert fulfilment.sweep_access() == 0  # safe to run twice
        enrollment.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.PAUSED
        order.refresh_from_db()
        assert order.access_state == AccessState.PAUSED
        paid = stripe_fake.invoice(session["subscription"], 4900, int(time.time()),
                                   int(time.time()) + 30 * DAY)
        deliver(event("invoice.paid", paid))
        enrollment.refresh_from_db()
        order.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.ACTIVE
        assert order.past_due_since is None and order.access_state == AccessState.ACTIVE
    events = kinds(enrollment)
    assert events.index(EventKind.ACCESS_PAUSED) < events.index(EventKind.ACCESS_RESUMED)


def test_a_payment_failure_older_than_the_last_payment_is_stale(offer, buyer, stripe_fake):
    order, session = subscribe(buyer, offer, stripe_fake)
    deliver(event("checkout.session.completed", session))
    now = int(time.time())
    paid = stripe_fake.invoice(session["subscription"], 4900, now, now + 30 * DAY)
    failed = stripe_fake.invoice(session["subscription"], 0, now, now + 30 * DAY)
    deliver(event("invoice.paid", paid, created=now))
    outcome = deliver(event("invoice.payment_failed", failed, created=now - 60)).json()
    assert outcome["outcome"] == "stale"
    order.refresh_from_db()
    assert order.past_due_since is None


def test_subscription_end_keeps_access_to_the_period_end(offer, buyer, stripe_fake):
    order, session = subscribe(buyer, offer, stripe_fake)
    deliver(event("checkout.session.completed", session))
    period_end = int(time.time()) + 10 * DAY
    deleted = stripe_fake.subscription(session["subscription"], current_period_end=period_end)
    assert deliver(event("customer.subscription.deleted", deleted)).json()["outcome"] == (
        "subscription_ended"
    )
    order.refresh_from_db()
    enrollment = enrollments_of(buyer).get()
    ends = datetime.datetime.fromtimestamp(period_end, datetime.UTC)
    assert order.status == OrderStatus.CANCELLED
    assert enrollment.status == EnrollmentStatus.ACTIVE and enrollment.ends_at == ends
    with time_machine.travel(ends + datetime.timedelta(minutes=1)):
        assert fulfilment.sweep_access() == 1
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.CANCELLED
    assert EventKind.ACCESS_ENDED in kinds(enrollment)


def test_installments_stop_after_the_last_payment_and_access_stays(offer, buyer, stripe_fake):
    order, session = subscribe(buyer, offer, stripe_fake, label="Three payments")
    deliver(event("checkout.session.completed", session))
    sub = session["subscription"]
    now = int(time.time())
    outcomes = []
    for i in range(3):
        invoice = stripe_fake.invoice(sub, 17000, now + i * 30 * DAY, now + (i + 1) * 30 * DAY)
        outcomes.append(deliver(event("invoice.paid", invoice)).json()["outcome"])
    assert outcomes == ["paid", "paid", "plan_completed"]
    order.refresh_from_db()
    assert order.installments_paid == 3 and order.plan_completed_at is not None
    [stop] = stripe_fake.calls("POST", f"/v1/subscriptions/{sub}")
    assert stop["params"]["cancel_at_period_end"] == "true"
    assert stop["idempotency_key"] == f"coaching-installments-done-{order.public_id}"
    assert stripe_fake.subscriptions[sub]["cancel_at_period_end"] is True
    # Stripe ends the subscription: the completed plan keeps its access (unlimited here).
    deleted = stripe_fake.subscription(sub, current_period_end=now + 90 * DAY)
    assert deliver(event("customer.subscription.deleted", deleted)).json()["outcome"] == (
        "plan_completed"
    )
    order.refresh_from_db()
    enrollment = enrollments_of(buyer).get()
    assert order.status == OrderStatus.PAID
    assert enrollment.status == EnrollmentStatus.ACTIVE and enrollment.ends_at is None
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=400)):
        assert fulfilment.sweep_access() == 0


def test_installment_plan_ended_early_ends_access(offer, buyer, stripe_fake):
    order, session = subscribe(buyer, offer, stripe_fake, label="Three payments")
    deliver(event("checkout.session.completed", session))
    now = int(time.time())
    deliver(event("invoice.paid", stripe_fake.invoice(session["subscription"], 17000, now,
                                                      now + 30 * DAY)))
    ended = stripe_fake.subscription(session["subscription"], current_period_end=now - 60)
    deliver(event("customer.subscription.deleted", ended))
    enrollment = enrollments_of(buyer).get()
    assert enrollment.status == EnrollmentStatus.CANCELLED


# -- Refunds and disputes -------------------------------------------------------------------


def paid_order(buyer, offer, stripe_fake):
    order = open_checkout(buyer, offer)
    session = stripe_fake.complete_session(order.stripe_session_id)
    deliver(event("checkout.session.completed", session))
    order.refresh_from_db()
    return order, session


def test_a_full_refund_revokes_access(offer, buyer, stripe_fake):
    order, session = paid_order(buyer, offer, stripe_fake)
    charge = stripe_fake.charge(session["payment_intent"])
    assert deliver(event("charge.refunded", charge)).json()["outcome"] == "refunded"
    order.refresh_from_db()
    enrollment = enrollments_of(buyer).get()
    assert order.status == OrderStatus.REFUNDED and str(order.amount_refunded) == "490.00"
    assert enrollment.status == EnrollmentStatus.CANCELLED
    assert {EventKind.REFUNDED, EventKind.ACCESS_ENDED} <= set(kinds(enrollment))
    assert "billing_details" not in StripeEvent.objects.get(type="charge.refunded").payload[
        "data"]["object"]


def test_a_partial_refund_keeps_access(offer, buyer, stripe_fake):
    order, session = paid_order(buyer, offer, stripe_fake)
    charge = stripe_fake.charge(session["payment_intent"], refunded=False,
                                amount_refunded=10000)
    assert deliver(event("charge.refunded", charge)).json()["outcome"] == "partial_refund"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and str(order.amount_refunded) == "100.00"
    assert enrollments_of(buyer).get().status == EnrollmentStatus.ACTIVE


def test_a_refund_arriving_before_the_completion_still_revokes(offer, buyer, stripe_fake):
    order = open_checkout(buyer, offer)
    session = stripe_fake.complete_session(order.stripe_session_id)
    refund = event("charge.refunded", stripe_fake.charge(session["payment_intent"]))
    assert deliver(refund).json()["outcome"] == "deferred"
    deliver(event("checkout.session.completed", session))
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert enrollments_of(buyer).get().status == EnrollmentStatus.CANCELLED
    assert StripeEvent.objects.get(type="charge.refunded").outcome == "refunded"


def test_a_dispute_pauses_and_winning_it_resumes(offer, buyer, stripe_fake):
    order, session = paid_order(buyer, offer, stripe_fake)
    dispute = stripe_fake.dispute(session["payment_intent"])
    assert deliver(event("charge.dispute.created", dispute)).json()["outcome"] == "disputed"
    enrollment = enrollments_of(buyer).get()
    assert enrollment.status == EnrollmentStatus.PAUSED
    won = {**dispute, "status": "won"}
    assert deliver(event("charge.dispute.closed", won)).json()["outcome"] == "dispute_won"
    enrollment.refresh_from_db()
    order.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE and order.status == OrderStatus.PAID
    assert EventKind.DISPUTED in kinds(enrollment)


def test_a_lost_dispute_ends_access_even_if_its_opening_arrives_last(offer, buyer, stripe_fake):
    order, session = paid_order(buyer, offer, stripe_fake)
    dispute = stripe_fake.dispute(session["payment_intent"])
    deliver(event("charge.dispute.closed", {**dispute, "status": "lost"}))
    assert deliver(event("charge.dispute.created", dispute)).json()["outcome"] == (
        "already_processed"
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPUTED and order.dispute_status == "lost"
    assert enrollments_of(buyer).get().status == EnrollmentStatus.CANCELLED
