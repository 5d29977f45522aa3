"""The company report for HR partners (``view_company_report``): per client of the company
who agreed to share their progress, only attendance and progress; no answers, scores or
notes. Admins see every client of every company."""

import django_filters
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import TitleColumn

from .. import metrics
from ..models import (
    DONE_STATES,
    ActivityState,
    ClientActivity,
    Cohort,
    Company,
    EngagementPage,
    EventKind,
    JourneyEvent,
)
from ..permissions import visible
from ..utils.admin_pages import card_url
from .base import CoachingReport, EnrollmentFilterSet, column, person


def _seen(model, field, order):
    def choices(request):
        return model.objects.filter(
            pk__in=visible(request.user, "view_company_report").order_by().values(field)
        ).order_by(order)
    return choices


class CompanyFilters(EnrollmentFilterSet):
    engagement = django_filters.ModelChoiceFilter(
        label=_("Engagement"), field_name="engagement",
        queryset=_seen(EngagementPage, "engagement_id", "title"),
    )
    company = django_filters.ModelChoiceFilter(
        label=_("Company"), field_name="company",
        queryset=_seen(Company, "company_id", "name"),
    )
    cohort = django_filters.ModelChoiceFilter(
        label=_("Cohort"), field_name="cohort", queryset=_seen(Cohort, "cohort_id", "name"),
    )
    coach = None


class CompanyReport(CoachingReport):
    slug = "company"
    action = "view_company_report"
    page_title = _("Company report")
    header_icon = "site"
    filterset_class = CompanyFilters
    description = _(
        "Clients enrolled through a company who agreed to share their progress: how far "
        "they are and the sessions they attended or missed."
    )

    columns = [
        # The name opens the client card (the HR partner sees progress there, no detail).
        TitleColumn("client", label=_("Client"), accessor=lambda e: person(e.client),
                    get_url=card_url, link_attrs={"data-coaching-card": ""}),
        column("company", _("Company"), accessor="company.name"),
        column("engagement", _("Engagement"), accessor="engagement_title"),
        column("cohort", _("Cohort"), accessor=lambda e: e.cohort.name if e.cohort else ""),
        column("status", _("Status"), accessor="get_status_display"),
        column("progress", _("Progress (%)"),
               accessor=lambda e: metrics.rate(e.steps_done, e.steps)),
        column("steps_done", _("Steps done")),
        column("steps", _("Steps")),
        column("attended", _("Sessions attended")),
        column("missed", _("Sessions missed")),
    ]

    def get_base_queryset(self):
        return visible(self.request.user, self.action).filter(company__isnull=False)

    def rows(self, queryset):
        # The engagement's title comes apart (decorate_paginated_queryset): loading the
        # page with each row would parse its whole program, once per row.
        return (
            queryset.select_related("client", "company", "cohort")
            .only("pk", "public_id", "status", "engagement_id", "client__first_name",
                  "client__last_name", "client__username", "company__name", "cohort__name")
            .order_by("company__name", "client__last_name", "client__first_name", "pk")
        )

    def decorate_paginated_queryset(self, object_list):
        """The figures of the rows shown (or exported), two grouped queries for all of them."""
        rows = list(object_list)
        ids = [row.pk for row in rows] if len(rows) <= 1000 else self.report_rows.values("pk")
        steps, sessions = figures_per_enrollment(ids)
        titles = dict(EngagementPage.objects.filter(
            pk__in={row.engagement_id for row in rows}).values_list("pk", "title"))
        for row in rows:
            row.engagement_title = titles.get(row.engagement_id, "")
            row.steps, row.steps_done = steps.get(row.pk, (0, 0))
            row.attended, row.missed = sessions.get(row.pk, (0, 0))
        return rows

    def summary(self):
        totals = figures_in_total(self.report_rows.values("pk"))
        return [
            (_("Clients sharing their progress"),
             self.report_rows.order_by().aggregate(n=Count("client_id", distinct=True))["n"]),
            (_("Steps done (%)"), metrics.rate(totals["steps_done"], totals["steps"])),
            (_("Sessions attended"), totals["attended"]),
            (_("Sessions missed"), totals["missed"]),
        ]


def _steps(ids):
    return ClientActivity.objects.filter(enrollment_id__in=ids).exclude(
        state=ActivityState.REMOVED).order_by()


def _sessions(ids):
    return JourneyEvent.objects.filter(
        enrollment_id__in=ids, kind__in=(EventKind.SESSION_ATTENDED, EventKind.SESSION_MISSED)
    ).order_by()


STEP_COUNTS = {"steps": Count("pk"), "steps_done": Count("pk", filter=Q(state__in=DONE_STATES))}
SESSION_COUNTS = {
    "attended": Count("pk", filter=Q(kind=EventKind.SESSION_ATTENDED)),
    "missed": Count("pk", filter=Q(kind=EventKind.SESSION_MISSED)),
}


def figures_per_enrollment(ids):
    """({enrollment id: (steps, done)}, {enrollment id: (attended, missed)})."""
    steps = {
        row["enrollment_id"]: (row["steps"], row["steps_done"])
        for row in _steps(ids).values("enrollment_id").annotate(**STEP_COUNTS)
    }
    sessions = {
        row["enrollment_id"]: (row["attended"], row["missed"])
        for row in _sessions(ids).values("enrollment_id").annotate(**SESSION_COUNTS)
    }
    return steps, sessions


def figures_in_total(ids):
    return {**_steps(ids).aggregate(**STEP_COUNTS), **_sessions(ids).aggregate(**SESSION_COUNTS)}


REPORTS = (CompanyReport,)
