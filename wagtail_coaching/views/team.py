"""Client-facing team views: choosing a coach, and privacy (consent)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from ..journeys import (
    JourneyError,
    assign_coach,
    available_coaches,
    employer_sponsors,
    set_consent,
    sharing_choice,
)
from ..journeys.queries import coach_profiles
from ..models import AssignmentMethod, CoachAssignment, ConsentPurpose
from ..permissions import allowed, visible
from .client import ClientViewMixin


class ChooseCoachView(ClientViewMixin, View):
    """On a client's-choice engagement, the client picks a coach among those with room."""

    template_name = "wagtail_coaching/choose_coach.html"

    def get_enrollment(self, request, public_id):
        enrollment = (
            visible(request.user, "choose_coach")
            .select_related("engagement")
            .filter(public_id=public_id)
            .first()
        )
        if enrollment is None or not allowed(request.user, "choose_coach", enrollment):
            raise Http404(_("No such engagement."))
        if enrollment.engagement.assignment_policy != AssignmentMethod.CLIENT_CHOICE:
            raise Http404(_("Your coach is assigned by the team for this engagement."))
        return enrollment

    def render(self, request, enrollment, status=200):
        ids = available_coaches(enrollment.engagement)
        profiles = coach_profiles(ids)
        current = CoachAssignment.objects.filter(
            enrollment=enrollment, role="coach", ended_at__isnull=True
        ).select_related("coach").first()
        return TemplateResponse(
            request, self.template_name,
            {"enrollment": enrollment, "profiles": profiles, "current": current},
            status=status,
        )

    def get(self, request, public_id):
        return self.render(request, self.get_enrollment(request, public_id))

    def post(self, request, public_id):
        enrollment = self.get_enrollment(request, public_id)
        if CoachAssignment.objects.filter(
            enrollment=enrollment, role="coach", ended_at__isnull=True
        ).exists():
            messages.error(request, _("You already have a coach. Ask the team to change."))
            return self.render(request, enrollment, status=409)
        try:
            coach_id = int(request.POST.get("coach", ""))
        except ValueError:
            messages.error(request, _("Choose one of the coaches below."))
            return self.render(request, enrollment, status=400)
        try:
            assign_coach(
                enrollment, coach=coach_id, method=AssignmentMethod.CLIENT_CHOICE,
                actor=request.user,
            )
        except JourneyError as exc:
            messages.error(request, str(exc))
            return self.render(request, enrollment, status=400)
        messages.success(request, _("Your coach has been told and will be in touch."))
        return redirect(reverse("wagtail_coaching:dashboard"))


class PrivacyView(ClientViewMixin, View):
    """The client decides whether their employer's HR partner sees attendance and progress.

    A client whose coaching no company sponsors is told that nobody outside their coaching
    team sees it, and is asked nothing (a POST changes nothing: 400).
    """

    template_name = "wagtail_coaching/privacy.html"

    def context(self, request):
        return {
            "consent": sharing_choice(request.user),
            "companies": employer_sponsors(request.user),
            "purpose": ConsentPurpose.SHARE_PROGRESS,
        }

    def get(self, request):
        return TemplateResponse(request, self.template_name, self.context(request))

    def post(self, request):
        context = self.context(request)
        if not context["companies"]:
            messages.error(
                request, _("No employer sponsors your coaching: there is nothing to share.")
            )
            return TemplateResponse(request, self.template_name, context, status=400)
        choice = request.POST.get("share_progress")
        if choice not in ("yes", "no"):
            messages.error(request, _("Choose whether to share your progress."))
            return TemplateResponse(request, self.template_name, context, status=400)
        set_consent(request.user, ConsentPurpose.SHARE_PROGRESS, choice == "yes")
        messages.success(request, _("Your choice is saved."))
        return redirect(reverse("wagtail_coaching:privacy"))
