"""The automation-rule pages of the admin: "Add" and "Edit" (which open the rule's page
once saved) and the rule's page (inspect): the rule in words and its recent firings, read
from ``automation.rules``."""

from django.contrib import messages
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail_modeladmin.views import CreateView, EditView, InspectView

from ...automation.rules import firings_seen
from ...models import AutomationRule
from ..display import card_link
from ..permission import may
from .program import Program
from .text import action_text, condition_texts, engagement_text, trigger_text

TEMPLATES_DIR = "wagtail_coaching/admin/rules/"


class RuleCreateView(CreateView):
    def get_success_url(self):
        return self.url_helper.get_action_url("inspect", self.instance.pk)


class RuleEditView(EditView):
    def get_success_url(self):
        return self.url_helper.get_action_url("inspect", self.instance.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context.get("form")
        # The steps the rule names that the published program no longer has: said at the
        # top of the editor (the choosers show them as "removed step").
        for note in form.removed_notes() if form is not None else []:
            messages.warning(self.request, note)
        return context


# -- The rule's page -----------------------------------------------------------------------------

def rule_page(user, rule):
    program = Program(rule.engagement)
    total, firings = firings_seen(user, rule)
    for row in firings:
        row.card = card_link(row.enrollment)
    can_change = may(user, "change_automationrule", rule)
    return {
        "rule": rule,
        "trigger": trigger_text(rule),
        "engagement_label": engagement_text(rule),
        "conditions": condition_texts(rule, program),
        "actions": [action_text(child, program) for child in rule.actions],
        "firings": firings,
        "firing_total": total,
        "can_change": can_change,
        "pause_action": reverse("wagtail_coaching_admin:rule_pause", args=[rule.pk]),
        "resume_action": reverse("wagtail_coaching_admin:rule_resume", args=[rule.pk]),
        "dry_run_url": reverse("wagtail_coaching_admin:rule_dry_run", args=[rule.pk]),
        "zone_name": timezone.get_current_timezone_name(),
    }


class RuleInspectView(InspectView):
    def get_page_title(self):
        return self.instance.name

    def get_page_subtitle(self):
        return _("Automation rule")

    def get_fields_dict(self):
        return []  # the template shows the rule in words

    def get_context_data(self, **kwargs):
        rule = AutomationRule.objects.select_related("engagement", "company").get(
            pk=self.instance.pk
        )
        return super().get_context_data(**rule_page(self.request.user, rule), **kwargs)
