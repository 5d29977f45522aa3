"""The Sales menu: orders with filters and CSV/XLSX export, manual grants for offline (B2B)
payments, refunds through Stripe, the sales managers' referral codes and the Stripe event
log.

Who may do what comes from the permission matrix (``view_order``, ``change_order``, ...):
coaching admins and sales managers. ``wagtail_hooks.py`` registers ``SalesAdminGroup``;
importing this module registers nothing.
"""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.admin import SimpleListFilter
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import re_path
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail_modeladmin.helpers import ButtonHelper
from wagtail_modeladmin.views import InstanceSpecificView, WMABaseView

from ..models import OfferPage, Order, SalesManagerProfile, StripeEvent
from ..models.offers import currency_validator
from ..payments.errors import PaymentError
from ..payments.fulfilment import grant_offer
from ..payments.refunds import request_refund
from ..payments.stripe_client import stripe_enabled
from .base import DeclaredFiltersIndexView, GuardedModelAdminGroup
from .display import person
from .modeladmins import MatrixModelAdmin
from .permission import MatrixPermissionHelper, forbidden, may, refusing

TEMPLATES = "wagtail_coaching/offers/admin/"


class OrderPermissionHelper(MatrixPermissionHelper):
    """Orders are money records: listed and inspected by sales staff, never edited here."""

    view_action = "view_order"
    change_action = None

    def user_can_refund(self, user, obj):
        return may(user, "change_order", obj) and obj.can_refund


class OrderButtonHelper(ButtonHelper):
    def get_buttons_for_obj(self, obj, exclude=None, classnames_add=None,
                            classnames_exclude=None):
        buttons = super().get_buttons_for_obj(obj, exclude, classnames_add, classnames_exclude)
        if self.permission_helper.user_can_refund(self.request.user, obj) and stripe_enabled():
            buttons.append({
                "url": self.url_helper.get_action_url("refund", obj.pk),
                "label": _("Refund"),
                "classname": self.finalise_classname(["button-secondary", "no"]),
                "title": _("Refund this order through Stripe"),
            })
        return buttons


class SalesManagerFilter(SimpleListFilter):
    title = gettext_lazy("sales manager")
    parameter_name = "sales_manager"

    def lookups(self, request, model_admin):
        users = (
            get_user_model().objects.filter(coaching_sales__isnull=False)
            .distinct().order_by("username")
        )
        return [("none", _("None"))] + [
            (str(u.pk), person(u)) for u in users
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(sales_manager__isnull=True)
        if value and value.isdecimal():
            return queryset.filter(sales_manager_id=int(value))
        return queryset


def _safe_attr(item, path):
    for bit in path.split("."):
        item = getattr(item, bit, None)
        if item is None:
            return None
        if callable(item):
            item = item()
    return item


class OrderIndexView(DeclaredFiltersIndexView):
    """The orders list; its CSV/XLSX export is written by ``utils.exports`` (an email address
    like "=HYPERLINK(...)" stays text), as every list's is."""

    def check_action_permitted(self, user):
        return may(user, "view_order")

    def to_row_dict(self, item):
        return {field: _safe_attr(item, field) for field in self.list_export}

    def get_heading(self, queryset, field):
        heading = getattr(self.model_admin, "export_headings", {}).get(field)
        if heading is None:
            heading = self.model._meta.get_field(field).verbose_name
        return capfirst(str(heading))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["stripe_enabled"] = stripe_enabled()
        context["grant_url"] = self.url_helper.get_action_url("grant")
        return context


class ManualGrantForm(forms.Form):
    buyer = forms.CharField(
        label=gettext_lazy("Buyer"), max_length=254,
        help_text=gettext_lazy("Username or email address of an existing account."),
    )
    offer = forms.ModelChoiceField(
        label=gettext_lazy("Offer"), queryset=OfferPage.objects.none(),
    )
    amount = forms.DecimalField(
        label=gettext_lazy("Amount invoiced"), max_digits=10, decimal_places=2,
        min_value=Decimal("0"), initial=Decimal("0"),
    )
    currency = forms.CharField(
        label=gettext_lazy("Currency"), max_length=3, initial="eur",
        validators=[currency_validator],
    )
    reference = forms.CharField(
        label=gettext_lazy("Invoice or PO number"), max_length=100,
    )
    sales_manager = forms.ModelChoiceField(
        label=gettext_lazy("Sales manager"), required=False,
        queryset=get_user_model().objects.none(),
    )
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = OfferPage.objects.live().order_by("title")
        self.fields["sales_manager"].queryset = (
            get_user_model().objects.filter(coaching_sales_profile__active=True)
            .order_by("username")
        )

    def clean_buyer(self):
        value = self.cleaned_data["buyer"].strip()
        users = list(
            get_user_model().objects.filter(
                Q(username__iexact=value) | Q(email__iexact=value), is_active=True
            )[:2]
        )
        if not users:
            raise ValidationError(_("No active account has this username or email address."))
        if len(users) > 1:
            raise ValidationError(_("Several accounts match; enter the username instead."))
        return users[0]

    def clean_offer(self):
        offer = self.cleaned_data["offer"]
        if any(not e.live for e in offer.engagements.all()):
            raise ValidationError(_("An engagement of this offer is not published."))
        return offer

    def clean_currency(self):
        return self.cleaned_data["currency"].lower()


class ManualGrantView(WMABaseView):
    page_title = gettext_lazy("Grant an offer")
    template_name = TEMPLATES + "grant.html"

    def check_action_permitted(self, user):
        return may(user, "change_order")

    def get_page_subtitle(self):
        return _("Record a payment made offline (e.g. a B2B invoice) and enroll the buyer")

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=ManualGrantForm()))

    def post(self, request, *args, **kwargs):
        form = ManualGrantForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        try:
            order = grant_offer(
                data["buyer"], data["offer"], actor=request.user, amount=data["amount"],
                currency=data["currency"], reference=data["reference"], note=data["note"],
                sales_manager=data["sales_manager"],
            )
        except PaymentError as exc:
            form.add_error(None, str(exc))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        messages.success(
            request,
            _("%(offer)s granted to %(buyer)s (%(count)d enrollments).") % {
                "offer": order.offer.title, "buyer": data["buyer"].get_username(),
                "count": order.grants.count(),
            },
        )
        return redirect(self.index_url)


class RefundView(InstanceSpecificView):
    page_title = gettext_lazy("Refund")
    template_name = TEMPLATES + "refund_confirm.html"

    def check_action_permitted(self, user):
        return may(user, "change_order", self.instance)

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(
            can_refund=self.instance.can_refund and stripe_enabled()
        ))

    def post(self, request, *args, **kwargs):
        try:
            request_refund(self.instance, actor=request.user)
        except PaymentError as exc:
            messages.error(request, str(exc))
            return self.render_to_response(
                self.get_context_data(can_refund=False, error=str(exc)), status=409
            )
        messages.success(
            request,
            _("Refund requested. Access is revoked as soon as Stripe confirms the refund."),
        )
        return redirect(self.index_url)


class OrderAdmin(MatrixModelAdmin):
    admin_views = ("index", "inspect")
    model = Order
    menu_label = gettext_lazy("Orders")
    menu_icon = "tag"
    menu_order = 300
    add_to_admin_menu = True
    inspect_view_enabled = True
    permission_helper_class = OrderPermissionHelper
    button_helper_class = OrderButtonHelper
    index_view_class = OrderIndexView
    index_template_name = TEMPLATES + "orders_index.html"
    list_display = (
        "created_at", "buyer", "offer", "price_label", "amount_display", "status", "source",
        "access_state", "sales_manager",
    )
    list_filter = (
        "status", "source", "payment_model", "access_state", "offer", SalesManagerFilter,
        "created_at",
    )
    search_fields = (
        "buyer__username", "buyer__email", "reference", "stripe_session_id",
        "stripe_payment_intent_id", "stripe_subscription_id",
    )
    list_export = (
        "public_id", "created_at", "buyer.get_username", "buyer.email", "offer.title",
        "price_label", "payment_model", "amount", "currency", "status", "source",
        "sales_manager.get_username", "reference", "paid_at", "amount_refunded",
        "refunded_at", "installments_paid", "access_state", "access_ends_at",
        "stripe_session_id", "stripe_payment_intent_id", "stripe_subscription_id",
    )
    export_headings = {
        "public_id": gettext_lazy("Order"),
        "buyer.get_username": gettext_lazy("Buyer"),
        "buyer.email": gettext_lazy("Buyer email"),
        "offer.title": gettext_lazy("Offer"),
        "sales_manager.get_username": gettext_lazy("Sales manager"),
    }
    export_filename = "orders"
    inspect_view_fields = (
        "public_id", "buyer", "offer", "price_label", "payment_model", "amount", "currency",
        "status", "source", "reference", "note", "sales_manager", "created_by", "created_at",
        "paid_at", "fulfilled_at", "installments_paid", "access_until", "past_due_since",
        "access_state", "access_ends_at", "amount_refunded", "refund_requested_at",
        "refunded_at", "dispute_status", "stripe_session_id", "stripe_payment_intent_id",
        "stripe_subscription_id",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("buyer", "offer", "sales_manager")

    def amount_display(self, obj):
        return obj.describe_amount()

    amount_display.short_description = gettext_lazy("Amount")

    def get_admin_urls_for_registration(self):
        return super().get_admin_urls_for_registration() + (
            re_path(
                rf"^{self.url_helper.base_url_path}/grant/$",
                self.grant_view,
                name=self.url_helper.get_action_url_name("grant"),
            ),
            re_path(
                self.url_helper.get_action_url_pattern("refund"),
                self.refund_view,
                name=self.url_helper.get_action_url_name("refund"),
            ),
        )

    def grant_view(self, request):
        if not may(request.user, "change_order"):
            return forbidden(request)
        return refusing(ManualGrantView.as_view(model_admin=self), request)

    def refund_view(self, request, instance_pk):
        self.get_visible_object(request, instance_pk)
        if not may(request.user, "change_order"):
            return forbidden(request)
        return refusing(
            RefundView.as_view(model_admin=self, instance_pk=instance_pk), request
        )


class ReferralPermissionHelper(MatrixPermissionHelper):
    """Admins manage referral codes; a sales manager sees their own."""

    view_action = "view_salesmanagerprofile"
    change_action = "change_salesmanagerprofile"


class SalesManagerProfileAdmin(MatrixModelAdmin):
    model = SalesManagerProfile
    menu_label = gettext_lazy("Referral codes")
    menu_icon = "link"
    permission_helper_class = ReferralPermissionHelper
    inspect_view_enabled = True
    list_display = ("user", "referral_code", "active")
    list_filter = ("active",)
    search_fields = ("user__username", "user__email", "referral_code")
    form_fields_exclude = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class StripeEventPermissionHelper(MatrixPermissionHelper):
    """The webhook's log, read-only, for coaching admins (to see failed or unmatched events)."""

    view_action = "view_stripeevent"
    change_action = None


class StripeEventAdmin(MatrixModelAdmin):
    admin_views = ("index", "inspect")
    model = StripeEvent
    menu_label = gettext_lazy("Stripe events")
    menu_icon = "list-ul"
    permission_helper_class = StripeEventPermissionHelper
    inspect_view_enabled = True
    list_display = ("received_at", "type", "event_id", "outcome", "attempts", "processed_at")
    list_filter = ("outcome", "type")
    search_fields = ("event_id", "object_id", "related_id")
    inspect_view_fields = (
        "event_id", "type", "object_id", "related_id", "livemode", "created", "received_at",
        "processed_at", "outcome", "attempts", "error", "payload",
    )


class SalesAdminGroup(GuardedModelAdminGroup):
    menu_label = gettext_lazy("Sales")
    menu_icon = "tag"
    menu_order = 300
    items = (OrderAdmin, SalesManagerProfileAdmin, StripeEventAdmin)
