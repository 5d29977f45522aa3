"""Dashboard panels with charts, each leading to its report.

For people who may see coaching reports (``view_coaching_reports``: admins over every client,
coaches over the clients they coach or their team's): clients over time, retention, no-shows
and coach load. For people who may see sales (``view_sales_report``): net sales by month.
Everything comes from ``metrics`` (the shared definitions) over what the matrix lets the
viewer see, months counted in the viewer's time zone. Each panel runs a fixed number of
queries, however many clients, sessions or orders there are.
"""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from wagtail.admin.ui.components import Component

from .. import metrics
from ..charts import Chart, Series
from ..permissions import visible
from .display import person
from .permission import may

# Months shown by the charts over time.
CHART_MONTHS = 6
# Cohorts (enrollment months) shown by the retention chart, and the months after joining.
RETENTION_COHORTS = 6
RETENTION_AFTER = (1, 2, 3)
# Days counted by the no-show chart (as the no-shows report by default).
NO_SHOW_DAYS = 90
# Coaches shown by the per-coach charts (the report lists them all).
CHART_COACHES = 12
CENTS = ZERO = Decimal("0.00")


def report_url(slug):
    try:
        return reverse(f"wagtail_coaching_admin:report_{slug}")
    except NoReverseMatch:
        return ""


def last_months(zone, now=None, months=CHART_MONTHS):
    """The first days of the last ``months`` months in ``zone``, oldest first."""
    now = now or timezone.now()
    month = now.astimezone(zone).date().replace(day=1)
    found = [month]
    for _i in range(months - 1):
        month = (month - datetime.timedelta(days=1)).replace(day=1)
        found.append(month)
    return found[::-1]


def _month_start(month, zone):
    return datetime.datetime(month.year, month.month, 1, tzinfo=zone)


# -- The charts ------------------------------------------------------------------------------

def activity_chart(user, zone, now=None):
    """Active clients and completed engagements per month (``metrics.monthly_activity``).
    Three queries."""
    rows = metrics.monthly_activity(
        visible(user, "view_coaching_reports"), zone, now=now, months=CHART_MONTHS
    )
    active = [row["active_clients"] for row in rows]
    completions = [row["completions"] for row in rows]
    quiet = not any(active) and not any(completions)
    return Chart(
        kind="line",
        title=_("Active clients and completions, last %(n)s months") % {"n": CHART_MONTHS},
        labels=[row["month"] for row in rows],
        # Six months of nothing: say so rather than draw a line along zero.
        series=[] if quiet else [
            Series(_("Active clients"), active), Series(_("Completions"), completions),
        ],
        x_label=_("Month"),
        description=_(
            "Clients who did something each month, and engagements completed each month."
        ),
        empty_text=_("No clients yet."),
    )


def retention_chart(user, zone, now=None):
    """The latest cohorts' retention 1, 2 and 3 months after they joined
    (``metrics.retention``). Three queries."""
    cohorts = metrics.retention(
        visible(user, "view_coaching_reports"), zone, now=now,
        months=max(RETENTION_AFTER) + 1,
    )[-RETENTION_COHORTS:]

    def share(cohort, k):
        if k >= len(cohort["retained"]):
            return None  # that month has not come yet
        return metrics.rate(cohort["retained"][k], cohort["enrolled"])

    return Chart(
        kind="bar",
        title=_("Retention of the latest cohorts"),
        labels=[cohort["month"] for cohort in cohorts],
        series=[
            Series(
                ngettext("After %(k)s month", "After %(k)s months", k) % {"k": k},
                [share(cohort, k) for cohort in cohorts],
            )
            for k in RETENTION_AFTER
        ],
        unit="%", y_max=100, x_label=_("Joined in"),
        description=_(
            "Of the clients who joined each month, the share still taking part one, two "
            "and three months later."
        ),
        empty_text=_("No clients yet."),
    )


def no_shows_chart(user, zone, now=None):
    """No-show rate per coach over the last ``NO_SHOW_DAYS`` days, highest first
    (``metrics.no_shows_by_coach``). Three queries."""
    now = now or timezone.now()
    first_day = now.astimezone(zone).date() - datetime.timedelta(days=NO_SHOW_DAYS)
    start = datetime.datetime.combine(first_day, datetime.time.min, tzinfo=zone)
    figures = metrics.no_shows_by_coach(
        visible(user, "view_groupsession"), visible(user, "view_coachingsession"), start=start,
    )
    coaches = get_user_model().objects.in_bulk(list(figures)) if figures else {}
    rows = sorted(
        ({"coach": person(coaches[pk]), **row} for pk, row in figures.items() if pk in coaches),
        key=lambda row: (-row["rate"], row["coach"]),
    )[:CHART_COACHES]
    return Chart(
        kind="bar",
        title=_("No-show rate per coach, last %(n)s days") % {"n": NO_SHOW_DAYS},
        labels=[row["coach"] for row in rows],
        series=[Series(_("No-show rate"), [row["rate"] for row in rows])],
        unit="%", y_max=100, x_label=_("Coach"),
        description=_(
            "Of the sessions each coach ran whose attendance was recorded, the share the "
            "client missed; highest first."
        ),
        empty_text=_("No attendance recorded in this period."),
    )


def coach_load_chart(user, now=None):
    """Active clients against capacity per coach, fullest first (``metrics.coach_load``)."""
    rows = metrics.coach_load(visible(user, "view_coachprofile").filter(active=True), now=now)
    rows = sorted(
        rows, key=lambda row: (-(row["utilisation"] or 0), person(row["coach"]))
    )[:CHART_COACHES]
    return Chart(
        kind="bar",
        title=_("Clients and capacity per coach"),
        labels=[person(row["coach"]) for row in rows],
        series=[
            Series(_("Active clients"), [row["clients"] for row in rows]),
            Series(_("Capacity"), [row["capacity"] for row in rows]),
        ],
        unit=_("clients"), x_label=_("Coach"),
        description=_(
            "Each coach's active clients beside the most they take at once; fullest first."
        ),
        empty_text=_("No coaches taking clients."),
    )


def monthly_sales(orders, zone, now=None, months=CHART_MONTHS):
    """Net sales (sold less refunded, as ``metrics.sales`` counts them) per month and
    currency over the last ``months`` months: {currency: {month: net}}. One query."""
    money = DecimalField(max_digits=12, decimal_places=2)
    zero = Value(0, output_field=money)
    paid = Q(paid_at__isnull=False)
    first = last_months(zone, now, months)[0]
    rows = (
        orders.order_by()
        .filter(created_at__gte=_month_start(first, zone))
        .annotate(month=TruncMonth("created_at", tzinfo=zone))
        .values("month", "currency")
        .annotate(
            sold=Coalesce(Sum(metrics.sold_value(), filter=paid), zero),
            refunds=Coalesce(Sum("amount_refunded", filter=paid), zero),
        )
        .order_by("currency", "month")
    )
    found = {}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], datetime.datetime) \
            else row["month"]
        net = row["sold"] - row["refunds"]
        found.setdefault(row["currency"], {})[month] = net.quantize(CENTS)
    return found


def sales_charts(user, zone, now=None):
    """Net sales by month, one chart per currency (amounts in different currencies do not
    share an axis). One query."""
    months = last_months(zone, now)
    by_currency = monthly_sales(visible(user, "view_sales_report"), zone, now)
    if not by_currency:
        return [Chart(
            kind="bar", title=_("Net sales, last %(n)s months") % {"n": CHART_MONTHS},
            labels=months, series=[], empty_text=_("No sales in this period."),
        )]
    return [
        Chart(
            kind="bar",
            title=_("Net sales in %(currency)s, last %(n)s months") % {
                "currency": currency.upper(), "n": CHART_MONTHS},
            labels=months,
            series=[Series(_("Net sales"), [sales.get(m, ZERO) for m in months])],
            unit=currency.upper(), x_label=_("Month"),
            description=_("What was sold each month, less what was refunded."),
        )
        for currency, sales in sorted(by_currency.items())
    ]


# -- The panels ------------------------------------------------------------------------------

class ChartPanel(Component):
    """A dashboard panel: one or more charts and a link to the report they summarise."""

    template_name = "wagtail_coaching/admin/panels/chart.html"
    heading = ""
    report = ""  # the report's slug

    class Media:
        css = {"all": ["wagtail_coaching/charts.css"]}

    def __init__(self, request):
        self.request = request

    def charts(self, user, zone):
        raise NotImplementedError

    def get_context_data(self, parent_context=None):
        zone = timezone.get_current_timezone()
        return {
            "panel_id": self.name.replace("_", "-"),
            "heading": self.heading,
            "charts": self.charts(self.request.user, zone),
            "report_url": report_url(self.report),
            "request": self.request,
        }


class ActivityChartPanel(ChartPanel):
    name = "coaching_chart_activity"
    order = 50
    heading = gettext_lazy("Clients over time")
    report = "progress"

    def charts(self, user, zone):
        return [activity_chart(user, zone)]


class RetentionChartPanel(ChartPanel):
    name = "coaching_chart_retention"
    order = 51
    heading = gettext_lazy("Retention")
    report = "retention"

    def charts(self, user, zone):
        return [retention_chart(user, zone)]


class NoShowsChartPanel(ChartPanel):
    name = "coaching_chart_no_shows"
    order = 52
    heading = gettext_lazy("No-shows")
    report = "no_shows"

    def charts(self, user, zone):
        return [no_shows_chart(user, zone)]


class CoachLoadChartPanel(ChartPanel):
    name = "coaching_chart_coach_load"
    order = 53
    heading = gettext_lazy("Coach load")
    report = "coach_load"

    def charts(self, user, zone):
        return [coach_load_chart(user)]


class SalesChartPanel(ChartPanel):
    name = "coaching_chart_sales"
    order = 54
    heading = gettext_lazy("Sales")
    report = "sales"

    def charts(self, user, zone):
        return sales_charts(user, zone)


COACHING_CHART_PANELS = (
    ActivityChartPanel, RetentionChartPanel, NoShowsChartPanel, CoachLoadChartPanel,
)


def chart_panels(request):
    """The chart panels ``request.user`` may see."""
    panels = []
    if may(request.user, "view_coaching_reports"):
        panels += [panel(request) for panel in COACHING_CHART_PANELS]
    if may(request.user, "view_sales_report"):
        panels.append(SalesChartPanel(request))
    return panels
