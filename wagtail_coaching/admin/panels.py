"""Dashboard panels for the people who work on journeys (coaches and admins: the roles with
``change_enrollment``), over the clients they may see, and the sessions they run. Each panel
runs a fixed number of queries, however many clients and sessions there are."""

import datetime

from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from wagtail.admin.ui.components import Component

from ..blocks import ACTIVITY_BLOCKS
from ..conf import coaching_settings
from ..models import (
    ActivityState,
    ClientActivity,
    CoachingSession,
    CoachingSessionStatus,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    GroupSession,
    JourneyEvent,
    SessionStatus,
)
from ..permissions import visible
from .chart_panels import chart_panels
from .company_panel import YourCompaniesPanel, shows_company_panel
from .display import ClientCards, card_url, client_name, person
from .permission import may

# Activities a coach completes with the client (a 1:1 allotment, a group session).
COACH_COMPLETED_KINDS = tuple(
    kind for kind, block in ACTIVITY_BLOCKS.items() if not block.client_completes
)
PANEL_LENGTH = 10


def _seen(user):
    return visible(user, "view_enrollment").order_by().values("pk")


def clients_needing_attention(user, now=None, limit=PANEL_LENGTH):
    """Active clients with a coach-completed step waiting, or with nothing in their timeline
    for ``ATTENTION_AFTER_DAYS`` days; the quietest first. One query."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=coaching_settings.ATTENTION_AFTER_DAYS)
    waiting = ClientActivity.objects.filter(
        enrollment=OuterRef("pk"), state=ActivityState.AVAILABLE,
        kind__in=COACH_COMPLETED_KINDS,
    ).order_by("stage_position", "position")
    last_event = JourneyEvent.objects.filter(enrollment=OuterRef("pk")).order_by("-at")
    rows = (
        Enrollment.objects.filter(pk__in=_seen(user), status=EnrollmentStatus.ACTIVE)
        .annotate(
            step_waiting=Exists(waiting),
            waiting_title=Subquery(waiting.values("title")[:1]),
            last_event_at=Subquery(last_event.values("at")[:1]),
        )
        .filter(
            Q(step_waiting=True) | Q(last_event_at__lt=cutoff) | Q(last_event_at__isnull=True)
        )
        .select_related("client", "engagement")
        .order_by(F("last_event_at").asc(nulls_first=True), "pk")[:limit]
    )
    return [
        {
            "name": person(e.client),
            "url": card_url(e),
            "engagement": e.engagement.title,
            "waiting": e.waiting_title if e.step_waiting else None,
            "quiet_since": e.last_event_at if not e.step_waiting else None,
        }
        for e in rows
    ]


def recent_completions(user, limit=PANEL_LENGTH):
    """The latest completed steps and engagements among the clients ``user`` may see."""
    events = (
        JourneyEvent.objects.filter(
            enrollment_id__in=_seen(user),
            kind__in=(EventKind.COMPLETED, EventKind.ENROLLMENT_COMPLETED),
        )
        .select_related("enrollment__client", "enrollment__engagement", "activity")
        .order_by("-at", "-pk")[:limit]
    )
    return [
        {
            "name": person(ev.enrollment.client),
            "url": card_url(ev.enrollment),
            "engagement": ev.enrollment.engagement.title,
            "what": ev.activity.title if ev.activity is not None else ev.get_kind_display(),
            "at": ev.at,
        }
        for ev in events
    ]


# The group sessions admin's page of a session (the first of these names that exists).
GROUP_SESSION_URL_NAMES = (
    "coaching_sessions_modeladmin_inspect", "coaching_sessions_modeladmin_edit",
)


def group_session_url(session):
    for name in GROUP_SESSION_URL_NAMES:
        try:
            return reverse(name, args=[session.pk])
        except NoReverseMatch:
            continue
    return ""


def upcoming_sessions(user, now=None, limit=PANEL_LENGTH):
    """The next sessions ``user`` runs: group sessions they lead or co-lead and 1:1
    sessions they coach, soonest first; each 1:1 client's name opens their card where
    ``user`` may open it. Three queries."""
    now = now or timezone.now()
    co_led = GroupSession.co_coaches.through.objects.filter(user_id=user.pk).values(
        "groupsession_id"
    )
    groups = (
        GroupSession.objects.filter(
            Q(coach=user) | Q(pk__in=co_led), status=SessionStatus.SCHEDULED, ends_at__gt=now
        )
        .order_by("starts_at", "pk")[:limit]
    )
    ones = (
        CoachingSession.objects.filter(
            coach=user, status=CoachingSessionStatus.BOOKED, ends_at__gt=now
        )
        .select_related("enrollment__client", "enrollment__engagement")
        .order_by("starts_at", "pk")[:limit]
    )
    ones = list(ones)
    cards = ClientCards(user, [s.enrollment.client_id for s in ones])
    rows = [
        {
            "kind": "group",
            "title": s.title,
            "with": "",
            "with_link": "",
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "url": group_session_url(s),
            "co_coach": s.coach_id != user.pk,
        }
        for s in groups
    ]
    rows += [
        {
            "kind": "one_to_one",
            "title": s.enrollment.engagement.title,
            "with": person(s.enrollment.client),
            # The name again, linked to the client's card where the viewer may open it.
            "with_link": client_name(s.enrollment.client, cards),
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "url": reverse("coaching_one_to_one_modeladmin_inspect", args=[s.pk]),
            "co_coach": False,
        }
        for s in ones
    ]
    rows.sort(key=lambda row: row["starts_at"])
    return rows[:limit]


class CoachingPanel(Component):
    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context=None):
        return {"rows": self.rows(self.request.user), "request": self.request}

    def rows(self, user):
        raise NotImplementedError


class UpcomingSessionsPanel(CoachingPanel):
    name = "coaching_upcoming_sessions"
    order = 35
    template_name = "wagtail_coaching/admin/panels/upcoming_sessions.html"

    def get_context_data(self, parent_context=None):
        context = super().get_context_data(parent_context)
        context["calendar_url"] = reverse("wagtail_coaching_admin:my_calendar")
        return context

    def rows(self, user):
        return upcoming_sessions(user)


class ClientsNeedingAttentionPanel(CoachingPanel):
    name = "coaching_attention"
    order = 40
    template_name = "wagtail_coaching/admin/panels/attention.html"

    def get_context_data(self, parent_context=None):
        context = super().get_context_data(parent_context)
        context["days"] = coaching_settings.ATTENTION_AFTER_DAYS
        return context

    def rows(self, user):
        return clients_needing_attention(user)


class RecentCompletionsPanel(CoachingPanel):
    name = "coaching_completions"
    order = 45
    template_name = "wagtail_coaching/admin/panels/completions.html"

    def rows(self, user):
        return recent_completions(user)


def add_coaching_panels(request, panels):
    """``construct_homepage_panels`` hook: these panels, the HR partner's companies, then the
    charts (``chart_panels``)."""
    if shows_company_panel(request.user):
        panels.append(YourCompaniesPanel(request))
    if may(request.user, "change_enrollment"):
        panels.append(UpcomingSessionsPanel(request))
        panels.append(ClientsNeedingAttentionPanel(request))
        panels.append(RecentCompletionsPanel(request))
    panels.extend(chart_panels(request))
