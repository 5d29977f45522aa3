"""Stripe webhooks: verify the signature on the raw body, record each event once, dispatch.

``verify_event`` refuses anything not signed with the endpoint's secret within the
tolerance; ``process_event`` records the event (unique event id) and runs its handler in one
transaction, so a failure leaves none of the handler's rows behind and Stripe's redelivery
tries again. Concurrent deliveries of one event queue on the event's row lock; the first
processes it, the others find it processed.

A signed event can still be odd: an id that is a number, a ``created`` that is no time, a NUL
character that no database column takes. Such an event can never be handled, so retrying
is pointless: it is stored cleaned (``clean_event``), marked failed with the reason, and
``process_event`` raises ``UnprocessableEvent`` without changing any order.

Where the event is handled is the site's choice (``STRIPE_WEBHOOK_HANDLING``): ``"inline"``
handles it in the request (``process_event``); ``"background"`` records it and answers at
once (``record_event``), and the ``handle_stripe_event`` job handles the stored event
(``handle_recorded_event``) with the same handlers. The ``StripeEvent`` row is that job's
outbox: ``resend_unhandled_events`` (run by the outbox sweeper) sends the job again for an
event recorded but never attempted.
"""

import hashlib
import json
import logging
import math

import stripe
from django.db import DataError, transaction
from django.db.models import F
from django.utils import timezone

from ..conf import coaching_settings
from ..models import StripeEvent
from .errors import UnprocessableEvent
from .handlers import HANDLERS, Deferred, context_for, event_related_id
from .stripe_client import webhook_secret
from .stripe_fields import timestamp_or_none

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_STRIPE_SIGNATURE"

# Personal data Stripe puts in event objects; never stored with the event.
PERSONAL_KEYS = frozenset({
    "address", "billing_details", "customer_address", "customer_details", "customer_email",
    "customer_name", "customer_phone", "customer_shipping", "customer_tax_ids", "email",
    "name", "phone", "receipt_email", "shipping", "shipping_address", "shipping_details",
})

# Stripe's objects nest a handful of levels; anything deeper is cut (and the event failed).
MAX_DEPTH = 32
EVENT_ID_LENGTH = StripeEvent._meta.get_field("event_id").max_length
TYPE_LENGTH = StripeEvent._meta.get_field("type").max_length
OUTCOME_LENGTH = StripeEvent._meta.get_field("outcome").max_length
ERROR_LENGTH = 2000

INLINE = "inline"
BACKGROUND = "background"
HANDLING_CHOICES = (INLINE, BACKGROUND)


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
    if signature_header and not signature_header.isascii():
        # The stripe library cannot compare such a signature (it raises TypeError).
        raise InvalidWebhook("Invalid signature: the header is not ASCII.")
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"Invalid signature: {exc.user_message or exc}") from exc
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidWebhook("The body is not JSON.") from exc
    # Without an id there is nothing to record it under. Anything else odd is recorded
    # as failed by ``process_event``.
    if not isinstance(event, dict) or event.get("id") in (None, ""):
        raise InvalidWebhook("The body is not a Stripe event.")
    return event


def redact(value):
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


# -- Cleaning what is stored ----------------------------------------------------------------


def storable_text(text):
    """``text`` as any database stores it: NUL characters and lone surrogates replaced."""
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _cleaned(value, problems, depth=0):
    if depth > MAX_DEPTH:
        problems.add("it is nested too deeply")
        return None
    if isinstance(value, str):
        text = storable_text(value)
        if text != value:
            problems.add("it contains NUL characters or invalid Unicode")
        return text
    if isinstance(value, float) and not math.isfinite(value):
        problems.add("it contains a number that is not finite")
        return None
    if isinstance(value, dict):
        return {
            _cleaned(k, problems, depth): _cleaned(v, problems, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_cleaned(v, problems, depth + 1) for v in value]
    return value


def _short_string(value, limit):
    return isinstance(value, str) and 0 < len(value) <= limit


def _shape_problems(event):
    """What makes a cleaned event impossible to handle, besides its characters."""
    problems = []
    if not _short_string(event.get("id"), EVENT_ID_LENGTH):
        problems.append(f"id is not a string of at most {EVENT_ID_LENGTH} characters")
    if not _short_string(event.get("type"), TYPE_LENGTH):
        problems.append(f"type is not a string of at most {TYPE_LENGTH} characters")
    created = event.get("created")
    if created is not None and timestamp_or_none(created) is None:
        problems.append("created is not a Unix time")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        problems.append("data.object is not an object")
    elif obj.get("id") is not None and not _short_string(obj["id"], EVENT_ID_LENGTH):
        problems.append("data.object.id is not a short string")
    return problems


def clean_event(event):
    """``event`` as it can be stored, and why it cannot be handled ("" if it can).

    Strings lose NUL characters and lone surrogates (PostgreSQL refuses them, SQLite cannot
    encode them), numbers that are not finite become null, nesting stops at ``MAX_DEPTH``.
    """
    problems = set()
    clean = _cleaned(event, problems)
    reasons = sorted(problems) + _shape_problems(clean)
    return clean, "; ".join(reasons)


def _key(value, limit):
    """``value`` as the id or type of the event's row. An unusable one is replaced by a
    readable stand-in with a digest, the same on every delivery of the event."""
    if _short_string(value, limit) and storable_text(value) == value:
        return value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = storable_text(text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"invalid:{text[:limit - 26]}#{digest}"


def _new_record(event, now):
    """The row of a cleaned event (never raises, however odd the event)."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    event_type = _key(event.get("type"), TYPE_LENGTH)
    object_id = obj.get("id")
    try:
        related_id = event_related_id(event_type, obj)
    except UnprocessableEvent:
        related_id = ""
    return StripeEvent(
        event_id=_key(event.get("id"), EVENT_ID_LENGTH),
        type=event_type,
        object_id=object_id if _short_string(object_id, EVENT_ID_LENGTH) else "",
        related_id=related_id[:255],
        livemode=event.get("livemode") is True,
        created=timestamp_or_none(event.get("created")),
        payload=redact(event),
        received_at=now,
    )


# -- Processing -----------------------------------------------------------------------------


def _claim(record):
    """The event's row, locked, or None if it was processed already."""
    StripeEvent.objects.bulk_create([record], ignore_conflicts=True)
    record = StripeEvent.objects.select_for_update().get(event_id=record.event_id)
    return None if record.processed_at is not None else record


def process_event(event, now=None):
    """Record and handle one verified event. Returns its outcome ("duplicate" if seen).

    Raises ``UnprocessableEvent`` for an event that can never be handled, after noting it
    as failed; raises whatever else the handler raised, after rolling its work back and
    noting the error (a later delivery may succeed).
    """
    now = now or timezone.now()
    event, problem = clean_event(event)
    return _handle(event, problem, now, lambda: _claim(_new_record(event, now)))


def _handle(event, problem, now, claim):
    """Handle the cleaned ``event`` once: ``claim()`` returns its locked, unprocessed row
    (or None when it was processed already). One transaction for the handler's work and
    the row's outcome."""
    try:
        with transaction.atomic():
            record = claim()
            if record is None:
                return "duplicate"
            if problem:
                raise UnprocessableEvent(f"The event cannot be handled: {problem}.")
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
            record.outcome = outcome[:OUTCOME_LENGTH]
            record.processed_at = now
            record.error = ""
            record.attempts = F("attempts") + 1
            record.save(update_fields=["outcome", "processed_at", "error", "attempts",
                                       "related_id"])
            return outcome
    except (UnprocessableEvent, DataError) as exc:
        # The event's data, not the moment: another delivery would fail the same way.
        if not _record_failure(event, now, exc):
            raise RuntimeError("The failure of an unprocessable event was not recorded.") from exc
        if isinstance(exc, UnprocessableEvent):
            raise
        raise UnprocessableEvent("The database refused the event's data.") from exc
    except Exception as exc:
        _record_failure(event, now, exc)
        raise


# -- Handling in the background -------------------------------------------------------------


def handling():
    """``STRIPE_WEBHOOK_HANDLING``: where events are handled (``INLINE`` or ``BACKGROUND``)."""
    value = coaching_settings.STRIPE_WEBHOOK_HANDLING
    return value if value in HANDLING_CHOICES else INLINE


def record_event(event, now=None):
    """Record one verified event for the ``handle_stripe_event`` job, sent once the row
    commits. Returns "queued", or "duplicate" for an event handled already.

    An event recorded but not handled yet (its job still queued, or failed for now) is sent
    again: the job locks the row, so the event is handled once however often it is sent.
    Raises ``UnprocessableEvent`` for an event that can never be handled, after noting it
    as failed (no job is sent).
    """
    now = now or timezone.now()
    event, problem = clean_event(event)
    if problem:  # noted as failed and raised (or "duplicate" if handled before)
        return _handle(event, problem, now, lambda: _claim(_new_record(event, now)))
    record = _new_record(event, now)
    with transaction.atomic():
        seen = StripeEvent.objects.filter(event_id=record.event_id).values_list(
            "processed_at", flat=True
        )
        if seen and seen[0] is not None:
            return "duplicate"
        if not seen:
            StripeEvent.objects.bulk_create([record], ignore_conflicts=True)
        _send_handling(record.event_id)
    return "queued"


def _send_handling(event_id):
    from .. import tasks

    tasks.enqueue(tasks.handle_stripe_event, event_id)


def _claim_recorded(event_id):
    record = StripeEvent.objects.select_for_update().filter(event_id=event_id).first()
    return None if record is None or record.processed_at is not None else record


def handle_recorded_event(event_id, now=None):
    """Handle the stored event ``event_id`` (the ``handle_stripe_event`` job). Returns its
    outcome: "duplicate" when it was handled already, None when no such event is stored.

    An event that can never be handled is noted as failed and not raised (running again
    would fail the same way); any other error is noted on the event and raised, so that
    the job is retried.
    """
    now = now or timezone.now()
    stored = StripeEvent.objects.filter(event_id=event_id).values_list(
        "payload", "processed_at"
    ).first()
    if stored is None:
        return None
    payload, processed_at = stored
    if processed_at is not None:
        return "duplicate"
    event, problem = clean_event(payload)
    try:
        return _handle(event, problem, now, lambda: _claim_recorded(event_id))
    except UnprocessableEvent as exc:
        logger.warning("Stripe event %.80r recorded as failed: %s", event_id, exc)
        return "failed"


def resend_unhandled_events(now=None, batch_size=None):
    """Send the handling job again for events recorded in the background but never
    attempted since (their message was lost). Returns how many.

    Only events older than ``NOTIFICATION_RETRY_AFTER_SECONDS`` are taken (a younger one's
    job may be on its way). An attempted event that failed is its job's to retry (and then
    the failed job's, in the admin), not the sweeper's.
    """
    now = now or timezone.now()
    limit = (batch_size or coaching_settings.BATCH_SIZE) * 10
    cutoff = now - timezone.timedelta(seconds=coaching_settings.NOTIFICATION_RETRY_AFTER_SECONDS)
    ids = list(
        StripeEvent.objects.filter(
            processed_at__isnull=True, attempts=0, outcome="", received_at__lte=cutoff
        ).order_by("received_at", "pk").values_list("event_id", flat=True)[:limit]
    )
    for event_id in ids:
        _send_handling(event_id)
    return len(ids)


def _record_failure(event, now, exc):
    """Note the failure on the event (outside the rolled-back transaction) for the admin.

    Returns whether it was noted. Should the database refuse the payload, the row is kept
    without it.
    """
    error = storable_text(f"{type(exc).__name__}: {exc}")[:ERROR_LENGTH]
    try:
        record = _new_record(event, now)
        for payload in (record.payload, {}):
            record.payload = payload
            try:
                with transaction.atomic():
                    StripeEvent.objects.bulk_create([record], ignore_conflicts=True)
                    StripeEvent.objects.filter(
                        event_id=record.event_id, processed_at__isnull=True
                    ).update(outcome="failed", error=error, attempts=F("attempts") + 1)
                return True
            except DataError:
                if not payload:
                    raise
    except Exception:  # the original error matters more than this note
        logger.exception("Could not record the failure of Stripe event %.80r", event.get("id"))
    return False
