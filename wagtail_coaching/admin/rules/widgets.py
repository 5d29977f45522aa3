"""The rule editor's choosers of a program's stages and steps: a ``<select>`` whose value is
the block id and whose options are titles (steps grouped by stage, each with its kind), for
the engagement the form shows. ``rule-editor.js`` reloads the options when the engagement
changes and hides the steps of another kind than the trigger needs."""

from django import forms
from django.urls import reverse
from django.utils.translation import gettext as _

from ...templatetags.coaching_tags import kind_label

SCRIPT = "wagtail_coaching/admin/rule-editor.js"


class ProgramSelect(forms.Select):
    """``what`` is "activity" or "stage"; ``empty`` labels the empty choice ("Any activity",
    "At the end of the journey"); ``kept`` lists (id, label) of stored ids the published
    program does not have, so that the rule still reads (and saves) as it was."""

    def __init__(self, program, what, *, empty, kept=(), attrs=None):
        attrs = {
            **(attrs or {}),
            "data-coaching-program": what,
            "data-coaching-empty": empty,
            "data-coaching-url": reverse(
                "wagtail_coaching_admin:rule_program", args=[0]
            ).replace("/0/", "/{id}/"),
            "class": "coaching-rule-program",
        }
        super().__init__(attrs=attrs, choices=self._choices(program, what, empty, kept))
        self.kinds = {}
        if what == "activity":
            self.kinds = {
                block_id: kind
                for _stage, steps in program.activity_groups() for block_id, _title, kind in steps
            }

    @staticmethod
    def _choices(program, what, empty, kept):
        choices = [("", empty), *kept]
        if what == "stage":
            return choices + program.stage_options()
        for stage, steps in program.activity_groups():
            choices.append((stage or _("(untitled stage)"), [
                (block_id, f"{title} · {kind_label(kind)}") for block_id, title, kind in steps
            ]))
        return choices

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        kind = self.kinds.get(value)
        if kind:
            option["attrs"]["data-kind"] = kind
        return option

    @property
    def media(self):
        return forms.Media(js=[SCRIPT])
