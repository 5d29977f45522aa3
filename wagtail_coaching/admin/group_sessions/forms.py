"""The group-session forms: ``SeriesForm`` creates one session or a series,
``EditSessionForm`` changes one session or it and the later ones of its series. They read
and check what was typed (times in the time zone chosen on the form) and hand the
scheduling services plain values: a ``SessionPlan``, or the changes, coach and co-coaches."""

import zoneinfo
from datetime import date, datetime, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...conf import coaching_settings
from ...models import Audience, EngagementPage, Recurrence
from ...permissions import visible
from ...scheduling import InvalidSchedule, SessionPlan, series_starts
from ...scheduling.sessions import FUTURE, MAX_SERIES, ONE
from .choices import (
    PeopleChoiceField,
    PersonChoiceField,
    clients_seen,
    coaches_seen,
    companies_seen,
    engagement_choices,
    lead_coach_choices,
    time_zone_choices,
)
from .text import group_session_steps

ONCE = "once"


class SessionFields(forms.Form):
    """What a session looks like; shared by the create and edit forms. Times are read in
    the time zone chosen on the form."""

    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    coach = PersonChoiceField(label=gettext_lazy("Coach"), queryset=None)
    co_coaches = PeopleChoiceField(
        label=gettext_lazy("Co-coaches"), queryset=None, required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    start_date = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}),
    )
    start_time = forms.TimeField(
        label=gettext_lazy("Start time"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label=gettext_lazy("Duration (minutes)"), min_value=5, max_value=24 * 60, initial=60,
    )
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"),
        help_text=gettext_lazy("The date and time above are in this time zone."),
    )
    capacity = forms.IntegerField(
        label=gettext_lazy("Seats"), min_value=1, required=False,
        help_text=gettext_lazy("Empty for no limit. Others join the waitlist."),
    )
    video_link = forms.URLField(
        label=gettext_lazy("Video link"), required=False, assume_scheme="https"
    )
    location = forms.CharField(label=gettext_lazy("Location"), max_length=255, required=False)

    coach_error = gettext_lazy("You cannot choose this coach.")
    # (heading, field names) in the order the page shows them.
    FIELDSETS = [
        ("", ["scope"]),
        (gettext_lazy("The session"), ["title", "description", "coach", "co_coaches", "team"]),
        (gettext_lazy("When"), ["start_date", "start_time", "duration_minutes", "time_zone",
                                "repeats", "count", "dates"]),
        (gettext_lazy("Where"), ["capacity", "video_link", "location"]),
        (gettext_lazy("Who is invited"), ["audience", "company", "cohort", "engagement",
                                          "invitees", "activity_block_id", "invite"]),
    ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["time_zone"].choices = time_zone_choices()
        self.fields["coach"].error_messages["invalid_choice"] = self.coach_error
        self.fields["co_coaches"].queryset = coaches_seen(user)
        self.fields["co_coaches"].error_messages["invalid_choice"] = _(
            "You cannot choose this co-coach."
        )

    def fieldsets(self):
        sets = [
            (heading, [self[name] for name in names if name in self.fields])
            for heading, names in self.FIELDSETS
        ]
        return [(heading, fields) for heading, fields in sets if fields]

    def clean(self):
        data = super().clean()
        day, at, zone = data.get("start_date"), data.get("start_time"), data.get("time_zone")
        if day is not None and at is not None and zone:
            self.starts_at = datetime.combine(day, at, tzinfo=zoneinfo.ZoneInfo(zone))
            if data.get("duration_minutes"):
                self.duration = timedelta(minutes=data["duration_minutes"])
        coach = data.get("coach")
        if coach is not None and data.get("co_coaches") is not None:
            data["co_coaches"] = [c for c in data["co_coaches"] if c.pk != coach.pk]
        return data


class SeriesForm(SessionFields):
    """Create one session or a series."""

    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"), queryset=None, required=False,
        help_text=gettext_lazy(
            "Its coaches can see and run the sessions. Empty: the engagement's team."
        ),
    )
    repeats = forms.ChoiceField(
        label=gettext_lazy("Repeats"), initial=ONCE,
        choices=[(ONCE, gettext_lazy("Once")), *Recurrence.choices],
        widget=forms.RadioSelect,
    )
    count = forms.IntegerField(
        label=gettext_lazy("Number of sessions"), min_value=1, max_value=MAX_SERIES,
        required=False, help_text=gettext_lazy("For a weekly or fortnightly series."),
    )
    dates = forms.CharField(
        label=gettext_lazy("Dates"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "For a list of dates: the other dates, one per line (YYYY-MM-DD), each at the "
            "start time above."
        ),
    )
    audience = forms.ChoiceField(
        label=gettext_lazy("Audience"), choices=Audience.choices, initial=Audience.LIST,
    )
    company = forms.ModelChoiceField(
        label=gettext_lazy("Company"), queryset=None, required=False,
        help_text=gettext_lazy("For a company's clients."),
    )
    cohort = forms.ModelChoiceField(
        label=gettext_lazy("Cohort"), queryset=None, required=False,
        help_text=gettext_lazy("For a cohort."),
    )
    engagement = forms.ModelChoiceField(
        label=gettext_lazy("Engagement"), queryset=None, required=False,
        help_text=gettext_lazy(
            "For an engagement's clients; with any audience, attending completes this "
            "engagement's group-session step."
        ),
    )
    invitees = PeopleChoiceField(
        label=gettext_lazy("Hand-picked clients"), queryset=None, required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    activity_block_id = forms.ChoiceField(
        label=gettext_lazy("Group-session step"), required=False,
        help_text=gettext_lazy(
            "The step of the engagement's program that attending completes. Empty: each "
            "attendee's next group-session step."
        ),
    )
    invite = forms.BooleanField(
        label=gettext_lazy("Send invitations now"), required=False, initial=True,
    )

    coach_error = gettext_lazy("You can only create sessions you lead yourself.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["coach"].queryset = lead_coach_choices(user)
        self.fields["time_zone"].initial = coaching_settings.time_zone_name
        self.fields["team"].queryset = visible(user, "view_team").order_by("name")
        self.fields["team"].error_messages["invalid_choice"] = _(
            "You can only choose a team you belong to."
        )
        self.fields["company"].queryset = companies_seen(user)
        self.fields["cohort"].queryset = visible(user, "view_cohort").select_related(
            "engagement"
        ).order_by("name")
        self.fields["engagement"].queryset = engagement_choices(user)
        self.fields["invitees"].queryset = clients_seen(user)
        self.steps = {}
        choices = [("", _("Each attendee's next group-session step"))]
        engagements = EngagementPage.objects.filter(
            Q(pk__in=self.fields["engagement"].queryset.values("pk"))
            | Q(pk__in=self.fields["cohort"].queryset.values("engagement_id"))
        ).order_by("title")
        for engagement in engagements:
            steps = group_session_steps(engagement)
            self.steps[engagement.pk] = steps
            choices += [(block_id, f"{engagement.title} · {title}")
                        for block_id, title in steps.items()]
        self.fields["activity_block_id"].choices = choices
        if not self.is_bound:
            leads = list(self.fields["coach"].queryset[:2])
            if len(leads) == 1:
                self.fields["coach"].initial = leads[0].pk

    def clean_dates(self):
        days = []
        for line in self.cleaned_data["dates"].splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                days.append(date.fromisoformat(line))
            except ValueError:
                raise forms.ValidationError(
                    _("Write each date as YYYY-MM-DD, one per line (not “%(line)s”).")
                    % {"line": line}
                ) from None
        return days

    def clean(self):
        data = super().clean()
        audience = data.get("audience")
        # Only what the audience uses is kept (a company left over from an earlier choice
        # would show the session to that company's HR partners).
        if audience != Audience.COMPANY:
            data["company"] = None
        if audience != Audience.COHORT:
            data["cohort"] = None
        if audience != Audience.LIST:
            data["invitees"] = []
        engagement = data.get("engagement") or (
            data["cohort"].engagement if data.get("cohort") else None
        )
        block_id = data.get("activity_block_id")
        if block_id and (engagement is None or block_id not in self.steps.get(engagement.pk, {})):
            self.add_error(
                "activity_block_id",
                _("This step is not a group session of the chosen engagement."),
            )
        self.engagement = engagement
        if getattr(self, "starts_at", None) is not None and not self.errors:
            try:
                self.starts, self.recurrence = self._starts(data)
            except InvalidSchedule as exc:
                self.add_error(None, str(exc))
        return data

    def _starts(self, data):
        repeats = data.get("repeats")
        zone = data["time_zone"]
        if repeats == ONCE:
            return [self.starts_at], None
        if repeats == Recurrence.DATES:
            days = {self.starts_at.date(), *data.get("dates", [])}
            return series_starts(self.starts_at, repeats, dates=days, time_zone=zone), repeats
        return series_starts(
            self.starts_at, repeats, count=data.get("count"), time_zone=zone
        ), repeats

    def plan(self):
        data = self.cleaned_data
        return SessionPlan(
            title=data["title"], coach=data["coach"], starts_at=self.starts[0],
            duration=self.duration, time_zone=data["time_zone"],
            description=data["description"], team=data["team"], capacity=data["capacity"],
            video_link=data["video_link"], location=data["location"],
            audience=data["audience"], company=data["company"], cohort=data["cohort"],
            engagement=data["engagement"], activity_block_id=data["activity_block_id"],
            co_coaches=list(data["co_coaches"]), invitees=list(data["invitees"]),
        )

    def team_of(self, plan):
        """The team the sessions will have (the engagement's when none is chosen)."""
        if plan.team is not None:
            return plan.team
        return getattr(self.engagement, "team", None)


class EditSessionForm(SessionFields):
    """Change one session, or it and all later sessions of its series."""

    scope = forms.ChoiceField(
        label=gettext_lazy("Change"), widget=forms.RadioSelect, initial=ONE,
        choices=[
            (ONE, gettext_lazy("This session only")),
            (FUTURE, gettext_lazy("This and all later sessions of the series")),
        ],
        help_text=gettext_lazy(
            "A new start moves every later session by the same amount."
        ),
    )

    coach_error = gettext_lazy("You cannot hand the session to this coach.")

    def __init__(self, *args, user, session, **kwargs):
        self.session = session
        start = timezone.localtime(session.starts_at, zoneinfo.ZoneInfo(session.time_zone))
        kwargs["initial"] = {
            "scope": ONE,
            "title": session.title,
            "description": session.description,
            "start_date": start.date(),
            "start_time": start.time().replace(tzinfo=None),
            "duration_minutes": int((session.ends_at - session.starts_at).total_seconds() // 60),
            "time_zone": session.time_zone,
            "capacity": session.capacity,
            "video_link": session.video_link,
            "location": session.location,
            "coach": session.coach_id,
            "co_coaches": [c.pk for c in session.co_coaches.all()],
            **(kwargs.get("initial") or {}),
        }
        super().__init__(*args, user=user, **kwargs)
        if not session.series_id:
            del self.fields["scope"]
        # The current coach, those the viewer may choose to lead, and the coaches they may
        # see (an admin: all; a coach: themselves and their teammates). Whoever is chosen
        # must leave the viewer able to change the session (checked by ``edit_session``).
        seen = Q(pk__in=coaches_seen(user).values("pk"))
        current = Q(pk=session.coach_id) | Q(pk__in=session.co_coaches.values("pk"))
        leads = seen | Q(pk=session.coach_id) | Q(pk__in=lead_coach_choices(user).values("pk"))
        self.fields["coach"].queryset = get_user_model().objects.filter(leads).order_by(
            "first_name", "last_name", "pk"
        )
        self.fields["co_coaches"].queryset = get_user_model().objects.filter(
            seen | current
        ).order_by("first_name", "last_name", "pk")

    def clean(self):
        data = super().clean()
        if self.session.is_cancelled:
            raise forms.ValidationError(_("This session was cancelled: it cannot be changed."))
        data.setdefault("scope", ONE)
        return data

    def changes(self):
        """The fields ``update_sessions`` takes, where they differ from this session (so
        "all later sessions" keeps what each of them has of its own)."""
        data, session = self.cleaned_data, self.session
        changes = {
            name: data[name]
            for name in ("title", "description", "time_zone", "capacity", "video_link",
                         "location")
            if data[name] != getattr(session, name)
        }
        ends_at = self.starts_at + self.duration
        if self.starts_at != session.starts_at or ends_at != session.ends_at:
            changes["starts_at"] = self.starts_at
            changes["ends_at"] = ends_at
        return changes

    def new_coach(self):
        coach = self.cleaned_data["coach"]
        return None if coach.pk == self.session.coach_id else coach

    def new_co_coaches(self):
        wanted = {c.pk: c for c in self.cleaned_data["co_coaches"]}
        current = set(self.session.co_coaches.values_list("pk", flat=True))
        return None if set(wanted) == current else list(wanted.values())
