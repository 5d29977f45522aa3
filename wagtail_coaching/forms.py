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


class CheckInForm(forms.Form):
    score_value = forms.IntegerField(
        label=_("Your score"), min_value=0, max_value=10,
        widget=forms.NumberInput(attrs={"min": 0, "max": 10, "step": 1}),
    )
    note = forms.CharField(
        label=_("Anything to add?"), required=False, max_length=2000, widget=forms.Textarea
    )

    def __init__(self, *args, block_value=None, **kwargs):
        super().__init__(*args, **kwargs)
        if block_value is not None:
            self.fields["score_value"].label = block_value.get("metric") or _("Your score")

    def response(self):
        note = self.cleaned_data.get("note")
        return {"note": note} if note else None

    def score(self):
        return self.cleaned_data["score_value"]


class FeedbackForm(forms.Form):
    score_value = forms.TypedChoiceField(
        label=_("Satisfaction"),
        choices=[(i, str(i)) for i in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=4000, widget=forms.Textarea
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
    }
    if kind == "long_text":
        return forms.CharField(max_length=5000, widget=forms.Textarea, **common)
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
    """Built from a form activity's questions, plus its consent question if it has one."""

    def __init__(self, *args, block_value=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(block_value.get("questions") or [])
        for index, question in enumerate(self.questions):
            self.fields[f"q{index}"] = _question_field(question)
        consent = block_value.get("consent_text")
        if consent:
            self.fields["consent"] = forms.BooleanField(label=consent, required=True)

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


def form_for(kind, block_value, data=None):
    """The form that completes an activity of ``kind``, or None when a coach completes it."""
    form_class = FORMS.get(kind)
    if form_class is None:
        return None
    if form_class is CompleteForm:
        return form_class(data=data)
    return form_class(data=data, block_value=block_value)
