"""The demo's Stripe: its API for the ``stripe`` library, its hosted checkout page, invoices
and receipts, and a page where a buyer sees the schedule of their plans and can move one on
to its next billing date.

Every view answers 404 unless the sandbox runs demo payments (``DEMO_PAYMENTS``).
"""

import datetime
import json
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wagtail_coaching.models import Order
from wagtail_coaching.permissions import allowed, visible
from wagtail_coaching.utils.money import format_amount

from .store import demo_stripe, enabled
from .stripe import new_id, plan_of

API_HEADERS = ("Authorization", "Idempotency-Key", "Stripe-Version")


def _require_demo():
    if not enabled():
        raise Http404("Demo payments are off.")


@csrf_exempt
def api(request, path):
    """Stripe's API (``/v1/...``), as the ``stripe`` library calls it."""
    _require_demo()
    headers = {name: request.headers[name] for name in API_HEADERS if name in request.headers}
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        body = None
    if body is None:
        status, payload = 400, {"error": {"type": "invalid_request_error",
                                          "message": "The body is not UTF-8."}}
    else:
        status, payload = demo_stripe().handle(request.method, f"/v1/{path}", headers, body)
    response = HttpResponse(json.dumps(payload), status=status,
                            content_type="application/json")
    response["Request-Id"] = new_id("req")
    if status >= 400:
        response["Stripe-Should-Retry"] = "false"
    return response


def _minor(amount, currency):
    from decimal import Decimal

    from wagtail_coaching.utils.money import exponent

    return format_amount(Decimal(int(amount or 0)) / (Decimal(10) ** exponent(currency)),
                         currency)


def _when(timestamp):
    if not timestamp:
        return None
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)


def _order(reference):
    try:
        public_id = uuid.UUID(str(reference))
    except ValueError:
        return None
    return Order.objects.select_related("offer", "buyer").filter(public_id=public_id).first()


def checkout(request, session_id):
    """The hosted checkout page: GET shows what is bought, POST pays (no real money)."""
    _require_demo()
    fake = demo_stripe()
    with fake.lock:
        session = fake.sessions.get(session_id)
        session = fake._public(session) if session else None
    if session is None:
        raise Http404(_("No such checkout."))
    success_url = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
    if request.method == "POST":
        if session["status"] == "open":
            fake.pay(session_id)
        return HttpResponseRedirect(success_url, status=303)
    if request.method != "GET":
        return HttpResponse(status=405)
    order = _order(session.get("client_reference_id"))
    return TemplateResponse(request, "demo_payments/checkout.html", {
        "session": session,
        "order": order,
        "amount": _minor(session["amount_total"], session["currency"]),
        "recurring": session["mode"] == "subscription",
        "trial_days": plan_of(fake.sessions[session_id])["trial_days"],
        "paid": session["status"] != "open",
        "success_url": success_url,
        "cancel_url": session.get("cancel_url") or "/",
    })


def document(request, kind, object_id):
    """A hosted invoice or receipt (the links Stripe puts on invoices and charges)."""
    _require_demo()
    fake = demo_stripe()
    store = fake.invoices if kind == "invoices" else fake.charges
    with fake.lock:
        obj = dict(store.get(object_id) or {})
    if not obj:
        raise Http404(_("No such document."))
    amount = obj.get("amount_paid", obj.get("amount"))
    return TemplateResponse(request, "demo_payments/document.html", {
        "kind": kind, "obj": obj, "amount": _minor(amount, obj.get("currency") or "eur"),
        "created": _when(obj.get("created")),
    })


def _plans(user):
    """The subscriptions of the orders ``user`` may follow, with their schedules."""
    fake = demo_stripe()
    with fake.lock:
        ids = list(fake.subscriptions)
    orders = {
        o.stripe_subscription_id: o
        for o in visible(user, "follow_order").filter(stripe_subscription_id__in=ids)
        .select_related("offer")
    }
    plans = []
    for sub_id, order in orders.items():
        schedule = fake.schedule(sub_id)
        currency = schedule["plan"]["currency"]
        plans.append({
            "order": order,
            "id": sub_id,
            "status": schedule["status"],
            "invoices": [
                {"amount": _minor(i["amount_paid"], currency), "created": _when(i["created"]),
                 "url": i.get("hosted_invoice_url")}
                for i in schedule["invoices"]
            ],
            "next_at": _when(schedule["next_at"]),
            "next_amount": _minor(schedule["next_amount"], currency),
            "ends_at": _when(schedule["ends_at"]),
        })
    plans.sort(key=lambda p: p["order"].created_at, reverse=True)
    return plans


@login_required
def overview(request):
    """The signed-in buyer's plans: what was charged, what is next, and the demo control."""
    _require_demo()
    return TemplateResponse(request, "demo_payments/overview.html", {
        "plans": _plans(request.user),
    })


@login_required
@require_POST
def advance(request, subscription_id):
    """Move one of the buyer's plans on to its next billing date, as if that day had come."""
    _require_demo()
    order = Order.objects.filter(stripe_subscription_id=subscription_id).first()
    if order is None or not allowed(request.user, "follow_order", order):
        raise Http404(_("No such plan."))
    events = demo_stripe().advance(subscription_id)
    kinds = [e["type"] for e in events]
    if "invoice.paid" in kinds:
        messages.success(request, _("The next payment was charged (demo, no real money)."))
    elif "customer.subscription.deleted" in kinds:
        messages.success(request, _("The plan has ended: no more payments."))
    else:
        messages.info(request, _("This plan has ended: nothing more to charge."))
    return HttpResponseRedirect(reverse("demo_payments:overview"), status=303)


def context(request):
    """Template context: where the demo's payment schedule is (empty without demo payments)."""
    return {
        "demo_payments_url": reverse("demo_payments:overview")
        if getattr(settings, "DEMO_PAYMENTS", False) else "",
    }
