"""The client's side of the journey on the public site."""

import zoneinfo

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from ..conf import coaching_settings
from ..forms import form_for
from ..journeys import JourneyError, complete_activity
from ..journeys.program import activity_block
from ..journeys.queries import client_dashboard, enrollment_outline
from ..permissions import activities_client_may_open


class ClientViewMixin(LoginRequiredMixin):
    """Signed-in clients only, shown times in their own zone."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            timezone.activate(_user_zone(request.user))
        return super().dispatch(request, *args, **kwargs)


def _user_zone(user):
    name = None
    profile = getattr(user, "wagtail_userprofile", None)
    if profile is not None:
        name = profile.current_time_zone
    try:
        return zoneinfo.ZoneInfo(name or coaching_settings.time_zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(coaching_settings.time_zone_name)


class DashboardView(ClientViewMixin, View):
    template_name = "wagtail_coaching/dashboard.html"

    def get(self, request):
        return TemplateResponse(request, self.template_name, client_dashboard(request.user))


class ActivityView(ClientViewMixin, View):
    """Show one unlocked activity of the signed-in client, and take its completion.

    Another client's activity, or a locked or removed one, does not exist here (404).
    """

    def get_activity(self, request, public_id):
        activity = (
            activities_client_may_open(request.user)
            .select_related("enrollment__engagement")
            .filter(public_id=public_id)
            .first()
        )
        if activity is None:
            raise Http404(_("No such step."))
        if not request.user.has_perm("wagtail_coaching.open_clientactivity", activity):
            raise PermissionDenied
        return activity

    def render(self, request, activity, block, value, form, status=200):
        outline = enrollment_outline(activity.enrollment)
        return TemplateResponse(
            request,
            [
                f"wagtail_coaching/activities/{activity.kind}.html",
                "wagtail_coaching/activities/base_activity.html",
            ],
            {
                "activity": activity,
                "enrollment": activity.enrollment,
                "engagement": activity.enrollment.engagement,
                "block": block,
                "value": value,
                "form": form,
                "outline": outline,
                "can_complete": form is not None and activity.state == "available"
                and activity.enrollment.status == "active",
            },
            status=status,
        )

    def get(self, request, public_id):
        activity = self.get_activity(request, public_id)
        block, value = activity_block(activity)
        form = form_for(activity.kind, value) if value is not None else None
        return self.render(request, activity, block, value, form)

    def post(self, request, public_id):
        activity = self.get_activity(request, public_id)
        block, value = activity_block(activity)
        form = form_for(activity.kind, value, data=request.POST) if value is not None else None
        if form is None:
            messages.error(request, _("Your coach completes this step with you."))
            return self.render(request, activity, block, value, None, status=400)
        if not form.is_valid():
            return self.render(request, activity, block, value, form, status=400)
        try:
            complete_activity(
                activity, actor=request.user, response=form.response(), score=form.score()
            )
        except JourneyError as exc:
            messages.error(request, str(exc))
            return self.render(request, activity, block, value, form, status=409)
        messages.success(request, _("Done: “%(title)s”.") % {"title": activity.title})
        outline = enrollment_outline(activity.enrollment)
        if outline.next_step is not None:
            return redirect(
                reverse("wagtail_coaching:activity", args=[outline.next_step.public_id])
            )
        return redirect(reverse("wagtail_coaching:dashboard"))
