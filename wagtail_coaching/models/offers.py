"""Sales: offers (landing pages that sell engagements), their prices, orders and Stripe events.

The service and its sale are separate: an ``OfferPage`` grants one or more engagements (a
bundle) under its own prices, and many offers may sell the same engagement. An ``Order`` holds
the money state of one purchase; access itself lives on the buyer's enrollments, which the
payments services change (see ``wagtail_coaching.payments``).
"""

import datetime
import secrets
import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel
from wagtail.fields import StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index

from ..blocks.landing import OfferBodyBlock
from ..utils.money import describe_interval, format_amount, to_minor_units
from .pages import PackageTemplateMixin

# Session key under which a visitor's ``?ref=`` sales code is kept until checkout.
REFERRAL_SESSION_KEY = "wagtail_coaching_ref"

currency_validator = RegexValidator(
    r"^[A-Za-z]{3}$", _("Enter a three-letter ISO currency code, such as EUR.")
)


class PaymentModel(models.TextChoices):
    FREE = "free", _("Free")
    ONE_TIME = "one_time", _("One-time payment")
    SUBSCRIPTION = "subscription", _("Subscription")
    INSTALLMENTS = "installments", _("Installments")


# Payment models billed through a Stripe subscription.
RECURRING_MODELS = (PaymentModel.SUBSCRIPTION, PaymentModel.INSTALLMENTS)


def describe_price(price, installments=None):
    """One line for a price or an order: "Free", "€49.00", "€19.00 / month", "3 × €100.00 /
    month". Works on anything with the price fields."""
    if price.payment_model == PaymentModel.FREE:
        return gettext("Free")
    amount = format_amount(price.amount, price.currency)
    every = describe_interval(price.interval, price.interval_count)
    if price.payment_model == PaymentModel.SUBSCRIPTION:
        return gettext("%(amount)s / %(every)s") % {"amount": amount, "every": every}
    if price.payment_model == PaymentModel.INSTALLMENTS:
        count = installments or getattr(price, "installments", None) or 0
        return gettext("%(count)d × %(amount)s / %(every)s") % {
            "count": count, "amount": amount, "every": every,
        }
    return amount


class BillingInterval(models.TextChoices):
    DAY = "day", _("Day")
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    YEAR = "year", _("Year")


# -- The offer page -------------------------------------------------------------------------


class OfferPageMixin(PackageTemplateMixin, models.Model):
    """The fields and behaviour ``OfferPage`` is made of.

    ``OfferPage`` adds the relations that must point at it: ``engagements`` (what a buyer is
    enrolled in) and its prices (``OfferPrice``, ``related_name="prices"``), which checkout,
    orders and fulfilment use. A site's own offer subclasses ``OfferPage`` (multi-table
    inheritance) and keeps them; a page built on this mixin or ``AbstractOfferPage`` alone
    cannot be bought (system check ``wagtail_coaching.W005``).
    """

    summary = models.CharField(
        _("summary"), max_length=300, blank=True, help_text=_("One line shown in listings.")
    )
    body = StreamField(OfferBodyBlock(), blank=True, verbose_name=_("page content"))
    access_days = models.PositiveIntegerField(
        _("access duration (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "How long a buyer keeps access after paying. Leave empty for unlimited access. "
            "Subscriptions give access for as long as they are paid."
        ),
    )

    offer_content_panels = [
        FieldPanel("summary"),
        FieldPanel("body"),
    ]
    offer_sales_panels = [
        MultiFieldPanel(
            [
                FieldPanel("engagements", widget=forms.CheckboxSelectMultiple),
                FieldPanel("access_days"),
            ],
            heading=_("What buyers get"),
        ),
        InlinePanel("prices", label=_("Prices"), heading=_("Prices")),
    ]
    offer_search_fields = [
        index.SearchField("summary"),
        # The paywall block only gives its teaser to the index (see PaywallBlock).
        index.SearchField("body"),
    ]

    # The package's own page class, and a subclass without a template, are shown with this.
    package_template = "wagtail_coaching/offers/offer_page.html"

    class Meta:
        abstract = True

    def serve(self, request, *args, **kwargs):
        remember_referral(request)
        return super().serve(request, *args, **kwargs)

    def active_prices(self):
        return [p for p in self.prices.all() if p.active]

    def live_engagements(self):
        return list(self.engagements.filter(live=True).order_by("title"))

    @property
    def has_pricing_block(self):
        return any(block.block_type == "pricing" for block in self.body)

    def get_context(self, request, *args, **kwargs):
        from ..payments.access import offer_view_state

        context = super().get_context(request, *args, **kwargs)
        context.update(offer_view_state(request, self))
        return context


def remember_referral(request):
    """Keep a valid ``?ref=`` sales code in the visitor's session (it survives signing in)."""
    code = (request.GET.get("ref") or "").strip()
    if not code:
        return
    # Kept as the sales manager entered it, whatever the case of the link.
    entered = (
        SalesManagerProfile.objects.with_code(code).filter(active=True)
        .values_list("referral_code", flat=True).first()
    )
    if entered:
        request.session[REFERRAL_SESSION_KEY] = entered


class AbstractOfferPage(OfferPageMixin, Page):
    """``OfferPageMixin`` on Wagtail's page, with its panels and search fields: the base of
    ``OfferPage``. Subclass ``OfferPage`` for a page of your own."""

    content_panels = (
        Page.content_panels
        + OfferPageMixin.offer_content_panels
        + OfferPageMixin.offer_sales_panels
    )
    search_fields = Page.search_fields + OfferPageMixin.offer_search_fields

    class Meta:
        abstract = True


class OfferPage(AbstractOfferPage):
    engagements = ParentalManyToManyField(
        "wagtail_coaching.EngagementPage",
        related_name="offers",
        blank=True,
        verbose_name=_("engagements granted"),
        help_text=_("Buyers are enrolled in each of these. Several make a bundle."),
    )

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")


# -- Prices ---------------------------------------------------------------------------------


class AbstractOfferPrice(models.Model):
    label = models.CharField(_("label"), max_length=100)
    amount = models.DecimalField(
        _("amount"), max_digits=10, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Per payment, in the currency below. 0 for a free price."),
    )
    currency = models.CharField(
        _("currency"), max_length=3, default="eur", validators=[currency_validator]
    )
    payment_model = models.CharField(
        _("payment model"), max_length=20, choices=PaymentModel.choices,
        default=PaymentModel.ONE_TIME,
    )
    interval = models.CharField(
        _("billing interval"), max_length=10, choices=BillingInterval.choices, blank=True,
        help_text=_("For subscriptions and installments."),
    )
    interval_count = models.PositiveSmallIntegerField(
        _("every"), default=1, validators=[MinValueValidator(1)],
        help_text=_("Bill every N intervals (e.g. every 3 months)."),
    )
    installments = models.PositiveSmallIntegerField(
        _("number of installments"), null=True, blank=True,
        validators=[MinValueValidator(2)],
        help_text=_("For installments: how many payments, after which billing stops."),
    )
    trial_days = models.PositiveSmallIntegerField(
        _("trial days"), default=0,
        help_text=_("Free days before the first payment (subscriptions and installments)."),
    )
    allow_promotion_codes = models.BooleanField(
        _("allow promotion codes"), default=False,
        help_text=_("Let buyers enter a Stripe promotion code at checkout."),
    )
    active = models.BooleanField(_("on sale"), default=True)

    panels = [
        FieldPanel("label"),
        FieldPanel("payment_model"),
        FieldPanel("amount"),
        FieldPanel("currency"),
        FieldPanel("interval"),
        FieldPanel("interval_count"),
        FieldPanel("installments"),
        FieldPanel("trial_days"),
        FieldPanel("allow_promotion_codes"),
        FieldPanel("active"),
    ]

    class Meta:
        abstract = True

    def __str__(self):
        return self.label

    @property
    def is_free(self):
        return self.payment_model == PaymentModel.FREE

    @property
    def is_recurring(self):
        return self.payment_model in RECURRING_MODELS

    def clean(self):
        super().clean()
        errors = {}
        self.currency = (self.currency or "").lower()
        amount = self.amount if self.amount is not None else Decimal("0")
        if self.is_free and amount != 0:
            errors["amount"] = _("A free price has no amount.")
        if not self.is_free and amount <= 0:
            errors["amount"] = _("A paid price needs an amount above zero.")
        if self.is_recurring and not self.interval:
            errors["interval"] = _("Choose how often buyers are charged.")
        if self.payment_model == PaymentModel.INSTALLMENTS and not self.installments:
            errors["installments"] = _("Say in how many payments the price is split.")
        if self.payment_model != PaymentModel.INSTALLMENTS and self.installments:
            errors["installments"] = _("Only installment prices have a number of payments.")
        if self.trial_days and not self.is_recurring:
            errors["trial_days"] = _("Only subscriptions and installments can start with a trial.")
        if not self.is_free and not errors:
            try:
                to_minor_units(amount, self.currency)
            except ValueError as exc:
                errors["amount"] = str(exc)
        if errors:
            raise ValidationError(errors)

    def describe(self):
        """A short human description: "€49.00", "€19.00 / month", "3 × €100.00 / month"."""
        return describe_price(self)


class OfferPrice(Orderable, AbstractOfferPrice):
    offer = ParentalKey(OfferPage, on_delete=models.CASCADE, related_name="prices")

    class Meta(Orderable.Meta):
        verbose_name = _("price")
        verbose_name_plural = _("prices")


# -- Sales managers -------------------------------------------------------------------------


def new_referral_code():
    return secrets.token_urlsafe(6).replace("-", "x").replace("_", "y").lower()


class SalesManagerProfileQuerySet(models.QuerySet):
    def with_code(self, code):
        """The profile whose referral code is ``code``, whatever its case: codes are kept as
        entered ("SPRING-Ana") and matched case-insensitively, so a link typed in lower
        case still credits its sales manager. Unique whatever the case, so at most one."""
        return self.alias(code_lower=Lower("referral_code")).filter(
            code_lower=(code or "").strip().lower()
        )


class SalesManagerProfile(models.Model):
    """A sales manager's referral code: offer links with ``?ref=<code>`` credit them.

    The code is stored and shown as entered; matching (``with_code``) and uniqueness ignore
    its case.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_sales_profile",
        verbose_name=_("sales manager"),
    )
    referral_code = models.SlugField(
        _("referral code"), max_length=40, unique=True, default=new_referral_code,
        help_text=_("Share offer links ending in ?ref=<code> to be credited with the sale."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = SalesManagerProfileQuerySet.as_manager()

    class Meta:
        verbose_name = _("sales referral code")
        verbose_name_plural = _("sales referral codes")
        constraints = [
            models.UniqueConstraint(
                Lower("referral_code"), name="coaching_referral_code_unique_any_case",
                violation_error_message=_(
                    "This referral code is already taken (codes are the same whatever "
                    "their case)."
                ),
            )
        ]

    def __str__(self):
        return f"{self.user} ({self.referral_code})"


# -- Orders ---------------------------------------------------------------------------------


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting payment")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Payment failed")
    EXPIRED = "expired", _("Checkout expired")
    REFUNDED = "refunded", _("Refunded")
    DISPUTED = "disputed", _("Disputed")
    CANCELLED = "cancelled", _("Cancelled")


class OrderSource(models.TextChoices):
    CHECKOUT = "checkout", _("Stripe checkout")
    FREE = "free", _("Free sign-up")
    MANUAL = "manual", _("Manual grant")


class AccessState(models.TextChoices):
    NONE = "none", _("Not granted")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ENDED = "ended", _("Ended")


# Dispute outcomes after which a dispute no longer changes.
FINAL_DISPUTE_STATUSES = ("won", "lost", "warning_closed")


class Order(models.Model):
    """One purchase of one offer at one price, and the money state that follows it.

    The price is copied onto the order when it is created: editors may change or delete the
    offer's prices later without changing what a buyer agreed to.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), null=True,
        on_delete=models.SET_NULL, related_name="coaching_orders",
    )
    offer = models.ForeignKey(
        OfferPage, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="orders"
    )
    price = models.ForeignKey(
        OfferPrice, verbose_name=_("price"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="orders",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    source = models.CharField(
        _("source"), max_length=20, choices=OrderSource.choices, default=OrderSource.CHECKOUT
    )
    # What the buyer agreed to, copied from the price.
    price_label = models.CharField(_("price"), max_length=100, blank=True)
    payment_model = models.CharField(
        _("payment model"), max_length=20, choices=PaymentModel.choices,
        default=PaymentModel.ONE_TIME,
    )
    amount = models.DecimalField(_("amount"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    interval = models.CharField(max_length=10, choices=BillingInterval.choices, blank=True)
    interval_count = models.PositiveSmallIntegerField(default=1)
    installments_total = models.PositiveSmallIntegerField(null=True, blank=True)
    trial_days = models.PositiveSmallIntegerField(default=0)
    access_days = models.PositiveIntegerField(null=True, blank=True)

    sales_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales manager"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="coaching_sales",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("granted by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    reference = models.CharField(
        _("reference"), max_length=100, blank=True,
        help_text=_("Invoice or purchase-order number of an offline payment."),
    )
    note = models.TextField(_("note"), blank=True)
    # A B2B grant: the enrollments it gives belong to this company (and cohort).
    company = models.ForeignKey(
        "wagtail_coaching.Company", verbose_name=_("company"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="orders",
    )
    cohort = models.ForeignKey(
        "wagtail_coaching.Cohort", verbose_name=_("cohort"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="orders",
    )
    # The grant form's one-time key: submitting the same form twice finds this order.
    grant_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    # Stripe
    stripe_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_session_url = models.URLField(max_length=2000, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_invoice_ids = models.JSONField(default=list, blank=True)
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    stripe_dispute_id = models.CharField(max_length=255, blank=True)
    dispute_status = models.CharField(_("dispute"), max_length=40, blank=True)
    amount_refunded = models.DecimalField(
        _("refunded"), max_digits=10, decimal_places=2, default=Decimal("0")
    )

    # Recurring plans
    installments_paid = models.PositiveSmallIntegerField(_("installments paid"), default=0)
    access_until = models.DateTimeField(_("paid until"), null=True, blank=True)
    past_due_since = models.DateTimeField(_("unpaid since"), null=True, blank=True)
    last_paid_at = models.DateTimeField(null=True, blank=True)
    plan_completed_at = models.DateTimeField(_("plan completed"), null=True, blank=True)
    subscription_ends_at = models.DateTimeField(_("subscription ends"), null=True, blank=True)

    # Access, as last applied to the buyer's enrollments.
    access_state = models.CharField(
        _("access"), max_length=10, choices=AccessState.choices, default=AccessState.NONE
    )
    access_ends_at = models.DateTimeField(_("access ends"), null=True, blank=True)

    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("fulfilled"), null=True, blank=True)
    refund_requested_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    enrollments = models.ManyToManyField(
        "wagtail_coaching.Enrollment", through="OrderEnrollment", related_name="orders",
        blank=True,
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A double submit finds the same open checkout instead of starting another.
            models.UniqueConstraint(
                fields=["buyer", "price"],
                condition=Q(status="pending", source="checkout"),
                name="coaching_one_pending_checkout_per_price",
            )
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["access_state", "past_due_since"]),
        ]

    def __str__(self):
        return f"{self.offer_id} #{str(self.public_id)[:8]}"

    @property
    def is_recurring(self):
        return self.payment_model in RECURRING_MODELS

    @property
    def is_free(self):
        return self.payment_model == PaymentModel.FREE

    @property
    def amount_minor(self):
        return to_minor_units(self.amount, self.currency)

    def describe_amount(self):
        return describe_price(self, installments=self.installments_total)

    @property
    def checkout_idempotency_key(self):
        """Stripe idempotency key of this order's Checkout Session: one order, one session."""
        return f"coaching-checkout-{self.public_id}"

    @property
    def can_refund(self):
        return (
            self.source == OrderSource.CHECKOUT
            and self.status == OrderStatus.PAID
            and bool(self.stripe_payment_intent_id)
            and self.refund_requested_at is None
        )

    def grace_ends_at(self, grace_days):
        if self.past_due_since is None:
            return None
        return self.past_due_since + datetime.timedelta(days=grace_days)


class OrderEnrollment(models.Model):
    """Which enrollments an order gave its buyer.

    ``granted`` is false when the buyer already held the enrollment: they keep it as it
    was, and refunding or pausing this order never takes it away.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="grants")
    enrollment = models.ForeignKey(
        "wagtail_coaching.Enrollment", on_delete=models.CASCADE, related_name="order_grants"
    )
    granted = models.BooleanField(default=True)
    # Set while this order keeps the enrollment paused (unpaid plan, open dispute).
    paused_by_order = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("order enrollment")
        verbose_name_plural = _("order enrollments")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "enrollment"], name="coaching_one_grant_per_enrollment"
            )
        ]


# -- Stripe events --------------------------------------------------------------------------


class StripeEvent(models.Model):
    """Every Stripe event received, once (the unique event id makes replays no-ops).

    ``related_id`` names the subscription or payment the event is about, so that an event
    which arrives before its order is known can be applied once the order is linked.
    """

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    related_id = models.CharField(max_length=255, blank=True, db_index=True)
    livemode = models.BooleanField(default=False)
    created = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=40, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering = ["-received_at"]
        indexes = [
            # The events recorded for the background job and not handled yet (the
            # sweeper's search): a handful, however many events the table holds.
            models.Index(
                fields=["received_at"], condition=models.Q(processed_at__isnull=True),
                name="coaching_stripeevent_unhandled",
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"
