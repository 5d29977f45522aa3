"""The group-session pages of the admin: the list (a "week of" label per week), "Add"
(one session or a series), "Edit" (one session, or it and the later ones of its series)
and the session's own page. They read the form, call ``scheduling`` and show the result."""

import zoneinfo

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic.edit import FormView
from wagtail_modeladmin.views import InspectView, InstanceSpecificView, WMABaseView

from ...journeys.errors import JourneyError
from ...models import FollowUpPractice, GroupSession, RegistrationStatus
from ...permissions import allowed, visible
from ...scheduling import create_sessions, holds_seat
from ...scheduling.editing import edit_session
from ...scheduling.errors import CoachNotAllowed
from ..base import DeclaredFiltersIndexView
from ..display import ClientCards, client_name, person
from ..follow_up import FollowUpForm
from ..permission import may
from .forms import EditSessionForm, SeriesForm
from .text import (
    audience_text,
    group_session_steps,
    invite_url,
    seats_text,
    week_start,
    when_text,
)

TEMPLATES = "wagtail_coaching/admin/sessions/"
ATTENDED, NO_SHOW = RegistrationStatus.ATTENDED, RegistrationStatus.NO_SHOW


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
        session = self.instance
        changes, coach, co_coaches = form.changes(), form.new_coach(), form.new_co_coaches()
        if not changes and coach is None and co_coaches is None:
            messages.info(self.request, _("Nothing to change."))
            return redirect(self.url_helper.get_action_url("inspect", session.pk))
        try:
            count = edit_session(
                session, changes, coach=coach, co_coaches=co_coaches,
                actor=self.request.user, scope=form.cleaned_data["scope"],
            )
        except CoachNotAllowed:
            form.add_error("coach", form.coach_error)
            return self.form_invalid(form)
        except JourneyError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
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
    # Each name opens the client's card where the viewer may open it (asked once).
    cards = ClientCards(user, [r.user_id for r in registrations]) if can_change else None
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
        "seat_holders": [(r, client_name(r.user, cards)) for r in seat_holders],
        "waitlist": [(r, client_name(r.user, cards)) for r in waitlist],
        "invite_url": invite_url(session) if can_change else "",
        "started": started,
        "is_open": is_open,
        "can_invite": can_change and is_open,
        "can_cancel": can_change and not session.is_cancelled and session.ends_at > now,
        "can_take_attendance": can_change and started and not session.is_cancelled,
        "follow_up_form": FollowUpForm(initial={"summary": session.summary})
        if can_change and started and not session.is_cancelled else None,
        "practices_given": list(
            FollowUpPractice.objects.filter(group_session=session)
            .values_list("activity__title", flat=True).distinct().order_by("activity__title")
        ) if can_change else [],
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
