"""Stripe events handled in the background (``STRIPE_WEBHOOK_HANDLING = "background"``): the
webhook records the event and answers at once; the ``handle_stripe_event`` job handles it
with the same handlers, once, however often it is delivered or sent."""

import datetime

import dramatiq
import pytest
from django.core import checks
from django.test import Client
from django.utils import timezone

from tests.stripe_fake import ONE_TIME, FakeStripe, configure, make_offer, post_event
from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.models import Enrollment, Order, OrderStatus, StripeEvent
from wagtail_coaching.payments import handlers, webhooks
from wagtail_coaching.payments.checkout import start_checkout
from wagtail_coaching.tasks.outbox import sweep_outbox
from wagtail_coaching.testing.jobs import drain

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def background(settings, stripe_fake, enqueue_at_once):
    configure(settings, stripe_fake, STRIPE_WEBHOOK_HANDLING="background")
    return stripe_fake


@pytest.fixture
def paid(background, engagement, buyer):
    """A pending order and the signed ``checkout.session.completed`` event that pays it."""
    offer = make_offer([engagement], prices=[ONE_TIME])
    order = start_checkout(
        buyer, offer.prices.get(),
        success_url=lambda o: f"https://site.test/orders/{o.public_id}/",
        cancel_url="https://site.test/offer/",
    ).order
    session = background.complete_session(order.stripe_session_id)
    return order, FakeStripe.event("checkout.session.completed", session)


def deliver(event, **kwargs):
    return post_event(Client(), event, **kwargs)


def handling_jobs(ran):
    return [m for m in ran if m.actor_name == "handle_stripe_event"]


def test_the_webhook_answers_queued_and_the_job_fulfils_the_order(paid, buyer):
    order, completed = paid
    response = deliver(completed)
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "queued"}
    # Recorded, nothing handled yet.
    record = StripeEvent.objects.get(event_id=completed["id"])
    assert (record.processed_at, record.outcome, record.attempts) == (None, "", 0)
    assert not Enrollment.objects.filter(client=buyer).exists()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING

    ran = drain()
    assert [m.args for m in handling_jobs(ran)] == [(completed["id"],)]
    record.refresh_from_db()
    assert (record.outcome, record.attempts) == ("fulfilled", 1)
    assert record.processed_at is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.fulfilled_at is not None
    assert Enrollment.objects.filter(client=buyer).count() == 1
    # The buyer's details are not kept with the event; handling never needed them.
    assert "customer_details" not in record.payload["data"]["object"]


def test_redelivery_before_and_after_handling_changes_nothing_twice(paid, buyer):
    order, completed = paid
    assert deliver(completed).json()["outcome"] == "queued"
    # Stripe delivers again before the job ran: sent again, handled once.
    assert deliver(completed).json()["outcome"] == "queued"
    ran = drain()
    assert len(handling_jobs(ran)) == 2
    assert Enrollment.objects.filter(client=buyer).count() == 1
    assert StripeEvent.objects.get(event_id=completed["id"]).attempts == 1
    # Delivered once more after handling: a duplicate, and no job.
    assert deliver(completed).json()["outcome"] == "duplicate"
    assert handling_jobs(drain()) == []
    assert StripeEvent.objects.count() == 1
    assert Enrollment.objects.filter(client=buyer).count() == 1


def test_the_job_run_twice_or_for_an_unknown_event_does_nothing_more(paid, buyer):
    order, completed = paid
    deliver(completed)
    assert webhooks.handle_recorded_event(completed["id"]) == "fulfilled"
    assert webhooks.handle_recorded_event(completed["id"]) == "duplicate"
    assert webhooks.handle_recorded_event("evt_never_received") is None
    assert Enrollment.objects.filter(client=buyer).count() == 1


def test_a_failure_is_noted_and_the_retry_handles_the_event(paid, buyer, monkeypatch):
    order, completed = paid
    deliver(completed)

    def broken(session, ctx):
        raise ConnectionError("database went away")

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", broken)
    # Raised, so that dramatiq retries the job; the event keeps the error.
    with pytest.raises(ConnectionError):
        webhooks.handle_recorded_event(completed["id"])
    record = StripeEvent.objects.get(event_id=completed["id"])
    assert (record.processed_at, record.outcome, record.attempts) == (None, "failed", 1)
    assert "database went away" in record.error
    assert not Enrollment.objects.filter(client=buyer).exists()
    monkeypatch.undo()
    # The retry (or Stripe's redelivery) handles it.
    assert webhooks.handle_recorded_event(completed["id"]) == "fulfilled"
    record.refresh_from_db()
    assert (record.outcome, record.error, record.attempts) == ("fulfilled", "", 2)
    assert Enrollment.objects.filter(client=buyer).count() == 1


def test_an_event_that_can_never_be_handled_fails_at_once_without_a_job(background):
    odd = FakeStripe.event("checkout.session.completed", {"id": "cs_odd", "object": "x"})
    odd["created"] = "yesterday"
    response = deliver(odd)
    assert response.status_code == 200
    assert response.json()["outcome"] == "failed"
    assert handling_jobs(drain()) == []
    record = StripeEvent.objects.get(event_id=odd["id"])
    assert record.outcome == "failed" and "created is not a Unix time" in record.error


def test_an_event_stored_odd_is_failed_by_the_job_not_retried(background):
    StripeEvent.objects.create(event_id="evt_stored_odd", type="checkout.session.completed",
                               payload={"id": "evt_stored_odd", "data": "nothing"})
    assert webhooks.handle_recorded_event("evt_stored_odd") == "failed"
    record = StripeEvent.objects.get(event_id="evt_stored_odd")
    assert record.outcome == "failed" and "data.object is not an object" in record.error


@pytest.mark.parametrize("tamper", ["wrong_secret", "not_json"])
def test_unsigned_or_broken_bodies_are_refused_and_record_nothing(background, paid, tamper):
    order, completed = paid
    kwargs = {"secret": "whsec_someone_else"} if tamper == "wrong_secret" else {
        "body": b'{"id": "evt_x", "type": ' + b"\x00"}
    response = deliver(completed, **kwargs)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert handling_jobs(drain()) == []


def test_the_sweeper_sends_again_only_events_whose_message_was_lost(paid, buyer):
    order, completed = paid
    deliver(completed)
    dramatiq.get_broker().flush_all()  # the message is lost (a broker restart)
    now = timezone.now()
    # Too young: its job may still be on its way.
    assert webhooks.resend_unhandled_events(now) == 0
    later = now + datetime.timedelta(seconds=coaching_settings.NOTIFICATION_RETRY_AFTER_SECONDS)
    # A failed attempt is its job's retries' to handle (then the admin's), not the sweeper's;
    # a handled one is done.
    StripeEvent.objects.create(event_id="evt_failed", type="invoice.paid", outcome="failed",
                               attempts=1, received_at=now - datetime.timedelta(days=1))
    StripeEvent.objects.create(event_id="evt_done", type="invoice.paid", outcome="ignored",
                               attempts=1, processed_at=now,
                               received_at=now - datetime.timedelta(days=1))
    assert webhooks.resend_unhandled_events(later) == 1
    assert [m.args for m in handling_jobs(drain())] == [(completed["id"],)]
    assert Enrollment.objects.filter(client=buyer).count() == 1
    # The outbox sweeper runs it too; once handled there is nothing left to send.
    assert webhooks.resend_unhandled_events(later) == 0
    sweep_outbox(later)
    assert handling_jobs(drain()) == []


def test_the_webhook_costs_a_few_statements_whatever_the_program(
    background, paid, django_assert_max_num_queries
):
    order, completed = paid
    # The savepoint around them, the look-up and the insert.
    with django_assert_max_num_queries(4):
        assert deliver(completed).json()["outcome"] == "queued"
    drain()
    with django_assert_max_num_queries(3):
        assert deliver(completed).json()["outcome"] == "duplicate"


def test_the_setting_is_checked(settings):
    from wagtail_coaching.payments.checks import stripe_setting_messages

    def ids(messages):
        return {m.id for m in messages}

    assert ids(stripe_setting_messages(None, None, 300, "later")) == {"wagtail_coaching.E103"}
    assert stripe_setting_messages(None, None, 300, "background") == []
    assert stripe_setting_messages(None, None, 300, "inline") == []
    settings.WAGTAIL_COACHING = {"STRIPE_WEBHOOK_HANDLING": "sometime"}
    assert "wagtail_coaching.E103" in {m.id for m in checks.run_checks()}
    # An unknown value never leaves events unhandled: the request handles them.
    assert webhooks.handling() == webhooks.INLINE


def test_the_event_log_shows_a_queued_event_until_the_job_handles_it(paid, admin_user):
    from django.urls import reverse

    order, completed = paid
    deliver(completed)
    admin = Client()
    admin.force_login(admin_user)
    url = reverse("wagtail_coaching_stripeevent_modeladmin_index")
    page = admin.get(url).content.decode()
    assert completed["id"] in page and "Queued" in page
    # The outcome filter names them too, and finds them.
    StripeEvent.objects.create(event_id="evt_other", type="invoice.paid", outcome="ignored",
                               processed_at=timezone.now())
    queued = admin.get(url, {"outcome": "queued"})
    assert [e.event_id for e in queued.context["object_list"]] == [completed["id"]]
    assert [e.event_id for e in admin.get(url, {"outcome": "ignored"}).context["object_list"]] \
        == ["evt_other"]
    assert ">Queued<" in admin.get(url).content.decode().replace("\n", "").replace(" ", "")
    drain()
    page = admin.get(url).content.decode()
    assert "fulfilled" in page and "Queued" not in page
