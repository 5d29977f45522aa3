"""The client's side of 1:1 sessions: book from an allotment, reschedule, cancel.

``scheduling.booking`` decides (free times, the allotment, the late-cancel rule, races for a
slot); these views show the choices in the viewer's time zone and turn refusals into
messages. A coach or admin who may reschedule a session uses the same pages.
"""

from itertools import groupby
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from ..conf import coaching_settings
from ..conversations import MessageRefused
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
from ..scheduling.feeds import session_file
from ..scheduling.time_requests import DAYS, NOTE_MAX_LENGTH, PARTS_OF_DAY, ask_for_time
from ..scheduling.week import WeekOutOfRange, choose_week, free_week
from ..utils.dates import before_full_stop
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


class WeekForm(forms.Form):
    """The booking page's one query parameter: which week to show (any day of it)."""

    week = forms.DateField(required=False, input_formats=["%Y-%m-%d"])


class AskForTimeForm(forms.Form):
    """When no free time suits: the days and times of day that would, and a note."""

    days = forms.MultipleChoiceField(
        label=gettext_lazy("Days that suit you"), required=False,
        choices=list(DAYS.items()), widget=forms.CheckboxSelectMultiple,
    )
    parts_of_day = forms.MultipleChoiceField(
        label=gettext_lazy("Times of day that suit you"), required=False,
        choices=list(PARTS_OF_DAY.items()), widget=forms.CheckboxSelectMultiple,
    )
    note = forms.CharField(
        label=gettext_lazy("Anything else your coach should know"),
        required=False, max_length=NOTE_MAX_LENGTH, strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self):
        data = super().clean()
        if not (data.get("days") or data.get("parts_of_day") or data.get("note")):
            raise forms.ValidationError(
                _("Say which days or times of day suit you, or write a note.")
            )
        return data


def week_url(activity, monday):
    url = reverse("wagtail_coaching:book", args=[activity.public_id])
    return f"{url}?{urlencode({'week': monday.isoformat()})}" if monday else ""


class BookingStepMixin(ClientViewMixin):
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

    def step_state(self, activity):
        """(the allotment, whether the client must choose a coach first, why nothing can
        be booked now or None)."""
        allot = allotment(activity)
        needs_coach = (
            current_coach_id(activity.enrollment) is None
            and activity.enrollment.engagement.assignment_policy
            == AssignmentMethod.CLIENT_CHOICE
        )
        return allot, needs_coach, self.refusal(activity, allot, needs_coach)

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

    def render(self, request, activity, status=200, selected="", week=None, ask_form=None):
        """The week view of the free times (``week``: a day of the week to show, else the
        week of the first free time), the allotment, and the form to ask for a time."""
        enrollment = activity.enrollment
        allot, needs_coach, refusal = self.step_state(activity)
        times = [] if refusal else bookable_times(activity)
        zone = timezone.get_current_timezone()
        try:
            monday = choose_week(times, zone, week)
        except WeekOutOfRange as exc:
            monday = exc.args[0]
            messages.info(request, _(
                "Sessions can be booked from now to %(days)d days ahead: here is the "
                "nearest week you can book in."
            ) % {"days": coaching_settings.BOOKING_HORIZON_DAYS})
        shown = free_week(times, monday, zone)
        return TemplateResponse(request, self.template_name, {
            "activity": activity,
            "enrollment": enrollment,
            "engagement": enrollment.engagement,
            "allotment": allot,
            "needs_coach": needs_coach,
            "refusal": refusal,
            "has_times": bool(times),
            "week": shown,
            "previous_url": week_url(activity, shown.previous),
            "next_url": week_url(activity, shown.next),
            "next_free_url": week_url(activity, shown.next_free_monday),
            "selected": selected,
            "late_cancel_hours": late_cancel_hours(),
            "ask_form": ask_form or AskForTimeForm(),
            "ask_url": reverse("wagtail_coaching:ask_for_time", args=[activity.public_id]),
        }, status=status)


class BookView(BookingStepMixin, View):
    """The free times of the client's coach (or of the team, before one is assigned) as a
    week view in the client's time zone, and booking one of them from the allotment."""

    template_name = "wagtail_coaching/sessions/book.html"

    def get(self, request, public_id):
        activity = self.get_activity(request, public_id)
        form = WeekForm(request.GET)
        if not form.is_valid():
            messages.error(request, _(
                "That week could not be read (use a date such as 2030-01-14): here are the "
                "first free times."
            ))
            return self.render(request, activity, status=400)
        return self.render(request, activity, week=form.cleaned_data["week"])

    def post(self, request, public_id):
        activity = self.get_activity(request, public_id)
        raw = request.POST.get("starts_at", "")
        starts_at = parse_start(raw)
        if starts_at is None:
            messages.error(request, _("Choose one of the times below."))
            return self.render(request, activity, status=400)
        shown = timezone.localtime(starts_at).date()
        try:
            session = book_session(activity, starts_at, actor=request.user)
        except JourneyError as exc:  # slot taken, allotment used up, step closed, ...
            messages.error(request, str(exc))
            return self.render(request, activity, status=409, selected=raw,
                               week=self.bookable_day(shown))
        messages.success(request, _(
            "Your session with %(coach)s on %(when)s is booked. The invitation is on its "
            "way to your calendar."
        ) % {"coach": display_name(session.coach), "when": when(session.starts_at)})
        return redirect(sessions_url())

    def bookable_day(self, day):
        """``day`` if its week can be shown, else None (the first free week then)."""
        try:
            choose_week([], timezone.get_current_timezone(), day)
        except WeekOutOfRange:
            return None
        return day


class AskForTimeView(BookingStepMixin, View):
    """No free time suits (or there is none): ask the coach for one, as a message in the
    conversation of the enrollment. The form is on the booking page."""

    template_name = BookView.template_name
    http_method_names = ["post"]

    def post(self, request, public_id):
        activity = self.get_activity(request, public_id)
        if not allowed(request.user, "write_messages", activity.enrollment):
            return forbidden(request, _("You cannot write to your coach here."))
        form = AskForTimeForm(request.POST)
        if not form.is_valid():
            return self.render(request, activity, status=400, ask_form=form)
        _allot, _needs_coach, refusal = self.step_state(activity)
        if refusal:
            messages.error(request, refusal)
            return self.render(request, activity, status=409, ask_form=form)
        data = form.cleaned_data
        try:
            ask_for_time(activity, request.user, days=data["days"],
                         parts_of_day=data["parts_of_day"], note=data["note"])
        except (JourneyError, MessageRefused) as exc:
            messages.error(request, str(exc))
            return self.render(request, activity, status=409, ask_form=form)
        messages.success(request, _(
            "Your coach has your message and will offer you a time. Their answer comes here, "
            "in your conversation."
        ))
        return redirect("wagtail_coaching:conversation", activity.enrollment.public_id)


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


class SessionCalendarView(OneToOneMixin, View):
    """One 1:1 session as an .ics file to add to a calendar: the same UID and SEQUENCE as
    its invitation emails, so a calendar holding both shows it once. For whoever may see
    the session (the client, its coaches, staff per the matrix); anyone else: 404."""

    def get(self, request, public_id):
        session = self.get_session(request, public_id)
        if not allowed(request.user, "view_coachingsession", session):
            raise Http404(_("No such session."))
        response = HttpResponse(session_file(session), content_type="text/calendar; charset=utf-8")
        day = timezone.localtime(session.starts_at).date().isoformat()
        response["Content-Disposition"] = f'attachment; filename="coaching-session-{day}.ics"'
        response["Cache-Control"] = "private"
        response["X-Robots-Tag"] = "noindex"
        return response


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
        ) % {"when": before_full_stop(when(session.starts_at))})
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
