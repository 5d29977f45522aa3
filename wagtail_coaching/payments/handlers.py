"""What each Stripe event means for an order.

Handlers take the event's object as a plain dict and an ``EventContext``; they lock the order
they find, change its money state, call ``fulfil`` / ``apply_access`` and return an outcome
string (stored on the ``StripeEvent``). Every handler is idempotent and none of them trusts
metadata: an order is found by ``client_reference_id`` and must match the stored session id,
amount and currency, or by the subscription / payment ids recorded from its verified session.

Events may arrive in any order. One about a subscription or payment not linked to an order
yet is *deferred* and applied, in creation order, as soon as the order is linked.
"""

import dataclasses
import datetime
import logging
import uuid
from decimal import Decimal

from django.utils import timezone

from ..models import EventKind, OrderStatus, PaymentModel, StripeEvent
from ..models.offers import FINAL_DISPUTE_STATUSES
from .fulfilment import apply_access, fulfil, lock_order, orders_for_update, record_on_grants
from .money import exponent

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


def _id(value):
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _timestamp(value):
    if value in (None, ""):
        return None
    return datetime.datetime.fromtimestamp(int(value), tz=datetime.UTC)


def from_minor_units(value, currency):
    return Decimal(int(value or 0)) / (Decimal(10) ** exponent(currency))


# -- Checkout sessions ----------------------------------------------------------------------


def order_for_session(session):
    """The order a verified session belongs to, locked, or None (with the reason).

    Looked up by ``client_reference_id`` only; the stored session id, currency and amount
    must match, so an event about someone else's order or a doctored amount grants nothing.
    """
    try:
        public_id = uuid.UUID(str(session.get("client_reference_id") or ""))
    except ValueError:
        return None, "unknown_order"
    order = (
        orders_for_update().filter(public_id=public_id).first()
    )
    if order is None:
        return None, "unknown_order"
    if not order.stripe_session_id or session.get("id") != order.stripe_session_id:
        logger.warning("Session %s does not belong to order %s", session.get("id"), public_id)
        return None, "session_mismatch"
    if (session.get("currency") or "").lower() != order.currency:
        logger.warning("Session %s: currency differs from order %s", session.get("id"), public_id)
        return None, "amount_mismatch"
    # Before discounts: promotion codes lower the total, never the subtotal. A trial's first
    # session is for nothing.
    subtotal = session.get("amount_subtotal")
    if subtotal is None:
        subtotal = session.get("amount_total")
    expected = order.amount_minor
    if subtotal != expected and not (order.trial_days and subtotal == 0):
        logger.warning("Session %s: amount differs from order %s", session.get("id"), public_id)
        return None, "amount_mismatch"
    expected_mode = "subscription" if order.is_recurring else "payment"
    if session.get("mode") and session.get("mode") != expected_mode:
        return None, "mode_mismatch"
    return order, ""


def apply_checkout_session(session, ctx):
    """A checkout session as Stripe reports it (webhook or API): fulfil once it is paid."""
    order, problem = order_for_session(session)
    if order is None:
        return problem
    changed = []
    for field, value in (
        ("stripe_payment_intent_id", _id(session.get("payment_intent"))),
        ("stripe_subscription_id", _id(session.get("subscription"))),
        ("stripe_customer_id", _id(session.get("customer"))),
    ):
        if value and not getattr(order, field):
            setattr(order, field, value)
            changed.append(field)
    if changed:
        order.save(update_fields=[*changed, "updated_at"])

    paid = (
        session.get("status") == "complete"
        and session.get("payment_status") in PAID_SESSION_STATUSES
    )
    if not paid:
        return "awaiting_payment"
    if order.fulfilled_at is not None or order.status not in PAYABLE_STATUSES:
        return "already_processed"

    if order.stripe_subscription_id:
        ended = _deferred(order, ["customer.subscription.deleted"]).first()
        if ended is not None or order.subscription_ends_at is not None:
            # The subscription ended before its payment was confirmed: no access, ever.
            order.status = OrderStatus.CANCELLED
            order.subscription_ends_at = order.subscription_ends_at or ctx.now
            order.save(update_fields=["status", "subscription_ends_at", "updated_at"])
            if ended is not None:
                _mark_replayed(ended, "subscription_ended_before_paid", ctx.now)
            return "subscription_ended_before_paid"

    order.status = OrderStatus.PAID
    order.paid_at = ctx.created
    if order.is_recurring:
        order.last_paid_at = order.last_paid_at or ctx.created
    order.save(update_fields=["status", "paid_at", "last_paid_at", "updated_at"])
    fulfil(order, now=ctx.now)
    order = lock_order(order)
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
    # API versions before 2025-03 put it on the invoice, later ones under parent.
    direct = _id(invoice.get("subscription"))
    if direct:
        return direct
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id(details.get("subscription"))


def invoice_payment_intent(invoice):
    direct = _id(invoice.get("payment_intent"))
    if direct:
        return direct
    for payment in (invoice.get("payments") or {}).get("data") or []:
        intent = _id((payment.get("payment") or {}).get("payment_intent"))
        if intent:
            return intent
    return ""


def invoice_period_end(invoice):
    """End of the service period paid for (the lines say it; ``period_end`` of a
    subscription invoice is the previous period's)."""
    ends = [
        (line.get("period") or {}).get("end")
        for line in (invoice.get("lines") or {}).get("data") or []
    ]
    ends = [e for e in ends if e]
    return _timestamp(max(ends)) if ends else _timestamp(invoice.get("period_end"))


def subscription_period_end(subscription):
    end = subscription.get("current_period_end")
    if not end:
        items = (subscription.get("items") or {}).get("data") or []
        ends = [i.get("current_period_end") for i in items if i.get("current_period_end")]
        end = max(ends) if ends else None
    return _timestamp(end or subscription.get("ended_at"))


def _order_for_subscription(subscription_id):
    if not subscription_id:
        return None
    return (
        orders_for_update().filter(stripe_subscription_id=subscription_id).first()
    )


def invoice_paid(invoice, ctx):
    subscription_id = invoice_subscription_id(invoice)
    if not subscription_id:
        return "ignored"
    order = _order_for_subscription(subscription_id)
    if order is None:
        return Deferred(subscription_id)
    invoice_id = invoice.get("id")
    if invoice_id in order.stripe_invoice_ids:
        return "already_processed"
    order.stripe_invoice_ids = [*order.stripe_invoice_ids, invoice_id]
    if order.payment_model == PaymentModel.INSTALLMENTS and (invoice.get("amount_paid") or 0):
        order.installments_paid += 1
    period_end = invoice_period_end(invoice)
    if period_end and (order.access_until is None or period_end > order.access_until):
        order.access_until = period_end
    if order.last_paid_at is None or ctx.created > order.last_paid_at:
        order.last_paid_at = ctx.created
    if order.past_due_since is not None and ctx.created >= order.past_due_since:
        order.past_due_since = None
    intent = invoice_payment_intent(invoice)
    if intent:
        order.stripe_payment_intent_id = intent
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
        record_on_grants(order, EventKind.PAYMENT_FAILED, now=ctx.now,
                         invoice=invoice.get("id", ""))
    apply_access(order, now=ctx.now)
    return "past_due"


def subscription_deleted(subscription, ctx):
    order = _order_for_subscription(subscription.get("id"))
    if order is None:
        return Deferred(subscription.get("id"))
    if order.subscription_ends_at is not None:
        return "already_processed"
    order.subscription_ends_at = subscription_period_end(subscription) or ctx.now
    if order.plan_completed_at is None and order.status == OrderStatus.PAID:
        order.status = OrderStatus.CANCELLED
    order.save(update_fields=["subscription_ends_at", "status", "updated_at"])
    if order.plan_completed_at is not None:
        return "plan_completed"
    apply_access(order, now=ctx.now)
    return "subscription_ended"


# -- Charges: refunds and disputes ----------------------------------------------------------


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


def charge_refunded(charge, ctx):
    intent = _id(charge.get("payment_intent"))
    order = _order_for_payment(intent, _id(charge.get("invoice")))
    if order is None:
        return Deferred(intent) if intent else "unknown_order"
    currency = (charge.get("currency") or order.currency).lower()
    refunded = from_minor_units(charge.get("amount_refunded"), currency)
    if refunded > order.amount_refunded:
        order.amount_refunded = refunded
    full = bool(charge.get("refunded")) or (
        (charge.get("amount_refunded") or 0) >= (charge.get("amount") or 0) > 0
    )
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


def dispute_created(dispute, ctx):
    intent = _id(dispute.get("payment_intent"))
    order = _order_for_payment(intent)
    if order is None:
        return Deferred(intent) if intent else "unknown_order"
    if order.stripe_dispute_id == dispute.get("id") and (
        order.dispute_status in FINAL_DISPUTE_STATUSES
    ):
        return "already_processed"  # its closing arrived first
    if order.status == OrderStatus.REFUNDED:
        return "ignored"
    order.stripe_dispute_id = dispute.get("id") or ""
    order.dispute_status = dispute.get("status") or "needs_response"
    order.status = OrderStatus.DISPUTED
    order.save(update_fields=["stripe_dispute_id", "dispute_status", "status", "updated_at"])
    record_on_grants(order, EventKind.DISPUTED, now=ctx.now, dispute=order.stripe_dispute_id)
    apply_access(order, now=ctx.now)
    return "disputed"


def dispute_closed(dispute, ctx):
    intent = _id(dispute.get("payment_intent"))
    order = _order_for_payment(intent)
    if order is None:
        return Deferred(intent) if intent else "unknown_order"
    status = dispute.get("status") or ""
    if order.stripe_dispute_id == dispute.get("id") and order.dispute_status == status:
        return "already_processed"
    order.stripe_dispute_id = dispute.get("id") or ""
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
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_created,
    "charge.dispute.closed": dispute_closed,
}


def event_related_id(event_type, obj):
    """The subscription or payment an event is about (for deferral and lookups)."""
    if event_type.startswith("invoice."):
        return invoice_subscription_id(obj)
    if event_type.startswith("customer.subscription."):
        return obj.get("id") or ""
    if event_type.startswith("charge."):
        return _id(obj.get("payment_intent"))
    if event_type.startswith("checkout.session."):
        return str(obj.get("client_reference_id") or "")[:255]
    return ""


# -- Deferred events ------------------------------------------------------------------------


def _deferred(order, types=None):
    ids = [i for i in (order.stripe_subscription_id, order.stripe_payment_intent_id) if i]
    events = StripeEvent.objects.filter(outcome="deferred", related_id__in=ids)
    if types:
        events = events.filter(type__in=types)
    return events.order_by("created", "pk")


def _mark_replayed(record, outcome, now):
    record.outcome = outcome
    record.processed_at = now
    record.save(update_fields=["outcome", "processed_at"])


def replay_deferred(order, now):
    """Apply, in creation order, the events that arrived before ``order`` was linked."""
    for record in list(_deferred(order).select_for_update()):
        record.refresh_from_db(fields=["outcome"])
        if record.outcome != "deferred":
            continue  # applied meanwhile by a nested replay
        obj = (record.payload.get("data") or {}).get("object") or {}
        ctx = EventContext(record.event_id, record.type, record.created or now, now)
        outcome = HANDLERS[record.type](obj, ctx)
        if isinstance(outcome, Deferred):
            continue  # still not ours to apply (e.g. a payment of another order)
        _mark_replayed(record, outcome, now)


def context_for(event, now=None):
    now = now or timezone.now()
    return EventContext(
        event_id=event.get("id") or "",
        type=event.get("type") or "",
        created=_timestamp(event.get("created")) or now,
        now=now,
    )
