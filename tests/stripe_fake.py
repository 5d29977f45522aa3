"""A local fake of the parts of the Stripe API wagtail-coaching calls, and webhook signing.

``FakeStripe`` is a small threaded HTTP server on 127.0.0.1 (a random port) that the real
``stripe`` library is pointed at through the ``STRIPE_API_BASE`` setting. It keeps state:
checkout sessions, payment intents, subscriptions and refunds, and Stripe's idempotency
rules (the same key with the same parameters replays the first response; with other
parameters it is refused with an ``idempotency_error``). Helpers build the objects Stripe puts
in events and sign payloads exactly as Stripe does (``Stripe-Signature: t=..,v1=..``).

Test modules make it a fixture with ``yield from running_fake(settings)``; ``configure``
switches Stripe off or on.
"""

import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_fake_coaching"
WEBHOOK_SECRET = "whsec_test_fake_coaching"

_ids = itertools.count(1)


def new_id(prefix):
    return f"{prefix}_test{next(_ids):06d}{int(time.time() * 1000) % 100000:05d}"


def decode_form(body):
    """Stripe's form encoding (``a[b][0][c]=1``) back into nested dicts and lists."""
    root = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def sign(payload, secret=WEBHOOK_SECRET, timestamp=None):
    """The ``Stripe-Signature`` header Stripe sends with ``payload``."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    signature = hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={signature}"


class StripeAPIError(Exception):
    def __init__(self, status, message, type_="invalid_request_error", code=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, "code": code}}


class FakeStripe:
    def __init__(self, api_key=API_KEY, webhook_secret=WEBHOOK_SECRET):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.sessions = {}
        self.payment_intents = {}
        self.subscriptions = {}
        self.refunds = {}
        self.requests = []
        self._idempotent = {}
        self._failures = []
        self.lock = threading.RLock()
        self.server = None

    # -- server ----------------------------------------------------------------------------

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                status, payload = fake.handle(method, self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", new_id("req"))
                if status >= 400:
                    self.send_header("Stripe-Should-Retry", "false")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def do_DELETE(self):
                self._serve("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def base(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def fail_next(self, path_prefix, status=503, message="Stripe is having a moment."):
        """Make the next request whose path starts with ``path_prefix`` fail."""
        self._failures.append((path_prefix, status, message))

    # -- dispatch --------------------------------------------------------------------------

    ROUTES = [
        ("POST", r"^/v1/checkout/sessions$", "create_session"),
        ("GET", r"^/v1/checkout/sessions/(?P<id>[\w]+)$", "retrieve_session"),
        ("POST", r"^/v1/refunds$", "create_refund"),
        ("POST", r"^/v1/subscriptions/(?P<id>[\w]+)$", "update_subscription"),
        ("DELETE", r"^/v1/subscriptions/(?P<id>[\w]+)$", "cancel_subscription"),
    ]

    def handle(self, method, raw_path, headers, body):
        path = urlsplit(raw_path).path
        params = decode_form(body) if body else {}
        key = headers.get("Idempotency-Key") or headers.get("idempotency-key")
        with self.lock:
            self.requests.append(
                {"method": method, "path": path, "params": params, "idempotency_key": key}
            )
            if headers.get("Authorization") != f"Bearer {self.api_key}":
                return 401, {"error": {"type": "invalid_request_error",
                                       "message": "Invalid API Key provided."}}
            for i, (prefix, status, message) in enumerate(self._failures):
                if path.startswith(prefix):
                    del self._failures[i]
                    return status, {"error": {"type": "api_error", "message": message}}
            fingerprint = (method, path, json.dumps(params, sort_keys=True))
            if method == "POST" and key:
                seen = self._idempotent.get(key)
                if seen is not None:
                    if seen[0] != fingerprint:
                        return 400, {"error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with "
                                       "the same parameters they were first used with.",
                        }}
                    return seen[1], copy.deepcopy(seen[2])
            for route_method, pattern, name in self.ROUTES:
                match = re.match(pattern, path)
                if route_method == method and match:
                    try:
                        status, payload = 200, getattr(self, name)(params, **match.groupdict())
                    except StripeAPIError as exc:
                        status, payload = exc.status, exc.body
                    break
            else:
                status, payload = 404, {"error": {"type": "invalid_request_error",
                                                  "message": f"Unrecognized request URL {path}"}}
            if method == "POST" and key:
                self._idempotent[key] = (fingerprint, status, copy.deepcopy(payload))
            return status, payload

    def calls(self, method, path_prefix):
        with self.lock:
            return [r for r in self.requests
                    if r["method"] == method and r["path"].startswith(path_prefix)]

    # -- endpoints -------------------------------------------------------------------------

    def create_session(self, params):
        for required in ("mode", "success_url", "line_items"):
            if not params.get(required):
                raise StripeAPIError(400, f"Missing required param: {required}.")
        subtotal, currency = 0, None
        for item in params["line_items"]:
            data = item.get("price_data") or {}
            subtotal += int(data.get("unit_amount") or 0) * int(item.get("quantity") or 1)
            currency = data.get("currency")
        session_id = new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params["mode"],
            "status": "open",
            "payment_status": "unpaid",
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "currency": currency,
            "amount_subtotal": subtotal,
            "amount_total": subtotal,
            "customer": None,
            "customer_email": params.get("customer_email"),
            "payment_intent": None,
            "subscription": None,
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "allow_promotion_codes": params.get("allow_promotion_codes") == "true",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "created": int(time.time()),
            "_params": params,
        }
        self.sessions[session_id] = session
        return self._public(session)

    def retrieve_session(self, params, id):
        if id not in self.sessions:
            raise StripeAPIError(404, f"No such checkout.session: '{id}'")
        return self._public(self.sessions[id])

    def create_refund(self, params):
        intent = params.get("payment_intent")
        if intent not in self.payment_intents:
            raise StripeAPIError(400, f"No such payment_intent: '{intent}'")
        amount = int(params.get("amount") or self.payment_intents[intent]["amount"])
        refund = {
            "id": new_id("re"), "object": "refund", "amount": amount,
            "payment_intent": intent, "status": "succeeded",
            "metadata": params.get("metadata") or {},
        }
        self.refunds[refund["id"]] = refund
        return refund

    def update_subscription(self, params, id):
        if id not in self.subscriptions:
            raise StripeAPIError(404, f"No such subscription: '{id}'")
        sub = self.subscriptions[id]
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        sub["metadata"].update(params.get("metadata") or {})
        return copy.deepcopy(sub)

    def cancel_subscription(self, params, id):
        if id not in self.subscriptions:
            raise StripeAPIError(404, f"No such subscription: '{id}'")
        sub = self.subscriptions[id]
        sub["status"] = "canceled"
        sub["ended_at"] = int(time.time())
        return copy.deepcopy(sub)

    @staticmethod
    def _public(session):
        return {k: copy.deepcopy(v) for k, v in session.items() if not k.startswith("_")}

    # -- what happens at Stripe, for tests -------------------------------------------------

    def complete_session(self, session_id, payment_status="paid", period_days=30):
        """The buyer finished the hosted page. Returns the session as events carry it."""
        with self.lock:
            session = self.sessions[session_id]
            session["status"] = "complete"
            session["payment_status"] = payment_status
            session["customer"] = session["customer"] or new_id("cus")
            session["customer_details"] = {"email": session.get("customer_email"),
                                           "name": "Cara Client"}
            if session["mode"] == "payment" and not session["payment_intent"]:
                intent = new_id("pi")
                session["payment_intent"] = intent
                self.payment_intents[intent] = {"amount": session["amount_total"]}
            if session["mode"] == "subscription" and not session["subscription"]:
                sub_id = new_id("sub")
                session["subscription"] = sub_id
                now = int(time.time())
                self.subscriptions[sub_id] = {
                    "id": sub_id, "object": "subscription", "status": "active",
                    "customer": session["customer"], "cancel_at_period_end": False,
                    "metadata": dict((session["_params"].get("subscription_data") or {})
                                     .get("metadata") or {}),
                    "items": {"object": "list", "data": [{
                        "id": new_id("si"), "current_period_start": now,
                        "current_period_end": now + period_days * 86400,
                    }]},
                    "ended_at": None,
                }
            return self._public(session)

    def session(self, session_id, **changes):
        """The session as Stripe reports it now, with ``changes`` (to doctor an event)."""
        with self.lock:
            data = self._public(self.sessions[session_id])
        data.update(changes)
        return data

    def invoice(self, subscription_id, amount_paid, period_start, period_end,
                billing_reason="subscription_cycle", old_api=False, invoice_id=None):
        """A paid (or failed) invoice of a subscription, in the shape of the API version."""
        intent = new_id("pi")
        with self.lock:
            self.payment_intents[intent] = {"amount": amount_paid}
        invoice = {
            "id": invoice_id or new_id("in"),
            "object": "invoice",
            "billing_reason": billing_reason,
            "amount_paid": amount_paid,
            "amount_due": amount_paid,
            "currency": "eur",
            "customer_email": "cara@example.com",
            "period_start": period_start - 30 * 86400,
            "period_end": period_start,
            "lines": {"object": "list", "data": [{
                "id": new_id("il"), "amount": amount_paid,
                "period": {"start": period_start, "end": period_end},
            }]},
        }
        if old_api:
            invoice["subscription"] = subscription_id
            invoice["payment_intent"] = intent
        else:
            invoice["parent"] = {"type": "subscription_details",
                                 "subscription_details": {"subscription": subscription_id}}
            invoice["payments"] = {"object": "list", "data": [
                {"payment": {"type": "payment_intent", "payment_intent": intent}}
            ]}
        return invoice

    def subscription(self, subscription_id, status="canceled", current_period_end=None):
        with self.lock:
            sub = copy.deepcopy(self.subscriptions.get(subscription_id) or {
                "id": subscription_id, "object": "subscription", "metadata": {},
                "items": {"object": "list", "data": [{"current_period_end": None}]},
            })
        sub["status"] = status
        if current_period_end is not None:
            for item in sub["items"]["data"]:
                item["current_period_end"] = current_period_end
        if status == "canceled":
            sub["ended_at"] = int(time.time())
        return sub

    def charge(self, payment_intent, refunded=True, amount_refunded=None, amount=None):
        amount = amount if amount is not None else (
            self.payment_intents.get(payment_intent, {}).get("amount", 0)
        )
        refunded_amount = amount if amount_refunded is None else amount_refunded
        return {
            "id": new_id("ch"), "object": "charge", "amount": amount, "currency": "eur",
            "amount_refunded": refunded_amount if refunded or amount_refunded else 0,
            "refunded": bool(refunded) and refunded_amount >= amount,
            "payment_intent": payment_intent,
            "billing_details": {"email": "cara@example.com", "name": "Cara Client"},
        }

    def dispute(self, payment_intent, status="needs_response", dispute_id=None):
        return {
            "id": dispute_id or new_id("dp"), "object": "dispute", "status": status,
            "payment_intent": payment_intent, "charge": new_id("ch"), "amount": 0,
        }

    @staticmethod
    def event(event_type, obj, created=None, event_id=None):
        return {
            "id": event_id or new_id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()) if created is None else int(created),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": obj},
        }


def post_event(client, event, *, secret=WEBHOOK_SECRET, timestamp=None, body=None,
               header=None):
    """Deliver ``event`` to the webhook as Stripe would: raw JSON body, signed."""
    from django.urls import reverse

    payload = body if body is not None else json.dumps(event).encode()
    signature = header if header is not None else sign(payload, secret, timestamp)
    return client.post(
        reverse("wagtail_coaching:stripe_webhook"), data=payload,
        content_type="application/json", HTTP_STRIPE_SIGNATURE=signature,
    )


def configure(settings, fake=None, **extra):
    base = dict(getattr(settings, "WAGTAIL_COACHING", {}) or {})
    for key in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
        base.pop(key, None)
    if fake is not None:
        base.update({
            "STRIPE_SECRET_KEY": fake.api_key,
            "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
            "STRIPE_API_BASE": fake.base,
            "STRIPE_MAX_NETWORK_RETRIES": 0,
        })
    base.update(extra)
    settings.WAGTAIL_COACHING = base


def running_fake(settings):
    """For a fixture: ``yield from running_fake(settings)`` gives a started fake with the
    settings pointing at it, and stops it afterwards."""
    fake = FakeStripe().start()
    configure(settings, fake)
    try:
        yield fake
    finally:
        fake.stop()


# -- Offers for tests -----------------------------------------------------------------------

ONE_TIME = {"label": "Pay once", "amount": "490.00", "currency": "eur",
            "payment_model": "one_time"}
FREE = {"label": "Taster", "amount": "0", "currency": "eur", "payment_model": "free"}
MONTHLY = {"label": "Monthly", "amount": "49.00", "currency": "eur",
           "payment_model": "subscription", "interval": "month"}
INSTALLMENTS = {"label": "Three payments", "amount": "170.00", "currency": "eur",
                "payment_model": "installments", "interval": "month", "installments": 3}


def make_offer(engagements, prices=(ONE_TIME,), title="Leadership offer", body=None,
               access_days=None, publish=True, parent=None, **fields):
    """An offer page under the site root granting ``engagements``, published by revision."""
    from django.utils.text import slugify

    from wagtail_coaching.models import OfferPage, OfferPrice
    from wagtail_coaching.testing.factories import site_root

    parent = parent or site_root()
    page = OfferPage(
        title=title, slug=fields.pop("slug", slugify(title)),
        summary=fields.pop("summary", "Become the leader your team needs"),
        body=body or [], access_days=access_days, live=False, **fields,
    )
    page.engagements = list(engagements)
    page.prices = [OfferPrice(**price) for price in prices]
    parent.add_child(instance=page)
    revision = page.save_revision()
    if publish:
        revision.publish()
    return OfferPage.objects.get(pk=page.pk)


def price_of(offer, label):
    return offer.prices.get(label=label)
