"""Automation rules in the coaching admin (Coaching → Automation).

- the list: each rule's trigger in words, its engagement (or all engagements), active or
  paused, how often it fired in the last 30 days, and whether it is built in; a fixed number
  of queries however many rules;
- "Add" and "Edit": the rule's trigger and its details, conditions and actions, checked
  before anything is saved (``RuleForm``); a truncated or garbled submission of the actions
  shows the form again with an error, never a server error;
- the rule's page (inspect): the rule in words and its recent firings, with the actions
  ``rule_pause`` and ``rule_resume`` (POST) and ``rule_dry_run`` (GET: the enrollments the
  rule would act on now, with nothing fired), under ``/admin/coaching/rules/<id>/``.

Who may do what is the matrix's: ``view_automationrule`` lists, inspects and dry-runs (a
coach: the rules for all engagements and those of engagements their team runs),
``change_automationrule`` creates, edits, pauses and resumes (admins). A rule is looked up
inside ``visible()`` (404 otherwise), a change checked with ``allowed()`` (403 otherwise).
Nothing is deleted here: built-in rules can be edited and paused, not removed. Pausing,
resuming, the firings and the dry run are ``automation.rules``'s; this module shows them.

A rule only acts on what comes due once it is active: switching a rule on (creating it
active, ticking "active" again, or "Resume") sets ``active_since``, and so does changing
the trigger, timing or conditions of an active time-based rule, so that it never fires for
everything that came due in the past.
"""

import re
from datetime import timedelta

from django.contrib import messages
from django.contrib.admin import SimpleListFilter, display
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, MultiFieldPanel, ObjectList
from wagtail.blocks import (
    BlockField,
    StreamBlockValidationError,
    StreamValue,
    StructBlockValidationError,
    StructValue,
)
from wagtail.blocks.list_block import ListValue
from wagtail_modeladmin.helpers import ButtonHelper
from wagtail_modeladmin.views import CreateView, EditView, InspectView

from ..automation.messages import TEMPLATES
from ..automation.rules import (
    DRY_RUN_LIMIT,
    dry_run,
    firings_seen,
    pause_rule,
    recent_firings,
    resume_rule,
)
from ..blocks.automation import CHANNELS, RECIPIENTS
from ..blocks.roles import coaching_role_choices
from ..journeys.program import flatten_program, program_stages
from ..models import AutomationRule, EngagementPage, Trigger
from ..notifications.kinds import CUSTOM
from ..permissions import visible
from ..templatetags.coaching_tags import kind_label
from .base import MatrixModelAdmin
from .card import CoachingAdminView
from .display import card_link, in_viewer_zone
from .filters import _IdFilter
from .permission import MatrixPermissionHelper, forbidden, may, may_use_admin, visible_or_404

TEMPLATES_DIR = "wagtail_coaching/admin/rules/"
# The list's "fired" column counts this many days back.
RECENT_DAYS = 30

DAY_TRIGGERS = (
    Trigger.ENROLLMENT_DAYS, Trigger.COHORT_DAYS, Trigger.ACCESS_END_DAYS, Trigger.NO_ACTIVITY,
)
CHECK_IN_TRIGGERS = (Trigger.CHECK_IN_ABOVE, Trigger.CHECK_IN_BELOW)
# Triggers whose occurrence is about one activity (so they can be narrowed to one).
ACTIVITY_TRIGGERS = (
    Trigger.ACTIVITY_COMPLETED, Trigger.FORM_ANSWER, *CHECK_IN_TRIGGERS,
    Trigger.SESSION_ATTENDED, Trigger.SESSION_MISSED,
)
# The kind of activity a trigger needs, when it needs one.
ACTIVITY_KIND = {
    Trigger.FORM_ANSWER: "form",
    Trigger.CHECK_IN_ABOVE: "check_in",
    Trigger.CHECK_IN_BELOW: "check_in",
}
# What decides which enrollments a time-based rule reaches: changing one of these on an
# active rule counts as switching it on again.
REACH_FIELDS = (
    "trigger", "days", "hours", "engagement_id", "company_id", "tag", "stage_block_id",
)
# Block ids listed in an error message, at most.
CHOICES_SHOWN = 12
# What Wagtail raises while reading a truncated or hand-made StreamField submission: a
# missing "-count", "-type" or child field, a count or order that is not a number, a rich
# text that is not Draftail's JSON.
UNREADABLE_STREAM = (LookupError, ValueError, TypeError, AttributeError, OverflowError)
# A block id as the editor makes them (a UUID); anything else in a submission is refused.
BLOCK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


# -- The rule in words ---------------------------------------------------------------------------

class Program:
    """An engagement's program as the rules refer to it: activities and stages by block id."""

    def __init__(self, engagement):
        self.engagement = engagement
        self.activities = {}
        self.stages = {}
        if engagement is not None:
            self.activities = {s.block_id: s for s in flatten_program(engagement.program)}
            self.stages = program_stages(engagement.program)

    def activity_title(self, block_id):
        spec = self.activities.get(block_id)
        return f"“{spec.title}”" if spec else block_id

    def stage_title(self, block_id):
        stage = self.stages.get(block_id)
        return f"“{stage.title}”" if stage else block_id

    def activity_choices(self, kind=None):
        return _choices_text([
            f"{s.title} ({s.block_id})" for s in self.activities.values()
            if kind is None or s.kind == kind
        ])

    def stage_choices(self):
        return _choices_text([f"{s.title} ({s.block_id})" for s in self.stages.values()])


def _block_ids(value):
    """Every block id inside a StreamField value, nested streams and lists included (a new
    block has none yet: Wagtail gives it one when it is saved)."""
    if isinstance(value, StructValue):
        for child in value.values():
            yield from _block_ids(child)
        return
    if isinstance(value, StreamValue):
        children = list(value)
    elif isinstance(value, ListValue):
        children = value.bound_blocks
    else:
        return
    for child in children:
        if child.id:
            yield child.id
        yield from _block_ids(child.value)


def _choices_text(items):
    if not items:
        return _("none")
    text = ", ".join(items[:CHOICES_SHOWN])
    return text + (", …" if len(items) > CHOICES_SHOWN else "")


def trigger_text(rule):
    """The trigger with its details: "3 days after the enrollment starts"."""
    days, hours, threshold = rule.days or 0, rule.hours or 0, rule.threshold
    texts = {
        Trigger.ENROLLMENT_DAYS: lambda: ngettext(
            "%(n)d day after the enrollment starts", "%(n)d days after the enrollment starts",
            days) % {"n": days},
        Trigger.COHORT_DAYS: lambda: ngettext(
            "%(n)d day after the cohort starts", "%(n)d days after the cohort starts",
            days) % {"n": days},
        Trigger.ACCESS_END_DAYS: lambda: ngettext(
            "%(n)d day before the access ends", "%(n)d days before the access ends",
            days) % {"n": days},
        Trigger.NO_ACTIVITY: lambda: ngettext(
            "No activity for %(n)d day", "No activity for %(n)d days", days) % {"n": days},
        Trigger.SESSION_UPCOMING: lambda: ngettext(
            "%(n)d hour before a session", "%(n)d hours before a session", hours) % {"n": hours},
        Trigger.CHECK_IN_ABOVE: lambda: _("A check-in score is above %(n)s") % {
            "n": threshold},
        Trigger.CHECK_IN_BELOW: lambda: _("A check-in score is below %(n)s") % {
            "n": threshold},
        Trigger.FORM_ANSWER: lambda: _("“%(question)s” is answered “%(value)s”") % {
            "question": rule.question, "value": rule.value},
    }
    text = texts.get(rule.trigger)
    return text() if text else rule.get_trigger_display()


def engagement_text(rule):
    return rule.engagement.title if rule.engagement_id else _("All engagements")


def condition_texts(rule, program):
    texts = []
    if rule.activity_block_id:
        texts.append(_("for the activity %(activity)s") % {
            "activity": program.activity_title(rule.activity_block_id)})
    if rule.stage_block_id:
        texts.append(_("while the client is in the stage %(stage)s") % {
            "stage": program.stage_title(rule.stage_block_id)})
    if rule.company_id:
        texts.append(_("for clients of %(company)s") % {"company": rule.company.name})
    if rule.tag:
        texts.append(_("for clients tagged “%(tag)s”") % {"tag": rule.tag})
    return texts


def _label(choices, value):
    return str(dict(choices).get(value, value))


def action_text(child, program):
    """One action of the rule in words."""
    kind, value = child.block_type, child.value
    if kind == "unlock_activity":
        return _("Open the activity %(activity)s") % {
            "activity": program.activity_title(value["activity_block_id"])}
    if kind == "unlock_next":
        if value.get("kind"):
            return _("Open the next locked activity of type %(kind)s") % {
                "kind": _label(child.block.child_blocks["kind"].field.choices, value["kind"])}
        return _("Open the next locked activity")
    if kind == "add_activity":
        stream = value["activity"]
        title = (stream[0].value.get("title") if len(stream) else "") or ""
        where = (_("in the stage %(stage)s") % {
            "stage": program.stage_title(value["stage_block_id"])}
            if value.get("stage_block_id") else _("at the end of the journey"))
        return _("Add the extra activity “%(title)s” %(where)s") % {
            "title": title, "where": where}
    if kind == "assign_coach":
        role = _label(coaching_role_choices(), value.get("role") or "")
        text = _("Assign a coach (%(role)s) by the engagement's policy") % {"role": role}
        if value.get("hand_off"):
            text += _(", and tell the client's coach a colleague takes over")
        return text
    if kind == "notify":
        template = value.get("template") or CUSTOM
        if template == CUSTOM:
            message = value.get("subject") or ""
        else:
            message = TEMPLATES.get(template, template)
        message = f"“{message}”"
        return _("Send %(message)s to %(recipient)s (%(channel)s)") % {
            "message": message,
            "recipient": _label(RECIPIENTS, value.get("recipient") or "client").lower(),
            "channel": _label(CHANNELS, value.get("channel") or "email").lower(),
        }
    if kind == "flag_at_risk":
        if value.get("reason"):
            return _("Flag the client as at risk: %(reason)s") % {"reason": value["reason"]}
        return _("Flag the client as at risk")
    if kind == "clear_at_risk":
        return _("Clear the at-risk flag")
    if kind == "enroll":
        page = value.get("engagement")
        return _("Enroll the client in %(engagement)s") % {
            "engagement": f"“{page.title}”" if page else "?"}
    return child.block.label


# -- The form ------------------------------------------------------------------------------------

class RuleForm(WagtailAdminModelForm):
    """The rule, checked as a whole: a trigger has the details it needs and only those, the
    activities and stages named exist in the engagement's program, and there is something
    to do. Nothing is saved while an error remains."""

    HELP = {
        "days": gettext_lazy(
            "For “N days after the enrollment starts” and “N days after the cohort starts” "
            "(0: the same day), “N days before the access ends” and “No activity for N "
            "days” (1 or more)."
        ),
        "hours": gettext_lazy("For “N hours before a session”."),
        "threshold": gettext_lazy(
            "For the check-in triggers: a score from 0 to 10 (“above 7” fires for 8, 9 and "
            "10)."
        ),
        "question": gettext_lazy(
            "For “A form is answered with a given value”: the question as the form asks it."
        ),
        "value": gettext_lazy("The answer that fires the rule (not case-sensitive)."),
        "activity_block_id": gettext_lazy(
            "Block id of a program activity, for triggers about an activity; empty: any."
        ),
        "active": gettext_lazy(
            "A paused rule does nothing. A rule acts only on what comes due after it is "
            "switched on (or, for a time-based rule, after its trigger, timing or conditions "
            "change): switching it on never fires it for everything that came due in the past."
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.was_active = bool(instance.pk and instance.active)
        self.was_reach = {name: getattr(instance, name) for name in REACH_FIELDS}
        for name, text in self.HELP.items():
            if name in self.fields:
                self.fields[name].help_text = text
        self.unreadable = self._set_aside_unreadable_streams() if self.is_bound else []

    # The submission ------------------------------------------------------------------------------

    def _set_aside_unreadable_streams(self):
        """The StreamFields whose submission cannot be read (a truncated or garbled request).
        Each is read as empty instead, so that the form shows again with an error rather
        than failing; ``clean`` keeps anything from being saved."""
        unreadable = []
        for name, field in self.fields.items():
            if isinstance(field, BlockField):
                try:
                    field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
                except UNREADABLE_STREAM:
                    unreadable.append(name)
        if unreadable:
            data = self.data.copy()
            for name in unreadable:
                prefix = self.add_prefix(name)
                for key in [k for k in data if k.startswith(f"{prefix}-")]:
                    del data[key]
                data[f"{prefix}-count"] = "0"
            self.data = data
        return unreadable

    def _check_streams(self):
        for name in self.unreadable:
            self.add_error(name, StreamBlockValidationError(non_block_errors=[_(
                "These could not be read: the form arrived incomplete or damaged. Nothing "
                "was saved; please enter them again."
            )]))
        for name, field in self.fields.items():
            value = self.cleaned_data.get(name)
            if isinstance(field, BlockField) and value is not None and not all(
                BLOCK_ID.fullmatch(block_id) for block_id in _block_ids(value)
            ):
                self.add_error(name, StreamBlockValidationError(non_block_errors=[_(
                    "These could not be read: a block has a damaged id. Nothing was saved."
                )]))

    # Trigger details ---------------------------------------------------------------------------

    def _check_days(self, trigger, days):
        if days is None:
            return {
                Trigger.ACCESS_END_DAYS: _("Say how many days before the access ends."),
                Trigger.NO_ACTIVITY: _("Say after how many days without activity."),
            }.get(trigger, _("Say after how many days."))
        if trigger == Trigger.ACCESS_END_DAYS and days < 1:
            return _("Count the days before the access ends: 1 or more.")
        if trigger == Trigger.NO_ACTIVITY and days < 1:
            return _("Count the days without activity: 1 or more.")
        if days < 0:
            return _("Count the days after the start: 0 (the same day) or more.")
        return None

    def _check_details(self, data):
        trigger = data.get("trigger")
        if trigger in DAY_TRIGGERS:
            error = self._check_days(trigger, data.get("days"))
            if error:
                self.add_error("days", error)
        else:
            data["days"] = None
        if trigger == Trigger.SESSION_UPCOMING:
            if data.get("hours") is None:
                self.add_error("hours", _("Say how many hours before the session."))
            elif data["hours"] < 1:
                self.add_error("hours", _("Count the hours before the session: 1 or more."))
        else:
            data["hours"] = None
        if trigger in CHECK_IN_TRIGGERS:
            threshold = data.get("threshold")
            if threshold is None:
                self.add_error("threshold", _("Give the check-in score to compare with."))
            elif not 0 <= threshold <= 10:
                self.add_error("threshold",
                               _("The threshold is a check-in score: from 0 to 10."))
        else:
            data["threshold"] = None
        if trigger == Trigger.FORM_ANSWER:
            if not (data.get("question") or "").strip():
                self.add_error("question", _("Write the question as the form asks it."))
            if not (data.get("value") or "").strip():
                self.add_error("value", _("Write the answer that fires the rule."))
        else:
            data["question"] = data["value"] = ""
        if data.get("activity_block_id") and trigger and trigger not in ACTIVITY_TRIGGERS:
            self.add_error("activity_block_id", _(
                "Only a trigger about an activity (completed, answered, check-in, session) "
                "can be narrowed to one activity."
            ))

    # The program -------------------------------------------------------------------------------

    def _check_program(self, data, program):
        engagement = program.engagement
        block_id = data.get("activity_block_id")
        if engagement is not None and block_id and "activity_block_id" not in self.errors:
            kind = ACTIVITY_KIND.get(data.get("trigger"))
            spec = program.activities.get(block_id)
            if spec is None:
                self.add_error("activity_block_id", _(
                    "“%(id)s” is not an activity of %(engagement)s. Its activities: "
                    "%(choices)s."
                ) % {"id": block_id, "engagement": engagement.title,
                     "choices": program.activity_choices()})
            elif kind and spec.kind != kind:
                self.add_error("activity_block_id", _(
                    "This trigger needs a %(kind)s activity; “%(title)s” is not one. The "
                    "engagement's: %(choices)s."
                ) % {"kind": str(kind_label(kind)).lower(), "title": spec.title,
                     "choices": program.activity_choices(kind)})
        stage = data.get("stage_block_id")
        if engagement is not None and stage and stage not in program.stages:
            self.add_error("stage_block_id", _(
                "“%(id)s” is not a stage of %(engagement)s. Its stages: %(choices)s."
            ) % {"id": stage, "engagement": engagement.title,
                 "choices": program.stage_choices()})

    # Actions -----------------------------------------------------------------------------------

    def _action_errors(self, child, program):
        """{field: message} for one action."""
        kind, value = child.block_type, child.value
        engagement = program.engagement
        errors = {}
        if kind == "unlock_activity" and engagement is not None:
            block_id = value.get("activity_block_id")
            if block_id not in program.activities:
                errors["activity_block_id"] = _(
                    "“%(id)s” is not an activity of %(engagement)s. Its activities: "
                    "%(choices)s."
                ) % {"id": block_id, "engagement": engagement.title,
                     "choices": program.activity_choices()}
        if kind == "add_activity" and engagement is not None:
            stage = value.get("stage_block_id")
            if stage and stage not in program.stages:
                errors["stage_block_id"] = _(
                    "“%(id)s” is not a stage of %(engagement)s. Its stages: %(choices)s."
                ) % {"id": stage, "engagement": engagement.title,
                     "choices": program.stage_choices()}
        if kind == "notify" and (value.get("template") or CUSTOM) == CUSTOM:
            if not (value.get("subject") or "").strip():
                errors["subject"] = _("A custom message needs a subject.")
            if not (value.get("body") or "").strip():
                errors["body"] = _("A custom message needs a text.")
        return errors

    def _check_actions(self, data, program):
        if "actions" not in data:
            return  # the blocks themselves had errors
        actions = data["actions"]
        if not len(actions):
            self.add_error("actions", StreamBlockValidationError(non_block_errors=[_(
                "Add at least one action: a rule that does nothing cannot be saved."
            )]))
            return
        block_errors = {}
        for index, child in enumerate(actions):
            errors = self._action_errors(child, program)
            if errors:
                block_errors[index] = StructBlockValidationError(block_errors={
                    name: ValidationError(message) for name, message in errors.items()
                })
        if block_errors:
            self.add_error("actions", StreamBlockValidationError(block_errors=block_errors))

    def clean(self):
        data = super().clean()
        self._check_streams()
        self._check_details(data)
        engagement = data.get("engagement")
        program = Program(engagement if isinstance(engagement, EngagementPage) else None)
        self._check_program(data, program)
        self._check_actions(data, program)
        return data

    def save(self, commit=True):
        rule = self.instance
        reach_changed = any(
            getattr(rule, name) != self.was_reach[name] for name in REACH_FIELDS
        )
        if rule.active and (not self.was_active or (rule.is_timed and reach_changed)):
            rule.active_since = timezone.now()
        return super().save(commit=commit)


RULE_PANELS = ObjectList([
    FieldPanel("name"),
    FieldPanel("description"),
    FieldPanel("engagement"),
    MultiFieldPanel([
        FieldPanel("trigger"), FieldPanel("days"), FieldPanel("hours"),
        FieldPanel("activity_block_id"), FieldPanel("question"), FieldPanel("value"),
        FieldPanel("threshold"),
    ], heading=gettext_lazy("When")),
    MultiFieldPanel([
        FieldPanel("stage_block_id"), FieldPanel("company"), FieldPanel("tag"),
    ], heading=gettext_lazy("Only if")),
    FieldPanel("actions"),
    FieldPanel("active"),
], base_form_class=RuleForm)


class RuleCreateView(CreateView):
    def get_success_url(self):
        return self.url_helper.get_action_url("inspect", self.instance.pk)


class RuleEditView(EditView):
    def get_success_url(self):
        return self.url_helper.get_action_url("inspect", self.instance.pk)


# -- The list ------------------------------------------------------------------------------------

class RulePermissionHelper(MatrixPermissionHelper):
    """Rows of the list are visible by construction (they carry ``recent_firings``), so
    their buttons cost no query."""

    view_action = "view_automationrule"
    change_action = "change_automationrule"

    def user_can_inspect_obj(self, user, obj):
        if hasattr(obj, "recent_firings"):
            return self.inspect_view_enabled and may_use_admin(user)
        return super().user_can_inspect_obj(user, obj)


class RuleButtonHelper(ButtonHelper):
    def add_button(self, classnames_add=None, classnames_exclude=None):
        button = super().add_button(classnames_add, classnames_exclude)
        button["label"] = _("Add a rule")
        return button

    def get_primary_button(self, obj):
        # A rule's name opens its page (the rule in words, its firings, pause and resume).
        if self.permission_helper.user_can_inspect_obj(self.request.user, obj):
            return self.inspect_button(obj.pk)
        return None

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


# -- Actions on a rule ---------------------------------------------------------------------------

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


urlpatterns = [
    path("rules/<int:pk>/pause/", PauseView.as_view(), name="rule_pause"),
    path("rules/<int:pk>/resume/", ResumeView.as_view(), name="rule_resume"),
    path("rules/<int:pk>/dry-run/", DryRunView.as_view(), name="rule_dry_run"),
]
