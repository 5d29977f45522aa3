"""What each Stripe event means for an order.

Handlers take the event's object as a plain dict and an ``EventContext``; they lock the order
they find, change its money state, call ``fulfil`` / ``apply_access`` and return an outcome
string (stored on the ``StripeEvent``). Every handler is idempotent and none of them trusts
metadata: an order is found by ``client_reference_id`` and must match the stored session id,
amount and currency, or by the subscription / payment ids recorded from its verified session.

Handlers read the object through ``StripeFields`` (``stripe_fields``) before they change
anything: a field of the wrong type (an id that is a number, an amount that is a string)
raises ``UnprocessableEvent``, so such an event changes nothing and is not retried.

Events may arrive in any order. One about a subscription or payment not linked to an order
yet is *deferred* and applied, in creation order, as soon as the order is linked.
"""

import dataclasses
import datetime
import logging
import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ..models import EventKind, Order, OrderStatus, PaymentModel, StripeEvent
from ..models.offers import FINAL_DISPUTE_STATUSES
from ..utils.money import exponent
from .errors import UnprocessableEvent
from .fulfilment import (
    apply_access,
    fulfil_locked,
    orders_for_update,
    record_on_grants,
)
from .receipts import attach_receipt, record_payment
from .stripe_fields import StripeFields, timestamp_or_none

logger = logging.getLogger(__name__)

# Session states in which Stripe has the money (or needs none: a trial, a 100% coupon).
PAID_SESSION_STATUSES = ("paid", "no_payment_required")

# Order statuses a verified payment may move to paid.
PAYABLE_STATUSES = (
    OrderStatus.PENDING, OrderStatus.FAILED, OrderStatus.EXPIRED, OrderStatus.CANCELLED,
)


@dataclasses.dataclass
class EventContext:
    event_id: str
    type: str
    created: datetime.datetime
    now: datetime.datetime


@dataclasses.dataclass
class Deferred:
    """The event concerns ``related_id``, which no order knows yet."""

    related_id: str
    outcome: str = "deferred"


def from_minor_units(value, currency):
    return Decimal(int(value or 0)) / (Decimal(10) ** exponent(currency))


def _largest_refund():
    field = Order._meta.get_field("amount_refunded")
    return Decimal(10) ** (field.max_digits - field.decimal_places)


# -- Checkout sessions ----------------------------------------------------------------------


def order_for_session(session):
    """The order a verified session belongs to, locked, or None (with the reason).

    Looked up by ``client_reference_id`` only; the stored session id, currency and amount
    must match, so an event about someone else's order or a doctored amount grants nothing.
    """
    fields = StripeFields(session)
    session_id = fields.text("id")
    reference = fields.text("client_reference_id")
    currency = fields.text("currency").lower()
    # Before discounts: promotion codes lower the total, never the subtotal.
    subtotal = fields.amount("amount_subtotal")
    if subtotal is None:
        subtotal = fields.amount("amount_total")
    mode = fields.text("mode")
    try:
        public_id = uuid.UUID(reference)
    except ValueError:
        return None, "unknown_order"
    order = (
        orders_for_update().filter(public_id=public_id).first()
    )
    if order is None:
        return None, "unknown_order"
    if not order.stripe_session_id or session_id != order.stripe_session_id:
        logger.warning("Session %s does not belong to order %s", session_id, public_id)
        return None, "session_mismatch"
    if currency != order.currency:
        logger.warning("Session %s: currency differs from order %s", session_id, public_id)
        return None, "amount_mismatch"
    # A trial's first session is for nothing.
    expected = order.amount_minor
    if subtotal != expected and not (order.trial_days and subtotal == 0):
        logger.warning("Session %s: amount differs from order %s", session_id, public_id)
        return None, "amount_mismatch"
    expected_mode = "subscription" if order.is_recurring else "payment"
    if mode and mode != expected_mode:
        return None, "mode_mismatch"
    return order, ""


def apply_checkout_session(session, ctx):
    """A checkout session as Stripe reports it (webhook or API): fulfil once it is paid."""
    fields = StripeFields(session)
    links = (
        ("stripe_payment_intent_id", fields.id("payment_intent")),
        ("stripe_subscription_id", fields.id("subscription")),
        ("stripe_customer_id", fields.id("customer")),
    )
    paid = (
        fields.text("status") == "complete"
        and fields.text("payment_status") in PAID_SESSION_STATUSES
    )
    total = fields.amount("amount_total")
    order, problem = order_for_session(session)
    if order is None:
        return problem
    changed = []
    for field, value in links:
        if value and not getattr(order, field):
            setattr(order, field, value)
            changed.append(field)
    payable = order.fulfilled_at is None and order.status in PAYABLE_STATUSES
    if changed and not (paid and payable):
        order.save(update_fields=[*changed, "updated_at"])
        changed = []  # otherwise saved with the order's new status below: one update

    if not paid:
        return "awaiting_payment"
    if not payable:
        return "already_processed"

    if order.stripe_subscription_id:
        ended = _deferred(order, ["customer.subscription.deleted"]).first()
        if ended is not None or order.subscription_ends_at is not None:
            # The subscription ended before its payment was confirmed: no access, ever.
            order.status = OrderStatus.CANCELLED
            order.subscription_ends_at = order.subscription_ends_at or ctx.now
            order.save(update_fields=[*changed, "status", "subscription_ends_at", "updated_at"])
            if ended is not None:
                _mark_replayed(ended, "subscription_ended_before_paid", ctx.now)
            return "subscription_ended_before_paid"

    order.status = OrderStatus.PAID
    order.paid_at = ctx.created
    if order.is_recurring:
        order.last_paid_at = order.last_paid_at or ctx.created
    if not order.is_recurring:
        # A plan's payments are its invoices (``invoice_paid``); this one is the session's.
        record_payment(
            order,
            amount=order.amount if total is None else from_minor_units(total, order.currency),
            currency=order.currency, paid_at=ctx.created,
            payment_intent=order.stripe_payment_intent_id,
        )
    # The order is locked since order_for_session read it: fulfilled as it is, in place,
    # and saved once with its payment's fields.
    fulfil_locked(order, now=ctx.now, save_fields=[*changed, "status", "paid_at", "last_paid_at"])
    replay_deferred(order, ctx.now)
    return "fulfilled"


def checkout_completed(session, ctx):
    return apply_checkout_session(session, ctx)


def _close_pending(session, status):
    """A checkout that ended without payment: its still-pending order takes ``status``."""
    order, problem = order_for_session(session)
    if order is None:
        return problem
    if order.status != OrderStatus.PENDING:
        return "already_processed"
    order.status = status
    order.save(update_fields=["status", "updated_at"])
    return str(status)


def checkout_async_failed(session, ctx):
    return _close_pending(session, OrderStatus.FAILED)


def checkout_expired(session, ctx):
    return _close_pending(session, OrderStatus.EXPIRED)


# -- Invoices and subscriptions -------------------------------------------------------------


def invoice_subscription_id(invoice):
    fields = StripeFields(invoice)
    # API versions before 2025-03 put it on the invoice, later ones under parent.
    return fields.id("subscription") or (
        fields.child("parent").child("subscription_details").id("subscription")
    )


def invoice_payment_intent(invoice):
    fields = StripeFields(invoice)
    direct = fields.id("payment_intent")
    if direct:
        return direct
    for payment in fields.items("payments"):
        intent = payment.child("payment").id("payment_intent")
        if intent:
            return intent
    return ""


def invoice_period_end(invoice):
    """End of the service period paid for (the lines say it; ``period_end`` of a
    subscription invoice is the previous period's)."""
    fields = StripeFields(invoice)
    ends = [line.child("period").timestamp("end") for line in fields.items("lines")]
    ends = [e for e in ends if e]
    return max(ends) if ends else fields.timestamp("period_end")


def subscription_period_end(subscription):
    fields = StripeFields(subscription)
    end = fields.timestamp("current_period_end")
    if not end:
        ends = [item.timestamp("current_period_end") for item in fields.items("items")]
        ends = [e for e in ends if e]
        end = max(ends) if ends else None
    return end or fields.timestamp("ended_at")


def _order_for_subscription(subscription_id):
    if not subscription_id:
        return None
    return (
        orders_for_update().filter(stripe_subscription_id=subscription_id).first()
    )


def invoice_paid(invoice, ctx):
    fields = StripeFields(invoice)
    subscription_id = invoice_subscription_id(invoice)
    invoice_id = fields.text("id")
    amount_paid = fields.amount("amount_paid")
    period_end = invoice_period_end(invoice)
    intent = invoice_payment_intent(invoice)
    invoice_url = fields.text("hosted_invoice_url", max_length=2000)
    if not subscription_id:
        return "ignored"
    order = _order_for_subscription(subscription_id)
    if order is None:
        return Deferred(subscription_id)
    if invoice_id in order.stripe_invoice_ids:
        return "already_processed"
    order.stripe_invoice_ids = [*order.stripe_invoice_ids, invoice_id]
    if order.payment_model == PaymentModel.INSTALLMENTS and amount_paid:
        order.installments_paid += 1
    if period_end and (order.access_until is None or period_end > order.access_until):
        order.access_until = period_end
    if order.last_paid_at is None or ctx.created > order.last_paid_at:
        order.last_paid_at = ctx.created
    if order.past_due_since is not None and ctx.created >= order.past_due_since:
        order.past_due_since = None
    if intent:
        order.stripe_payment_intent_id = intent
    if amount_paid:
        record_payment(
            order, amount=from_minor_units(amount_paid, order.currency), currency=order.currency,
            paid_at=ctx.created, invoice_id=invoice_id, payment_intent=intent,
            invoice_url=invoice_url,
        )
    outcome = "paid"
    completes_plan = (
        order.payment_model == PaymentModel.INSTALLMENTS
        and order.plan_completed_at is None
        and order.installments_total
        and order.installments_paid >= order.installments_total
    )
    if completes_plan:
        order.plan_completed_at = ctx.now
        order.past_due_since = None
        outcome = "plan_completed"
    order.save()
    if completes_plan:
        stop_installments(order)
    apply_access(order, now=ctx.now)
    replay_deferred(order, ctx.now)
    return outcome


def stop_installments(order):
    """The last installment is paid: tell Stripe to bill no more (at the period's end)."""
    from .stripe_client import stripe_client

    stripe_client().v1.subscriptions.update(
        order.stripe_subscription_id,
        {"cancel_at_period_end": True, "metadata": {"order": str(order.public_id)}},
        {"idempotency_key": f"coaching-installments-done-{order.public_id}"},
    )


def invoice_payment_failed(invoice, ctx):
    subscription_id = invoice_subscription_id(invoice)
    invoice_id = StripeFields(invoice).text("id")
    if not subscription_id:
        return "ignored"
    order = _order_for_subscription(subscription_id)
    if order is None:
        return Deferred(subscription_id)
    if order.plan_completed_at is not None:
        return "ignored"
    if order.last_paid_at is not None and ctx.created < order.last_paid_at:
        return "stale"  # a later payment already went through
    if order.past_due_since is None:
        order.past_due_since = ctx.created
        order.save(update_fields=["past_due_since", "updated_at"])
        # On the timeline (automation rules can react: "a payment fails").
        record_on_grants(order, EventKind.PAYMENT_FAILED, now=ctx.now, invoice=invoice_id)
    apply_access(order, now=ctx.now)
    return "past_due"


def subscription_deleted(subscription, ctx):
    subscription_id = StripeFields(subscription).text("id")
    period_end = subscription_period_end(subscription)
    if not subscription_id:
        return "unknown_order"
    order = _order_for_subscription(subscription_id)
    if order is None:
        return Deferred(subscription_id)
    if order.subscription_ends_at is not None:
        return "already_processed"
    order.subscription_ends_at = period_end or ctx.now
    if order.plan_completed_at is None and order.status == OrderStatus.PAID:
        order.status = OrderStatus.CANCELLED
    order.save(update_fields=["subscription_ends_at", "status", "updated_at"])
    if order.plan_completed_at is not None:
        return "plan_completed"
    apply_access(order, now=ctx.now)
    return "subscription_ended"


# -- Charges: receipts, refunds and disputes ------------------------------------------------


def _order_for_payment(payment_intent, invoice_id=""):
    if payment_intent:
        order = (
            orders_for_update().filter(stripe_payment_intent_id=payment_intent).first()
        )
        if order is not None:
            return order
    if invoice_id:
        # Older API versions name the invoice on the charge: find its subscription.
        paid = StripeEvent.objects.filter(type="invoice.paid", object_id=invoice_id).first()
        if paid is not None and paid.related_id:
            return _order_for_subscription(paid.related_id)
    return None


def charge_succeeded(charge, ctx):
    """A payment went through: its receipt page goes on the order's payment (once the
    payment is recorded; until then the event waits, like any early event)."""
    fields = StripeFields(charge)
    intent = fields.id("payment_intent")
    receipt_url = fields.text("receipt_url", max_length=2000)
    if not intent:
        return "ignored"
    if attach_receipt(intent, receipt_url):
        return "receipt"
    return Deferred(intent)


def charge_refunded(charge, ctx):
    fields = StripeFields(charge)
    intent = fields.id("payment_intent")
    invoice_id = fields.id("invoice")
    currency = fields.text("currency", max_length=3).lower()
    amount_refunded = fields.amount("amount_refunded") or 0
    amount = fields.amount("amount") or 0
    full = fields.flag("refunded") or amount_refunded >= amount > 0
    order = _order_for_payment(intent, invoice_id)
    if order is None:
        return Deferred(intent) if intent else "unknown_order"
    currency = currency or order.currency
    refunded = from_minor_units(amount_refunded, currency)
    if refunded >= _largest_refund():
        raise UnprocessableEvent(f"object.amount_refunded is out of range: {amount_refunded}")
    if refunded > order.amount_refunded:
        order.amount_refunded = refunded
    if not full:
        order.save(update_fields=["amount_refunded", "updated_at"])
        return "partial_refund"
    if order.status == OrderStatus.REFUNDED:
        order.save(update_fields=["amount_refunded", "updated_at"])
        return "already_processed"
    order.status = OrderStatus.REFUNDED
    order.refunded_at = ctx.created
    order.save(update_fields=["status", "refunded_at", "amount_refunded", "updated_at"])
    record_on_grants(order, EventKind.REFUNDED, now=ctx.now, amount=str(refunded))
    apply_access(order, now=ctx.now)
    return "refunded"


def _status_without_dispute(order):
    if order.subscription_ends_at is not None and order.plan_completed_at is None:
        return OrderStatus.CANCELLED
    return OrderStatus.PAID


def _dispute_fields(dispute):
    """The payment, id and status of a dispute (the status fits ``Order.dispute_status``)."""
    fields = StripeFields(dispute)
    return fields.id("payment_intent"), fields.text("id"), fields.text("status", max_length=40)


def dispute_created(dispute, ctx):
    intent, dispute_id, status = _dispute_fields(dispute)
    order = _order_for_payment(intent)
    if order is None:
        return Deferred(intent) if intent else "unknown_order"
    if order.stripe_dispute_id == dispute_id and (
        order.dispute_status in FINAL_DISPUTE_STATUSES
    ):
        return "already_processed"  # its closing arrived first
    if order.status == OrderStatus.REFUNDED:
        return "ignored"
    order.stripe_dispute_id = dispute_id
    order.dispute_status = status or "needs_response"
    order.status = OrderStatus.DISPUTED
    order.save(update_fields=["stripe_dispute_id", "dispute_status", "status", "updated_at"])
    record_on_grants(order, EventKind.DISPUTED, now=ctx.now, dispute=order.stripe_dispute_id)
    apply_access(order, now=ctx.now)
    return "disputed"


def dispute_closed(dispute, ctx):
    intent, dispute_id, status = _dispute_fields(dispute)
    order = _order_for_payment(intent)
    if order is None:
        return Deferred(intent) if intent else "unknown_order"
    if order.stripe_dispute_id == dispute_id and order.dispute_status == status:
        return "already_processed"
    order.stripe_dispute_id = dispute_id
    order.dispute_status = status
    if status == "lost":
        if order.status != OrderStatus.REFUNDED:
            order.status = OrderStatus.DISPUTED
    elif order.status == OrderStatus.DISPUTED:
        order.status = _status_without_dispute(order)
    order.save(update_fields=["stripe_dispute_id", "dispute_status", "status", "updated_at"])
    apply_access(order, now=ctx.now)
    return f"dispute_{status}" if status else "dispute_closed"


HANDLERS = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
    "checkout.session.async_payment_failed": checkout_async_failed,
    "checkout.session.expired": checkout_expired,
    "invoice.paid": invoice_paid,
    "invoice.payment_failed": invoice_payment_failed,
    "customer.subscription.deleted": subscription_deleted,
    "charge.succeeded": charge_succeeded,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_created,
    "charge.dispute.closed": dispute_closed,
}


def event_related_id(event_type, obj):
    """The subscription or payment an event is about (for deferral and lookups)."""
    if event_type.startswith("invoice."):
        return invoice_subscription_id(obj)
    fields = StripeFields(obj)
    if event_type.startswith("customer.subscription."):
        return fields.text("id")
    if event_type.startswith("charge."):
        return fields.id("payment_intent")
    if event_type.startswith("checkout.session."):
        return fields.text("client_reference_id")
    return ""


# -- Deferred events ------------------------------------------------------------------------


def _deferred(order, types=None):
    ids = [i for i in (order.stripe_subscription_id, order.stripe_payment_intent_id) if i]
    events = StripeEvent.objects.filter(outcome="deferred", related_id__in=ids)
    if types:
        events = events.filter(type__in=types)
    return events.order_by("created", "pk")


def _mark_replayed(record, outcome, now):
    record.outcome = outcome[:40]
    record.processed_at = now
    record.save(update_fields=["outcome", "processed_at"])


def replay_deferred(order, now):
    """Apply, in creation order, the events that arrived before ``order`` was linked.

    One that cannot be handled is marked failed and skipped: it is not the fault of the
    event that linked the order.
    """
    for record in list(_deferred(order).select_for_update()):
        record.refresh_from_db(fields=["outcome"])
        if record.outcome != "deferred":
            continue  # applied meanwhile by a nested replay
        obj = (record.payload.get("data") or {}).get("object") or {}
        ctx = EventContext(record.event_id, record.type, record.created or now, now)
        try:
            with transaction.atomic():
                outcome = HANDLERS[record.type](obj, ctx)
        except UnprocessableEvent as exc:
            record.outcome = "failed"
            record.error = f"{type(exc).__name__}: {exc}"[:2000]
            record.save(update_fields=["outcome", "error"])
            continue
        if isinstance(outcome, Deferred):
            continue  # still not ours to apply (e.g. a payment of another order)
        _mark_replayed(record, outcome, now)


def context_for(event, now=None):
    now = now or timezone.now()
    return EventContext(
        event_id=event.get("id") or "",
        type=event.get("type") or "",
        created=timestamp_or_none(event.get("created")) or now,
        now=now,
    )
