"""Reports on sessions: no-shows by coach and by session, coach load and capacity, and the
sessions each coach delivered (for payouts)."""

from datetime import timedelta

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet

from .. import metrics
from ..charts import Chart, Series
from ..models import CoachProfile, GroupSession
from ..permissions import visible
from ..scheduling import delivered
from .base import CoachingReport, PeriodFilter, PersonFilter, column, keep, person


def people_name(user):
    return person(user) if user is not None else ""


def session_coaches(request):
    """Coaches of the group and 1:1 sessions the viewer may see."""
    user = request.user
    return get_user_model().objects.filter(
        Q(pk__in=visible(user, "view_groupsession").order_by().values("coach_id"))
        | Q(pk__in=visible(user, "view_coachingsession").order_by().values("coach_id"))
    ).order_by("first_name", "last_name", "pk")


def profile_coaches(request, action):
    return get_user_model().objects.filter(
        pk__in=visible(request.user, action).order_by().values("user_id")
    ).order_by("first_name", "last_name", "pk")


class CoachParameter(PersonFilter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", _("Coach"))
        super().__init__(*args, method=keep, **kwargs)


# -- No-shows ----------------------------------------------------------------------------------

BY_COACH, BY_SESSION = "coach", "session"


class NoShowFilters(WagtailFilterSet):
    by = django_filters.ChoiceFilter(
        label=_("Rows"), method=keep, empty_label=None,
        choices=[(BY_COACH, _("By coach")), (BY_SESSION, _("By group session"))],
    )
    period = PeriodFilter()
    coach = CoachParameter(queryset=session_coaches)

    class Meta:
        model = GroupSession
        fields = []


class NoShowsReport(CoachingReport):
    slug = "no_shows"
    page_title = _("No-shows")
    header_icon = "warning"
    filterset_class = NoShowFilters
    default_period_days = 90
    description = _(
        "Sessions that started in the period and whose attendance was recorded. No-show "
        "rate: no-shows / (attended + no-shows). Cancelled sessions do not count."
    )

    def sessions(self):
        group = visible(self.request.user, "view_groupsession")
        one_to_one = visible(self.request.user, "view_coachingsession")
        coach = self.filter_value("coach")
        if coach is not None:
            group = group.filter(coach=coach)
            one_to_one = one_to_one.filter(coach=coach)
        return group, one_to_one

    @property
    def by(self):
        return self.filter_value("by") or BY_COACH

    def rows(self, queryset):
        start, end = self.period()
        group, one_to_one = self.sessions()
        if self.by == BY_SESSION:
            if start is not None:
                group = group.filter(starts_at__gte=start)
            if end is not None:
                group = group.filter(starts_at__lt=end)
            sessions = metrics.no_shows_by_session(group).select_related("coach")
            return [
                {
                    "name": session.title,
                    "starts_at": session.starts_at,
                    "coach": people_name(session.coach),
                    "attended": session.attended,
                    "no_shows": session.no_shows,
                    "rate": metrics.rate(session.no_shows, session.marked),
                }
                for session in sessions.order_by("-starts_at", "pk")
            ]
        figures = metrics.no_shows_by_coach(group, one_to_one, start, end)
        coaches = get_user_model().objects.in_bulk(list(figures))
        rows = [
            {"name": "", "starts_at": None, "coach": people_name(coaches.get(pk)), **row}
            for pk, row in figures.items()
        ]
        return sorted(rows, key=lambda row: row["coach"])

    @property
    def columns(self):
        counts = [
            column("attended", _("Attended")),
            column("no_shows", _("No-shows")),
            column("rate", _("No-show rate (%)")),
        ]
        if self.by == BY_SESSION:
            return [
                column("name", _("Session")),
                column("starts_at", _("Starts")),
                column("coach", _("Coach")),
                *counts,
            ]
        return [column("coach", _("Coach")), *counts]

    def chart(self):
        if self.by == BY_SESSION:
            return None
        return Chart(
            kind="bar", title=_("No-show rate per coach"),
            labels=[row["coach"] for row in self.report_rows],
            series=[Series(_("No-show rate"), [row["rate"] for row in self.report_rows])],
            unit="%", y_max=100,
            description=_("Share of recorded sessions each coach's clients missed."),
        )


# -- Coach load --------------------------------------------------------------------------------

class CoachLoadFilters(WagtailFilterSet):
    coach = PersonFilter(
        label=_("Coach"), field_name="user",
        queryset=lambda request: profile_coaches(request, "view_coachprofile"),
    )

    class Meta:
        model = CoachProfile
        fields = []


class CoachLoadReport(CoachingReport):
    slug = "coach_load"
    page_title = _("Coach load and capacity")
    header_icon = "user"
    filterset_class = CoachLoadFilters
    description = _(
        "Active clients per coach (open assignments) against the most clients the coach "
        "takes at once, and the sessions booked for the next 7 days."
    )

    columns = [
        column("coach", _("Coach"), accessor=lambda row: person(row["coach"])),
        column("clients", _("Active clients")),
        column("capacity", _("Capacity")),
        column("utilisation", _("Load (%)")),
        column("free", _("Free places")),
        column("at_risk", _("Clients at risk")),
        column("sessions_next_7_days", _("Sessions, next 7 days")),
    ]

    def get_base_queryset(self):
        return visible(self.request.user, "view_coachprofile").filter(active=True)

    def rows(self, queryset):
        return metrics.coach_load(queryset)

    def chart(self):
        return Chart(
            kind="bar", title=_("Clients and capacity per coach"),
            labels=[person(row["coach"]) for row in self.report_rows],
            series=[
                Series(_("Active clients"), [row["clients"] for row in self.report_rows]),
                Series(_("Capacity"), [row["capacity"] for row in self.report_rows]),
            ],
            unit=_("clients"),
            description=_("Each coach's active clients beside the most they take at once."),
        )


# -- Sessions delivered ------------------------------------------------------------------------

class DeliveredFilters(WagtailFilterSet):
    period = PeriodFilter()
    coach = PersonFilter(
        label=_("Coach"), field_name="user",
        queryset=lambda request: profile_coaches(request, "view_payouts"),
    )

    class Meta:
        model = CoachProfile
        fields = []


class SessionsDeliveredReport(CoachingReport):
    """The payouts figures (``scheduling.payouts.delivered``): an admin sees every coach, a
    coach their own row (``view_payouts``)."""

    slug = "sessions_delivered"
    action = "view_payouts"
    page_title = _("Sessions delivered")
    header_icon = "date"
    filterset_class = DeliveredFilters
    description = _(
        "Sessions that started in the period and were held: group sessions with attendance "
        "taken, 1:1 sessions held or no-show. Late cancellations are listed apart. The "
        "period defaults to last calendar month."
    )

    columns = [
        column("coach", _("Coach"), accessor=lambda row: person(row.coach)),
        column("email", _("Email"), accessor=lambda row: row.coach.email),
        column("group_sessions", _("Group sessions")),
        column("group_hours", _("Group hours")),
        column("one_to_one_sessions", _("1:1 sessions")),
        column("one_to_one_hours", _("1:1 hours")),
        column("late_cancellations", _("Late cancellations")),
        column("hours", _("Total hours")),
    ]

    def default_period(self, today):
        return last_month(today)

    def rows(self, queryset):
        start, end = self.period()
        coach = self.filter_value("coach")
        coach_ids = [coach.pk] if coach is not None else list(
            queryset.values_list("user_id", flat=True)
        )
        # delivered() counts a closed period: open at the start, from the epoch; open at
        # the end, up to now.
        return delivered(start or metrics.EPOCH, end or timezone.now(), coach_ids)

    def summary(self):
        rows = self.report_rows
        return [
            (_("Group sessions"), sum(r.group_sessions for r in rows)),
            (_("1:1 sessions"), sum(r.one_to_one_sessions for r in rows)),
            (_("Late cancellations"), sum(r.late_cancellations for r in rows)),
            (_("Hours"), round(sum(r.hours for r in rows), 2)),
        ]


def last_month(today):
    """The first and last day of the calendar month before ``today``'s."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


REPORTS = (NoShowsReport, CoachLoadReport, SessionsDeliveredReport)
