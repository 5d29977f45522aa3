"""The client's side of the journey on the public site.

The views stay thin: the read models in ``journeys.queries`` say what to show, the services in
``journeys`` change the journey, ``permissions`` says what a client may open. What is left here
is picking templates, turning service refusals into messages, and showing times in the
client's own time zone.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from ..blocks import ACTIVITY_BLOCKS
from ..forms import form_for
from ..journeys import JourneyError, complete_activity
from ..journeys.program import activity_block
from ..journeys.queries import client_dashboard, enrollment_outline, is_first_visit
from ..models import (
    DONE_STATES,
    ActivityState,
    ClientActivity,
    EngagementPage,
    EnrollmentStatus,
)
from ..notifications.in_app import latest_notifications
from ..permissions import activities_client_may_open, allowed
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
        if not context["journeys"]:
            context["engagements"] = list(
                EngagementPage.objects.live().public().order_by("title")[:BROWSE_LIMIT]
            )
        return TemplateResponse(request, self.template_name, context)


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
                "can_complete": block is not None and self.can_complete(activity, form),
                "client_completes": getattr(
                    ACTIVITY_BLOCKS.get(activity.kind), "client_completes", False
                ),
            },
            status=status,
        )

    def get(self, request, public_id):
        activity = self.get_activity(request, public_id)
        block, value = activity_block(activity)
        form = form_for(activity.kind, value) if block is not None else None
        return self.render(request, activity, block, value, form)

    def post(self, request, public_id):
        activity = self.get_activity(request, public_id)
        block, value = activity_block(activity)
        form = form_for(activity.kind, value, data=request.POST) if block is not None else None
        refused = self.refusal(activity, block, form)
        if refused is not None:
            message, status = refused
            messages.error(request, message)
            unbound = form_for(activity.kind, value) if block is not None else None
            return self.render(request, activity, block, value, unbound, status=status)
        if not form.is_valid():
            return self.render(request, activity, block, value, form, status=400)
        try:
            complete_activity(
                activity, actor=request.user, response=form.response(), score=form.score()
            )
        except JourneyError as exc:
            # Lost a race (completed in another tab, paused meanwhile): nothing was saved.
            messages.error(request, str(exc))
            activity = ClientActivity.objects.select_related("enrollment__engagement").get(
                pk=activity.pk
            )
            return self.render(request, activity, block, value, form, status=409)
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
