"""The filters of the group-session list: when (upcoming by default), coach, company,
cohort and status. Each offers only what the sessions the viewer sees hold."""

from django.contrib.admin import SimpleListFilter
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...models import Cohort, Company, GroupSession, SessionStatus
from ...permissions import visible
from ..display import person
from ..filters import _IdFilter


def _seen(request):
    return visible(request.user, "view_groupsession").order_by()


class WhenFilter(SimpleListFilter):
    """Upcoming sessions (not over yet) unless the viewer asks for past ones or all."""

    title = gettext_lazy("when")
    parameter_name = "when"
    UPCOMING, PAST, ALL = "upcoming", "past", "all"

    def lookups(self, request, model_admin):
        return [
            (self.UPCOMING, _("Upcoming")), (self.PAST, _("Past")), (self.ALL, _("All")),
        ]

    def current(self):
        value = self.value()
        return value if value in (self.PAST, self.ALL) else self.UPCOMING

    def choices(self, changelist):
        current = self.current()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        now = timezone.now()
        current = self.current()
        if current == self.UPCOMING:
            return queryset.filter(ends_at__gt=now)
        if current == self.PAST:
            return queryset.filter(ends_at__lte=now)
        return queryset


class SessionCoachFilter(_IdFilter):
    """Sessions a coach leads or co-leads; offers the coaches of sessions the viewer sees."""

    title = gettext_lazy("coach")
    parameter_name = "coach"

    def lookups(self, request, model_admin):
        seen = _seen(request)
        co = GroupSession.co_coaches.through.objects.filter(groupsession_id__in=seen.values("pk"))
        coaches = get_user_model().objects.filter(
            Q(pk__in=seen.values("coach_id")) | Q(pk__in=co.values("user_id"))
        ).order_by("first_name", "last_name", "pk")
        return [(c.pk, person(c)) for c in coaches]

    def filter_by(self, queryset, value):
        co = GroupSession.co_coaches.through.objects.filter(user_id=value)
        return queryset.filter(Q(coach_id=value) | Q(pk__in=co.values("groupsession_id")))


class SessionCompanyFilter(_IdFilter):
    """Sessions for a company, or for one of its cohorts."""

    title = gettext_lazy("company")
    parameter_name = "company"

    def lookups(self, request, model_admin):
        seen = _seen(request)
        companies = Company.objects.filter(
            Q(pk__in=seen.values("company_id")) | Q(pk__in=seen.values("cohort__company_id"))
        ).order_by("name")
        return [(c.pk, c.name) for c in companies]

    def filter_by(self, queryset, value):
        return queryset.filter(Q(company_id=value) | Q(cohort__company_id=value))


class SessionCohortFilter(_IdFilter):
    title = gettext_lazy("cohort")
    parameter_name = "cohort"

    def lookups(self, request, model_admin):
        cohorts = Cohort.objects.filter(pk__in=_seen(request).values("cohort_id"))
        return [(c.pk, c.name) for c in cohorts.order_by("name")]

    def filter_by(self, queryset, value):
        return queryset.filter(cohort_id=value)


class SessionStatusFilter(SimpleListFilter):
    title = gettext_lazy("status")
    parameter_name = "status"

    # As the list shows it: a held session is one whose attendance was taken.
    OUTCOMES = {
        SessionStatus.SCHEDULED: Q(status=SessionStatus.SCHEDULED,
                                   attendance_taken_at__isnull=True),
        "held": Q(status=SessionStatus.SCHEDULED, attendance_taken_at__isnull=False),
        SessionStatus.CANCELLED: Q(status=SessionStatus.CANCELLED),
    }

    def lookups(self, request, model_admin):
        return [
            (SessionStatus.SCHEDULED, SessionStatus.SCHEDULED.label),
            ("held", _("Held")),
            (SessionStatus.CANCELLED, SessionStatus.CANCELLED.label),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in self.OUTCOMES:
            return queryset.none()
        return queryset.filter(self.OUTCOMES[value])
