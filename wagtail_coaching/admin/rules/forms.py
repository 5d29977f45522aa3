"""The rule editor: ``RuleForm`` checks a rule as a whole (its trigger's details, the
activities and stages it names, its actions, a damaged submission) before anything is saved,
and switching a rule on sets ``active_since``; ``RULE_PANELS`` lays the form out."""

import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
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

from ...models import EngagementPage, Trigger
from ...notifications.kinds import CUSTOM
from ...templatetags.coaching_tags import kind_label
from .program import Program

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
# What Wagtail raises while reading a truncated or hand-made StreamField submission: a
# missing "-count", "-type" or child field, a count or order that is not a number, a rich
# text that is not Draftail's JSON.
UNREADABLE_STREAM = (LookupError, ValueError, TypeError, AttributeError, OverflowError)
# A block id as the editor makes them (a UUID); anything else in a submission is refused.
BLOCK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


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
