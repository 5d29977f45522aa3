"""What the session page's buttons do (POST, under ``/admin/coaching/sessions/``):
send the invitations, cancel (this session or all later ones; GET asks first) and take
attendance. Each finds the session among those the viewer sees (404), checks
``change_groupsession`` (403), calls ``scheduling`` and shows its answer as a message."""

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ...continuity.follow_up import everyone_attended, record_group_session
from ...journeys.errors import JourneyError
from ...scheduling import InvalidSchedule, SessionNotOpen, cancel_sessions
from ...scheduling.invites import invite_audience
from ...scheduling.sessions import FUTURE, ONE, later_in_series
from ...utils.time_zones import user_time_zone
from ..card import CoachingAdminView
from ..follow_up import FollowUpForm
from ..forms import first_error
from ..permission import forbidden, may, visible_or_404
from .text import when_text
from .views import ATTENDED, TEMPLATES


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
        invite_audience(session)
        return _("Invitations to “%(title)s” are on their way.") % {"title": session.title}


class CancelView(SessionActionView):
    """GET asks for confirmation; POST cancels this session, or it and all later ones."""

    template_name = TEMPLATES + "cancel.html"

    def get(self, request, public_id):
        session = self.get_session(public_id)
        if not may(request.user, "change_groupsession", session):
            return forbidden(request)
        scope = FUTURE if request.GET.get("scope") == FUTURE and session.series_id else ONE
        later = later_in_series(session)
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
    """Attended or no-show for each person holding a seat, or "everyone attended", with
    what the coach writes after the session (summary, note, practices: ``FollowUpForm``)."""

    FIELD = "attendance-"

    def act(self, request, session):
        form = FollowUpForm(request.POST)
        if not form.is_valid():
            raise InvalidSchedule(first_error(form))
        if request.POST.get("everyone") == ATTENDED:
            marks = everyone_attended(session)
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
        changed = record_group_session(
            session, marks, follow_up=form.follow_up(), actor=request.user
        )
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
