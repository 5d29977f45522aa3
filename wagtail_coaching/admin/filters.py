"""Filters of the clients list. Their choices come from the clients the viewer may see, so a
filter never names an engagement, company, cohort or coach outside them."""

from django.contrib.admin import SimpleListFilter
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from ..models import CoachAssignment, Cohort, Company, EngagementPage
from ..permissions import visible
from .display import person


def _visible_enrollments(request):
    return visible(request.user, "view_enrollment").order_by().values("pk")


class _IdFilter(SimpleListFilter):
    """A filter on one id; a value that is not an id matches nothing."""

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return self.filter_by(queryset, int(value))

    def filter_by(self, queryset, value):
        raise NotImplementedError


class EngagementFilter(_IdFilter):
    title = _("engagement")
    parameter_name = "engagement"

    def lookups(self, request, model_admin):
        engagements = EngagementPage.objects.filter(
            pk__in=visible(request.user, "view_enrollment").order_by().values("engagement_id")
        ).order_by("title")
        return [(e.pk, e.title) for e in engagements.only("pk", "title")]

    def filter_by(self, queryset, value):
        return queryset.filter(engagement_id=value)


class CoachFilter(_IdFilter):
    """Clients by their current coach (any role)."""

    title = _("coach")
    parameter_name = "coach"

    def lookups(self, request, model_admin):
        coaches = get_user_model().objects.filter(
            pk__in=CoachAssignment.objects.filter(
                ended_at__isnull=True, enrollment_id__in=_visible_enrollments(request)
            ).values("coach_id")
        ).order_by("first_name", "last_name", "pk")
        return [(c.pk, person(c)) for c in coaches]

    def filter_by(self, queryset, value):
        return queryset.filter(
            pk__in=CoachAssignment.objects.filter(coach_id=value, ended_at__isnull=True).values(
                "enrollment_id"
            )
        )


class CompanyFilter(_IdFilter):
    title = _("company")
    parameter_name = "company"

    def lookups(self, request, model_admin):
        companies = Company.objects.filter(
            pk__in=visible(request.user, "view_enrollment").order_by().values("company_id")
        )
        return [(c.pk, c.name) for c in companies]

    def filter_by(self, queryset, value):
        return queryset.filter(company_id=value)


class CohortFilter(_IdFilter):
    title = _("cohort")
    parameter_name = "cohort"

    def lookups(self, request, model_admin):
        cohorts = Cohort.objects.filter(
            pk__in=visible(request.user, "view_enrollment").order_by().values("cohort_id")
        )
        return [(c.pk, c.name) for c in cohorts]

    def filter_by(self, queryset, value):
        return queryset.filter(cohort_id=value)
