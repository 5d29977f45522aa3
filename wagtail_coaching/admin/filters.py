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
        if not value.isdecimal():
            return queryset.none()
        return self.filter_by(queryset, int(value))

    def filter_by(self, queryset, value):
        raise NotImplementedError


class _RelatedFilter(_IdFilter):
    """Clients by a related object (``field`` on the enrollment), offering only the related
    objects of clients the viewer may see."""

    model = None
    field = None
    label = "name"

    def lookups(self, request, model_admin):
        related = self.model.objects.filter(
            pk__in=visible(request.user, "view_enrollment").order_by().values(self.field)
        ).order_by(self.label)
        return [(o.pk, getattr(o, self.label)) for o in related.only("pk", self.label)]

    def filter_by(self, queryset, value):
        return queryset.filter(**{self.field: value})


class EngagementFilter(_RelatedFilter):
    title = _("engagement")
    parameter_name = "engagement"
    model = EngagementPage
    field = "engagement_id"
    label = "title"


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


class CompanyFilter(_RelatedFilter):
    title = _("company")
    parameter_name = "company"
    model = Company
    field = "company_id"


class CohortFilter(_RelatedFilter):
    title = _("cohort")
    parameter_name = "cohort"
    model = Cohort
    field = "cohort_id"


class SalesManagerFilterBase(SimpleListFilter):
    """A list's rows by sales manager ("none" for rows without one); subclasses say whose
    names are offered."""

    title = _("sales manager")
    parameter_name = "sales_manager"

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(sales_manager__isnull=True)
        if value and value.isdecimal():
            return queryset.filter(sales_manager_id=int(value))
        return queryset
