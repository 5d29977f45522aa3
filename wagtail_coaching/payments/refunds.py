"""Refunds started from the admin. Stripe does the refund; its ``charge.refunded`` webhook
then revokes access through the same handler as a refund made in Stripe's dashboard."""

import logging

import stripe
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import OrderStatus
from .errors import RefundNotPossible, StripeUnavailable
from .fulfilment import lock_order
from .stripe_client import stripe_client, to_dict

logger = logging.getLogger(__name__)


def request_refund(order, *, actor, now=None):
    """Ask Stripe to refund the order's payment in full (once: idempotency key per order).

    A subscription is cancelled too, so that it charges no more. Returns the refund as Stripe
    reports it. Raises RefundNotPossible or StripeUnavailable; nothing changes here then.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = lock_order(order)
        if order.status != OrderStatus.PAID or not order.stripe_payment_intent_id:
            raise RefundNotPossible(
                _("Only a paid Stripe order can be refunded here; refund offline payments "
                  "offline and cancel the enrollment.")
            )
        if order.refund_requested_at is not None:
            raise RefundNotPossible(_("A refund was already requested for this order."))
        client = stripe_client()
        key = f"coaching-refund-{order.public_id}"
        try:
            refund = to_dict(client.v1.refunds.create(
                {"payment_intent": order.stripe_payment_intent_id,
                 "metadata": {"order": str(order.public_id)}},
                {"idempotency_key": key},
            ))
            if order.stripe_subscription_id and order.subscription_ends_at is None:
                client.v1.subscriptions.cancel(order.stripe_subscription_id)
        except stripe.StripeError as exc:
            logger.warning("Refund of order %s failed: %s", order.public_id, exc)
            raise StripeUnavailable(
                _("Stripe refused the refund: %(error)s") % {"error": exc.user_message or exc}
            ) from exc
        order.refund_requested_at = now
        order.stripe_refund_id = refund.get("id") or ""
        note = _("Refund requested by %(user)s on %(date)s.") % {
            "user": actor.get_username(), "date": now.strftime("%Y-%m-%d %H:%M"),
        }
        order.note = f"{order.note}\n{note}".strip()
        order.save(update_fields=["refund_requested_at", "stripe_refund_id", "note",
                                  "updated_at"])
    return refund
