"""Enrolling from the admin: one client ("Enroll a client" on the clients list) or a whole
cohort ("Enroll members" on the cohorts list). Both go through the journey services."""

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic.edit import FormView
from wagtail_modeladmin.views import WMABaseView

from ..journeys import JourneyError, enroll, enroll_cohort
from ..models import Enrollment
from ..permissions import allowed
from .card import CoachingAdminView
from .display import card_url, person
from .forms import EnrollClientForm
from .permission import forbidden, visible_or_404


class EnrollClientView(WMABaseView, FormView):
    """The clients list's create view. Enrolling needs ``reassign_enrollment`` (enroll runs
    the engagement's coach assignment), checked again on the enrollment about to exist."""

    form_class = EnrollClientForm
    template_name = "wagtail_coaching/admin/enroll_client.html"
    page_title = gettext_lazy("Enroll a client")

    def check_action_permitted(self, user):
        return self.permission_helper.user_can_create(user)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        data = form.cleaned_data
        fields = {
            "engagement": data["engagement"], "company": data["company"],
            "cohort": data["cohort"],
        }
        if not allowed(self.request.user, "reassign_enrollment",
                       Enrollment(client=form.client, **fields)):
            return forbidden(self.request)
        try:
            enrollment = enroll(form.client, actor=self.request.user, **fields)
        except JourneyError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(self.request, _("%(client)s is enrolled in %(engagement)s.") % {
            "client": person(form.client), "engagement": enrollment.engagement.title,
        })
        return redirect(card_url(enrollment))


class EnrollCohortView(CoachingAdminView):
    """GET asks for confirmation, POST enrolls every member not yet enrolled."""

    template_name = "wagtail_coaching/admin/enroll_cohort.html"

    def get_cohort(self, pk):
        return visible_or_404(
            self.request.user, "view_cohort", related=("engagement", "company"), pk=pk
        )

    def get(self, request, pk):
        cohort = self.get_cohort(pk)
        if not allowed(request.user, "change_cohort", cohort):
            return forbidden(request)
        return TemplateResponse(request, self.template_name, {
            "cohort": cohort,
            "member_total": cohort.members.count(),
            "header_title": _("Enroll a cohort"),
            "index_url": reverse("coaching_cohorts_modeladmin_index"),
        })

    def post(self, request, pk):
        cohort = self.get_cohort(pk)
        if not allowed(request.user, "change_cohort", cohort):
            return forbidden(request)
        try:
            created, already = enroll_cohort(cohort, actor=request.user)
        except JourneyError as exc:
            messages.error(request, str(exc))
        else:
            enrolled = ngettext(
                "%(n)d member enrolled", "%(n)d members enrolled", len(created)
            ) % {"n": len(created)}
            before = ngettext(
                "%(n)d was already enrolled", "%(n)d were already enrolled", len(already)
            ) % {"n": len(already)}
            messages.success(request, f"{cohort.name}: {enrolled}; {before}.")
        return redirect("coaching_cohorts_modeladmin_index")
