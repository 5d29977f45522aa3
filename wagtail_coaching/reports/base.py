"""What every report shares: the permission check, the viewer's time zone, filters whose
choices come from what the viewer may see, a period, and CSV/XLSX export.

A report is a Wagtail ``ReportView``: the listing, the filter drawer and the export buttons
are Wagtail's own. Its rows are not model instances but the aggregate rows that
``metrics.py`` computes: ``base_queryset()`` is what the viewer may count (from the
permission matrix), the filters narrow it, and ``rows()`` turns it into one dict per line.
"""

from datetime import datetime, time, timedelta

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.reports import ReportView

from ..models import CoachAssignment, Cohort, Company, EngagementPage, Enrollment
from ..permissions import admin_allowed as may
from ..permissions import visible
from ..utils.admin_pages import forbidden, in_viewer_zone
from ..utils.exports import SafeSpreadsheetExportMixin
from ..utils.people import display_name as person


def zone():
    return timezone.get_current_timezone()


def day_start(day):
    """Midnight at the start of ``day`` in the viewer's zone."""
    return datetime.combine(day, time.min, tzinfo=zone())


# -- Filters -----------------------------------------------------------------------------------

def _enrollment_ids(request, action):
    return visible(request.user, action).order_by().values("pk")


def keep(queryset, name, value):
    """A filter the report reads itself (``CoachingReport.filter_value``)."""
    return queryset


class PeriodField(django_filters.fields.DateRangeField):
    def clean(self, value):
        period = super().clean(value)
        if period and period.start and period.stop and period.stop < period.start:
            raise ValidationError(_("The period ends before it starts."))
        return period


class PeriodFilter(django_filters.DateFromToRangeFilter):
    """A period (both days included) that the report applies itself: it does not filter the
    enrollments, it says which sessions, answers or orders to count."""

    field_class = PeriodField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", _("Period"))
        kwargs.setdefault("widget", DateRangePickerWidget)
        super().__init__(*args, method=keep, **kwargs)


def engagements_of_clients_seen(request, action):
    """The engagements of the clients ``request.user`` sees under ``action``."""
    return EngagementPage.objects.filter(
        pk__in=visible(request.user, action).order_by().values("engagement_id")
    ).order_by("title")


def companies_of_clients_seen(request, action):
    """The companies of the clients ``request.user`` sees under ``action``."""
    return Company.objects.filter(
        pk__in=visible(request.user, action).order_by().values("company_id")
    ).order_by("name")


def cohorts_of_clients_seen(request, action):
    """The cohorts of the clients ``request.user`` sees under ``action``."""
    return Cohort.objects.filter(
        pk__in=visible(request.user, action).order_by().values("cohort_id")
    ).order_by("name")


def coaches_of_clients_seen(request, action):
    """The current coaches of the clients ``request.user`` sees under ``action`` (not
    the coaches the viewer may see: that is ``view_coachprofile``)."""
    return get_user_model().objects.filter(
        pk__in=CoachAssignment.objects.filter(
            ended_at__isnull=True, enrollment_id__in=_enrollment_ids(request, action)
        ).values("coach_id")
    ).order_by("first_name", "last_name", "pk")


class PersonChoiceField(django_filters.fields.ModelChoiceField):
    def label_from_instance(self, obj):
        return person(obj)


class PersonFilter(django_filters.ModelChoiceFilter):
    """A choice of people, shown by name."""

    field_class = PersonChoiceField


class EnrollmentFilterSet(WagtailFilterSet):
    """Filters over enrollments; each choice list holds only what the viewer may see under
    the report's action (the filterset's ``action``)."""

    action = "view_coaching_reports"

    engagement = django_filters.ModelChoiceFilter(
        label=_("Engagement"), field_name="engagement",
        queryset=lambda request: engagements_of_clients_seen(
            request, EnrollmentFilterSet.action_of(request)
        ),
    )
    company = django_filters.ModelChoiceFilter(
        label=_("Company"), field_name="company",
        queryset=lambda request: companies_of_clients_seen(
            request, EnrollmentFilterSet.action_of(request)
        ),
    )
    cohort = django_filters.ModelChoiceFilter(
        label=_("Cohort"), field_name="cohort",
        queryset=lambda request: cohorts_of_clients_seen(
            request, EnrollmentFilterSet.action_of(request)
        ),
    )
    coach = PersonFilter(
        label=_("Coach"), method="by_coach",
        queryset=lambda request: coaches_of_clients_seen(
            request, EnrollmentFilterSet.action_of(request)
        ),
    )

    class Meta:
        model = Enrollment
        fields = []

    @staticmethod
    def action_of(request):
        return getattr(request, "coaching_report_action", "view_coaching_reports")

    def by_coach(self, queryset, name, value):
        return queryset.filter(pk__in=CoachAssignment.objects.filter(
            coach=value, ended_at__isnull=True
        ).values("enrollment_id"))


class EnrollmentPeriodFilterSet(EnrollmentFilterSet):
    period = PeriodFilter()


# -- The report view ---------------------------------------------------------------------------

class CoachingReport(SafeSpreadsheetExportMixin, ReportView):
    """A report over what ``action`` (a matrix action) lets the viewer see.

    Subclasses set ``slug``, ``page_title``, ``action``, ``columns`` (Wagtail table columns
    whose ``accessor`` reads a row dict) and implement ``rows(queryset)``; ``chart()`` may
    return a ``charts.Chart`` drawn above the table, and ``summary()`` a few headline
    figures. The export has the table's columns, in the same order, its cells written by
    ``utils.exports`` (no cell is ever a formula).
    """

    slug = None
    action = "view_coaching_reports"
    header_icon = "table"
    template_name = "wagtail_coaching/admin/reports/report.html"
    results_template_name = "wagtail_coaching/admin/reports/results.html"
    filterset_class = EnrollmentFilterSet
    paginate_by = 50
    description = ""
    # The period a report counts when none is chosen (days back from today), or None: all.
    default_period_days = None

    def dispatch(self, request, *args, **kwargs):
        request.coaching_report_action = self.action
        if not may(request.user, self.action):
            return forbidden(request)
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    # Wagtail names its listing URLs by name; ours live in the coaching admin namespace.
    @property
    def index_url_name(self):
        return f"wagtail_coaching_admin:report_{self.slug}"

    @property
    def index_results_url_name(self):
        return f"wagtail_coaching_admin:report_{self.slug}_results"

    def get_base_queryset(self):
        return visible(self.request.user, self.action)

    def base_queryset(self):
        return self.filter_queryset(self.get_base_queryset())

    def get_filtered_queryset(self):
        return self.report_rows

    @cached_property
    def report_rows(self):
        return self.rows(self.base_queryset())

    def rows(self, queryset):
        raise NotImplementedError

    def filter_value(self, name):
        """A chosen filter's value, or None (also when the filters do not validate)."""
        if self.filters is not None and name in self.filters.filters and self.filters.is_valid():
            return self.filters.form.cleaned_data.get(name)
        return None

    def period(self):
        """[start, end) as aware datetimes in the viewer's zone, either possibly None."""
        chosen = self.filter_value("period")
        start_day = chosen.start.date() if chosen and chosen.start else None
        end_day = chosen.stop.date() if chosen and chosen.stop else None
        if start_day is None and end_day is None:
            start_day, end_day = self.default_period(timezone.localdate())
        return (
            day_start(start_day) if start_day else None,
            day_start(end_day + timedelta(days=1)) if end_day else None,
        )

    def default_period(self, today):
        """The first and last day counted when no period is chosen (None: open)."""
        if self.default_period_days:
            return today - timedelta(days=self.default_period_days), None
        return None, None

    # -- Export: the table's columns ------------------------------------------------------

    @property
    def list_export(self):
        return [column.name for column in self.columns]

    @property
    def export_headings(self):
        return {column.name: column.label for column in self.columns}

    def to_row_dict(self, item):
        return {column.name: column.get_value(item) for column in self.columns}

    def as_spreadsheet(self, queryset, spreadsheet_format):
        # The CSV is written after the view has returned, out of the viewer's zone.
        self.export_zone = zone()
        return super().as_spreadsheet(queryset, spreadsheet_format)

    def preprocess_field_value(self, field, value, export_format):
        if isinstance(value, datetime) and timezone.is_aware(value):
            # The time the page shows: a spreadsheet cell has no zone.
            local = timezone.localtime(value, self.export_zone).replace(tzinfo=None)
            return local if export_format == self.FORMAT_XLSX else f"{local:%Y-%m-%d %H:%M}"
        return super().preprocess_field_value(field, value, export_format)

    def get_filename(self):
        return f"{self.slug}-{timezone.localdate():%Y-%m-%d}"

    # -- Page -----------------------------------------------------------------------------

    def chart(self):
        return None

    def description_values(self):
        """Values for ``%(name)s`` placeholders in ``description`` (settings, say)."""
        return {}

    def summary(self):
        return []

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            report_description=self.description % self.description_values()
            if self.description_values() else self.description,
            chart=self.chart(),
            summary=self.summary(),
            period=self.period(),
        )
        return context

    @classmethod
    def urls(cls):
        return [
            path(f"reports/{cls.slug}/", cls.as_view(), name=f"report_{cls.slug}"),
            path(
                f"reports/{cls.slug}/results/", cls.as_view(results_only=True),
                name=f"report_{cls.slug}_results",
            ),
        ]

    @classmethod
    def url(cls):
        return reverse(f"wagtail_coaching_admin:report_{cls.slug}")


def column(name, label, accessor=None, **kwargs):
    return Column(name, label=label, accessor=accessor or name, **kwargs)
