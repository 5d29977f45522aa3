"""What the availability list's and a 1:1 session's buttons do: remove a slot (GET asks
first), record, move and cancel a session (POST). Each finds the object among those the
viewer sees (404), checks the matrix (403), calls ``scheduling`` and shows its answer as a
message; a refusal it raises becomes an error message. Staff cancelling is never late,
unless they count the session as used. Posted with ``back=card`` (from the client card) the
answer goes back to the card.
``urlpatterns`` holds these and the URLs of payouts and "My calendar"."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _

from ...continuity.follow_up import record_one_to_one
from ...journeys import JourneyError
from ...scheduling import cancel_session, remove_slot, reschedule_session
from .. import my_calendar, payouts
from ..card import CoachingAdminView
from ..display import card_url, in_viewer_zone, local_time, person
from ..forms import first_error
from ..permission import forbidden, may, visible_or_404, wants_fragment
from .availability import availability_url
from .forms import CancelForm, RecordForm, RescheduleForm
from .sessions import inspect_url


class SlotRemoveView(CoachingAdminView):
    """GET asks to confirm; POST withdraws the slot (not a booked one)."""

    http_method_names = ["get", "head", "post"]

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def get_slot(self, public_id):
        return visible_or_404(
            self.request.user, "view_availabilityslot", related=("coach",),
            public_id=public_id,
        )

    def get(self, request, public_id):
        slot = self.get_slot(public_id)
        if not may(request.user, "change_availabilityslot", slot):
            return forbidden(request)
        return TemplateResponse(request, "wagtail_coaching/admin/one_to_one/remove_slot.html", {
            "slot": slot, "coach_name": person(slot.coach), "when": local_time(slot.starts_at),
            "index_url": availability_url(),
        })

    def post(self, request, public_id):
        slot = self.get_slot(public_id)
        if not may(request.user, "change_availabilityslot", slot):
            return forbidden(request)
        when = local_time(slot.starts_at)
        try:
            remove_slot(slot)
        except JourneyError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("The time %(when)s was withdrawn.") % {"when": when})
        return redirect(availability_url())


class SessionActionView(CoachingAdminView):
    """One action on a 1:1 session: find it among the visible ones, check the matrix,
    validate, call the service, say what happened, back to the session's page."""

    http_method_names = ["post"]
    permission = "change_coachingsession"
    form_class = forms.Form

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def post(self, request, public_id):
        session = visible_or_404(
            request.user, "view_coachingsession", related=("enrollment__client", "coach"),
            public_id=public_id,
        )
        if not may(request.user, self.permission, session):
            return forbidden(request)
        form = self.form = self.form_class(request.POST)
        if not form.is_valid():
            messages.error(request, first_error(form))
        else:
            try:
                done = self.perform(session, form.cleaned_data)
            except JourneyError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, done)
        if request.POST.get("back") == "card":
            return redirect(card_url(session.enrollment, fragment=wants_fragment(request)))
        return redirect(inspect_url(session))

    def perform(self, session, data):
        raise NotImplementedError


class RecordSessionView(SessionActionView):
    form_class = RecordForm

    def perform(self, session, data):
        record_one_to_one(
            session, outcome=data["outcome"], follow_up=self.form.follow_up(),
            actor=self.request.user,
        )
        return _("The session is recorded.")


class RescheduleSessionView(SessionActionView):
    permission = "reschedule_coachingsession"
    form_class = RescheduleForm

    def perform(self, session, data):
        session = reschedule_session(session, data["starts_at"], actor=self.request.user)
        return _("The session moved to %(when)s. Both calendars are updated.") % {
            "when": local_time(session.starts_at)
        }


class CancelSessionView(SessionActionView):
    permission = "reschedule_coachingsession"
    form_class = CancelForm

    def perform(self, session, data):
        cancel_session(session, actor=self.request.user, count_as_used=data["count_as_used"])
        if data["count_as_used"]:
            return _("The session is cancelled and counts as used.")
        return _("The session is cancelled and goes back to the client's sessions.")


urlpatterns = [
    path(
        "availability/<uuid:public_id>/remove/", SlotRemoveView.as_view(), name="slot_remove"
    ),
    path(
        "one-to-one/<uuid:public_id>/record/", RecordSessionView.as_view(),
        name="one_to_one_record",
    ),
    path(
        "one-to-one/<uuid:public_id>/reschedule/", RescheduleSessionView.as_view(),
        name="one_to_one_reschedule",
    ),
    path(
        "one-to-one/<uuid:public_id>/cancel/", CancelSessionView.as_view(),
        name="one_to_one_cancel",
    ),
    *payouts.urlpatterns,
    *my_calendar.urlpatterns,
]
