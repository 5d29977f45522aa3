"""Buying an offer on the public site, and Stripe's webhook.

Thin views: ``payments.checkout`` starts purchases, ``payments.webhooks`` verifies and
handles events, ``payments.access`` decides access. What is left here is sign-in, redirects
and messages.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from ..models import Order, OrderStatus
from ..models.offers import REFERRAL_SESSION_KEY, remember_referral
from ..payments.checkout import (
    confirm_order,
    sales_manager_for_code,
    sellable_price,
    start_checkout,
)
from ..payments.errors import (
    AlreadyHasAccess,
    PaymentError,
    PriceNotAvailable,
    StripeUnavailable,
    UnprocessableEvent,
)
from ..payments.stripe_client import stripe_enabled
from ..payments.webhooks import (
    BACKGROUND,
    SIGNATURE_HEADER,
    InvalidWebhook,
    handling,
    process_event,
    record_event,
    verify_event,
)
from ..permissions import has_offer_access
from ..utils.urls import signup_url, with_next

logger = logging.getLogger(__name__)

# Session key of the free price a visitor asked for before signing in or up: once they have
# an account, the confirmation page takes it for them instead of asking a second time.
PENDING_FREE_SESSION_KEY = "wagtail_coaching_pending_free_price"


def _price_or_404(price_id):
    try:
        return sellable_price(price_id)
    except PriceNotAvailable as exc:
        raise Http404(str(exc)) from exc


class CheckoutView(View):
    """GET: what is about to be bought (and sign-in or sign-up first for visitors).
    POST: start the purchase."""

    template_name = "wagtail_coaching/offers/checkout_confirm.html"

    def get(self, request, price_id):
        price = _price_or_404(price_id)
        remember_referral(request)
        pending = request.session.pop(PENDING_FREE_SESSION_KEY, None)
        if (
            pending == price.pk and price.is_free and request.user.is_authenticated
            and not has_offer_access(request.user, price.offer)
        ):
            # They pressed "Start for free" (a POST, CSRF-checked) before signing in or up:
            # this is the page the sign-in or sign-up returns them to.
            return self.start(request, price)
        here = request.get_full_path()
        context = {
            "price": price,
            "offer": price.offer,
            "description": price.describe(),
            "engagements": price.offer.live_engagements(),
            "available": price.is_free or stripe_enabled(),
            "has_access": has_offer_access(request.user, price.offer),
            "login_url": _login_url(here),
            "signup_url": with_next(signup_url(), here),
        }
        return TemplateResponse(request, self.template_name, context)

    def post(self, request, price_id):
        price = _price_or_404(price_id)
        if not request.user.is_authenticated:
            # Sign in (or up) first, then come back to this price's confirmation page; a
            # free price is then taken without a second "Start for free".
            if price.is_free:
                request.session[PENDING_FREE_SESSION_KEY] = price.pk
            return redirect_to_login(request.get_full_path())
        return self.start(request, price)

    def start(self, request, price):
        code = request.POST.get("ref") or request.session.get(REFERRAL_SESSION_KEY)
        offer_url = request.build_absolute_uri(price.offer.get_url(request) or "/")
        try:
            started = start_checkout(
                request.user,
                price,
                success_url=lambda order: request.build_absolute_uri(
                    reverse("wagtail_coaching:checkout_done", args=[order.public_id])
                ),
                cancel_url=offer_url,
                sales_manager=sales_manager_for_code(code),
            )
        except AlreadyHasAccess as exc:
            messages.info(request, str(exc))
            return HttpResponseRedirect(price.offer.url or "/", status=303)
        except PaymentError as exc:  # not configured, Stripe unreachable, not paid...
            messages.error(request, str(exc))
            return HttpResponseRedirect(price.offer.url or "/", status=303)
        request.session.pop(REFERRAL_SESSION_KEY, None)
        if started.payment_url:
            return HttpResponseRedirect(started.payment_url, status=303)
        return HttpResponseRedirect(
            reverse("wagtail_coaching:checkout_done", args=[started.order.public_id]), status=303
        )


def _login_url(next_url):
    return with_next(resolve_url(settings.LOGIN_URL), next_url)


@method_decorator(never_cache, name="dispatch")
class CheckoutDoneView(View):
    """Where Stripe sends the buyer back: "processing" until the payment is confirmed."""

    template_name = "wagtail_coaching/offers/checkout_done.html"

    def get(self, request, public_id):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        order = (
            Order.objects.select_related("offer")
            .filter(public_id=public_id, buyer=request.user).first()
        )
        if order is None:  # unknown, or someone else's: the same answer
            raise Http404(_("No such order."))
        if order.status == OrderStatus.PENDING and order.stripe_session_id:
            try:
                order = confirm_order(order)
            except StripeUnavailable:
                logger.warning("Stripe unreachable while confirming order %s", order.public_id)
        enrollments = [
            g.enrollment for g in order.grants.select_related("enrollment__engagement")
        ]
        processing = order.status == OrderStatus.PENDING
        return TemplateResponse(
            request,
            self.template_name,
            {
                "order": order,
                "offer": order.offer,
                "processing": processing,
                "enrollments": enrollments,
                "dashboard_url": reverse("wagtail_coaching:dashboard"),
            },
        )


@method_decorator(csrf_exempt, name="dispatch")
class StripeWebhookView(View):
    """Stripe's events: verified on the raw body, recorded once, then handled.

    400 for anything not genuinely from Stripe (nothing recorded). 200 for an event that
    can never be handled (recorded as failed, nothing else changed): Stripe retries any other
    answer for days. 500 when handling failed in a way a later delivery may not (nothing
    kept; Stripe delivers again). 200 otherwise, unknown types included.

    With ``STRIPE_WEBHOOK_HANDLING = "background"`` the event is only recorded here and the
    answer's outcome is "queued" (or "duplicate"); the ``handle_stripe_event`` job handles it.
    """

    http_method_names = ["post"]

    def post(self, request):
        try:
            event = verify_event(request.body, request.META.get(SIGNATURE_HEADER))
        except InvalidWebhook as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        try:
            if handling() == BACKGROUND:
                outcome = record_event(event)  # handled by the handle_stripe_event job
            else:
                outcome = process_event(event)
        except UnprocessableEvent as exc:
            logger.warning("Stripe event %.80r recorded as failed: %s", event.get("id"), exc)
            return JsonResponse({"received": True, "outcome": "failed", "error": str(exc)})
        except Exception:
            logger.exception("Handling Stripe event %s failed", event.get("id"))
            return JsonResponse({"error": "The event could not be handled."}, status=500)
        return JsonResponse({"received": True, "outcome": outcome})
