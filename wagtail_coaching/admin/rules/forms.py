"""The rule editor: ``RuleForm`` checks a rule as a whole (its trigger's details, the
activities and stages it names, its actions, a damaged submission) before anything is saved,
and switching a rule on sets ``active_since``; ``RULE_PANELS`` lays the form out.

Activities and stages are chosen by title from the engagement's published program and
stored by block id, so renaming, moving or adding steps never breaks a rule. An id the
published program no longer has (the step was removed) reads "(removed step: …)": the rule
can still be saved as it was, and the editor says so; a new id must be the engagement's."""

import copy
import json
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, MultiFieldPanel, ObjectList
from wagtail.blocks import (
    BlockField,
    BlockWidget,
    CharBlock,
    StreamBlockValidationError,
    StreamValue,
    StructBlockValidationError,
    StructValue,
)
from wagtail.blocks.list_block import ListValue

from ...models import EngagementPage, Trigger
from ...notifications.kinds import CUSTOM
from ...permissions import visible
from ...templatetags.coaching_tags import kind_label
from .program import Program
from .widgets import ProgramSelect

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
            "For triggers about an activity: one step of the engagement's published "
            "program (a rule for all engagements: any activity of the kind the trigger "
            "needs). Renaming or moving the step keeps the rule working."
        ),
        "stage_block_id": gettext_lazy(
            "The stage of the engagement's published program the client's current step is "
            "in; empty: any."
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
        engagements = self.fields["engagement"]
        if self.for_user is not None:
            engagements.queryset = visible(self.for_user, "automate_engagement").order_by(
                "title"
            )
        engagements.empty_label = _("All engagements")
        self.unreadable = self._set_aside_unreadable_streams() if self.is_bound else []
        self.program = Program(self._shown_engagement())
        self.kept = self._kept_ids()
        self._offer_program_choices()

    # The program's choices ---------------------------------------------------------------------

    def _shown_engagement(self):
        """The engagement whose program the choosers offer: the one submitted (when it is
        one the editor may choose), else the rule's."""
        if self.is_bound:
            try:
                return self.fields["engagement"].clean(
                    self.data.get(self.add_prefix("engagement"))
                )
            except ValidationError:
                return None
        return self.instance.engagement if self.instance.engagement_id else None

    def _kept_ids(self):
        """The block ids the rule names today that its engagement's published program does
        not have, by where they are (the trigger's activity, the stage condition, the
        actions' activities and stages): each may stay where it is (it reads "removed
        step"), none may be new."""
        rule, program = self.instance, self.program
        kept = {"activity_block_id": set(), "stage_block_id": set(), "unlock": set(),
                "add": set()}
        engagement_id = program.engagement.pk if program.engagement is not None else None
        if not rule.pk or engagement_id != rule.engagement_id:
            return kept
        kept["activity_block_id"].add(rule.activity_block_id)
        kept["stage_block_id"].add(rule.stage_block_id)
        for child in rule.actions:
            if child.block_type == "unlock_activity":
                kept["unlock"].add(child.value.get("activity_block_id"))
            if child.block_type == "add_activity":
                kept["add"].add(child.value.get("stage_block_id"))
        for where, known in (("activity_block_id", program.activities), ("unlock",
                             program.activities), ("stage_block_id", program.stages),
                             ("add", program.stages)):
            kept[where] = {block_id for block_id in kept[where] if block_id} - set(known)
        return kept

    def _chooser(self, what, where, empty):
        program = self.program
        return ProgramSelect(program, what, empty=empty, kept=[
            (block_id, program.removed_label(block_id)) for block_id in sorted(self.kept[where])
        ])

    def _offer_program_choices(self):
        any_activity = _("Any activity") if self.program.engagement is not None else _(
            "Any activity (of the kind the trigger needs)"
        )
        trigger_chooser = self._chooser("activity", "activity_block_id", any_activity)
        trigger_chooser.attrs["data-coaching-trigger-kinds"] = json.dumps(
            {str(trigger): kind for trigger, kind in ACTIVITY_KIND.items()}
        )
        trigger_chooser.attrs["data-coaching-empty-all"] = _(
            "Any activity (of the kind the trigger needs)"
        )
        self.fields["activity_block_id"].widget = trigger_chooser
        self.fields["stage_block_id"].widget = self._chooser(
            "stage", "stage_block_id", _("Any stage")
        )
        field = self.fields["actions"]
        field.block = _actions_block(
            field.block,
            activity=self._chooser("activity", "unlock", _("Choose an activity")),
            stage=self._chooser("stage", "add", _("At the end of the journey")),
        )
        field.widget = BlockWidget(field.block)

    def removed_notes(self):
        """What the editor says about ids whose step is not in the program (any more)."""
        engagement = self.program.engagement
        ids = sorted(set().union(*self.kept.values()))
        if engagement is None:
            return [_(
                "This rule for all engagements names %(step)s: no engagement's step can be "
                "named here, so the rule does not act on it. Empty the field."
            ) % {"step": self.program.removed_label(block_id)} for block_id in ids]
        return [_(
            "This rule names %(step)s: the published program of %(engagement)s no longer "
            "has it, so the rule does not act on it. Choose another step or empty the field."
        ) % {"step": self.program.removed_label(block_id), "engagement": engagement.title}
            for block_id in ids]

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
        if not program.published:
            self._check_no_program(data)
            return
        if block_id and "activity_block_id" not in self.errors \
                and block_id not in self.kept["activity_block_id"]:
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
        if stage and stage not in program.stages and stage not in self.kept["stage_block_id"]:
            self.add_error("stage_block_id", _(
                "“%(id)s” is not a stage of %(engagement)s. Its stages: %(choices)s."
            ) % {"id": stage, "engagement": engagement.title,
                 "choices": program.stage_choices()})

    def _check_no_program(self, data):
        """A rule for all engagements (or for an engagement never published) has no
        program to name a step of; only what it already names may stay."""
        why = _("A rule for all engagements cannot name one engagement's step: choose the "
                "engagement first.") if self.program.engagement is None else _(
            "%(engagement)s has no published program yet: publish it to choose its steps."
        ) % {"engagement": getattr(self.program.engagement, "title", "")}
        for name in ("activity_block_id", "stage_block_id"):
            block_id = data.get(name)
            if block_id and name not in self.errors and block_id not in self.kept[name]:
                self.add_error(name, why)

    # Actions -----------------------------------------------------------------------------------

    def _action_errors(self, child, program):
        """{field: message} for one action."""
        kind, value = child.block_type, child.value
        engagement = program.engagement
        errors = {}
        if kind == "unlock_activity":
            block_id = value.get("activity_block_id")
            if block_id in self.kept["unlock"] or block_id in program.activities:
                pass
            elif engagement is None:
                errors["activity_block_id"] = _(
                    "A rule for all engagements cannot open one engagement's activity: "
                    "choose the engagement, or use “Open the next locked activity” (of a "
                    "type)."
                )
            else:
                errors["activity_block_id"] = _(
                    "“%(id)s” is not an activity of %(engagement)s. Its activities: "
                    "%(choices)s."
                ) % {"id": block_id, "engagement": engagement.title,
                     "choices": program.activity_choices()}
        if kind == "add_activity":
            stage = value.get("stage_block_id")
            if not stage or stage in self.kept["add"] or stage in program.stages:
                pass
            elif engagement is None:
                errors["stage_block_id"] = _(
                    "A rule for all engagements adds the activity at the end of the "
                    "journey: choose the engagement to place it in one of its stages."
                )
            else:
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
        engagement = engagement if isinstance(engagement, EngagementPage) else None
        program = self.program
        if (program.engagement and program.engagement.pk) != (engagement and engagement.pk):
            program = self.program = Program(engagement)
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


def _actions_block(stream, *, activity, stage):
    """The rule's actions block for one form: the same blocks, with the activity to open
    and the stage to add an activity to chosen from this program (block definitions are
    shared, so the choosers go into copies)."""

    def chooser(block, widget):
        clone = CharBlock(max_length=64, required=block.required, label=block.label,
                          help_text=block.field.help_text)
        widget.is_required = clone.field.required
        clone.field.widget = widget
        return clone

    stream = copy.copy(stream)
    children = stream.child_blocks.copy()
    unlock, add = children["unlock_activity"], children["add_activity"]
    children["unlock_activity"] = type(unlock)([
        ("activity_block_id", chooser(unlock.child_blocks["activity_block_id"], activity)),
    ])
    children["add_activity"] = type(add)([
        ("stage_block_id", chooser(add.child_blocks["stage_block_id"], stage)),
    ])
    for name in ("unlock_activity", "add_activity"):
        children[name].set_name(name)
    stream.child_blocks = children
    return stream


RULE_PANELS = ObjectList([
    FieldPanel("name"),
    FieldPanel("description"),
    FieldPanel("engagement", widget=forms.Select),
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
