"""What the rule's page's buttons do, under ``/admin/coaching/rules/<id>/``: pause and
resume (POST) and the dry run (GET: the enrollments the rule would act on now, with nothing
fired). Each finds the rule among those the viewer sees (404), checks the matrix (403),
calls ``automation.rules`` and shows its answer.

``/admin/coaching/rules/program/<engagement id>/`` answers the rule editor's script with the
engagement's published stages and steps (JSON), for those who may name them in rules
(``automate_engagement``)."""

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from ...automation.rules import DRY_RUN_LIMIT, dry_run, pause_rule, resume_rule
from ...models import EngagementPage
from ..card import CoachingAdminView
from ..display import card_link, in_viewer_zone
from ..permission import forbidden, may, may_use_admin, visible_or_404
from .program import Program
from .text import engagement_text, trigger_text
from .views import TEMPLATES_DIR


class RuleView(CoachingAdminView):
    """Find the rule among those the viewer sees (404), check ``action`` (403)."""

    action = "view_automationrule"

    def get_rule(self, pk):
        return visible_or_404(
            self.request.user, "view_automationrule", related=("engagement", "company"), pk=pk
        )

    def rule_url(self, rule):
        return reverse("coaching_rules_modeladmin_inspect", args=[rule.pk])

    def dispatch(self, request, pk, *args, **kwargs):
        if not may_use_admin(request.user):
            return forbidden(request)
        self.rule = self.get_rule(pk)
        if not may(request.user, self.action, self.rule):
            return forbidden(request)
        return super().dispatch(request, pk, *args, **kwargs)


class PauseView(RuleView):
    action = "change_automationrule"
    http_method_names = ["post"]

    def post(self, request, pk):
        rule = self.rule
        if pause_rule(rule.pk):
            messages.success(request, _("“%(name)s” is paused: it does nothing until it is "
                                        "resumed.") % {"name": rule.name})
        else:
            messages.error(request, _("“%(name)s” was already paused.") % {"name": rule.name})
        return redirect(self.rule_url(rule))


class ResumeView(RuleView):
    action = "change_automationrule"
    http_method_names = ["post"]

    def post(self, request, pk):
        rule = self.rule
        if resume_rule(rule.pk):
            messages.success(request, _(
                "“%(name)s” is active again. It acts on what comes due from now on, not on "
                "what came due while it was paused."
            ) % {"name": rule.name})
        else:
            messages.error(request, _("“%(name)s” was already active.") % {"name": rule.name})
        return redirect(self.rule_url(rule))


class DryRunView(RuleView):
    template_name = TEMPLATES_DIR + "dry_run.html"
    http_method_names = ["get", "head"]

    def get(self, request, pk):
        rule = self.rule

        def page(request):
            enrollments, capped = dry_run(request.user, rule)
            rows = [(e, card_link(e)) for e in enrollments]
            return TemplateResponse(request, self.template_name, {
                "rule": rule,
                "trigger": trigger_text(rule),
                "engagement_label": engagement_text(rule),
                "rows": rows,
                "count": len(rows),
                "capped": capped,
                "limit": DRY_RUN_LIMIT,
                "is_timed": rule.is_timed,
                "rule_url": self.rule_url(rule),
                "header_title": _("Dry run"),
            })

        return in_viewer_zone(request, page)


class ProgramChoicesView(CoachingAdminView):
    """The published program of an engagement, as the rule editor offers it. An engagement
    the editor may not name in rules is refused (403); one that does not exist: 404."""

    http_method_names = ["get", "head"]

    def get(self, request, pk):
        engagement = EngagementPage.objects.filter(pk=pk).first()
        if engagement is None:
            raise Http404
        if not may(request.user, "automate_engagement", engagement):
            return forbidden(request)
        return JsonResponse(Program(engagement).as_json())


urlpatterns = [
    path("rules/program/<int:pk>/", ProgramChoicesView.as_view(), name="rule_program"),
    path("rules/<int:pk>/pause/", PauseView.as_view(), name="rule_pause"),
    path("rules/<int:pk>/resume/", ResumeView.as_view(), name="rule_resume"),
    path("rules/<int:pk>/dry-run/", DryRunView.as_view(), name="rule_dry_run"),
]
