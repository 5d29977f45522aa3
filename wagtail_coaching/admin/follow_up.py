"""The fields a coach fills in after a session, on the 1:1 session's page (with what
happened) and on a group session's page (with the attendance): the summary shared with the
client, a note in one of the existing tiers, and one or two follow-up practices.

The form reads and checks what was typed; ``continuity.follow_up`` decides the rest (at most
two practices per session, a date not past, practices only after a held session).
"""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.widgets import AdminDateInput

from ..continuity.follow_up import CADENCES, MAX_PRACTICES, FollowUp, PracticePlan
from ..models import NoteVisibility

CADENCE_CHOICES = list(zip(CADENCES, (
    gettext_lazy("Once"), gettext_lazy("Daily"), gettext_lazy("Weekly")
), strict=True))


class FollowUpForm(forms.Form):
    summary = forms.CharField(
        label=gettext_lazy("Summary for the client"), required=False, max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "Sent to the client with the practices below, in one message after the session "
            "is held; it stays beside the session in their journey."
        ),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    note_visibility = forms.ChoiceField(
        label=gettext_lazy("Note visible to"), choices=NoteVisibility.choices,
        initial=NoteVisibility.COACH, required=False,
    )

    # Field names of each practice: practice_1_title, practice_1_instructions, ...
    PRACTICE_FIELDS = ("title", "instructions", "cadence", "opens_on")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for n in range(1, MAX_PRACTICES + 1):
            self.fields[f"practice_{n}_title"] = forms.CharField(
                label=_("Practice %(n)d: title") % {"n": n}, required=False, max_length=200,
            )
            self.fields[f"practice_{n}_instructions"] = forms.CharField(
                label=_("Practice %(n)d: instructions") % {"n": n}, required=False,
                max_length=5000, widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.fields[f"practice_{n}_cadence"] = forms.ChoiceField(
                label=_("Practice %(n)d: how often") % {"n": n}, choices=CADENCE_CHOICES,
                initial="once", required=False,
            )
            self.fields[f"practice_{n}_opens_on"] = forms.DateField(
                label=_("Practice %(n)d: opens on") % {"n": n}, required=False,
                widget=AdminDateInput,
                help_text=_("Empty: it opens at once."),
            )

    def clean(self):
        data = super().clean()
        for n in range(1, MAX_PRACTICES + 1):
            title = (data.get(f"practice_{n}_title") or "").strip()
            text = (data.get(f"practice_{n}_instructions") or "").strip()
            if bool(title) != bool(text):
                self.add_error(
                    f"practice_{n}_title" if not title else f"practice_{n}_instructions",
                    _("A practice needs a title and instructions."),
                )
        return data

    def follow_up(self):
        """What the coach wrote, for ``continuity.follow_up``."""
        data = self.cleaned_data
        practices = []
        for n in range(1, MAX_PRACTICES + 1):
            title = (data.get(f"practice_{n}_title") or "").strip()
            if title:
                practices.append(PracticePlan(
                    title=title,
                    instructions=data[f"practice_{n}_instructions"].strip(),
                    cadence=data.get(f"practice_{n}_cadence") or "once",
                    opens_on=data.get(f"practice_{n}_opens_on"),
                ))
        return FollowUp(
            summary=data.get("summary") or "",
            note=data.get("note") or "",
            note_visibility=data.get("note_visibility") or NoteVisibility.COACH,
            practices=tuple(practices),
        )

    def practice_rows(self):
        """The practice fields as rows of bound fields (for the template)."""
        return [
            [self[f"practice_{n}_{name}"] for name in self.PRACTICE_FIELDS]
            for n in range(1, MAX_PRACTICES + 1)
        ]

    def other_fields(self):
        return [self[name] for name in self.fields if not name.startswith("practice_")]
