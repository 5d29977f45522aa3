"""The offer page's side of the paywall: whether its paid content shows for a request
(editors always see it), and what the page shows about access and prices.

Who has access to an offer is the permission layer's rule (``permissions.has_offer_access``
and its queryset, ``offers_accessible_to``); this module asks it once per request."""

from django.urls import NoReverseMatch, reverse

from ..models.offers import REFERRAL_SESSION_KEY, OfferPageMixin
from ..permissions import allowed, has_offer_access
from ..utils.urls import signup_url
from .stripe_client import stripe_enabled


def _authenticated(user):
    return user is not None and user.is_authenticated and user.is_active


def can_edit_page(user, page):
    if not _authenticated(user) or page is None or page.pk is None:
        return False
    return page.permissions_for_user(user).can_edit()


def paywall_open(request, page):
    """Whether the paywalled content of ``page`` may be shown for ``request``.

    Editors of the page always see it (they are building it); anyone else needs access, and
    previews are for editors only. Without a request or an offer page: closed.
    """
    if request is None or not isinstance(page, OfferPageMixin):
        return False
    user = getattr(request, "user", None)
    if _cached(request, ("edit", page.pk), lambda: can_edit_page(user, page)):
        return True
    if getattr(request, "is_preview", False):
        return False
    return _cached(request, ("access", page.pk), lambda: has_offer_access(user, page))


def _cached(request, key, compute):
    """Compute once per request (and user: a request's user may change, e.g. on login)."""
    cache = request.__dict__.setdefault("_coaching_offer_cache", {})
    key = (*key, getattr(getattr(request, "user", None), "pk", None))
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def _url(name, *args):
    try:
        return reverse(f"wagtail_coaching:{name}", args=args)
    except NoReverseMatch:
        return ""


def offer_view_state(request, page):
    """Context for rendering an offer: access, prices with their buy buttons, warnings."""
    user = getattr(request, "user", None)
    is_offer = isinstance(page, OfferPageMixin)
    editor = bool(
        is_offer and request is not None
        and _cached(request, ("edit", page.pk), lambda: can_edit_page(user, page))
    )
    admin_like = editor or allowed(user, "view_payment_setup", page)
    enabled = stripe_enabled()
    access = bool(
        is_offer and request is not None
        and _cached(request, ("access", page.pk), lambda: has_offer_access(user, page))
    )
    pricing = []
    ask_url = _url("enquire", page.pk) if is_offer and page.pk else ""
    for price in page.active_prices() if is_offer else []:
        url = _url("checkout", price.pk) if price.pk else ""
        description = price.describe()
        pricing.append({
            "price": price,
            "description": description,
            # "Free" labelled "Free" is said once.
            "show_description": description != price.label,
            "checkout_url": url,
            "available": bool(url) and (price.is_free or enabled),
            "ask_url": f"{ask_url}?price={price.pk}" if ask_url and price.pk else "",
        })
    # Only a code the page found valid (``remember_referral``) is carried to checkout.
    session = getattr(request, "session", None)
    ref = session.get(REFERRAL_SESSION_KEY, "") if session is not None else ""
    return {
        "offer_access": access,
        "paywall_open": paywall_open(request, page),
        "can_edit_offer": editor,
        "stripe_enabled": enabled,
        "pricing": pricing,
        "show_payment_warning": admin_like and not enabled
        and any(not p["price"].is_free for p in pricing),
        "referral_code": ref,
        # Whether a visitor would pay for something here (or only start for free).
        "sells_paid": any(p["available"] and not p["price"].is_free for p in pricing),
        "sells_any": any(p["available"] for p in pricing),
        "ask_url": ask_url,
        "signup_url": signup_url(),
        "dashboard_url": _url("dashboard"),
    }
