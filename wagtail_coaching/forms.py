"""Forms the client fills in to finish an activity. ``form_for`` picks one by activity type.

Each form's ``response()`` and ``score()`` give what is stored on the client's activity.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from .blocks.activities import CHOICE_KINDS


class CompleteForm(forms.Form):
    """No fields: "mark complete" for lessons and practices."""

    def response(self):
        return None

    def score(self):
        return None


class ScaleRadioSelect(forms.RadioSelect):
    """Radio buttons laid out as a scale (its own widget type, for styling)."""


class CheckInForm(forms.Form):
    """A 0-10 score on the check-in's metric, and an optional note."""

    score_value = forms.IntegerField(
        label=_("Your score"), min_value=0, max_value=10,
        widget=ScaleRadioSelect(choices=[(i, str(i)) for i in range(0, 11)]),
        error_messages={
            "required": _("Choose a score from 0 to 10."),
            "invalid": _("Choose a score from 0 to 10."),
            "min_value": _("Choose a score from 0 to 10."),
            "max_value": _("Choose a score from 0 to 10."),
        },
    )
    note = forms.CharField(
        label=_("Anything to add?"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, block_value=None, **kwargs):
        super().__init__(*args, **kwargs)
        if block_value is not None:
            field = self.fields["score_value"]
            field.label = block_value.get("metric") or _("Your score")
            low, high = block_value.get("low_label"), block_value.get("high_label")
            if low and high:
                field.help_text = _("0 means “%(low)s”, 10 means “%(high)s”.") % {
                    "low": low, "high": high,
                }
            else:
                field.help_text = _("From 0 (lowest) to 10 (highest).")

    def response(self):
        note = self.cleaned_data.get("note")
        return {"note": note} if note else None

    def score(self):
        return self.cleaned_data["score_value"]


class FeedbackForm(forms.Form):
    """A 1-5 satisfaction score and an optional comment."""

    score_value = forms.TypedChoiceField(
        label=_("Satisfaction"),
        choices=[(i, str(i)) for i in range(1, 6)],
        coerce=int,
        widget=ScaleRadioSelect,
        help_text=_("1 means not at all satisfied, 5 means very satisfied."),
        error_messages={
            "required": _("Choose a score from 1 to 5."),
            "invalid_choice": _("Choose a score from 1 to 5."),
        },
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us?"), required=False, max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, block_value=None, **kwargs):
        super().__init__(*args, **kwargs)
        if block_value is not None and block_value.get("question"):
            self.fields["score_value"].label = block_value["question"]

    def response(self):
        comment = self.cleaned_data.get("comment")
        return {"comment": comment} if comment else None

    def score(self):
        return self.cleaned_data["score_value"]


def _choices(text):
    return [(line.strip(), line.strip()) for line in (text or "").splitlines() if line.strip()]


def _question_field(question):
    kind = question.get("kind")
    common = {
        "label": question.get("label"),
        "required": bool(question.get("required")),
        "help_text": question.get("help_text") or "",
        "error_messages": {"required": _("Please answer this question.")},
    }
    if kind == "long_text":
        return forms.CharField(
            max_length=5000, widget=forms.Textarea(attrs={"rows": 5}), **common
        )
    if kind == "number":
        return forms.DecimalField(max_digits=12, decimal_places=4, **common)
    if kind == "choice":
        return forms.ChoiceField(
            choices=_choices(question.get("choices")), widget=forms.RadioSelect, **common
        )
    if kind == "multiple_choice":
        return forms.MultipleChoiceField(
            choices=_choices(question.get("choices")),
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if kind == "yes_no":
        return forms.ChoiceField(
            choices=[("yes", _("Yes")), ("no", _("No"))], widget=forms.RadioSelect, **common
        )
    if kind == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    return forms.CharField(max_length=500, **common)


class QuestionnaireForm(forms.Form):
    """Built from a form activity's questions, plus its consent question if it has one.

    The form's own consent is required: the answers are not sent without it. Sharing
    attendance and progress with an employer is another matter: a client whose coaching a
    company sponsors (``sponsors``, their names) gets an optional box of its own, and sends
    the form whether they tick it or not (``share_progress()``).
    """

    def __init__(self, *args, block_value=None, sponsors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(block_value.get("questions") or [])
        for index, question in enumerate(self.questions):
            self.fields[f"q{index}"] = _question_field(question)
        consent = block_value.get("consent_text")
        if consent:
            self.fields["consent"] = forms.BooleanField(
                label=consent, required=True,
                error_messages={"required": _("Tick the box to give your consent.")},
            )
        if sponsors:
            self.fields["share_progress"] = forms.BooleanField(
                label=_(
                    "Share my attendance and progress with the HR partner of %(sponsors)s"
                ) % {"sponsors": ", ".join(sponsors)},
                required=False,
                help_text=_(
                    "They never see your answers, your check-in scores or your coach's notes. "
                    "You can change this at any time on your privacy page."
                ),
            )

    def share_progress(self):
        """True or False when the client was asked about sharing with their employer, else
        None (the answer is stored as their consent, not with the answers)."""
        if "share_progress" not in self.fields:
            return None
        return bool(self.cleaned_data.get("share_progress"))

    def response(self):
        answers = []
        for index, question in enumerate(self.questions):
            value = self.cleaned_data.get(f"q{index}")
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            elif value is not None and question.get("kind") == "number":
                value = str(value)
            answers.append(
                {"question": question.get("label"), "kind": question.get("kind"), "answer": value}
            )
        result = {"answers": answers}
        if "consent" in self.fields:
            result["consent"] = bool(self.cleaned_data.get("consent"))
        return result

    def score(self):
        return None


FORMS = {
    "lesson": CompleteForm,
    "practice": CompleteForm,
    "check_in": CheckInForm,
    "feedback": FeedbackForm,
    "form": QuestionnaireForm,
}

__all__ = ["CHOICE_KINDS", "FORMS", "form_for"]


def form_for(kind, block_value, data=None, *, sponsors=()):
    """The form that completes an activity of ``kind``, or None when a coach completes it.
    ``sponsors``: the companies a form asks about sharing progress with (see
    ``QuestionnaireForm``)."""
    form_class = FORMS.get(kind)
    if form_class is None:
        return None
    if form_class is CompleteForm:
        return form_class(data=data)
    if form_class is QuestionnaireForm:
        return form_class(data=data, block_value=block_value, sponsors=sponsors)
    return form_class(data=data, block_value=block_value)
