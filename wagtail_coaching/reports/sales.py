"""Sales by offer, price and sales manager (``view_sales_report``: admins and sales
managers). Figures from ``metrics.sales``."""

import django_filters
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet

from .. import metrics
from ..charts import Chart, Series
from ..models import OfferPage, Order
from ..permissions import visible
from .base import CoachingReport, PeriodFilter, PersonFilter, column, keep, person


def offers_sold(request):
    return OfferPage.objects.filter(
        pk__in=visible(request.user, "view_sales_report").order_by().values("offer_id")
    ).order_by("title")


def sales_managers(request):
    return get_user_model().objects.filter(
        pk__in=visible(request.user, "view_sales_report").order_by().values("sales_manager_id")
    ).order_by("first_name", "last_name", "pk")


class SalesFilters(WagtailFilterSet):
    by = django_filters.ChoiceFilter(
        label=_("Rows"), method=keep, empty_label=None,
        choices=[
            ("offer", _("By offer")), ("price", _("By offer and price")),
            ("sales_manager", _("By sales manager")),
            ("enquiries", _("Enquiries by sales manager")),
        ],
    )
    period = PeriodFilter(help_text=_("When the order was placed."))
    offer = django_filters.ModelChoiceFilter(
        label=_("Offer"), field_name="offer", queryset=offers_sold,
    )
    sales_manager = PersonFilter(
        label=_("Sales manager"), field_name="sales_manager", queryset=sales_managers,
    )

    class Meta:
        model = Order
        fields = []


class SalesReport(CoachingReport):
    slug = "sales"
    action = "view_sales_report"
    page_title = _("Sales")
    header_icon = "tag"
    filterset_class = SalesFilters
    default_period_days = 365
    description = _(
        "Orders placed in the period. Paid: a payment was received. Sold: the price (an "
        "installment plan counts every installment, a subscription one period). Net: sold "
        "less refunds. Amounts are per currency. Enquiries by sales manager: the questions "
        "asked from offer pages in the period, and how many led to a paid order (conversion) "
        "how many days after they were asked (the median)."
    )

    @property
    def by(self):
        return self.filter_value("by") or "offer"

    def rows(self, queryset):
        if self.by == "enquiries":
            return self.enquiry_rows()
        start, end = self.period()
        rows = metrics.sales(queryset, by=self.by, start=start, end=end)
        offers = dict(OfferPage.objects.filter(
            pk__in={row.get("offer_id") for row in rows}
        ).values_list("pk", "title"))
        managers = get_user_model().objects.in_bulk(
            {row.get("sales_manager_id") for row in rows} - {None}
        )
        for row in rows:
            row["offer"] = offers.get(row.get("offer_id"), "")
            manager = managers.get(row.get("sales_manager_id"))
            row["sales_manager"] = person(manager) if manager else _("No sales manager")
            row["currency"] = row["currency"].upper()
        key = {"offer": "offer", "price": "offer", "sales_manager": "sales_manager"}[self.by]
        return sorted(rows, key=lambda row: (str(row[key]), row.get("price_label", ""),
                                             row["currency"]))

    def enquiry_rows(self):
        """Enquiries and what they became, per sales manager: those the viewer may see
        (``view_enquiry``), for the chosen offer and sales manager, asked in the period."""
        enquiries = visible(self.request.user, "view_enquiry")
        offer, manager = self.filter_value("offer"), self.filter_value("sales_manager")
        if offer is not None:
            enquiries = enquiries.filter(offer=offer)
        if manager is not None:
            enquiries = enquiries.filter(sales_manager=manager)
        start, end = self.period()
        rows = metrics.enquiry_conversion(enquiries, start=start, end=end)
        managers = get_user_model().objects.in_bulk(
            {row["sales_manager_id"] for row in rows} - {None}
        )
        for row in rows:
            manager = managers.get(row["sales_manager_id"])
            row["sales_manager"] = person(manager) if manager else _("No sales manager")
        return sorted(rows, key=lambda row: str(row["sales_manager"]))

    @property
    def columns(self):
        if self.by == "enquiries":
            return [
                column("sales_manager", _("Sales manager")),
                column("enquiries", _("Enquiries")),
                column("open", _("Open")),
                column("won", _("Won")),
                column("lost", _("Lost")),
                column("orders", _("Paid orders")),
                column("conversion", _("Conversion (%)")),
                column("days_to_order", _("Days to order (median)")),
            ]
        first = {
            "offer": [column("offer", _("Offer"))],
            "price": [column("offer", _("Offer")), column("price_label", _("Price"))],
            "sales_manager": [column("sales_manager", _("Sales manager"))],
        }[self.by]
        return [
            *first,
            column("currency", _("Currency")),
            column("orders", _("Orders")),
            column("paid", _("Paid")),
            column("free", _("Free")),
            column("refunded", _("Refunded")),
            column("sold", _("Sold")),
            column("refunds", _("Refunds")),
            column("net", _("Net")),
        ]

    def chart(self):
        rows = self.report_rows
        if self.by == "enquiries":
            return Chart(
                kind="bar", title=_("Enquiries and the orders they led to"),
                labels=[str(row["sales_manager"]) for row in rows],
                series=[
                    Series(_("Enquiries"), [row["enquiries"] for row in rows]),
                    Series(_("Paid orders"), [row["orders"] for row in rows]),
                ],
                description=_("Enquiries and paid orders per sales manager."),
            )
        label = "sales_manager" if self.by == "sales_manager" else "offer"
        currencies = sorted({row["currency"] for row in rows})
        if len(currencies) != 1:
            return None  # amounts in several currencies do not share an axis
        return Chart(
            kind="bar", title=_("Net sales"),
            labels=[
                f'{row[label]} ({row["price_label"]})' if self.by == "price" else str(row[label])
                for row in rows
            ],
            series=[Series(_("Net"), [float(row["net"]) for row in rows])],
            unit=currencies[0],
            description=_("Net sales per row of the table."),
        )


REPORTS = (SalesReport,)
