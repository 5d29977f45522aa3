"""Starting a purchase: the order and its Stripe Checkout Session.

The amount always comes from the server's copy of the price. A buyer has at most one open
checkout per price (a database constraint), and its session is created with the order's
idempotency key, so a double submit, even a concurrent one, ends on the same session.
"""

import dataclasses
import logging

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    OfferPrice,
    Order,
    OrderSource,
    OrderStatus,
    SalesManagerProfile,
)
from ..permissions import allowed, has_offer_access
from .errors import AlreadyHasAccess, PaymentsNotConfigured, PriceNotAvailable, StripeUnavailable
from .fulfilment import claim_free, order_snapshot
from .handlers import apply_checkout_session, context_for
from .stripe_client import stripe_client, stripe_enabled, to_dict

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class CheckoutStart:
    order: Order
    # Stripe's hosted payment page, or None when nothing is left to pay (go to the order).
    payment_url: str | None


def sellable_price(price_id):
    """An active price of a live offer whose engagements are all published."""
    price = (
        OfferPrice.objects.select_related("offer").filter(pk=price_id, active=True).first()
    )
    if price is None or not price.offer.live:
        raise PriceNotAvailable(_("This price is not on sale."))
    engagements = list(price.offer.engagements.all())
    if any(not e.live for e in engagements):
        raise PriceNotAvailable(_("This offer is not available at the moment."))
    return price


def sales_manager_for_code(code):
    """The active sales manager a referral code credits, or None."""
    code = (code or "").strip()
    if not code:
        return None
    profile = (
        SalesManagerProfile.objects.select_related("user").with_code(code)
        .filter(active=True, user__is_active=True).first()
    )
    if profile is None or not allowed(profile.user, "earn_salesmanagerprofile", profile):
        return None
    return profile.user


def start_checkout(buyer, price, *, success_url, cancel_url, sales_manager=None, now=None):
    """Begin buying ``price``: enroll at once if it is free, else open a Checkout Session.

    ``success_url`` is called with the order and returns the absolute URL Stripe sends the
    buyer back to. Raises AlreadyHasAccess, PaymentsNotConfigured or StripeUnavailable.
    """
    now = now or timezone.now()
    if has_offer_access(buyer, price.offer, now=now):
        raise AlreadyHasAccess(_("You already have access to this offer."))
    if price.is_free:
        return CheckoutStart(claim_free(buyer, price, sales_manager=sales_manager, now=now), None)
    if not stripe_enabled():
        raise PaymentsNotConfigured(_("Payments are not available yet. Please come back soon."))

    order = _open_order(buyer, price, sales_manager, now)
    if order.stripe_session_id:
        session = retrieve_session(order.stripe_session_id)
        if session.get("status") == "open" and session.get("url"):
            return CheckoutStart(order, session["url"])
        if session.get("status") == "complete":
            confirm_order(order, session)
            return CheckoutStart(order, None)
        # The session expired unpaid: close this order and start afresh.
        Order.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
            status=OrderStatus.EXPIRED, updated_at=now
        )
        order = _open_order(buyer, price, sales_manager, now)

    params = session_params(order, success_url(order), cancel_url)
    try:
        session = to_dict(
            stripe_client().v1.checkout.sessions.create(
                params, {"idempotency_key": order.checkout_idempotency_key}
            )
        )
    except stripe.StripeError as exc:
        logger.warning("Creating the checkout session of order %s failed: %s",
                       order.public_id, exc)
        raise StripeUnavailable(
            _("The payment page could not be opened. Nothing was charged; please try again.")
        ) from exc
    if session.get("client_reference_id") != str(order.public_id):
        raise StripeUnavailable(_("The payment page could not be opened. Please try again."))
    Order.objects.filter(pk=order.pk, stripe_session_id__isnull=True).update(
        stripe_session_id=session["id"], stripe_session_url=session.get("url") or "",
        updated_at=now,
    )
    order.refresh_from_db()
    return CheckoutStart(order, session.get("url"))


def _matches(order, price):
    snapshot = order_snapshot(price)
    return all(
        getattr(order, field) == value
        for field, value in snapshot.items()
        if field not in ("price", "access_days")
    )


def _open_order(buyer, price, sales_manager, now):
    """The buyer's open checkout order for this price, created if needed (one at a time)."""
    existing = Order.objects.filter(
        buyer=buyer, price=price, status=OrderStatus.PENDING, source=OrderSource.CHECKOUT
    ).first()
    if existing is not None:
        if _matches(existing, price):
            return existing
        # The price changed since: that checkout is no longer what is on sale.
        Order.objects.filter(pk=existing.pk, status=OrderStatus.PENDING).update(
            status=OrderStatus.CANCELLED, updated_at=now
        )
    try:
        with transaction.atomic():
            return Order.objects.create(
                buyer=buyer, offer=price.offer, source=OrderSource.CHECKOUT,
                status=OrderStatus.PENDING, sales_manager=sales_manager, created_at=now,
                **order_snapshot(price),
            )
    except IntegrityError:
        # A concurrent submit created it first: share it, and with it the session.
        return Order.objects.get(
            buyer=buyer, price=price, status=OrderStatus.PENDING, source=OrderSource.CHECKOUT
        )


def session_params(order, success_url, cancel_url):
    """Checkout Session parameters: all derived from the order, so a retry sends the same."""
    reference = str(order.public_id)
    price_data = {
        "currency": order.currency,
        "unit_amount": order.amount_minor,
        "product_data": {"name": f"{order.offer.title} – {order.price_label}"[:250]},
    }
    params = {
        "mode": "subscription" if order.is_recurring else "payment",
        "client_reference_id": reference,
        "line_items": [{"price_data": price_data, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        # Only our own reference: never anything personal.
        "metadata": {"order": reference},
    }
    if order.price is not None and order.price.allow_promotion_codes:
        params["allow_promotion_codes"] = True
    if order.buyer is not None and order.buyer.email:
        params["customer_email"] = order.buyer.email
    if order.is_recurring:
        price_data["recurring"] = {
            "interval": order.interval, "interval_count": order.interval_count,
        }
        subscription = {"metadata": {"order": reference}}
        if order.trial_days:
            subscription["trial_period_days"] = order.trial_days
        params["subscription_data"] = subscription
    else:
        params["payment_intent_data"] = {"metadata": {"order": reference}}
    return params


def retrieve_session(session_id):
    try:
        return to_dict(stripe_client().v1.checkout.sessions.retrieve(session_id))
    except stripe.StripeError as exc:
        raise StripeUnavailable(_("Stripe could not be reached. Please try again.")) from exc


def confirm_order(order, session=None):
    """Ask Stripe how the order's session stands and apply it (the success page's check).

    Uses the same handler as the ``checkout.session.completed`` webhook.
    """
    if order.fulfilled_at is not None or not order.stripe_session_id:
        return order
    if session is None:
        session = retrieve_session(order.stripe_session_id)
    with transaction.atomic():
        apply_checkout_session(session, context_for({"created": None}))
    order.refresh_from_db()
    return order
