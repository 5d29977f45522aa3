"""The Sales menu's enquiries: questions asked from offer pages, each with its sales
manager, status and replies, and the actions that close it: reply by email, change the
status, grant the offer, or send a personal checkout link.

Who sees which enquiry is the permission matrix's ``view_enquiry`` (a sales manager: the
enquiries routed to them; coaching admins: all); the actions need ``change_enquiry`` on the
enquiry. The services in ``payments.enquiries`` do the work. ``SalesAdminGroup`` lists
``EnquiryAdmin``; importing this module registers nothing.
"""

from django.contrib import messages
from django.contrib.admin import display
from django.contrib.auth import get_user_model
from django.shortcuts import redirect
from django.urls import re_path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from wagtail_modeladmin.views import InspectView

from ..journeys.errors import JourneyError
from ..models import Enquiry
from ..payments.enquiries import (
    grant_enquiry,
    reply_to_enquiry,
    send_checkout_link,
    set_enquiry_status,
)
from ..payments.errors import PaymentError
from ..permissions import visible
from .base import InspectFirstButtonHelper, MatrixModelAdmin
from .display import ClientCards, client_name, in_viewer_zone, person
from .filters import SalesManagerFilterBase
from .permission import MatrixPermissionHelper, forbidden, may
from .sales_forms import CheckoutLinkForm, EnquiryGrantForm, EnquiryReplyForm, EnquiryStatusForm

TEMPLATES = "wagtail_coaching/offers/admin/"


class EnquiryPermissionHelper(MatrixPermissionHelper):
    """Listed and opened by their sales manager (and coaching admins); changed only through
    the enquiry page's actions."""

    view_action = "view_enquiry"
    change_action = None


class EnquirySalesManagerFilter(SalesManagerFilterBase):
    """The sales managers of the enquiries the viewer sees."""

    def lookups(self, request, model_admin):
        people = get_user_model().objects.filter(
            pk__in=visible(request.user, "view_enquiry").order_by().values("sales_manager_id")
        ).order_by("first_name", "last_name", "pk")
        return [("none", _("None"))] + [(str(u.pk), person(u)) for u in people]


FORMS = {
    "reply": EnquiryReplyForm,
    "status": EnquiryStatusForm,
    "grant": EnquiryGrantForm,
    "link": CheckoutLinkForm,
}


def _forms(enquiry, bound=None):
    """The action forms of the enquiry page (``bound``: the one just sent, with its errors)."""
    made = {
        "reply": EnquiryReplyForm(prefix="reply"),
        "status": EnquiryStatusForm(initial={"status": enquiry.status}, prefix="status"),
        "grant": EnquiryGrantForm(enquiry=enquiry, prefix="grant"),
        "link": CheckoutLinkForm(enquiry=enquiry, prefix="link"),
    }
    if bound is not None:
        made[bound[0]] = bound[1]
    return {f"{name}_form": form for name, form in made.items()}


class EnquiryInspectView(InspectView):
    """The enquiry: what was asked, by whom, the replies so far and the actions."""

    def get_context_data(self, **kwargs):
        bound = kwargs.pop("bound", None)
        context = super().get_context_data(**kwargs)
        enquiry = self.instance
        can_change = may(self.request.user, "change_enquiry", enquiry)
        buyer = None
        if enquiry.order_id and enquiry.order.buyer_id:
            buyer = client_name(
                enquiry.order.buyer, ClientCards(self.request.user, [enquiry.order.buyer]),
                with_email=True,
            )
        context.update(
            enquiry=enquiry,
            replies=enquiry.replies.select_related("author"),
            can_change=can_change,
            won=enquiry.status == "won",
            buyer=buyer,
            order_url=(
                self.model_admin.order_url(self.request, enquiry.order) if enquiry.order_id
                else ""
            ),
            action_urls={
                name: self.url_helper.get_action_url(name, enquiry.pk) for name in FORMS
            },
            **(_forms(enquiry, bound) if can_change else {}),
        )
        return context


class EnquiryActionView(EnquiryInspectView):
    """POST one of the enquiry page's forms; a form with errors shows the page again (400)."""

    http_method_names = ["post"]
    action = None

    def check_action_permitted(self, user):
        return may(user, "change_enquiry", self.instance)

    def post(self, request, *args, **kwargs):
        enquiry = self.instance
        form_class = FORMS[self.action]
        extra = {} if self.action in ("reply", "status") else {"enquiry": enquiry}
        # Each form of the page has its own prefix: "reply-body", "grant-key"...
        form = form_class(request.POST, prefix=self.action, **extra)
        if form.is_valid():
            try:
                text = getattr(self, f"do_{self.action}")(enquiry, form.cleaned_data)
            except (PaymentError, JourneyError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, text)
                return redirect(self.url_helper.get_action_url("inspect", enquiry.pk))
        return self.render_to_response(
            self.get_context_data(bound=(self.action, form)), status=400
        )

    def do_reply(self, enquiry, data):
        reply_to_enquiry(
            enquiry, author=self.request.user, body=data["body"], reply_key=data["key"]
        )
        return _("Your reply is on its way to %(email)s.") % {"email": enquiry.email}

    def do_status(self, enquiry, data):
        enquiry = set_enquiry_status(enquiry, data["status"])
        return _("The enquiry is now %(status)s.") % {
            "status": enquiry.get_status_display().lower()
        }

    def do_grant(self, enquiry, data):
        already = enquiry.order_id is not None and enquiry.status == "won"
        order = grant_enquiry(
            enquiry, actor=self.request.user, amount=data["amount"],
            currency=data["currency"], reference=data["reference"], note=data["note"],
            grant_key=data["key"],
        )
        if already:
            return _("This enquiry was granted already.")
        count = order.grants.count()
        return ngettext(
            "%(offer)s granted to %(buyer)s (%(count)d enrollment).",
            "%(offer)s granted to %(buyer)s (%(count)d enrollments).", count,
        ) % {"offer": order.offer.title, "buyer": person(order.buyer), "count": count}

    def do_link(self, enquiry, data):
        send_checkout_link(
            enquiry, data["price"], author=self.request.user, body=data["body"],
            reply_key=data["key"],
        )
        return _("A personal checkout link is on its way to %(email)s.") % {
            "email": enquiry.email
        }


ACTION_VIEWS = {
    name: type(f"Enquiry{name.title()}View", (EnquiryActionView,), {"action": name})
    for name in FORMS
}


class EnquiryAdmin(MatrixModelAdmin):
    admin_views = ("index", "inspect")
    model = Enquiry
    menu_label = gettext_lazy("Enquiries")
    menu_icon = "help"
    permission_helper_class = EnquiryPermissionHelper
    button_helper_class = InspectFirstButtonHelper
    inspect_view_enabled = True
    inspect_view_class = EnquiryInspectView
    inspect_template_name = TEMPLATES + "enquiry.html"
    inspect_view_fields = ["name", "email", "offer", "price_label", "status", "created_at"]
    list_display = (
        "created_at", "name", "email", "offer", "price_label", "status", "sales_manager_name",
    )
    list_display_add_buttons = "name"
    list_filter = ("status", "offer", EnquirySalesManagerFilter, "created_at")
    search_fields = ("name", "email", "message")
    ordering = ("-created_at", "-pk")
    list_per_page = 50
    list_export = (
        "public_id", "created_at", "name", "email", "offer.title", "price_label", "status",
        "sales_manager.get_username", "referral", "won_at", "order.public_id",
    )
    export_filename = "enquiries"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("offer", "sales_manager", "order")

    @display(description=gettext_lazy("sales manager"), ordering="sales_manager__last_name")
    def sales_manager_name(self, enquiry):
        return person(enquiry.sales_manager) if enquiry.sales_manager_id else "–"

    def order_url(self, request, order):
        """The order's page in the Orders list, where the viewer may open it."""
        if not may(request.user, "view_order", order):
            return ""
        return reverse("wagtail_coaching_order_modeladmin_inspect", args=[order.pk])

    def get_admin_urls_for_registration(self):
        return super().get_admin_urls_for_registration() + tuple(
            re_path(
                self.url_helper.get_action_url_pattern(action),
                self.action_view(action),
                name=self.url_helper.get_action_url_name(action),
            )
            for action in FORMS
        )

    def action_view(self, action):
        def view(request, instance_pk):
            self.get_visible_object(request, instance_pk)
            if not may(request.user, "change_enquiry"):
                return forbidden(request)
            return in_viewer_zone(request, ACTION_VIEWS[action].as_view(
                model_admin=self, instance_pk=instance_pk
            ))

        return view

    def index_view(self, request):
        return in_viewer_zone(request, super().index_view)

    def inspect_view(self, request, instance_pk):
        return in_viewer_zone(request, super().inspect_view, instance_pk)
