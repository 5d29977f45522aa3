"""The client's side of the journey on the public site.

The views stay thin: the read models in ``journeys.queries`` say what to show, the services in
``journeys`` change the journey, ``permissions`` says what a client may open. What is left here
is picking templates, turning service refusals into messages, and showing times in the
client's own time zone.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from ..blocks import ACTIVITY_BLOCKS
from ..continuity.history import attach_to_outline, client_session_history, follow_up_of
from ..continuity.intake import what_we_heard
from ..conversations import unread_by_enrollment
from ..forms import form_for
from ..journeys import (
    JourneyError,
    complete_activity,
    employer_sponsors,
    log_practice,
    set_consent,
    sponsors_to_ask_on_form,
)
from ..journeys.practices import PRACTICE
from ..journeys.program import activity_block
from ..journeys.queries import (
    client_dashboard,
    coach_profiles,
    enrollment_outline,
    is_first_visit,
)
from ..models import (
    DONE_STATES,
    ActivityState,
    ClientActivity,
    CoachingSessionStatus,
    ConsentPurpose,
    EngagementPage,
    EnrollmentStatus,
)
from ..notifications.in_app import latest_notifications
from ..permissions import activities_client_may_open, allowed, visible
from ..utils.time_zones import user_time_zone

# How many engagements the empty dashboard suggests.
BROWSE_LIMIT = 6


class ClientViewMixin(LoginRequiredMixin):
    """Signed-in users only (others go to the login page); times shown in their own zone."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        # Template responses render after the view returns: render inside the zone.
        with timezone.override(user_time_zone(request.user)):
            response = super().dispatch(request, *args, **kwargs)
            if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                response.render()
        return response


class DashboardView(ClientViewMixin, View):
    template_name = "wagtail_coaching/dashboard.html"

    def get(self, request):
        context = client_dashboard(request.user)
        # The latest in-app notifications and the unread count: one query.
        context["notifications"], context["unread_notifications"] = latest_notifications(
            request.user
        )
        context["first_visit"] = is_first_visit(request.user, context["journeys"])
        # Only a client whose coaching a company sponsors has a choice to make about sharing.
        context["employer_sponsors"] = employer_sponsors(request.user)
        add_conversations(request.user, context["journeys"])
        if not context["journeys"]:
            context["engagements"] = list(
                EngagementPage.objects.live().public().order_by("title")[:BROWSE_LIMIT]
            )
        return TemplateResponse(request, self.template_name, context)


def add_conversations(user, journeys):
    """Each journey's coaches as people (``coach_profiles``: photo, bio, specialties,
    languages) and its unread messages (``unread_messages``): three queries at most."""
    profiles = {
        p.user_id: p
        for p in coach_profiles([a.coach_id for j in journeys for a in j.coaches])
    }
    unread = unread_by_enrollment(user, [j.enrollment.pk for j in journeys])
    for journey in journeys:
        journey.coach_profiles = [
            profiles[a.coach_id] for a in journey.coaches if a.coach_id in profiles
        ]
        journey.unread_messages = unread.get(journey.enrollment.pk, 0)


def booked_sessions(user, activity):
    """The upcoming booked 1:1 sessions of a 1:1 step (each with its "add to calendar")."""
    if activity.kind != "one_to_one":
        return []
    return list(
        visible(user, "view_coachingsession")
        .filter(activity=activity, status=CoachingSessionStatus.BOOKED,
                starts_at__gt=timezone.now())
        .select_related("coach")
        .order_by("starts_at", "pk")
    )


class ActivityView(ClientViewMixin, View):
    """Show one open activity of the signed-in client, and take its completion.

    Another client's activity, or a locked or removed one, does not exist here (404), for
    GET and POST alike.
    """

    def get_activity(self, request, public_id):
        activity = (
            activities_client_may_open(request.user)
            .select_related("enrollment__engagement")
            .filter(public_id=public_id)
            .first()
        )
        if activity is None or not allowed(request.user, "open_clientactivity", activity):
            raise Http404(_("No such step."))
        return activity

    def template_names(self, activity):
        return [
            f"wagtail_coaching/activities/{activity.kind}.html",
            "wagtail_coaching/activities/base_activity.html",
        ]

    def can_complete(self, activity, form):
        return (
            form is not None
            and activity.state == ActivityState.AVAILABLE
            and activity.enrollment.status == EnrollmentStatus.ACTIVE
        )

    def refusal(self, activity, block, form):
        """Why the client cannot complete ``activity`` now, as (message, status), or None."""
        if block is None:
            return _("This step is no longer part of the program."), 409
        if activity.state in DONE_STATES:
            if activity.state == ActivityState.SKIPPED:
                return _("This step was skipped, so there is nothing to send."), 409
            if activity.kind == PRACTICE:
                return _("You already reached the target of this practice."), 409
            return _("You have already completed this step; your answers were kept."), 409
        if form is None:
            return _("Your coach marks this step as done with you."), 400
        status = activity.enrollment.status
        if status == EnrollmentStatus.PAUSED:
            return _(
                "This engagement is paused, so steps cannot be completed for now."
            ), 409
        if status != EnrollmentStatus.ACTIVE:
            return _("This engagement is no longer active."), 409
        return None

    def render(self, request, activity, block, value, form, status=200):
        outline = enrollment_outline(activity.enrollment)
        # Sessions held for this step (a 1:1 allotment, a group session) with what came
        # after them; the session a follow-up practice came from; after a form, what we
        # heard and what comes next.
        if activity.kind in ("one_to_one", "group_session"):
            attach_to_outline(
                outline, client_session_history(request.user, [activity.enrollment_id])
            )
        current = next(
            (row for stage in outline.stages for row in stage.activities
             if row.pk == activity.pk), None,
        )
        heard = None
        if activity.kind == "form" and activity.state == ActivityState.COMPLETED:
            heard = what_we_heard(activity, outline)
        return TemplateResponse(
            request,
            self.template_names(activity),
            {
                "activity": activity,
                "enrollment": activity.enrollment,
                "engagement": activity.enrollment.engagement,
                # The activity block and its value. (Inside a template's {% block %},
                # ``block`` names Django's block node, so templates use the two below.)
                "block": block,
                "activity_block": block,
                "has_content": block is not None,
                "value": value,
                "form": form,
                "outline": outline,
                # A practice that repeats: its streak, the week's ticks, the days to go.
                "practice": outline.practices.status_of(activity.pk)
                if outline.practices is not None else None,
                "can_complete": block is not None and self.can_complete(activity, form),
                "client_completes": getattr(
                    ACTIVITY_BLOCKS.get(activity.kind), "client_completes", False
                ),
                "held_sessions": getattr(current, "held_sessions", []),
                "from_session": follow_up_of(activity) if activity.kind == "practice" else None,
                "what_we_heard": heard,
                "booked_sessions": booked_sessions(request.user, activity),
            },
            status=status,
        )

    def form(self, request, activity, value, data=None):
        """The form that completes ``activity``; an open form step of a sponsored client who
        has not chosen yet also asks, apart, whether to share progress with the employer."""
        sponsors = ()
        if activity.kind == "form" and activity.state == ActivityState.AVAILABLE:
            sponsors = sponsors_to_ask_on_form(request.user)
        return form_for(activity.kind, value, data=data, sponsors=sponsors)

    def get(self, request, public_id):
        activity = self.get_activity(request, public_id)
        block, value = activity_block(activity)
        form = self.form(request, activity, value) if block is not None else None
        return self.render(request, activity, block, value, form)

    def post(self, request, public_id):
        activity = self.get_activity(request, public_id)
        block, value = activity_block(activity)
        form = (
            self.form(request, activity, value, data=request.POST) if block is not None
            else None
        )
        refused = self.refusal(activity, block, form)
        if refused is not None:
            message, status = refused
            messages.error(request, message)
            unbound = self.form(request, activity, value) if block is not None else None
            return self.render(request, activity, block, value, unbound, status=status)
        if not form.is_valid():
            return self.render(request, activity, block, value, form, status=400)
        try:
            if activity.kind == PRACTICE:
                # Practising is logged, once a day; the step completes at its target.
                logged = log_practice(activity, actor=request.user)
                if not logged.completed:
                    return self.practice_logged(request, activity, logged)
            else:
                share = getattr(form, "share_progress", lambda: None)()
                # The answers and the sharing choice are saved together, or neither is.
                with transaction.atomic():
                    complete_activity(
                        activity, actor=request.user, response=form.response(),
                        score=form.score(),
                    )
                    if share is not None:
                        set_consent(request.user, ConsentPurpose.SHARE_PROGRESS, share)
        except JourneyError as exc:
            # Lost a race (completed in another tab, paused meanwhile): nothing was saved.
            messages.error(request, str(exc))
            activity = ClientActivity.objects.select_related("enrollment__engagement").get(
                pk=activity.pk
            )
            return self.render(request, activity, block, value, form, status=409)
        if activity.kind == "form":
            # What we heard and what comes next, on the form's own page.
            messages.success(request, _("Thank you: your answers were sent."))
            return redirect(reverse("wagtail_coaching:activity", args=[activity.public_id]))
        if back_to_dashboard(request):
            messages.success(request, _("Done: “%(title)s”.") % {"title": activity.title})
            return redirect(reverse("wagtail_coaching:dashboard"))
        outline = enrollment_outline(activity.enrollment)
        if outline.next_step is not None:
            messages.success(request, _("Done: “%(title)s”.") % {"title": activity.title})
            return redirect(
                reverse("wagtail_coaching:activity", args=[outline.next_step.public_id])
            )
        if outline.total and outline.done == outline.total:
            messages.success(
                request,
                _("You have completed every step of %(engagement)s. Well done!")
                % {"engagement": activity.enrollment.engagement.title},
            )
        else:
            messages.success(
                request,
                _("Done: “%(title)s”. Your next step is not open yet.")
                % {"title": activity.title},
            )
        return redirect(reverse("wagtail_coaching:dashboard"))

    def practice_logged(self, request, activity, logged):
        """Back where the client tapped, saying what the tap did."""
        if logged.logged:
            messages.success(request, ngettext(
                "Logged for today: “%(title)s”. %(days)s of %(target)s day practised.",
                "Logged for today: “%(title)s”. %(days)s of %(target)s days practised.",
                logged.target,
            ) % {"title": activity.title, "days": logged.days, "target": logged.target})
        else:
            messages.info(request, _(
                "You already logged “%(title)s” today. See you tomorrow!"
            ) % {"title": activity.title})
        if back_to_dashboard(request):
            return redirect(
                reverse("wagtail_coaching:dashboard") + f"#practice-{activity.public_id}"
            )
        return redirect(reverse("wagtail_coaching:activity", args=[activity.public_id]))


def back_to_dashboard(request):
    """The step was done from the dashboard (its practice buttons), which it returns to."""
    return request.POST.get("return_to") == "dashboard"
