"""The automation-rule admin itself (Coaching → Automation): the ModelAdmin with its
columns (a fixed number of queries however many rules), who may list, inspect and change
(the matrix, through its permission helper), and its buttons (add, the rule's page, the dry
run)."""

from datetime import timedelta

from django.contrib.admin import display
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...automation.rules import recent_firings
from ...models import AutomationRule
from ..base import InspectFirstButtonHelper, MatrixModelAdmin
from ..display import in_viewer_zone
from ..permission import MatrixPermissionHelper, may_use_admin
from .filters import RuleEngagementFilter, RuleStatusFilter
from .forms import RULE_PANELS
from .text import engagement_text, trigger_text
from .views import TEMPLATES_DIR, RuleCreateView, RuleEditView, RuleInspectView

# The list's "fired" column counts this many days back.
RECENT_DAYS = 30


class RulePermissionHelper(MatrixPermissionHelper):
    """Rows of the list are visible by construction (they carry ``recent_firings``), so
    their buttons cost no query."""

    view_action = "view_automationrule"
    change_action = "change_automationrule"

    def user_can_inspect_obj(self, user, obj):
        if hasattr(obj, "recent_firings"):
            return self.inspect_view_enabled and may_use_admin(user)
        return super().user_can_inspect_obj(user, obj)


class RuleButtonHelper(InspectFirstButtonHelper):
    def add_button(self, classnames_add=None, classnames_exclude=None):
        button = super().add_button(classnames_add, classnames_exclude)
        button["label"] = _("Add a rule")
        return button

    def get_buttons_for_obj(self, obj, exclude=None, classnames_add=None,
                            classnames_exclude=None):
        buttons = super().get_buttons_for_obj(obj, exclude, classnames_add, classnames_exclude)
        if "dry_run" not in (exclude or []) and self.permission_helper.user_can_inspect_obj(
            self.request.user, obj
        ):
            buttons.append({
                "url": reverse("wagtail_coaching_admin:rule_dry_run", args=[obj.pk]),
                "label": _("Dry run"),
                "classname": self.finalise_classname(
                    ["button-secondary", *(classnames_add or [])]
                ),
                "title": _("Which enrollments this rule would act on now"),
            })
        return buttons


class AutomationRulesAdmin(MatrixModelAdmin):
    model = AutomationRule
    menu_label = gettext_lazy("Automation")
    menu_icon = "cogs"
    base_url_path = "coaching/rules"
    permission_helper_class = RulePermissionHelper
    button_helper_class = RuleButtonHelper
    create_view_class = RuleCreateView
    edit_view_class = RuleEditView
    inspect_view_enabled = True
    inspect_view_class = RuleInspectView
    inspect_template_name = TEMPLATES_DIR + "inspect.html"
    edit_handler = RULE_PANELS
    list_display = (
        "name", "when", "engagement_label", "status", "fired_recently", "built_in",
    )
    list_display_add_buttons = "name"
    list_filter = (RuleStatusFilter, RuleEngagementFilter, "trigger")
    search_fields = ("name", "description")
    ordering = ("name", "pk")
    list_per_page = 50

    def get_queryset(self, request):
        since = timezone.now() - timedelta(days=RECENT_DAYS)
        return (
            super().get_queryset(request)
            .select_related("engagement", "company")
            .annotate(recent_firings=recent_firings(request.user, since))
        )

    def index_view(self, request):
        return in_viewer_zone(request, super().index_view)

    def inspect_view(self, request, instance_pk):
        return in_viewer_zone(request, super().inspect_view, instance_pk)

    @display(description=gettext_lazy("when"), ordering="trigger")
    def when(self, rule):
        return trigger_text(rule)

    @display(description=gettext_lazy("engagement"), ordering="engagement__title")
    def engagement_label(self, rule):
        return engagement_text(rule)

    @display(description=gettext_lazy("status"), ordering="active")
    def status(self, rule):
        return _("Active") if rule.active else _("Paused")

    @display(description=format_lazy(gettext_lazy("fired, last {days} days"), days=RECENT_DAYS))
    def fired_recently(self, rule):
        return rule.recent_firings

    @display(description=gettext_lazy("built-in"))
    def built_in(self, rule):
        if rule.key:
            return format_html('<span class="status-tag primary">{}</span>', _("Built-in"))
        return ""
