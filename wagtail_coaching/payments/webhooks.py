"""Stripe webhooks: verify the signature on the raw body, record each event once, dispatch.

``verify_event`` refuses anything not signed with the endpoint's secret within the
tolerance; ``process_event`` records the event (unique event id) and runs its handler in one
transaction, so a failure leaves none of the handler's rows behind and Stripe's redelivery
tries again. Concurrent deliveries of one event queue on the event's row lock; the first
processes it, the others find it processed.
"""

import datetime
import json
import logging

import stripe
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..conf import coaching_settings
from ..models import StripeEvent
from .handlers import HANDLERS, Deferred, context_for, event_related_id
from .stripe_client import webhook_secret

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_STRIPE_SIGNATURE"

# Personal data Stripe puts in event objects; never stored with the event.
PERSONAL_KEYS = frozenset({
    "address", "billing_details", "customer_address", "customer_details", "customer_email",
    "customer_name", "customer_phone", "customer_shipping", "customer_tax_ids", "email",
    "name", "phone", "receipt_email", "shipping", "shipping_address", "shipping_details",
})


class InvalidWebhook(Exception):
    """The request is not a genuine, fresh Stripe event; nothing was recorded."""


def verify_event(payload, signature_header):
    """The event in ``payload`` (raw bytes), after checking Stripe's signature on them."""
    secret = webhook_secret()
    if not secret:
        raise InvalidWebhook("Stripe webhooks are not configured on this site.")
    tolerance = coaching_settings.STRIPE_WEBHOOK_TOLERANCE
    if not tolerance or tolerance <= 0:
        raise InvalidWebhook("The webhook tolerance must be above zero.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidWebhook("The body is not UTF-8.") from exc
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"Invalid signature: {exc.user_message or exc}") from exc
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise InvalidWebhook("The body is not JSON.") from exc
    data = event.get("data") if isinstance(event, dict) else None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
        or not event.get("id")
        or not event.get("type")
    ):
        raise InvalidWebhook("The body is not a Stripe event.")
    return event


def redact(value):
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _new_record(event, now):
    obj = event["data"]["object"]
    created = event.get("created")
    return StripeEvent(
        event_id=str(event["id"])[:255],
        type=str(event["type"])[:100],
        object_id=str(obj.get("id") or "")[:255],
        related_id=event_related_id(event["type"], obj)[:255],
        livemode=bool(event.get("livemode")),
        created=datetime.datetime.fromtimestamp(int(created), tz=datetime.UTC)
        if isinstance(created, int) else None,
        payload=redact(event),
        received_at=now,
    )


def _claim(event, now):
    """The event's row, locked, or None if it was processed already."""
    StripeEvent.objects.bulk_create([_new_record(event, now)], ignore_conflicts=True)
    record = StripeEvent.objects.select_for_update().get(event_id=str(event["id"])[:255])
    return None if record.processed_at is not None else record


def process_event(event, now=None):
    """Record and handle one verified event. Returns its outcome ("duplicate" if seen).

    Raises whatever the handler raised, after rolling its work back and noting the error.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            record = _claim(event, now)
            if record is None:
                return "duplicate"
            handler = HANDLERS.get(record.type)
            if handler is None:
                outcome = "ignored"
            else:
                result = handler(event["data"]["object"], context_for(event, now))
                if isinstance(result, Deferred):
                    record.related_id = result.related_id[:255]
                    outcome = result.outcome
                else:
                    outcome = result
            record.outcome = outcome
            record.processed_at = now
            record.error = ""
            record.attempts = F("attempts") + 1
            record.save(update_fields=["outcome", "processed_at", "error", "attempts",
                                       "related_id"])
            return outcome
    except Exception as exc:
        _record_failure(event, now, exc)
        raise


def _record_failure(event, now, exc):
    """Note the failure on the event (outside the rolled-back transaction) for the admin."""
    try:
        with transaction.atomic():
            StripeEvent.objects.bulk_create([_new_record(event, now)], ignore_conflicts=True)
            StripeEvent.objects.filter(
                event_id=str(event["id"])[:255], processed_at__isnull=True
            ).update(outcome="failed", error=repr(exc)[:2000], attempts=F("attempts") + 1)
    except Exception:  # the original error matters more than this note
        logger.exception("Could not record the failure of Stripe event %s", event.get("id"))
