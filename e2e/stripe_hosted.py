"""Stripe for the browser tests: the API fake of ``tests/stripe_fake.py`` plus the two things
a browser needs from Stripe — a hosted checkout page to pay on, and the signed webhook that
Stripe sends when a payment succeeds.

``HostedStripe`` serves the API under ``/v1/`` (the sandbox's ``stripe`` library is pointed
at it through ``STRIPE_API_BASE``) and the checkout page at ``/c/pay/<session id>``. Paying
there completes the session, delivers ``checkout.session.completed`` to the sandbox's webhook
URL signed with the webhook secret (as Stripe does), then sends the buyer back to the
``success_url``, like Stripe's hosted page.
"""

import html
import json
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.stripe_fake import FakeStripe, new_id, sign

PAY_PATH = re.compile(r"^/c/pay/(?P<id>\w+)$")


class HostedStripe(FakeStripe):
    def __init__(self, webhook_url="", **kwargs):
        super().__init__(**kwargs)
        self.webhook_url = webhook_url
        # (event type, object id, HTTP status, response body) per webhook sent
        self.deliveries = []

    # -- server ----------------------------------------------------------------------------

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length).decode("utf-8") if length else ""

            def _api(self, method):
                status, payload = fake.handle(method, self.path, dict(self.headers), self._body())
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", new_id("req"))
                if status >= 400:
                    self.send_header("Stripe-Should-Retry", "false")
                self.end_headers()
                self.wfile.write(data)

            def _send(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                match = PAY_PATH.match(urlsplit(self.path).path)
                if match is None:
                    return self._api("GET")
                page = fake.checkout_page(match["id"])
                if page is None:
                    return self._send(404, b"No such checkout session.")
                self._send(200, page.encode(), [("Content-Type", "text/html; charset=utf-8")])

            def do_POST(self):
                match = PAY_PATH.match(urlsplit(self.path).path)
                if match is None:
                    return self._api("POST")
                self._body()
                location = fake.pay(match["id"])
                if location is None:
                    return self._send(404, b"No such checkout session.")
                self._send(303, headers=[("Location", location)])

            def do_DELETE(self):
                self._api("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    # -- the hosted checkout ---------------------------------------------------------------

    def create_session(self, params):
        public = super().create_session(params)
        url = f"{self.base}/c/pay/{public['id']}"
        with self.lock:
            self.sessions[public["id"]]["url"] = url
        public["url"] = url
        return public

    def checkout_page(self, session_id):
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                return None
            session = self._public(session)
        amount = f"{session['amount_total'] / 100:.2f} {(session['currency'] or '').upper()}"
        cancel = html.escape(session.get("cancel_url") or "/")
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Pay {amount} - Test checkout</title></head>
<body><main>
<h1>Test checkout</h1>
<p>Amount due: <strong id="amount">{amount}</strong></p>
<form method="post"><button type="submit">Pay {amount}</button></form>
<p><a href="{cancel}">Cancel and go back</a></p>
</main></body></html>"""

    def pay(self, session_id):
        """The buyer paid: complete the session, send the signed webhook, and answer where
        the browser goes next (the success URL)."""
        with self.lock:
            if session_id not in self.sessions:
                return None
        session = self.complete_session(session_id)
        self.deliver(self.event("checkout.session.completed", session))
        return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)

    def deliver(self, event):
        """POST ``event`` to the webhook URL as Stripe does: raw JSON body, signed."""
        payload = json.dumps(event).encode()
        request = urllib.request.Request(
            self.webhook_url, data=payload, method="POST",
            headers={"Content-Type": "application/json",
                     "Stripe-Signature": sign(payload, self.webhook_secret)},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode()
        with self.lock:
            self.deliveries.append(
                (event["type"], event["data"]["object"].get("id"), status, body)
            )
        return status
