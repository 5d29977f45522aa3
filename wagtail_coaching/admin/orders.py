"""The Sales menu: orders with filters and CSV/XLSX export, manual grants for offline (B2B)
payments, refunds through Stripe, enquiries (``admin/enquiries.py``), the sales managers'
referral codes and the Stripe event log.

Who may do what comes from the permission matrix (``view_order``, ``change_order``, ...):
coaching admins and sales managers. ``wagtail_hooks.py`` registers ``SalesAdminGroup``;
importing this module registers nothing.
"""

from django.contrib import messages
from django.contrib.admin import SimpleListFilter, display
from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.shortcuts import redirect
from django.urls import re_path
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail_modeladmin.helpers import ButtonHelper
from wagtail_modeladmin.views import InspectView, InstanceSpecificView, WMABaseView

from ..journeys.errors import JourneyError
from ..models import Order, SalesManagerProfile, StripeEvent
from ..payments.errors import PaymentError
from ..payments.fulfilment import grant_offer, grant_offer_to_new_client, granted_with_key
from ..payments.refunds import request_refund
from ..payments.stripe_client import stripe_enabled
from .base import DeclaredFiltersIndexView, GuardedModelAdminGroup
from .display import ClientCards, client_name, person
from .enquiries import EnquiryAdmin
from .filters import SalesManagerFilterBase
from .modeladmins import MatrixModelAdmin
from .permission import MatrixPermissionHelper, forbidden, may, refusing
from .sales_forms import ManualGrantForm, SalesManagerProfileForm

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


class SalesManagerFilter(SalesManagerFilterBase):
    def lookups(self, request, model_admin):
        users = (
            get_user_model().objects.filter(coaching_sales__isnull=False)
            .distinct().order_by("username")
        )
        return [("none", _("None"))] + [
            (str(u.pk), person(u)) for u in users
        ]


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
        # Each buyer's name opens their card where the viewer may open it (asked once).
        rows = list(context["object_list"])
        cards = ClientCards(self.request.user, [order.buyer_id for order in rows])
        for order in rows:
            order.buyer_link = client_name(order.buyer, cards, with_email=True)
        context["object_list"] = rows
        return context


class OrderInspectView(InspectView):
    """The order's page: its people by name, the buyer's card one click away."""

    PEOPLE = ("buyer", "sales_manager", "created_by")

    def get_field_display_value(self, field_name, field=None):
        if field_name not in self.PEOPLE:
            return super().get_field_display_value(field_name, field)
        who = getattr(self.instance, field_name)
        if who is None:
            return self.model_admin.get_empty_value_display(field_name)
        if field_name == "buyer":
            return client_name(who, ClientCards(self.request.user, [who]), with_email=True)
        return person(who)


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
        # The same form sent again (a double click, a reload): the first grant stands.
        done = granted_with_key(form.sent_grant_key())
        if done is not None:
            messages.info(request, _("This grant was already recorded."))
            return redirect(self.index_url)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        grant = {
            "actor": request.user, "amount": data["amount"], "currency": data["currency"],
            "reference": data["reference"], "note": data["note"],
            "sales_manager": data["sales_manager"], "company": data["company"],
            "cohort": data["cohort"], "grant_key": data["grant_key"],
        }
        try:
            if data["buyer"] is not None:
                order = grant_offer(data["buyer"], data["offer"], **grant)
            else:
                order = grant_offer_to_new_client(
                    data["new_client_email"], data["offer"],
                    first_name=data["new_client_first_name"],
                    last_name=data["new_client_last_name"], **grant,
                )
        except (PaymentError, JourneyError) as exc:
            form.add_error(None, str(exc))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        except IntegrityError:
            # Sent twice at once: the other submission made the account and the grant.
            if granted_with_key(data["grant_key"]) is None:
                raise
            messages.info(request, _("This grant was already recorded."))
            return redirect(self.index_url)
        text = _("%(offer)s granted to %(buyer)s (%(count)d enrollments).") % {
            "offer": order.offer.title, "buyer": person(order.buyer),
            "count": order.grants.count(),
        }
        if data["buyer"] is None:
            text += " " + _("An invitation to choose a password is on its way to %(email)s.") % {
                "email": order.buyer.email,
            }
        messages.success(request, text)
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
    inspect_view_class = OrderInspectView
    index_template_name = TEMPLATES + "orders_index.html"
    list_display = (
        "created_at", "buyer_name", "offer", "price_label", "amount_display", "status",
        "source", "access_state", "company", "sales_manager_name",
    )
    list_filter = (
        "status", "source", "payment_model", "access_state", "offer", "company",
        SalesManagerFilter, "created_at",
    )
    search_fields = (
        "buyer__username", "buyer__email", "buyer__first_name", "buyer__last_name",
        "reference", "stripe_session_id",
        "stripe_payment_intent_id", "stripe_subscription_id",
    )
    list_export = (
        "public_id", "created_at", "buyer.get_username", "buyer.email", "offer.title",
        "price_label", "payment_model", "amount", "currency", "status", "source",
        "sales_manager.get_username", "company.name", "cohort.name", "reference", "paid_at",
        "amount_refunded",
        "refunded_at", "installments_paid", "access_state", "access_ends_at",
        "stripe_session_id", "stripe_payment_intent_id", "stripe_subscription_id",
    )
    export_headings = {
        "public_id": gettext_lazy("Order"),
        "buyer.get_username": gettext_lazy("Buyer"),
        "buyer.email": gettext_lazy("Buyer email"),
        "offer.title": gettext_lazy("Offer"),
        "sales_manager.get_username": gettext_lazy("Sales manager"),
        "company.name": gettext_lazy("Company"),
        "cohort.name": gettext_lazy("Cohort"),
    }
    export_filename = "orders"
    inspect_view_fields = (
        "public_id", "buyer", "offer", "price_label", "payment_model", "amount", "currency",
        "status", "source", "company", "cohort", "reference", "note", "sales_manager",
        "created_by", "created_at",
        "paid_at", "fulfilled_at", "installments_paid", "access_until", "past_due_since",
        "access_state", "access_ends_at", "amount_refunded", "refund_requested_at",
        "refunded_at", "dispute_status", "stripe_session_id", "stripe_payment_intent_id",
        "stripe_subscription_id",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "buyer", "offer", "sales_manager", "company", "cohort"
        )

    @display(description=gettext_lazy("buyer"), ordering="buyer__last_name")
    def buyer_name(self, order):
        link = getattr(order, "buyer_link", None)  # set by the list for the whole page
        return link if link is not None else client_name(order.buyer, None, with_email=True)

    @display(description=gettext_lazy("sales manager"), ordering="sales_manager__last_name")
    def sales_manager_name(self, order):
        return person(order.sales_manager)

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
    list_display = ("sales_manager_name", "referral_code", "active")
    list_filter = ("active",)
    search_fields = (
        "user__username", "user__first_name", "user__last_name", "user__email", "referral_code",
    )
    edit_handler = ObjectList(
        [FieldPanel("user"), FieldPanel("referral_code"), FieldPanel("active")],
        base_form_class=SalesManagerProfileForm,
    )
    inspect_view_fields = ("user", "referral_code", "active", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    @display(description=gettext_lazy("sales manager"), ordering="user__last_name")
    def sales_manager_name(self, profile):
        return person(profile.user)


class StripeEventPermissionHelper(MatrixPermissionHelper):
    """The webhook's log, read-only, for coaching admins (to see failed or unmatched events)."""

    view_action = "view_stripeevent"
    change_action = None


class StripeEventOutcomeFilter(SimpleListFilter):
    """Events by outcome; those waiting for the background job (no outcome yet) are
    "Queued"."""

    title = gettext_lazy("outcome")
    parameter_name = "outcome"
    QUEUED = "queued"  # never an outcome of its own: handlers name what they did

    def lookups(self, request, model_admin):
        outcomes = StripeEvent.objects.order_by("outcome").values_list("outcome", flat=True)
        return [(o or self.QUEUED, o or _("Queued")) for o in outcomes.distinct()]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(outcome="" if value == self.QUEUED else value)


class StripeEventAdmin(MatrixModelAdmin):
    admin_views = ("index", "inspect")
    model = StripeEvent
    menu_label = gettext_lazy("Stripe events")
    menu_icon = "list-ul"
    permission_helper_class = StripeEventPermissionHelper
    inspect_view_enabled = True
    list_display = ("received_at", "type", "event_id", "outcome_shown", "attempts", "processed_at")
    list_filter = (StripeEventOutcomeFilter, "type")
    search_fields = ("event_id", "object_id", "related_id")
    inspect_view_fields = (
        "event_id", "type", "object_id", "related_id", "livemode", "created", "received_at",
        "processed_at", "outcome", "attempts", "error", "payload",
    )

    @display(description=gettext_lazy("outcome"), ordering="outcome")
    def outcome_shown(self, event):
        # Recorded for the background job and not attempted yet.
        if not event.outcome and event.processed_at is None:
            return _("Queued")
        return event.outcome


class SalesAdminGroup(GuardedModelAdminGroup):
    menu_label = gettext_lazy("Sales")
    menu_icon = "tag"
    menu_order = 300
    items = (OrderAdmin, EnquiryAdmin, SalesManagerProfileAdmin, StripeEventAdmin)
