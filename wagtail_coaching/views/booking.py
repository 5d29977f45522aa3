"""The client's side of 1:1 sessions: book from an allotment, reschedule, cancel.

``scheduling.booking`` decides (free times, the allotment, the late-cancel rule, races for a
slot); these views show the choices in the viewer's time zone and turn refusals into
messages. A coach or admin who may reschedule a session uses the same pages.
"""

from itertools import groupby

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views import View

from ..journeys import JourneyError
from ..models import ActivityState, AssignmentMethod, CoachingSessionStatus, EnrollmentStatus
from ..permissions import allowed, visible
from ..scheduling import (
    SchedulingError,
    allotment,
    book_session,
    bookable_times,
    cancel_session,
    cancels_late,
    late_cancel_hours,
    reschedule_session,
)
from ..scheduling.booking import current_coach_id, parse_start, reschedule_times
from ..utils.people import display_name
from .client import ClientViewMixin
from .sessions import forbidden, safe_next, sessions_url


def by_day(times):
    """``[(local date, [times])]`` in the current (the viewer's) time zone."""
    return [
        (day, list(group))
        for day, group in groupby(times, key=lambda t: timezone.localtime(t).date())
    ]


def when(moment):
    local = timezone.localtime(moment)
    return _("%(day)s at %(time)s") % {
        "day": date_format(local, "DATE_FORMAT"), "time": date_format(local, "TIME_FORMAT"),
    }




class BookView(ClientViewMixin, View):
    """The free times of the client's coach (or of the team, before one is assigned), and
    booking one of them from the allotment."""

    template_name = "wagtail_coaching/sessions/book.html"

    def get_activity(self, request, public_id):
        activity = (
            visible(request.user, "book_session")
            .filter(public_id=public_id, kind="one_to_one")
            .select_related("enrollment__engagement")
            .first()
        )
        if activity is None or not allowed(request.user, "book_session", activity):
            raise Http404(_("No such step."))
        return activity

    def refusal(self, activity, allot, needs_coach):
        """Why nothing can be booked now, or None."""
        if activity.enrollment.status != EnrollmentStatus.ACTIVE:
            return _("This engagement is not active at the moment, so sessions cannot be "
                     "booked.")
        if activity.state != ActivityState.AVAILABLE:
            return _("This step is done: there are no sessions left to book in it.")
        if allot.left < 1:
            return _("You have used all the sessions of this step.")
        if needs_coach:
            return _("Choose your coach first; then you can book a time with them.")
        return None

    def render(self, request, activity, status=200, selected=""):
        enrollment = activity.enrollment
        allot = allotment(activity)
        coach_id = current_coach_id(enrollment)
        needs_coach = (
            coach_id is None
            and enrollment.engagement.assignment_policy == AssignmentMethod.CLIENT_CHOICE
        )
        refusal = self.refusal(activity, allot, needs_coach)
        times = [] if refusal else bookable_times(activity)
        return TemplateResponse(request, self.template_name, {
            "activity": activity,
            "enrollment": enrollment,
            "engagement": enrollment.engagement,
            "allotment": allot,
            "needs_coach": needs_coach,
            "refusal": refusal,
            "days": by_day(times),
            "selected": selected,
            "late_cancel_hours": late_cancel_hours(),
        }, status=status)

    def get(self, request, public_id):
        return self.render(request, self.get_activity(request, public_id))

    def post(self, request, public_id):
        activity = self.get_activity(request, public_id)
        raw = request.POST.get("starts_at", "")
        starts_at = parse_start(raw)
        if starts_at is None:
            messages.error(request, _("Choose one of the times below."))
            return self.render(request, activity, status=400)
        try:
            session = book_session(activity, starts_at, actor=request.user)
        except JourneyError as exc:  # slot taken, allotment used up, step closed, ...
            messages.error(request, str(exc))
            return self.render(request, activity, status=409)
        messages.success(request, _(
            "Your session with %(coach)s on %(when)s is booked. The invitation is on its "
            "way to your calendar."
        ) % {"coach": display_name(session.coach), "when": when(session.starts_at)})
        return redirect(sessions_url())


class OneToOneMixin(ClientViewMixin):
    def get_session(self, request, public_id):
        session = (
            visible(request.user, "view_coachingsession")
            .filter(public_id=public_id)
            .select_related("coach", "enrollment__engagement", "enrollment__client")
            .first()
        )
        if session is None:
            raise Http404(_("No such session."))
        return session

    def refused(self, request, session):
        if allowed(request.user, "reschedule_coachingsession", session):
            return None
        return forbidden(request, _("You cannot change this session. Ask its coach."))

    def is_client(self, request, session):
        return session.enrollment.client_id == request.user.pk


class RescheduleView(OneToOneMixin, View):
    """Move a booked session to another free time of the same coach."""

    template_name = "wagtail_coaching/sessions/reschedule.html"

    def refusal(self, request, session):
        if session.status != CoachingSessionStatus.BOOKED or session.starts_at <= timezone.now():
            return _("Only an upcoming booked session can be moved.")
        if cancels_late(session, request.user):
            return _("It is too late to move this session. You can still cancel it, but it "
                     "will count as used.")
        return None

    def render(self, request, session, status=200):
        refusal = self.refusal(request, session)
        times = [] if refusal else reschedule_times(session)
        return TemplateResponse(request, self.template_name, {
            "session": session,
            "engagement": session.enrollment.engagement,
            "is_client": self.is_client(request, session),
            "refusal": refusal,
            "days": by_day(times),
            "next": safe_next(request, ""),
        }, status=status)

    def get(self, request, public_id):
        session = self.get_session(request, public_id)
        return self.refused(request, session) or self.render(request, session)

    def post(self, request, public_id):
        session = self.get_session(request, public_id)
        refused = self.refused(request, session)
        if refused:
            return refused
        starts_at = parse_start(request.POST.get("starts_at", ""))
        if starts_at is None:
            messages.error(request, _("Choose one of the times below."))
            return self.render(request, session, status=400)
        try:
            session = reschedule_session(session, starts_at, actor=request.user)
        except SchedulingError as exc:
            messages.error(request, str(exc))
            return self.render(request, session, status=409)
        messages.success(request, _(
            "The session is moved to %(when)s. Calendars get the new time."
        ) % {"when": when(session.starts_at)})
        return redirect(safe_next(request, sessions_url()))


class CancelBookingView(OneToOneMixin, View):
    """Cancel a booked session (a GET asks for confirmation and says whether it will
    count as used)."""

    template_name = "wagtail_coaching/sessions/cancel_booking.html"

    def render(self, request, session, status=200):
        is_client = self.is_client(request, session)
        return TemplateResponse(request, self.template_name, {
            "session": session,
            "engagement": session.enrollment.engagement,
            "is_client": is_client,
            "can_cancel": session.status == CoachingSessionStatus.BOOKED
            and session.starts_at > timezone.now(),
            "is_late": cancels_late(session, request.user),
            "late_cancel_hours": late_cancel_hours(),
            "next": safe_next(request, ""),
        }, status=status)

    def get(self, request, public_id):
        session = self.get_session(request, public_id)
        return self.refused(request, session) or self.render(request, session)

    def post(self, request, public_id):
        session = self.get_session(request, public_id)
        refused = self.refused(request, session)
        if refused:
            return refused
        try:
            session = cancel_session(session, actor=request.user)
        except SchedulingError as exc:
            messages.error(request, str(exc))
            return redirect(safe_next(request, sessions_url()))
        if session.status == CoachingSessionStatus.LATE_CANCELLED:
            messages.warning(request, _(
                "Your session is cancelled. As it was less than %(hours)d hours before the "
                "start, it counts as used."
            ) % {"hours": late_cancel_hours()})
        elif self.is_client(request, session):
            messages.success(request, _(
                "Your session is cancelled; it goes back to your allotment, so you can book "
                "another time."
            ))
        else:
            messages.success(request, _(
                "The session is cancelled and goes back to the client's allotment."
            ))
        return redirect(safe_next(request, sessions_url()))
