"""Enquiries: a visitor asks about an offer, a sales manager answers and closes the sale.

- ``submit_enquiry`` records a question from an offer page (rate limited per email address
  and per client address, ``ENQUIRY_RATE_LIMITS``) and routes it (``route_enquiry``): to the
  owner of the visitor's referral code, else to the next sales manager in turn
  (``next_sales_manager``, serialised by a lock so that concurrent enquiries take turns).
- ``reply_to_enquiry`` emails the enquirer through the outbox and records the reply.
- ``grant_enquiry`` turns it into a manual grant (``fulfilment.grant_offer``, so through
  ``fulfil()``); ``send_checkout_link`` into a personal checkout link, bought with
  ``start_enquiry_checkout``. Either way the order links back and the enquiry is won (for a
  checkout, once the order is fulfilled: ``fulfilment.win_enquiries``).
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from ..journeys.clients import account_with_email
from ..models import Enquiry, EnquiryReply, EnquiryStatus, SalesRotation
from ..models.offers import describe_price
from ..notifications.outbox import Message, queue_notifications
from ..permissions import ROLE_SALES_MANAGER, is_staff_role, users_with_role
from ..utils import rate_limit
from ..utils.people import display_name
from ..utils.urls import absolute_url
from .checkout import sales_manager_for_code, sellable_price, start_checkout
from .errors import PaymentError, PriceNotAvailable
from .fulfilment import grant_offer, grant_offer_to_new_client, win_enquiries

ROTATION = "enquiries"


class EnquiryRefused(PaymentError):
    """An enquiry that cannot be taken or changed (the message says why)."""


class TooManyEnquiries(EnquiryRefused):
    """The email address or the client address has sent its share of enquiries for now."""


# -- Asking ---------------------------------------------------------------------------------


def _limit_keys(email, address):
    limits = coaching_settings.ENQUIRY_RATE_LIMITS or {}
    return [
        (f"wagtail_coaching:enquiry:email:{email.strip().lower()}", limits.get("email")),
        (f"wagtail_coaching:enquiry:address:{address or ''}", limits.get("address")),
    ]


def enquiries_limited(email, address):
    """Whether the email address or the client address has used up its enquiries."""
    return any(rate_limit.is_limited(key, limit) for key, limit in _limit_keys(email, address))


def count_enquiry(email, address):
    """Count one enquiry (or one caught as spam: ``email`` empty) against both limits."""
    for key, limit in _limit_keys(email, address):
        if email or ":address:" in key:
            rate_limit.count_attempt(key, limit)


def submit_enquiry(offer, *, name, email, message, price=None, referral_code="", address="",
                   now=None):
    """Record a question about ``offer`` (and one of its prices) and tell its sales manager.

    Raises TooManyEnquiries when the email or client address is over its limit (nothing is
    stored). Returns the enquiry.
    """
    now = now or timezone.now()
    if enquiries_limited(email, address):
        raise TooManyEnquiries(
            _("You have sent several questions already. Please wait an hour, or write to us "
              "by email.")
        )
    count_enquiry(email, address)
    if price is not None and price.offer_id != offer.pk:
        raise EnquiryRefused(_("This price is not one of this offer's."))
    with transaction.atomic():
        referral_owner = sales_manager_for_code(referral_code)
        enquiry = Enquiry.objects.create(
            offer=offer, price=price, price_label=_price_label(price), name=name.strip(),
            email=email.strip(), message=message.strip(),
            referral=referral_code.strip()[:40] if referral_owner else "",
            sales_manager=referral_owner or next_sales_manager(),
            created_at=now,
        )
        if enquiry.sales_manager_id is not None:
            queue_notifications([_new_enquiry_message(enquiry)])
    return enquiry


def _price_label(price):
    if price is None:
        return ""
    description = describe_price(price)
    if description == price.label:
        return price.label
    return f"{price.label} – {description}"[:200]


def route_enquiry(referral_code=""):
    """The sales manager a new enquiry goes to: the owner of a valid referral code, else the
    next one in turn (None when there is no sales manager)."""
    return sales_manager_for_code(referral_code) or next_sales_manager()


def next_sales_manager():
    """The next active sales manager in turn (by user id, after the last one given an
    enquiry), or None. The rotation's row is locked until the caller's transaction ends, so
    concurrent enquiries each get the next one."""
    with transaction.atomic():
        SalesRotation.objects.get_or_create(name=ROTATION)
        rotation = SalesRotation.objects.select_for_update().get(name=ROTATION)
        candidates = list(
            users_with_role(ROLE_SALES_MANAGER).filter(is_active=True)
            .order_by("pk").values_list("pk", flat=True).distinct()
        )
        if not candidates:
            return None
        last = rotation.last_sales_manager_id
        after = [pk for pk in candidates if last is not None and pk > last]
        chosen = after[0] if after else candidates[0]
        SalesRotation.objects.filter(pk=rotation.pk).update(last_sales_manager_id=chosen)
    return get_user_model().objects.get(pk=chosen)


def enquiry_admin_path(enquiry):
    try:
        return reverse("wagtail_coaching_enquiry_modeladmin_inspect", args=[enquiry.pk])
    except NoReverseMatch:
        return ""


def _new_enquiry_message(enquiry):
    return Message(
        enquiry.sales_manager_id, "enquiry_new", f"enquiry-new:{enquiry.public_id}",
        {
            "enquirer_name": enquiry.name,
            "enquirer_email": enquiry.email,
            "offer_title": enquiry.offer.title,
            "price_label": enquiry.price_label,
            "message": enquiry.message,
            "enquiry_path": enquiry_admin_path(enquiry),
        },
    )


# -- Answering ------------------------------------------------------------------------------


def lock_enquiry(enquiry):
    return (
        Enquiry.objects.select_for_update(of=("self",)).select_related("offer", "price")
        .get(pk=enquiry.pk)
    )


def reply_to_enquiry(enquiry, *, author, body, reply_key=None, now=None):
    """Email ``body`` to the enquirer (through the outbox) and record it on the enquiry; a
    new enquiry becomes contacted. ``reply_key`` (the reply form's one-time key) makes the
    same form sent twice record and send one reply. Returns the reply."""
    now = now or timezone.now()
    if reply_key is not None:
        existing = EnquiryReply.objects.filter(reply_key=reply_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            enquiry = lock_enquiry(enquiry)
            reply = EnquiryReply.objects.create(
                enquiry=enquiry, author=author, body=body.strip(), reply_key=reply_key,
                created_at=now,
            )
            queue_notifications([Message(
                None, "enquiry_reply", f"enquiry-reply:{reply.pk}",
                {
                    "enquirer_name": enquiry.name,
                    "offer_title": enquiry.offer.title,
                    "message": enquiry.message,
                    "body": reply.body,
                    "author_name": display_name(author) if author else "",
                },
                email=enquiry.email,
            )])
            if enquiry.status == EnquiryStatus.NEW:
                Enquiry.objects.filter(pk=enquiry.pk).update(
                    status=EnquiryStatus.CONTACTED, updated_at=now
                )
    except IntegrityError:
        # The same form sent twice at once: the other one recorded it.
        existing = EnquiryReply.objects.filter(reply_key=reply_key).first() if reply_key else None
        if existing is None:
            raise
        return existing
    return reply


def set_enquiry_status(enquiry, status, *, now=None):
    """Move an enquiry along the pipeline by hand (new, contacted, won, lost)."""
    now = now or timezone.now()
    if status not in EnquiryStatus.values:
        raise EnquiryRefused(_("Choose a status from the list."))
    with transaction.atomic():
        enquiry = lock_enquiry(enquiry)
        if enquiry.order_id is not None and enquiry.status == EnquiryStatus.WON:
            if status != EnquiryStatus.WON:
                raise EnquiryRefused(_("This enquiry became an order; it stays won."))
            return enquiry
        enquiry.status = status
        enquiry.won_at = now if status == EnquiryStatus.WON else None
        enquiry.save(update_fields=["status", "won_at", "updated_at"])
    return enquiry


# -- Closing --------------------------------------------------------------------------------


def _split_name(name):
    first, _space, last = (name or "").strip().partition(" ")
    return first[:150], last.strip()[:150]


def grant_enquiry(enquiry, *, actor, amount, currency, reference, note="", grant_key=None,
                  now=None):
    """Grant the enquiry's offer to the enquirer (an account is made and invited if their
    email address has none) as a manual grant credited to the enquiry's sales manager; the
    enquiry is won and linked to the order. An enquiry already turned into an order returns
    that order: a grant is never made twice."""
    now = now or timezone.now()
    with transaction.atomic():
        enquiry = lock_enquiry(enquiry)
        if enquiry.order_id is not None and enquiry.status == EnquiryStatus.WON:
            return enquiry.order
        buyer = account_with_email(enquiry.email).first()
        if buyer is not None and is_staff_role(buyer):
            raise EnquiryRefused(
                _("This email address belongs to a member of the team, not a client.")
            )
        grant = {
            "actor": actor, "amount": amount, "currency": currency, "reference": reference,
            "note": note, "sales_manager": enquiry.sales_manager, "grant_key": grant_key,
            "now": now,
        }
        if buyer is not None:
            order = grant_offer(buyer, enquiry.offer, **grant)
        else:
            first, last = _split_name(enquiry.name)
            order = grant_offer_to_new_client(
                enquiry.email, enquiry.offer, first_name=first, last_name=last, **grant
            )
        Enquiry.objects.filter(pk=enquiry.pk).update(
            order=order, status=EnquiryStatus.WON, won_at=now, updated_at=now
        )
    return order


def checkout_path(enquiry):
    return reverse("wagtail_coaching:enquiry_checkout", args=[enquiry.checkout_token])


def send_checkout_link(enquiry, price, *, author, body="", reply_key=None, now=None):
    """Email the enquirer a personal link to buy ``price`` (one of the offer's prices on
    sale), credited to the enquiry's sales manager. Returns the reply that carried it."""
    if price.offer_id != enquiry.offer_id:
        raise EnquiryRefused(_("This price is not one of this offer's."))
    try:
        sellable_price(price.pk)
    except PriceNotAvailable as exc:
        raise EnquiryRefused(str(exc)) from exc
    with transaction.atomic():
        locked = lock_enquiry(enquiry)
        if locked.status == EnquiryStatus.WON:
            raise EnquiryRefused(_("This enquiry is won already."))
        Enquiry.objects.filter(pk=locked.pk).update(
            price=price, price_label=_price_label(price)
        )
        url = absolute_url(checkout_path(locked))
        text = body.strip() or _("Here is your personal link to buy %(offer)s.") % {
            "offer": locked.offer.title
        }
        # The link is part of the reply as kept on the enquiry and as emailed.
        text += "\n\n" + _("Your personal link for %(price)s: %(url)s") % {
            "price": _price_label(price), "url": url,
        }
        return reply_to_enquiry(
            locked, author=author, body=text, reply_key=reply_key, now=now,
        )


def enquiry_for_token(token):
    """The enquiry a personal checkout link names, with a price on sale, or None."""
    enquiry = (
        Enquiry.objects.select_related("offer", "price", "sales_manager")
        .filter(checkout_token=token or "", price__isnull=False).first()
    )
    if enquiry is None:
        return None
    try:
        sellable_price(enquiry.price_id)
    except PriceNotAvailable:
        return None
    return enquiry


def start_enquiry_checkout(buyer, enquiry, *, success_url, cancel_url, now=None):
    """``start_checkout`` of the enquiry's price for ``buyer``, credited to its sales manager;
    the order is linked to the enquiry (won once the order is fulfilled)."""
    now = now or timezone.now()
    if enquiry.status == EnquiryStatus.WON:
        raise EnquiryRefused(_("This link has been used already."))
    started = start_checkout(
        buyer, enquiry.price, success_url=success_url, cancel_url=cancel_url,
        sales_manager=enquiry.sales_manager, now=now,
    )
    with transaction.atomic():
        Enquiry.objects.filter(pk=enquiry.pk).exclude(status=EnquiryStatus.WON).update(
            order=started.order, updated_at=now
        )
        started.order.refresh_from_db(fields=["fulfilled_at"])
        if started.order.fulfilled_at is not None:  # free: fulfilled already
            win_enquiries(started.order, now)
    return started
