"""The sales pipeline: a visitor's question about an offer (an ``Enquiry``), the sales
manager it goes to, their replies, and the order it turned into.

An enquiry is asked from an offer page (optionally about one of its prices) by someone who
may have no account: it holds their name and email address. The services in
``wagtail_coaching.payments.enquiries`` route it, reply to it and turn it into a grant or a
personal checkout link.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .offers import OfferPage, OfferPrice, Order


class EnquiryStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


def new_checkout_token():
    return secrets.token_urlsafe(24)


class Enquiry(models.Model):
    """A question about an offer, owned by one sales manager.

    ``order`` is the order it turned into (a grant, or a purchase through its personal
    checkout link, ``checkout_token``); the enquiry is then won.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offer = models.ForeignKey(
        OfferPage, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="enquiries"
    )
    price = models.ForeignKey(
        OfferPrice, verbose_name=_("price"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="enquiries",
    )
    # The price as the enquirer saw it (the price may be edited or deleted later).
    price_label = models.CharField(_("price asked about"), max_length=200, blank=True)
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email"), max_length=254, db_index=True)
    message = models.TextField(_("message"), max_length=5000)
    referral = models.CharField(_("referral code"), max_length=40, blank=True)
    sales_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales manager"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="coaching_enquiries",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=EnquiryStatus.choices, default=EnquiryStatus.NEW,
        db_index=True,
    )
    order = models.ForeignKey(
        Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="enquiries",
    )
    checkout_token = models.CharField(
        max_length=64, unique=True, default=new_checkout_token, editable=False
    )
    created_at = models.DateTimeField(_("asked"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    won_at = models.DateTimeField(_("won"), null=True, blank=True)

    class Meta:
        verbose_name = _("enquiry")
        verbose_name_plural = _("enquiries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["sales_manager", "status"], name="coaching_enquiry_manager")
        ]

    def __str__(self):
        return f"{self.name} – {self.offer.title}"


class EnquiryReply(models.Model):
    """A sales manager's email to the enquirer, as sent (through the outbox)."""

    enquiry = models.ForeignKey(Enquiry, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    body = models.TextField(_("reply"), max_length=10000)
    # The reply form's one-time key: the same form sent twice records (and sends) one reply.
    reply_key = models.UUIDField(unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)

    class Meta:
        verbose_name = _("reply to an enquiry")
        verbose_name_plural = _("replies to enquiries")
        ordering = ["created_at", "id"]


class SalesRotation(models.Model):
    """Where the round-robin of new enquiries among sales managers left off. Its one row is
    also the lock that serialises routing."""

    name = models.CharField(max_length=32, unique=True)
    last_sales_manager_id = models.BigIntegerField(null=True, blank=True)
