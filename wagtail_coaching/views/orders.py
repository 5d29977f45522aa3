"""The buyer's money on the site: "My orders" and one order's page, which is its receipt.

- ``orders/``: the signed-in person's orders (paid or taken for free), latest first, each
  with its status, what it cost, what was paid and what is still due.
- ``orders/<public id>/receipt/``: one order: its payments with Stripe's invoice and receipt
  pages, the installments to come, and a layout that prints as a receipt. Its buyer may
  read it, and staff whom the matrix lets (``view_receipt``); anyone else gets a 404.

Both read ``payments.receipts.statement``: the same figures on every page.
"""

from django.core.paginator import Paginator
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views import View

from ..models import Order
from ..payments.receipts import statement
from ..permissions import allowed, visible
from .client import ClientViewMixin

# Orders per page of the list.
PER_PAGE = 20


def placed_orders(queryset):
    """Orders that were placed (paid, or taken for free), with what their pages show."""
    return (
        queryset.filter(paid_at__isnull=False)
        .select_related("offer")
        .prefetch_related("payments")
        .order_by("-created_at", "-pk")
    )


class OrdersView(ClientViewMixin, View):
    """The signed-in person's own orders (whatever their role: these are their purchases)."""

    template_name = "wagtail_coaching/orders/list.html"
    http_method_names = ["get", "head"]

    def get(self, request):
        orders = placed_orders(visible(request.user, "follow_order"))
        page = Paginator(orders, PER_PAGE).get_page(request.GET.get("page"))
        return TemplateResponse(request, self.template_name, {
            "page_obj": page,
            "statements": [statement(o, list(o.payments.all())) for o in page.object_list],
        })


class OrderReceiptView(ClientViewMixin, View):
    """One order's page and printable receipt."""

    template_name = "wagtail_coaching/orders/receipt.html"
    http_method_names = ["get", "head"]

    def get(self, request, public_id):
        order = (
            placed_orders(Order.objects.filter(public_id=public_id))
            .select_related("buyer").first()
        )
        if order is None or not allowed(request.user, "view_receipt", order):
            raise Http404(_("No such order."))  # unknown, or someone else's: the same answer
        return TemplateResponse(request, self.template_name, {
            "order": order,
            "statement": statement(order, list(order.payments.all())),
            "own": order.buyer_id == request.user.pk,
        })
