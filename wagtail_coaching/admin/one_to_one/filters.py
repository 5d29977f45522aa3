"""The filters of the availability and 1:1 session lists: the coach (among those whose
slots or sessions the viewer sees) and when (upcoming or past)."""

from django.contrib.admin import SimpleListFilter
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...permissions import visible
from ..display import person
from ..filters import _IdFilter


class SlotCoachFilter(_IdFilter):
    title = gettext_lazy("coach")
    parameter_name = "coach"
    view_action = "view_availabilityslot"

    def lookups(self, request, model_admin):
        seen = visible(request.user, self.view_action).order_by().values("coach_id")
        coaches = get_user_model().objects.filter(pk__in=seen).order_by(
            "first_name", "last_name", "username"
        )
        return [(str(c.pk), person(c)) for c in coaches]

    def filter_by(self, queryset, value):
        return queryset.filter(coach_id=value)


class WhenFilter(SimpleListFilter):
    title = gettext_lazy("when")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("upcoming", _("Upcoming")), ("past", _("Past"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "upcoming":
            return queryset.filter(ends_at__gt=now)
        if self.value() == "past":
            return queryset.filter(ends_at__lte=now)
        return queryset


class SessionCoachFilter(SlotCoachFilter):
    view_action = "view_coachingsession"
