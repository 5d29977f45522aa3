"""Forms of the client card's actions and of "Enroll a client".

Each form reads only its own fields, and every id it accepts is looked up among what this
enrollment and this viewer may use: an activity of another client's journey, or a coach who
cannot take the client, is refused as bad input.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.html import linebreaks
from django.utils.translation import gettext_lazy as _

from ..blocks import ACTIVITY_BLOCKS
from ..blocks.activities import (
    DEFAULT_PRACTICE_WEEKS,
    DEFAULT_TIMES_PER_WEEK,
    PRACTICE_CADENCES,
)
from ..journeys import available_coaches
from ..journeys.assignment import MAIN_ROLE
from ..models import CoachAssignment, EngagementPage, NoteVisibility
from ..permissions import visible
from .display import person

# What a coach may add to one client's journey from the card.
EXTRA_KINDS = ("lesson", "practice", "check_in", "feedback")
# The longest text each kind takes (check-in metric, feedback question).
TEXT_LIMITS = {"check_in": 100, "feedback": 255}


def first_error(form):
    """One readable sentence for a message: the first error of the form."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else None
        return f"{label}: {errors[0]}" if label else errors[0]
    return _("Please check the form.")


def stage_choices(engagement):
    choices = [("", _("At the end of the journey"))]
    for stage in engagement.program.raw_data:
        if stage.get("type") == "stage" and stage.get("id"):
            title = (stage.get("value") or {}).get("title") or _("Untitled stage")
            choices.append((stage["id"], title))
    return choices


def extra_activity_value(kind, title, text, cadence="", times_per_week=None, weeks=None):
    """The raw block value of an extra activity, from a title and one text (and, for a
    practice, how often and for how long)."""
    value = {"title": title, "lead_role": ""}
    if kind == "lesson":
        value.update(body=linebreaks(text, autoescape=True), video=None, document=None)
    elif kind == "practice":
        value.update(
            instructions=linebreaks(text, autoescape=True), cadence=cadence or "once",
            times_per_week=times_per_week or DEFAULT_TIMES_PER_WEEK,
            weeks=weeks or DEFAULT_PRACTICE_WEEKS,
        )
    elif kind == "check_in":
        value.update(metric=text, low_label="", high_label="")
    elif kind == "feedback":
        value.update(question=text)
    return value


class ExtraActivityForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type"),
        choices=[(k, ACTIVITY_BLOCKS[k].meta.label) for k in EXTRA_KINDS],
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    text = forms.CharField(
        label=_("Text"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "The lesson's content, the practice's instructions, what the check-in "
            "measures, or the feedback question."
        ),
    )
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    # A practice's cadence and target (the practice block's own fields).
    cadence = forms.ChoiceField(
        label=_("Cadence"), choices=PRACTICE_CADENCES, required=False,
        help_text=_("For a practice: once, or logged each day or week it is done."),
    )
    times_per_week = forms.IntegerField(
        label=_("Days a week"), min_value=1, max_value=6, required=False,
        help_text=_("For a weekly practice."),
    )
    weeks = forms.IntegerField(
        label=_("For how many weeks"), min_value=1, max_value=52, required=False,
        help_text=_("A daily or weekly practice is done after this many weeks' worth."),
    )

    def __init__(self, *args, enrollment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = stage_choices(enrollment.engagement)

    def clean(self):
        data = super().clean()
        limit = TEXT_LIMITS.get(data.get("kind"))
        if limit and len(data.get("text") or "") > limit:
            self.add_error("text", _("Keep it under %(n)s characters for this type.") % {
                "n": limit
            })
        return data


class ActivityForm(forms.Form):
    """Names one activity of this enrollment by its public id."""

    activity = forms.UUIDField(label=_("Step"))

    def __init__(self, *args, enrollment, **kwargs):
        super().__init__(*args, **kwargs)
        self.enrollment = enrollment

    def clean_activity(self):
        activity = self.enrollment.activities.filter(
            public_id=self.cleaned_data["activity"]
        ).first()
        if activity is None:
            raise forms.ValidationError(_("That step is not part of this client's journey."))
        return activity


def coach_choices(enrollment):
    """Coaches who can take this client now (the current coach left out), by name."""
    current = set(
        CoachAssignment.objects.filter(
            enrollment=enrollment, role=MAIN_ROLE, ended_at__isnull=True
        ).values_list("coach_id", flat=True)
    )
    ids = [c for c in available_coaches(enrollment.engagement, MAIN_ROLE) if c not in current]
    coaches = get_user_model().objects.filter(pk__in=ids).order_by(
        "first_name", "last_name", "pk"
    )
    return [(c.pk, person(c)) for c in coaches]


class ReassignForm(forms.Form):
    coach = forms.TypedChoiceField(label=_("New coach"), coerce=int)

    def __init__(self, *args, enrollment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coach"].choices = coach_choices(enrollment)
        self.fields["coach"].error_messages["invalid_choice"] = _(
            "That coach cannot take this client."
        )


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"), max_length=10000, widget=forms.Textarea(attrs={"rows": 3})
    )
    visibility = forms.ChoiceField(
        label=_("Visible to"), choices=NoteVisibility.choices, initial=NoteVisibility.COACH
    )

    def __init__(self, *args, enrollment=None, **kwargs):
        super().__init__(*args, **kwargs)


class NoFieldsForm(forms.Form):
    def __init__(self, *args, enrollment=None, **kwargs):
        super().__init__(*args, **kwargs)


class EnrollClientForm(forms.Form):
    email = forms.EmailField(
        label=_("Client's email"), help_text=_("The client must have an account.")
    )
    engagement = forms.ModelChoiceField(
        label=_("Engagement"), queryset=EngagementPage.objects.none()
    )
    company = forms.ModelChoiceField(
        label=_("Company"), queryset=None, required=False,
        help_text=_("For clients sponsored by their employer."),
    )
    cohort = forms.ModelChoiceField(
        label=_("Cohort"), queryset=None, required=False,
        help_text=_("The cohort's company is used when no company is chosen."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["engagement"].queryset = EngagementPage.objects.live().order_by("title")
        self.fields["company"].queryset = visible(user, "view_company").order_by("name")
        self.fields["cohort"].queryset = visible(user, "view_cohort").select_related(
            "engagement"
        )

    def clean_email(self):
        email = self.cleaned_data["email"]
        clients = list(get_user_model().objects.filter(email__iexact=email)[:2])
        if not clients:
            raise forms.ValidationError(_("Nobody has an account with this email."))
        if len(clients) > 1:
            raise forms.ValidationError(_("Several accounts share this email."))
        self.client = clients[0]
        return email

    def clean(self):
        data = super().clean()
        cohort, engagement = data.get("cohort"), data.get("engagement")
        if cohort is not None and engagement is not None and cohort.engagement_id != engagement.pk:
            self.add_error("cohort", _("This cohort belongs to another engagement."))
        if cohort is not None and data.get("company") is None:
            data["company"] = cohort.company
        return data
