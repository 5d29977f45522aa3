"""The HR partner's dashboard panel, "Your companies": per company whose clients the viewer
may see in the company report (``view_company_report``), the clients sharing their progress,
their steps done (%) and the sessions they attended in the last 30 days, each leading to the
company report filtered by that company.

Shown to people with the company report but without the coaching reports (their charts
already cover the same clients). The figures are the company report's own definitions
(``reports.company``), grouped by company: three queries (and the viewer's roles), however
many clients or companies.
"""

import datetime

from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from wagtail.admin.ui.components import Component

from .. import metrics
from ..models import Enrollment, EventKind
from ..permissions import visible
from ..reports.company import STEP_COUNTS, _sessions, _steps
from .permission import may

# Sessions attended are counted over this many days, up to now.
ATTENDED_DAYS = 30


def company_report_url(company_id=None):
    try:
        url = reverse("wagtail_coaching_admin:report_company")
    except NoReverseMatch:
        return ""
    return f"{url}?company={company_id}" if company_id is not None else url


def company_rows(user, now=None):
    """One row per company, by name: ``name``, ``clients``, ``progress`` (steps done, %, or
    None without steps), ``attended`` (in the last ``ATTENDED_DAYS`` days) and ``url``."""
    now = now or timezone.now()
    ids = (
        visible(user, "view_company_report").filter(company__isnull=False)
        .order_by().values("pk")
    )
    companies = list(
        Enrollment.objects.filter(pk__in=ids)
        .values("company_id", "company__name")
        .annotate(clients=Count("client_id", distinct=True))
        .order_by("company__name", "company_id")
    )
    if not companies:
        return []
    steps = {
        row["enrollment__company_id"]: row
        for row in _steps(ids).values("enrollment__company_id").annotate(**STEP_COUNTS)
    }
    attended = dict(
        _sessions(ids)
        .filter(kind=EventKind.SESSION_ATTENDED,
                at__gte=now - datetime.timedelta(days=ATTENDED_DAYS))
        .values("enrollment__company_id")
        .annotate(n=Count("pk"))
        .values_list("enrollment__company_id", "n")
    )
    rows = []
    for company in companies:
        pk = company["company_id"]
        figures = steps.get(pk, {"steps": 0, "steps_done": 0})
        rows.append({
            "name": company["company__name"],
            "clients": company["clients"],
            "progress": metrics.rate(figures["steps_done"], figures["steps"]),
            "attended": attended.get(pk, 0),
            "url": company_report_url(pk),
        })
    return rows


def shows_company_panel(user):
    return may(user, "view_company_report") and not may(user, "view_coaching_reports")


class YourCompaniesPanel(Component):
    name = "coaching_your_companies"
    order = 30
    template_name = "wagtail_coaching/admin/panels/your_companies.html"

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context=None):
        return {
            "rows": company_rows(self.request.user),
            "days": ATTENDED_DAYS,
            "report_url": company_report_url(),
        }
