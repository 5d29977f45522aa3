"""Reports in Wagtail's Reports menu, each filterable and exportable as CSV and XLSX, each
over what the permission matrix lets the viewer see:

- ``coaching``: engagement progress, retention cohorts, time to first session,
  satisfaction, outcome trends (``view_coaching_reports``);
- ``sessions``: no-shows (``view_coaching_reports``), coach load, sessions delivered
  (``view_payouts``);
- ``sales``: sales by offer, price and sales manager (``view_sales_report``);
- ``company``: the company report for HR partners (``view_company_report``).
"""

from django.urls import reverse
from wagtail.admin.menu import MenuItem

from ..permissions import admin_allowed as may
from . import coaching, company, sales, sessions

REPORTS = (
    *coaching.REPORTS[:3], sessions.NoShowsReport, sessions.CoachLoadReport,
    *coaching.REPORTS[3:], sessions.SessionsDeliveredReport, *sales.REPORTS, *company.REPORTS,
)

urlpatterns = [url for report in REPORTS for url in report.urls()]


class ReportMenuItem(MenuItem):
    def __init__(self, report, order):
        self.report = report
        super().__init__(
            report.page_title, reverse(f"wagtail_coaching_admin:report_{report.slug}"),
            name=f"coaching-report-{report.slug.replace('_', '-')}",
            icon_name=report.header_icon, order=order,
        )

    def is_shown(self, request):
        return may(request.user, self.report.action)


def reports_for(user):
    """The reports ``user`` may open, in menu order."""
    return [report for report in REPORTS if may(user, report.action)]
