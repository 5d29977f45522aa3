"""Group sessions in the coaching admin (Coaching → Group sessions).

- the list: week by week, upcoming sessions first (a filter shows past ones), filters by
  coach, company, cohort and status, seats taken and the waitlist; a fixed number of
  queries however many sessions it shows;
- "Add": the create-series form (once, weekly, fortnightly or a list of dates);
- "Edit": one session, or it and all later sessions of its series;
- the session page (inspect): the invite link with a copy button, seats, the registered
  list, the waitlist, and the actions ``session_invite``, ``session_cancel`` and
  ``session_attendance`` (POSTs in ``urlpatterns``, under ``/admin/coaching/sessions/``).

The views are thin: every change goes through ``wagtail_coaching.scheduling``. A session
is looked up inside ``visible(user, "view_groupsession")`` (404 otherwise) and every change
is checked with ``allowed(user, "change_groupsession", session)`` (403 otherwise). Times are
shown in the viewer's time zone (their Wagtail profile's, else the coaching default); a
form's times are read in the time zone chosen on the form.
"""

import zoneinfo
from datetime import date, datetime, timedelta
from functools import lru_cache

from django import forms
from django.contrib import messages
from django.contrib.admin import SimpleListFilter, display
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic.edit import FormView
from wagtail_modeladmin.helpers import ButtonHelper
from wagtail_modeladmin.views import InspectView, InstanceSpecificView, WMABaseView

from ..conf import coaching_settings
from ..journeys.errors import JourneyError
from ..journeys.program import flatten_program
from ..models import (
    Audience,
    Cohort,
    Company,
    EngagementPage,
    GroupSession,
    Recurrence,
    Registration,
    RegistrationStatus,
    SessionStatus,
)
from ..permissions import allowed, visible
from ..scheduling import (
    InvalidSchedule,
    SessionNotOpen,
    SessionPlan,
    cancel_sessions,
    change_coach,
    create_sessions,
    holds_seat,
    mark_attendance,
    mark_everyone,
    seats_taken_annotation,
    series_starts,
    update_sessions,
)
from ..scheduling.sessions import MAX_SERIES, change_co_coaches, send_invitations_later
from ..views.client import user_time_zone
from .base import DeclaredFiltersIndexView, MatrixModelAdmin, _count
from .card import CoachingAdminView
from .display import in_viewer_zone, person
from .filters import _IdFilter
from .permission import MatrixPermissionHelper, forbidden, may, may_use_admin, visible_or_404

TEMPLATES = "wagtail_coaching/admin/sessions/"
ONCE = "once"
ONE, FUTURE = "one", "future"
ATTENDED, NO_SHOW = RegistrationStatus.ATTENDED, RegistrationStatus.NO_SHOW


def _users():
    return get_user_model().objects




def manages_all(user):
    """Whether the viewer changes every group session (a coaching admin), as opposed to
    the ones they or their team run: the matrix's answer for a session that is nobody's."""
    return may(user, "change_groupsession", GroupSession())


def invite_url(session):
    """The shareable invite link, absolute (it goes into emails and chats)."""
    base = coaching_settings.BASE_URL.rstrip("/")
    return base + reverse("wagtail_coaching:join", args=[session.invite_token])


def when_text(session, zone=None):
    """"Tue 4 Mar 2025, 18:00–19:00" in ``zone`` (default: the active time zone)."""
    start = timezone.localtime(session.starts_at, zone)
    end = timezone.localtime(session.ends_at, zone)
    end_format = "H:i" if end.date() == start.date() else "D j M Y, H:i"
    return f"{date_format(start, 'D j M Y, H:i')}–{date_format(end, end_format)}"


def week_start(session, zone=None):
    day = timezone.localtime(session.starts_at, zone).date()
    return day - timedelta(days=day.weekday())


def week_label(monday):
    return _("Week of %(day)s") % {"day": date_format(monday, "j M Y")}


def audience_text(session):
    label = session.get_audience_display()
    target = {
        Audience.COMPANY: session.company,
        Audience.COHORT: session.cohort,
        Audience.ENGAGEMENT: session.engagement,
    }.get(session.audience)
    if target is None:
        return label
    return f"{label}: {getattr(target, 'title', None) or target}"


def seats_text(taken, capacity):
    if capacity is None:
        return _("%(taken)d / no limit") % {"taken": taken}
    return f"{taken} / {capacity}"


def with_counts(queryset):
    """Sessions with ``seats_held`` and ``waiting`` counted in the same query."""
    registrations = Registration.objects.filter(session=OuterRef("pk"))
    return queryset.annotate(
        seats_held=seats_taken_annotation(),
        waiting=_count(
            registrations.filter(status=RegistrationStatus.WAITLISTED), "session"
        ),
    )


def session_history(user, condition, limit=50):
    """Group sessions matching ``condition`` (a Q) that ``user`` may see, latest first, with
    their time in the viewer's zone and their seats: the history on a cohort's or company's
    page."""
    zone = user_time_zone(user)
    sessions = list(
        with_counts(visible(user, "view_groupsession").filter(condition))
        .select_related("coach")
        .order_by("-starts_at", "-pk")[:limit]
    )
    for s in sessions:
        s.when = when_text(s, zone)
        s.seats = seats_text(s.seats_held, s.capacity)
        s.coach_name = person(s.coach)
    return sessions


# -- Choices offered to the viewer -------------------------------------------------------------

def coaches_seen(user):
    """Active users with a coach profile the viewer may see (an admin: every coach)."""
    return _users().filter(
        is_active=True,
        pk__in=visible(user, "view_coachprofile").order_by().values("user_id"),
    ).order_by("first_name", "last_name", "pk")


def lead_coach_choices(user):
    """Who may lead a new session: an admin picks any coach, a coach only themselves."""
    if manages_all(user):
        return coaches_seen(user)
    return _users().filter(pk=user.pk)


def companies_seen(user):
    """Companies the viewer may see, and the companies of the clients they may see."""
    return Company.objects.filter(
        Q(pk__in=visible(user, "view_company").order_by().values("pk"))
        | Q(pk__in=visible(user, "view_enrollment").order_by().values("company_id"))
    ).order_by("name")


def engagements_seen(user):
    """Engagements the viewer works on: an admin's are all; a coach's are their teams' and
    those of the clients they may see."""
    if manages_all(user):
        return EngagementPage.objects.order_by("title")
    return EngagementPage.objects.filter(
        Q(team_id__in=visible(user, "view_team").order_by().values("pk"))
        | Q(pk__in=visible(user, "view_enrollment").order_by().values("engagement_id"))
    ).order_by("title")


def clients_seen(user):
    return _users().filter(
        is_active=True,
        pk__in=visible(user, "view_enrollment").order_by().values("client_id"),
    ).order_by("first_name", "last_name", "pk")


def group_session_steps(engagement):
    """The group-session steps of an engagement's program: {block id: title}."""
    return {
        spec.block_id: f"{spec.stage_title} · {spec.title}" if spec.stage_title else spec.title
        for spec in flatten_program(engagement.program)
        if spec.kind == "group_session"
    }


@lru_cache(maxsize=1)
def time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return person(obj)


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return person(obj)


# -- Forms -------------------------------------------------------------------------------------

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
        self.fields["engagement"].queryset = engagements_seen(user)
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
        # The current coach, the viewer, and the coaches they may see (an admin: all; a
        # coach: their teammates). Whoever is chosen must leave the viewer able to change
        # the session (checked by the view).
        seen = Q(pk__in=coaches_seen(user).values("pk"))
        current = Q(pk=session.coach_id) | Q(pk__in=session.co_coaches.values("pk"))
        leads = seen | Q(pk=session.coach_id)
        if not manages_all(user):
            leads |= Q(pk=user.pk)
        self.fields["coach"].queryset = _users().filter(leads).order_by(
            "first_name", "last_name", "pk"
        )
        self.fields["co_coaches"].queryset = _users().filter(
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


# -- Services not (yet) in scheduling ----------------------------------------------------------

def scope_ids(session, scope, now):
    """The open sessions a change reaches: the session, or it and the later ones of its
    series (the same reach as ``update_sessions``), leaving out cancelled or finished
    ones."""
    targets = GroupSession.objects.filter(pk=session.pk)
    if scope == FUTURE and session.series_id:
        targets = GroupSession.objects.filter(
            series_id=session.series_id, starts_at__gte=session.starts_at
        )
    return list(
        targets.filter(status=SessionStatus.SCHEDULED, ends_at__gt=now).values_list(
            "pk", flat=True
        )
    )




# -- The list ----------------------------------------------------------------------------------

def _seen(request):
    return visible(request.user, "view_groupsession").order_by()


class WhenFilter(SimpleListFilter):
    """Upcoming sessions (not over yet) unless the viewer asks for past ones or all."""

    title = gettext_lazy("when")
    parameter_name = "when"
    UPCOMING, PAST, ALL = "upcoming", "past", "all"

    def lookups(self, request, model_admin):
        return [
            (self.UPCOMING, _("Upcoming")), (self.PAST, _("Past")), (self.ALL, _("All")),
        ]

    def current(self):
        value = self.value()
        return value if value in (self.PAST, self.ALL) else self.UPCOMING

    def choices(self, changelist):
        current = self.current()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        now = timezone.now()
        current = self.current()
        if current == self.UPCOMING:
            return queryset.filter(ends_at__gt=now)
        if current == self.PAST:
            return queryset.filter(ends_at__lte=now)
        return queryset


class SessionCoachFilter(_IdFilter):
    """Sessions a coach leads or co-leads; offers the coaches of sessions the viewer sees."""

    title = gettext_lazy("coach")
    parameter_name = "coach"

    def lookups(self, request, model_admin):
        seen = _seen(request)
        co = GroupSession.co_coaches.through.objects.filter(groupsession_id__in=seen.values("pk"))
        coaches = _users().filter(
            Q(pk__in=seen.values("coach_id")) | Q(pk__in=co.values("user_id"))
        ).order_by("first_name", "last_name", "pk")
        return [(c.pk, person(c)) for c in coaches]

    def filter_by(self, queryset, value):
        co = GroupSession.co_coaches.through.objects.filter(user_id=value)
        return queryset.filter(Q(coach_id=value) | Q(pk__in=co.values("groupsession_id")))


class SessionCompanyFilter(_IdFilter):
    """Sessions for a company, or for one of its cohorts."""

    title = gettext_lazy("company")
    parameter_name = "company"

    def lookups(self, request, model_admin):
        seen = _seen(request)
        companies = Company.objects.filter(
            Q(pk__in=seen.values("company_id")) | Q(pk__in=seen.values("cohort__company_id"))
        ).order_by("name")
        return [(c.pk, c.name) for c in companies]

    def filter_by(self, queryset, value):
        return queryset.filter(Q(company_id=value) | Q(cohort__company_id=value))


class SessionCohortFilter(_IdFilter):
    title = gettext_lazy("cohort")
    parameter_name = "cohort"

    def lookups(self, request, model_admin):
        cohorts = Cohort.objects.filter(pk__in=_seen(request).values("cohort_id"))
        return [(c.pk, c.name) for c in cohorts.order_by("name")]

    def filter_by(self, queryset, value):
        return queryset.filter(cohort_id=value)


class SessionStatusFilter(SimpleListFilter):
    title = gettext_lazy("status")
    parameter_name = "status"

    # As the list shows it: a held session is one whose attendance was taken.
    OUTCOMES = {
        SessionStatus.SCHEDULED: Q(status=SessionStatus.SCHEDULED,
                                   attendance_taken_at__isnull=True),
        "held": Q(status=SessionStatus.SCHEDULED, attendance_taken_at__isnull=False),
        SessionStatus.CANCELLED: Q(status=SessionStatus.CANCELLED),
    }

    def lookups(self, request, model_admin):
        return [
            (SessionStatus.SCHEDULED, SessionStatus.SCHEDULED.label),
            ("held", _("Held")),
            (SessionStatus.CANCELLED, SessionStatus.CANCELLED.label),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in self.OUTCOMES:
            return queryset.none()
        return queryset.filter(self.OUTCOMES[value])


class GroupSessionPermissionHelper(MatrixPermissionHelper):
    """Listing and inspecting: ``view_groupsession``; editing: ``change_groupsession``;
    creating: ``create_groupsession`` (checked again on the sessions about to exist).

    Rows of the list carry ``viewer_may_change`` (from ``visible()``), so their buttons cost
    no query.
    """

    view_action = "view_groupsession"
    change_action = "change_groupsession"

    def user_can_create(self, user):
        return may(user, "create_groupsession")

    def user_can_inspect_obj(self, user, obj):
        if hasattr(obj, "viewer_may_change"):
            # A row of the list: visible to this viewer by construction.
            return self.inspect_view_enabled and may_use_admin(user)
        return super().user_can_inspect_obj(user, obj)

    def user_can_edit_obj(self, user, obj):
        known = getattr(obj, "viewer_may_change", None)
        if known is not None:
            return bool(known) and may_use_admin(user)
        return super().user_can_edit_obj(user, obj)


class GroupSessionButtonHelper(ButtonHelper):
    def add_button(self, classnames_add=None, classnames_exclude=None):
        button = super().add_button(classnames_add, classnames_exclude)
        button["label"] = _("Add sessions")
        button["title"] = _("Add one group session or a series")
        return button

    def get_primary_button(self, obj):
        # A session's title opens its page (where everything about it is).
        if self.permission_helper.user_can_inspect_obj(self.request.user, obj):
            return self.inspect_button(obj.pk)
        return None

    def get_buttons_for_obj(self, obj, exclude=None, classnames_add=None,
                            classnames_exclude=None):
        exclude = list(exclude or [])
        if obj.is_cancelled or obj.starts_at <= timezone.now():
            exclude.append("edit")
        return super().get_buttons_for_obj(obj, exclude, classnames_add, classnames_exclude)


class SessionIndexView(DeclaredFiltersIndexView):
    """The list, with a "week of" label on the first session of each week."""

    def get_page_subtitle(self):
        return _("Times in %(zone)s") % {"zone": timezone.get_current_timezone_name()}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        previous = None
        for session in rows:
            monday = week_start(session)
            session.same_week_as_previous = monday == previous
            previous = monday
        context["object_list"] = rows
        return context


# -- Create and edit ---------------------------------------------------------------------------

class SessionCreateView(WMABaseView, FormView):
    form_class = SeriesForm
    template_name = TEMPLATES + "create.html"
    page_title = gettext_lazy("Add group sessions")

    def check_action_permitted(self, user):
        return self.permission_helper.user_can_create(user)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def form_valid(self, form):
        user = self.request.user
        plan = form.plan()
        # A coach creates only sessions they (or their team) run.
        if not allowed(user, "change_groupsession",
                       GroupSession(coach=plan.coach, team=form.team_of(plan))):
            form.add_error(None, _("You can only create sessions that you or your team run."))
            return self.form_invalid(form)
        try:
            sessions = create_sessions(
                plan, form.starts, recurrence=form.recurrence, actor=user,
                invite=form.cleaned_data["invite"],
            )
        except JourneyError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        text = ngettext(
            "%(n)d session of “%(title)s” created.", "%(n)d sessions of “%(title)s” created.",
            len(sessions),
        ) % {"n": len(sessions), "title": plan.title}
        if form.cleaned_data["invite"]:
            text += " " + _("The invitations are on their way.")
        messages.success(self.request, text)
        return redirect(self.url_helper.get_action_url("inspect", sessions[0].pk))


class SessionEditView(InstanceSpecificView, FormView):
    template_name = TEMPLATES + "edit.html"
    page_title = gettext_lazy("Edit group session")

    def check_action_permitted(self, user):
        return self.permission_helper.user_can_edit_obj(user, self.instance)

    def get_form(self, form_class=None):
        return EditSessionForm(
            **self.get_form_kwargs(), user=self.request.user, session=self.instance
        )

    def get_context_data(self, **kwargs):
        session = self.instance
        return super().get_context_data(
            when=when_text(session),
            inspect_url=self.url_helper.get_action_url("inspect", session.pk),
            is_open=not session.is_cancelled and session.starts_at > timezone.now(),
            zone_name=timezone.get_current_timezone_name(),
            **kwargs,
        )

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def form_valid(self, form):
        user, session = self.request.user, self.instance
        now = timezone.now()
        scope = form.cleaned_data["scope"]
        changes, coach, co_coaches = form.changes(), form.new_coach(), form.new_co_coaches()
        if coach is not None and not allowed(
            user, "change_groupsession", GroupSession(coach=coach, team=session.team)
        ):
            form.add_error("coach", form.coach_error)
            return self.form_invalid(form)
        if not changes and coach is None and co_coaches is None:
            messages.info(self.request, _("Nothing to change."))
            return redirect(self.url_helper.get_action_url("inspect", session.pk))
        try:
            with transaction.atomic():
                ids = scope_ids(session, scope, now)
                changed = (
                    update_sessions(session, changes, scope=scope, actor=user, now=now)
                    if changes else []
                )
                if coach is not None:
                    for target in GroupSession.objects.filter(pk__in=ids).order_by("starts_at"):
                        change_coach(target, coach, actor=user, now=now)
                if co_coaches is not None:
                    change_co_coaches(ids, co_coaches, now=now)
        except JourneyError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        count = max(len(changed), len(ids) if (coach or co_coaches is not None) else 0)
        messages.success(self.request, ngettext(
            "%(n)d session updated; everyone holding it gets the change.",
            "%(n)d sessions updated; everyone holding them gets the change.",
            count,
        ) % {"n": count})
        return redirect(self.url_helper.get_action_url("inspect", session.pk))


# -- The session page --------------------------------------------------------------------------

def session_page(user, session, now=None):
    """What the session page shows ``user``. The people (registered list, waitlist,
    attendance) and the invite link are for those who may change the session; others
    (an HR partner) see the counts."""
    now = now or timezone.now()
    can_change = may(user, "change_groupsession", session)
    registrations = list(
        session.registrations.select_related("user").order_by("registered_at", "pk")
    )
    by_status = {}
    for r in registrations:
        by_status.setdefault(r.status, []).append(r)
    seat_holders = [r for r in registrations if holds_seat(r)]
    waitlist = sorted(
        by_status.get(RegistrationStatus.WAITLISTED, []),
        key=lambda r: (r.waitlisted_at or now, r.pk),
    )
    started = session.starts_at <= now
    is_open = not session.is_cancelled and not started
    series = []
    if session.series_id:
        series = list(
            visible(user, "view_groupsession").filter(series_id=session.series_id)
            .order_by("starts_at", "pk")
        )
        for s in series:
            s.when = when_text(s)
    session_zone = zoneinfo.ZoneInfo(session.time_zone)
    return {
        "session": session,
        "when": when_text(session),
        "when_session_zone": (
            when_text(session, session_zone)
            if when_text(session, session_zone) != when_text(session) else ""
        ),
        "co_coaches": [person(c) for c in session.co_coaches.all()],
        "coach_name": person(session.coach),
        "audience": audience_text(session),
        "seats": seats_text(len(seat_holders), session.capacity),
        "counts": {
            "invited": len(by_status.get(RegistrationStatus.INVITED, [])),
            "declined": len(by_status.get(RegistrationStatus.DECLINED, [])),
            "cancelled": len(by_status.get(RegistrationStatus.CANCELLED, [])),
            "waitlisted": len(waitlist),
            "attended": len(by_status.get(ATTENDED, [])),
            "no_show": len(by_status.get(NO_SHOW, [])),
        },
        "can_change": can_change,
        "show_people": can_change,
        "seat_holders": [(r, person(r.user)) for r in seat_holders],
        "waitlist": [(r, person(r.user)) for r in waitlist],
        "invite_url": invite_url(session) if can_change else "",
        "started": started,
        "is_open": is_open,
        "can_invite": can_change and is_open,
        "can_cancel": can_change and not session.is_cancelled and session.ends_at > now,
        "can_take_attendance": can_change and started and not session.is_cancelled,
        "series": series,
        "step_title": _step_title(session),
        "invite_action": reverse("wagtail_coaching_admin:session_invite",
                                 args=[session.public_id]),
        "cancel_action": reverse("wagtail_coaching_admin:session_cancel",
                                 args=[session.public_id]),
        "attendance_action": reverse("wagtail_coaching_admin:session_attendance",
                                     args=[session.public_id]),
        "zone_name": timezone.get_current_timezone_name(),
    }


def _step_title(session):
    if not session.activity_block_id or session.engagement is None:
        return ""
    return group_session_steps(session.engagement).get(session.activity_block_id, "")


class SessionInspectView(InspectView):
    def get_page_title(self):
        return self.instance.title

    def get_page_subtitle(self):
        return _("Group session")

    def get_fields_dict(self):
        # The template shows the session; the generic field list is not used.
        return []

    def get_context_data(self, **kwargs):
        instance = (
            GroupSession.objects.select_related("coach", "company", "cohort", "engagement",
                                                "team", "series")
            .prefetch_related("co_coaches")
            .get(pk=self.instance.pk)
        )
        return super().get_context_data(**session_page(self.request.user, instance), **kwargs)


# -- The admin ---------------------------------------------------------------------------------

class GroupSessionsAdmin(MatrixModelAdmin):
    model = GroupSession
    menu_label = gettext_lazy("Group sessions")
    menu_icon = "date"
    base_url_path = "coaching/sessions"
    permission_helper_class = GroupSessionPermissionHelper
    button_helper_class = GroupSessionButtonHelper
    index_view_class = SessionIndexView
    inspect_view_enabled = True
    inspect_view_class = SessionInspectView
    inspect_template_name = TEMPLATES + "inspect.html"
    list_display = (
        "week", "title", "when", "coaches", "audience_label", "seats", "waitlist", "outcome",
    )
    list_display_add_buttons = "title"
    list_filter = (
        WhenFilter, SessionCoachFilter, SessionCompanyFilter, SessionCohortFilter,
        SessionStatusFilter,
    )
    search_fields = ("title",)
    ordering = ("starts_at", "pk")
    list_per_page = 50

    def get_queryset(self, request):
        may_change = visible(request.user, "change_groupsession").filter(pk=OuterRef("pk"))
        return (
            with_counts(super().get_queryset(request))
            .select_related("coach", "company", "cohort", "engagement")
            .prefetch_related(Prefetch(
                "co_coaches", queryset=_users().order_by("first_name", "last_name", "pk")
            ))
            .annotate(viewer_may_change=Exists(may_change))
        )

    def index_view(self, request):
        return in_viewer_zone(request, super().index_view)

    def create_view(self, request):
        return in_viewer_zone(request, SessionCreateView.as_view(model_admin=self))

    def edit_view(self, request, instance_pk):
        self.get_visible_object(request, instance_pk)
        return in_viewer_zone(
            request, SessionEditView.as_view(model_admin=self, instance_pk=instance_pk)
        )

    def inspect_view(self, request, instance_pk):
        return in_viewer_zone(request, super().inspect_view, instance_pk)

    @display(description=gettext_lazy("week"))
    def week(self, session):
        label = week_label(week_start(session))
        if getattr(session, "same_week_as_previous", False):
            # Shown once per week; screen readers still hear it on every row.
            return format_html('<span class="w-sr-only">{}</span>', label)
        return label

    @display(description=gettext_lazy("when"), ordering="starts_at")
    def when(self, session):
        return when_text(session)

    @display(description=gettext_lazy("coach"))
    def coaches(self, session):
        names = [person(session.coach)]
        names += [person(c) for c in session.co_coaches.all() if c.pk != session.coach_id]
        return ", ".join(names)

    @display(description=gettext_lazy("audience"))
    def audience_label(self, session):
        return audience_text(session)

    @display(description=gettext_lazy("seats taken"))
    def seats(self, session):
        return seats_text(session.seats_held, session.capacity)

    @display(description=gettext_lazy("waitlist"))
    def waitlist(self, session):
        return session.waiting

    @display(description=gettext_lazy("status"), ordering="status")
    def outcome(self, session):
        return session.outcome_label


# -- Actions on a session (POST) ---------------------------------------------------------------

class SessionActionView(CoachingAdminView):
    """Find the session among those the viewer sees (404), check ``change_groupsession``
    (403), act through the scheduling services; a refusal is an error message, success a
    success message, and both go back to the session page."""

    def get_session(self, public_id):
        return visible_or_404(
            self.request.user, "view_groupsession", related=("coach", "series"),
            public_id=public_id,
        )

    def session_url(self, session):
        return reverse("coaching_sessions_modeladmin_inspect", args=[session.pk])

    def post(self, request, public_id):
        session = self.get_session(public_id)
        if not may(request.user, "change_groupsession", session):
            return forbidden(request)
        try:
            text = self.act(request, session)
        except JourneyError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, text)
        return redirect(self.session_url(session))

    def act(self, request, session):
        raise NotImplementedError


class InviteView(SessionActionView):
    """"Send invitations": the audience members not invited yet get theirs (in the
    background; running it again sends nothing twice)."""

    def act(self, request, session):
        if session.is_cancelled:
            raise SessionNotOpen(_("This session was cancelled."))
        if session.starts_at <= timezone.now():
            raise SessionNotOpen(_("This session has already started."))
        send_invitations_later(session)
        return _("Invitations to “%(title)s” are on their way.") % {"title": session.title}


class CancelView(SessionActionView):
    """GET asks for confirmation; POST cancels this session, or it and all later ones."""

    template_name = TEMPLATES + "cancel.html"

    def get(self, request, public_id):
        session = self.get_session(public_id)
        if not may(request.user, "change_groupsession", session):
            return forbidden(request)
        scope = FUTURE if request.GET.get("scope") == FUTURE and session.series_id else ONE
        later = 0
        if session.series_id:
            later = GroupSession.objects.filter(
                series_id=session.series_id, starts_at__gt=session.starts_at,
                status=SessionStatus.SCHEDULED,
            ).count()
        with timezone.override(user_time_zone(request.user)):
            return TemplateResponse(request, self.template_name, {
                "session": session,
                "when": when_text(session),
                "scope": scope,
                "later": later,
                "session_url": self.session_url(session),
                "header_title": _("Cancel a group session"),
            }).render()

    def act(self, request, session):
        scope = request.POST.get("scope", ONE)
        if scope not in (ONE, FUTURE):
            raise InvalidSchedule(_("Choose this session or all later ones."))
        done = cancel_sessions(session, scope=scope, actor=request.user)
        if not done:
            raise SessionNotOpen(_("This session was already cancelled."))
        return ngettext(
            "%(n)d session cancelled; everyone invited has been told.",
            "%(n)d sessions cancelled; everyone invited has been told.",
            len(done),
        ) % {"n": len(done)}


class AttendanceView(SessionActionView):
    """Attended or no-show for each person holding a seat, or "everyone attended"."""

    FIELD = "attendance-"

    def act(self, request, session):
        if request.POST.get("everyone") == ATTENDED:
            changed = mark_everyone(session, ATTENDED, actor=request.user)
        else:
            marks = {}
            for key, value in request.POST.items():
                if not key.startswith(self.FIELD):
                    continue
                user_id = key.removeprefix(self.FIELD)
                if not user_id.isdecimal():
                    raise InvalidSchedule(_("Only people on the session's list can be marked."))
                marks[int(user_id)] = value
            if not marks:
                raise InvalidSchedule(_("Mark at least one person attended or no-show."))
            changed = mark_attendance(session, marks, actor=request.user)
        return ngettext(
            "Attendance saved (%(n)d change).", "Attendance saved (%(n)d changes).",
            len(changed),
        ) % {"n": len(changed)}


urlpatterns = [
    path("sessions/<uuid:public_id>/invite/", InviteView.as_view(), name="session_invite"),
    path("sessions/<uuid:public_id>/cancel/", CancelView.as_view(), name="session_cancel"),
    path(
        "sessions/<uuid:public_id>/attendance/", AttendanceView.as_view(),
        name="session_attendance",
    ),
]
