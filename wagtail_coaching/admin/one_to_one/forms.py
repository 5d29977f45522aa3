"""The 1:1 forms of the admin: publishing availability (one date cut into slots, repeated
for N weeks, read in the time zone chosen on the form), recording a session, moving and
cancelling it, and staff booking for a client (a free time of the coach, or a date and time
outside availability with the override ticked). They read and check what was typed; the
scheduling services decide the rest."""

import zoneinfo
from datetime import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.localization import get_available_admin_time_zones
from wagtail.admin.widgets import AdminDateInput, AdminTimeInput

from ...models import AvailabilitySlot, CoachingSessionStatus, CoachProfile
from ...scheduling.booking import parse_start
from ...utils import time_zones
from ..display import person
from ..follow_up import FollowUpForm
from ..permission import may


def publishes_for_anyone(user):
    """Whether ``user`` may publish availability for any coach (admins), rather than only
    for themselves: the matrix's answer for a slot of nobody yet."""
    return may(user, "change_availabilityslot", AvailabilitySlot())


def coach_time_zone(coach):
    """The zone of the coach's profile, else the coaching default."""
    return time_zones.coach_time_zone(
        CoachProfile.objects.filter(user=coach).only("time_zone").first()
    ).key


class PublishAvailabilityForm(forms.Form):
    """One date, from–to, cut into slots; the same weekday and local time for N weeks.

    The rules (future, at least 15 minutes, 1 to 52 weeks, no overlap) are the service's:
    it says what is wrong and creates nothing.
    """

    coach = forms.ModelChoiceField(label=gettext_lazy("Coach"), queryset=None)
    date = forms.DateField(label=gettext_lazy("Date"), widget=AdminDateInput)
    start_time = forms.TimeField(label=gettext_lazy("From"), widget=AdminTimeInput)
    end_time = forms.TimeField(label=gettext_lazy("To"), widget=AdminTimeInput)
    slot_minutes = forms.IntegerField(
        label=gettext_lazy("Slot length (minutes)"), initial=60,
    )
    weeks = forms.IntegerField(
        label=gettext_lazy("Weeks"), initial=1,
        help_text=gettext_lazy("1 for this date only; more repeats it every week."),
    )
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"), required=False,
        help_text=gettext_lazy("The zone of the times above; the coach's own if left empty."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if publishes_for_anyone(user):
            coaches = CoachProfile.objects.values("user_id")
            self.fields["coach"].queryset = get_user_model().objects.filter(
                pk__in=coaches
            ).order_by("first_name", "last_name", "username")
            self.fields["coach"].label_from_instance = person
        else:
            del self.fields["coach"]
            self.initial.setdefault("time_zone", coach_time_zone(user))
        self.fields["time_zone"].choices = [("", _("The coach's time zone"))] + [
            (name, name) for name in get_available_admin_time_zones()
        ]

    def clean(self):
        data = super().clean()
        coach = data.get("coach") if "coach" in self.fields else self.user
        if coach is not None and not may(
            self.user, "change_availabilityslot", AvailabilitySlot(coach=coach)
        ):
            raise forms.ValidationError(_("You can only publish your own availability."))
        data["coach"] = coach
        return data

    def plan(self):
        """The arguments of ``publish_availability``."""
        data = self.cleaned_data
        name = data["time_zone"] or coach_time_zone(data["coach"])
        zone = zoneinfo.ZoneInfo(name)
        return {
            "start": datetime.combine(data["date"], data["start_time"], tzinfo=zone),
            "end": datetime.combine(data["date"], data["end_time"], tzinfo=zone),
            "slot_minutes": data["slot_minutes"],
            "weeks": data["weeks"],
            "time_zone": name,
        }


class RecordForm(FollowUpForm):
    """What happened, and what the coach writes after it (``FollowUpForm``)."""

    outcome = forms.ChoiceField(
        label=gettext_lazy("What happened"), widget=forms.RadioSelect,
        choices=[
            (CoachingSessionStatus.COMPLETED, gettext_lazy("Held")),
            (CoachingSessionStatus.NO_SHOW, gettext_lazy("The client did not come")),
        ],
    )

    field_order = ["outcome"]


class RescheduleForm(forms.Form):
    starts_at = forms.CharField(label=gettext_lazy("New time"))

    def clean_starts_at(self):
        value = parse_start(self.cleaned_data["starts_at"])
        if value is None:
            raise forms.ValidationError(_("Choose one of the free times."))
        return value


# Where an action on a 1:1 session leads back to: the session's page, or the client card.
BACK_CHOICES = [("", gettext_lazy("The session's page")), ("card", gettext_lazy("The client card"))]


class CancelForm(forms.Form):
    """Cancelling as staff gives the session back to the client's package unless staff
    count it as used (the client asked too late, or did not warn)."""

    count_as_used = forms.BooleanField(
        label=gettext_lazy("Count it as used (late cancellation)"), required=False,
    )
    back = forms.ChoiceField(choices=BACK_CHOICES, required=False, widget=forms.HiddenInput)


class StaffTimeForm(forms.Form):
    """A time for a client's 1:1, chosen by staff: one of the coach's free times (shown in
    the viewer's zone, labelled in the client's), or, with the override ticked, any date and
    time, read in the viewer's zone. Without the right to override, only free times."""

    starts_at = forms.ChoiceField(label=gettext_lazy("Free time of the coach"), required=False)
    override = forms.BooleanField(
        label=gettext_lazy("Book outside the coach's availability"), required=False,
        help_text=gettext_lazy(
            "Tick to use the date and time below instead of a free time. The coach and the "
            "client must still be free then."
        ),
    )
    # The browser's own date and time pickers: these pages load no chooser scripts.
    date = forms.DateField(
        label=gettext_lazy("Date"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    time = forms.TimeField(
        label=gettext_lazy("Time"), required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    back = forms.ChoiceField(choices=BACK_CHOICES, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, times, may_override, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].choices = [("", _("Choose a time"))] + list(times)
        if may_override:
            zone = timezone.get_current_timezone_name()
            self.fields["time"].help_text = _("In your time zone (%(zone)s).") % {"zone": zone}
        else:
            for name in ("override", "date", "time"):
                del self.fields[name]

    def clean(self):
        data = super().clean()
        if data.get("override"):
            if data.get("date") is None or data.get("time") is None:
                raise forms.ValidationError(
                    _("Give the date and the time of the session outside availability.")
                )
            data["when"] = datetime.combine(
                data["date"], data["time"], tzinfo=timezone.get_current_timezone()
            )
        else:
            data["override"] = False
            data["when"] = parse_start(data.get("starts_at") or "")
            if data["when"] is None and "starts_at" not in self.errors:
                self.add_error("starts_at", _("Choose one of the free times."))
        return data


class BookForClientForm(StaffTimeForm):
    """Which of the client's 1:1 steps the session comes from, and when."""

    activity = forms.ChoiceField(label=gettext_lazy("From the package"))

    field_order = ["activity"]

    def __init__(self, *args, steps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["activity"].choices = [(str(row.public_id), row.title) for row in steps]
