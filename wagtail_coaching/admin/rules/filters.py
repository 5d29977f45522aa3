"""The filters of the automation-rule list: status (active or paused) and engagement
(one engagement's rules, or the rules for all engagements). The engagements offered are
those of the rules the viewer sees."""

from django.contrib.admin import SimpleListFilter
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...models import EngagementPage
from ...permissions import visible
from ..filters import _IdFilter


class RuleEngagementFilter(_IdFilter):
    """Rules of one engagement, or the rules for all engagements."""

    title = gettext_lazy("engagement")
    parameter_name = "engagement"
    ALL = "all"

    def lookups(self, request, model_admin):
        seen = visible(request.user, "view_automationrule").order_by()
        engagements = EngagementPage.objects.filter(
            pk__in=seen.values("engagement_id")
        ).order_by("title")
        return [(self.ALL, _("All engagements")), *((e.pk, e.title) for e in engagements)]

    def queryset(self, request, queryset):
        if self.value() == self.ALL:
            return queryset.filter(engagement__isnull=True)
        return super().queryset(request, queryset)

    def filter_by(self, queryset, value):
        return queryset.filter(engagement_id=value)


class RuleStatusFilter(SimpleListFilter):
    title = gettext_lazy("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("paused", _("Paused"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(active=True)
        if self.value() == "paused":
            return queryset.filter(active=False)
        return queryset
