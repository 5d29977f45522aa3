"""Who may see what an offer sells: the paywall's rule, as a predicate and a queryset.

A user has access to an offer when an order of theirs for it currently grants access, or
when they hold an active, unexpired enrollment in every published engagement the offer
grants (e.g. enrolled by the team). ``has_offer_access`` and ``offers_accessible_to`` say
the same thing; a test keeps them in agreement.
"""

from django.db.models import Exists, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ..conf import coaching_settings
from ..models import AccessState, Enrollment, EnrollmentStatus, OfferPage, Order
from ..models.offers import REFERRAL_SESSION_KEY, OfferPageMixin
from .stripe_client import stripe_enabled


def _authenticated(user):
    return user is not None and user.is_authenticated and user.is_active


def enrollment_access_q(now, prefix=""):
    """Enrollments (or, with ``prefix="enrollment__"``, their activities) that give access
    now. For the permission layer: a client's activity URLs need this as well as being
    their own and unlocked."""
    return Q(**{f"{prefix}status": EnrollmentStatus.ACTIVE}) & (
        Q(**{f"{prefix}ends_at__isnull": True}) | Q(**{f"{prefix}ends_at__gt": now})
    )


def current_enrollments(user, now):
    """The user's enrollments that give access now: active and not past their end."""
    return Enrollment.objects.filter(Q(client=user) & enrollment_access_q(now))


def granting_orders(user, now):
    """The user's orders that give access now."""
    return Order.objects.filter(
        Q(buyer=user, access_state=AccessState.ACTIVE, fulfilled_at__isnull=False)
        & (Q(access_ends_at__isnull=True) | Q(access_ends_at__gt=now))
    )


def has_offer_access(user, offer, now=None):
    if not _authenticated(user) or offer is None or offer.pk is None:
        return False
    now = now or timezone.now()
    if granting_orders(user, now).filter(offer_id=offer.pk).exists():
        return True
    needed = set(
        OfferPage.engagements.through.objects.filter(
            offerpage_id=offer.pk, engagementpage__live=True
        ).values_list("engagementpage_id", flat=True)
    )
    if not needed:
        return False
    held = set(
        current_enrollments(user, now)
        .filter(engagement_id__in=needed).values_list("engagement_id", flat=True)
    )
    return held == needed


def offers_accessible_to(user, now=None):
    """Offers ``has_offer_access`` allows for ``user``."""
    if not _authenticated(user):
        return OfferPage.objects.none()
    now = now or timezone.now()
    links = OfferPage.engagements.through.objects.filter(
        offerpage_id=OuterRef("pk"), engagementpage__live=True
    )
    held = current_enrollments(user, now).values("engagement_id")
    return OfferPage.objects.filter(
        Q(pk__in=granting_orders(user, now).values("offer_id"))
        | (Q(Exists(links)) & ~Q(Exists(links.exclude(engagementpage_id__in=held))))
    )


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


def signup_url():
    value = coaching_settings.SIGNUP_URL
    if not value:
        return ""
    if "/" in value:
        return value
    try:
        return reverse(value)
    except NoReverseMatch:
        return ""


def offer_view_state(request, page):
    """Context for rendering an offer: access, prices with their buy buttons, warnings."""
    from ..permissions import roles_of

    user = getattr(request, "user", None)
    is_offer = isinstance(page, OfferPageMixin)
    editor = bool(
        is_offer and request is not None
        and _cached(request, ("edit", page.pk), lambda: can_edit_page(user, page))
    )
    admin_like = editor or "admin" in roles_of(user)
    enabled = stripe_enabled()
    access = bool(
        is_offer and request is not None
        and _cached(request, ("access", page.pk), lambda: has_offer_access(user, page))
    )
    pricing = []
    for price in page.active_prices() if is_offer else []:
        url = _url("checkout", price.pk) if price.pk else ""
        pricing.append({
            "price": price,
            "description": price.describe(),
            "checkout_url": url,
            "available": bool(url) and (price.is_free or enabled),
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
        "signup_url": signup_url(),
        "dashboard_url": _url("dashboard"),
    }
