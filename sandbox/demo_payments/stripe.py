"""A local stand-in for the parts of Stripe that wagtail-coaching uses: its API, its hosted
checkout, its invoices and receipts, and its signed webhooks.

``FakeStripe`` keeps state (checkout sessions, payment intents, subscriptions, invoices,
charges, refunds) and Stripe's idempotency rules (the same key with the same parameters
replays the first response; with other parameters it is refused with an
``idempotency_error``). The real ``stripe`` library talks to it through the
``STRIPE_API_BASE`` setting, either over ``serve()`` (a small threaded HTTP server on
127.0.0.1, for tests) or through the sandbox's views (``sandbox.demo_payments.views``, for the
demo). ``pay()`` is what Stripe does when the buyer pays on the hosted page, ``advance()``
what it does when a subscription's next billing date comes: each completes the objects and
delivers the events Stripe would, signed with the webhook secret (``sign``).

Plain Python (no Django): the sandbox's settings, the browser tests and the unit tests all
import it.
"""

import calendar
import copy
import datetime
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_fake_coaching"
WEBHOOK_SECRET = "whsec_test_fake_coaching"



def new_id(prefix):
    """A Stripe-like id nobody can guess (checkout pages and receipts are found by it)."""
    return f"{prefix}_test{secrets.token_hex(12)}"


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


def plan_of(session):
    """What a checkout session sells: amount, currency, and for a subscription its interval
    and trial (from the parameters it was created with)."""
    params = session.get("_params") or {}
    items = params.get("line_items") or [{}]
    price = items[0].get("price_data") or {}
    recurring = price.get("recurring") or {}
    trial = (params.get("subscription_data") or {}).get("trial_period_days")
    return {
        "amount": int(price.get("unit_amount") or 0),
        "currency": price.get("currency") or session.get("currency") or "eur",
        "name": (price.get("product_data") or {}).get("name") or "",
        "interval": recurring.get("interval") or "month",
        "interval_count": int(recurring.get("interval_count") or 1),
        "trial_days": int(trial or 0),
    }


def add_interval(timestamp, interval, count=1):
    """``timestamp`` (Unix time) moved on by ``count`` billing intervals, calendar months and
    years as Stripe counts them (31 January + 1 month = 28 or 29 February)."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    if interval == "day":
        moment += datetime.timedelta(days=count)
    elif interval == "week":
        moment += datetime.timedelta(weeks=count)
    else:
        months = count * (12 if interval == "year" else 1)
        month = moment.month - 1 + months
        year, month = moment.year + month // 12, month % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        moment = moment.replace(year=year, month=month, day=day)
    return int(moment.timestamp())


class StripeAPIError(Exception):
    def __init__(self, status, message, type_="invalid_request_error", code=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, "code": code}}


class FakeStripe:
    def __init__(self, api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, hosted_base="",
                 deliver_to=None, on_change=None):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        # Where the hosted checkout, invoice and receipt pages are (the demo's views); without
        # it their URLs are Stripe-like addresses no browser opens (unit tests).
        self.hosted_base = hosted_base.rstrip("/")
        # ``deliver_to(payload, signature)`` posts a signed event to the site's webhook and
        # answers (status, body); ``on_change(fake)`` after each change (the demo saves it).
        self.deliver_to = deliver_to
        self.on_change = on_change
        self.sessions = {}
        self.payment_intents = {}
        self.subscriptions = {}
        self.invoices = {}
        self.charges = {}
        self.refunds = {}
        self.requests = []
        # (event type, object id, HTTP status, response body) per webhook delivered
        self.deliveries = []
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
        # A short poll: ``stop`` (``shutdown``) waits for the loop to look, and a test stops
        # the fake at each teardown.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
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
            if method != "GET" and status < 400:
                self.changed()
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
            "url": self.hosted_url("pay", session_id),
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
        return self._public(sub)

    def cancel_subscription(self, params, id):
        if id not in self.subscriptions:
            raise StripeAPIError(404, f"No such subscription: '{id}'")
        sub = self.subscriptions[id]
        sub["status"] = "canceled"
        sub["ended_at"] = int(time.time())
        return self._public(sub)

    @staticmethod
    def _public(session):
        return {k: copy.deepcopy(v) for k, v in session.items() if not k.startswith("_")}

    # -- what happens at Stripe, for tests -------------------------------------------------

    def complete_session(self, session_id, payment_status="paid", period_days=30,
                         period_end=None):
        """The buyer finished the hosted page. Returns the session as events carry it.

        A subscription's first period lasts ``period_days`` (or ends at ``period_end``).
        """
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
                end = period_end if period_end is not None else now + period_days * 86400
                subscription_data = session["_params"].get("subscription_data") or {}
                self.subscriptions[sub_id] = {
                    "id": sub_id, "object": "subscription", "status": "active",
                    "customer": session["customer"], "cancel_at_period_end": False,
                    "metadata": dict(subscription_data.get("metadata") or {}),
                    "items": {"object": "list", "data": [{
                        "id": new_id("si"), "current_period_start": now,
                        "current_period_end": end,
                    }]},
                    "ended_at": None,
                    "_plan": plan_of(session),
                    "_invoices": [],
                }
            self.changed()
            return self._public(session)

    def session(self, session_id, **changes):
        """The session as Stripe reports it now, with ``changes`` (to doctor an event)."""
        with self.lock:
            data = self._public(self.sessions[session_id])
        data.update(changes)
        return data

    def invoice(self, subscription_id, amount_paid, period_start, period_end,
                billing_reason="subscription_cycle", old_api=False, invoice_id=None,
                currency="eur"):
        """A paid (or failed) invoice of a subscription, in the shape of the API version."""
        intent = new_id("pi")
        invoice_id = invoice_id or new_id("in")
        with self.lock:
            self.payment_intents[intent] = {"amount": amount_paid, "currency": currency}
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "billing_reason": billing_reason,
            "status": "paid",
            "amount_paid": amount_paid,
            "amount_due": amount_paid,
            "currency": currency,
            "created": int(time.time()),
            "hosted_invoice_url": self.hosted_url("invoices", invoice_id),
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
        with self.lock:
            self.invoices[invoice_id] = copy.deepcopy(invoice)
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
        return self._public(sub)

    def charge(self, payment_intent, refunded=True, amount_refunded=None, amount=None):
        amount = amount if amount is not None else (
            self.payment_intents.get(payment_intent, {}).get("amount", 0)
        )
        refunded_amount = amount if amount_refunded is None else amount_refunded
        charge_id = new_id("ch")
        return {
            "id": charge_id, "object": "charge", "amount": amount, "currency": "eur",
            "receipt_url": self.hosted_url("receipts", charge_id),
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

    # -- the hosted pages, and what Stripe does on its own ------------------------------------

    def hosted_url(self, kind, object_id):
        """The address of a hosted page: the checkout (``pay``), an invoice or a receipt."""
        if self.hosted_base:
            return f"{self.hosted_base}/{kind}/{object_id}/"
        return f"https://stripe.test/{kind}/{object_id}"

    def changed(self):
        if self.on_change is not None:
            self.on_change(self)

    def pay(self, session_id, now=None):
        """The buyer paid on the hosted page: complete the session, create what Stripe creates
        (the payment and its charge; or the subscription and its first invoice) and deliver
        the events Stripe sends. Returns the session, or None if there is no such open one."""
        now = int(now or time.time())
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None or session["status"] != "open":
                return None
            plan = plan_of(session)
            first_end = trial_end = None
            if session["mode"] == "subscription":
                trial_end = now + plan["trial_days"] * 86400 if plan["trial_days"] else None
                first_end = trial_end or add_interval(now, plan["interval"],
                                                      plan["interval_count"])
            session = self.complete_session(session_id, period_end=first_end)
            events = []
            if session["mode"] == "payment":
                charge = self._succeeded_charge(session["payment_intent"],
                                                session["amount_total"], session["currency"])
                events = [self.event("checkout.session.completed", session, created=now),
                          self.event("charge.succeeded", charge, created=now)]
            else:
                sub = self.subscriptions[session["subscription"]]
                if trial_end:
                    sub["status"] = "trialing"
                    sub["trial_end"] = trial_end
                amount = 0 if trial_end else plan["amount"]
                events = [self.event("checkout.session.completed", session, created=now),
                          *self._bill(sub, amount, now, first_end, "subscription_create")]
            self.changed()
        for event in events:
            self.deliver(event)
        return session

    def advance(self, subscription_id, now=None):
        """The subscription's next billing date has come (the demo's "advance" control): its
        next invoice is paid and the period moves on, or, set to end at the period's end, it
        ends. Returns the events delivered (empty if the subscription has ended)."""
        now = int(now or time.time())
        with self.lock:
            sub = self.subscriptions.get(subscription_id)
            if sub is None or sub["status"] == "canceled":
                return []
            item = sub["items"]["data"][0]
            start = item["current_period_end"]
            if sub["cancel_at_period_end"]:
                sub["status"] = "canceled"
                sub["ended_at"] = start
                events = [self.event("customer.subscription.deleted", self._public(sub),
                                     created=now)]
            else:
                plan = sub["_plan"]
                end = add_interval(start, plan["interval"], plan["interval_count"])
                sub["status"] = "active"
                item["current_period_start"], item["current_period_end"] = start, end
                events = self._bill(sub, plan["amount"], now, end, "subscription_cycle",
                                    period_start=start)
            self.changed()
        for event in events:
            self.deliver(event)
        return events

    def schedule(self, subscription_id):
        """What the subscription has billed and what comes next, for the demo's page:
        {"invoices": [...], "next_at": Unix time or None, "next_amount", "ends_at", ...}."""
        with self.lock:
            sub = self.subscriptions.get(subscription_id)
            if sub is None:
                return None
            item = sub["items"]["data"][0]
            invoices = [self.invoices[i] for i in sub["_invoices"] if i in self.invoices]
            ended = sub["status"] == "canceled"
            ending = sub["cancel_at_period_end"] and not ended
            return {
                "id": sub["id"],
                "status": sub["status"],
                "metadata": dict(sub["metadata"]),
                "plan": dict(sub["_plan"]),
                "invoices": copy.deepcopy(invoices),
                "next_at": None if ended or ending else item["current_period_end"],
                "next_amount": sub["_plan"]["amount"],
                "ends_at": sub.get("ended_at") if ended else (
                    item["current_period_end"] if ending else None
                ),
            }

    def _bill(self, sub, amount, now, period_end, reason, period_start=None):
        """A paid invoice of ``sub`` (and its charge when it has an amount): the events."""
        plan = sub["_plan"]
        start = period_start if period_start is not None else now
        invoice = self.invoice(sub["id"], amount, start, period_end, billing_reason=reason,
                               currency=plan["currency"])
        invoice["period_start"], invoice["period_end"] = start, start
        invoice["created"] = now
        self.invoices[invoice["id"]] = copy.deepcopy(invoice)
        sub["_invoices"].append(invoice["id"])
        events = [self.event("invoice.paid", invoice, created=now)]
        if amount:
            intent = invoice["payments"]["data"][0]["payment"]["payment_intent"]
            charge = self._succeeded_charge(intent, amount, plan["currency"], invoice["id"])
            events.append(self.event("charge.succeeded", charge, created=now))
        return events

    def _succeeded_charge(self, payment_intent, amount, currency, invoice_id=None):
        charge_id = new_id("ch")
        charge = {
            "id": charge_id, "object": "charge", "amount": amount, "currency": currency,
            "status": "succeeded", "paid": True, "refunded": False, "amount_refunded": 0,
            "payment_intent": payment_intent, "invoice": invoice_id,
            "created": int(time.time()),
            "receipt_url": self.hosted_url("receipts", charge_id),
        }
        self.charges[charge_id] = copy.deepcopy(charge)
        return charge

    def deliver(self, event):
        """Send ``event`` to the site's webhook as Stripe does: the raw JSON, signed."""
        if self.deliver_to is None:
            return None
        payload = json.dumps(event).encode()
        status, body = self.deliver_to(payload, sign(payload, self.webhook_secret))
        with self.lock:
            self.deliveries.append(
                (event["type"], event["data"]["object"].get("id"), status, body)
            )
        return status

    # -- keeping the state (the demo keeps it across restarts) --------------------------------

    STATE = ("sessions", "payment_intents", "subscriptions", "invoices", "charges", "refunds")

    def snapshot(self):
        """The state as JSON-ready data."""
        with self.lock:
            data = {name: copy.deepcopy(getattr(self, name)) for name in self.STATE}
            data["idempotent"] = {
                key: [list(seen[0]), seen[1], seen[2]] for key, seen in self._idempotent.items()
            }
            return data

    def restore(self, data):
        with self.lock:
            for name in self.STATE:
                setattr(self, name, dict(data.get(name) or {}))
            self._idempotent = {
                key: (tuple(seen[0]), seen[1], seen[2])
                for key, seen in (data.get("idempotent") or {}).items()
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


