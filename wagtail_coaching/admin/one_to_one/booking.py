"""Staff booking for a client who phones or writes: "Book a session" from the client card
(a page: which 1:1 step, which free time of the coach, or a date and time outside
availability with the override ticked) and "Move" for a booked session (the same choice
of time). Both call ``scheduling.book_session`` / ``reschedule_session`` with the staff
member as ``actor``, so the client and the coach get the same emails and calendar files
as when the client books.

Access: the enrollment is looked up among those the viewer sees (404), then booking needs
``book_for_client`` (403). Moving needs ``reschedule_coachingsession`` on the session, and
its override ``book_for_client`` on the session's enrollment. Times are shown in the
viewer's zone and labelled in the client's.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ...journeys import JourneyError
from ...models import CoachingSessionStatus
from ...scheduling import allotment, book_session, open_allotments, reschedule_session
from ...scheduling.booking import bookable_times, current_coach_id, reschedule_times
from ...utils.time_zones import user_time_zone
from ..card import CoachingAdminView, EnrollmentLookupMixin
from ..display import card_url, in_viewer_zone, local_time, person
from ..permission import forbidden, may, visible_or_404
from .forms import BookForClientForm, StaffTimeForm
from .sessions import inspect_url
from .text import time_for_both


def book_url(enrollment, activity=None):
    url = reverse("wagtail_coaching_admin:book_for_client", args=[enrollment.public_id])
    return f"{url}?activity={activity.public_id}" if activity is not None else url


def move_url(session, back=""):
    url = reverse("wagtail_coaching_admin:one_to_one_move", args=[session.public_id])
    return f"{url}?back={back}" if back else url


def _choices(starts, client_zone):
    return [(start.isoformat(), time_for_both(start, client_zone)) for start in starts]


def _breadcrumbs(enrollment, client_name, label):
    return [
        {"url": reverse("wagtailadmin_home"), "label": _("Home")},
        {"url": reverse("coaching_clients_modeladmin_index"), "label": _("Clients")},
        {"url": card_url(enrollment), "label": client_name},
        {"label": label},
    ]


class BookForClientView(EnrollmentLookupMixin, CoachingAdminView):
    """GET: the form for one 1:1 step (``?activity=<public id>``, else the first open
    one); POST: book, then back to the client card. Bad input is a form error and books
    nothing."""

    http_method_names = ["get", "head", "post"]
    template_name = "wagtail_coaching/admin/one_to_one/book_for_client.html"

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def setup_booking(self, public_id, chosen_id):
        enrollment = self.get_enrollment(public_id)
        if not may(self.request.user, "book_for_client", enrollment):
            return enrollment, None, None
        steps = open_allotments([enrollment.pk])
        if chosen_id:
            step = next((s for s in steps if str(s.public_id) == chosen_id), None)
        else:
            step = steps[0] if steps else None
        return enrollment, steps, step

    def get(self, request, public_id):
        enrollment, steps, step = self.setup_booking(public_id, request.GET.get("activity"))
        if steps is None:
            return forbidden(request)
        if request.GET.get("activity") and step is None:
            return self.render(enrollment, steps, None, None, status=404)
        form = self.form(enrollment, steps, step, initial={
            "activity": str(step.public_id) if step else "",
        })
        return self.render(enrollment, steps, step, form)

    def post(self, request, public_id):
        enrollment, steps, step = self.setup_booking(public_id, request.POST.get("activity"))
        if steps is None:
            return forbidden(request)
        form = self.form(enrollment, steps, step, data=request.POST)
        if form.is_valid() and step is not None:
            data = form.cleaned_data
            try:
                session = book_session(step, data["when"], actor=request.user,
                                       override=data["override"])
            except JourneyError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _(
                    "%(client)s is booked for %(when)s with %(coach)s. The client and the "
                    "coach get the invitation by email."
                ) % {"client": person(enrollment.client), "when": local_time(session.starts_at),
                     "coach": person(session.coach)})
                return redirect(card_url(enrollment))
        return self.render(enrollment, steps, step, form)

    def form(self, enrollment, steps, step, **kwargs):
        client_zone = user_time_zone(enrollment.client)
        times = bookable_times(step) if step is not None else []
        return BookForClientForm(
            steps=steps, times=_choices(times, client_zone), may_override=True,
            auto_id="id_book_%s", **kwargs,
        )

    def render(self, enrollment, steps, step, form, status=200):
        client_name = person(enrollment.client)
        coach_id = current_coach_id(enrollment)
        coach = get_user_model().objects.filter(pk=coach_id).first() if coach_id else None
        return TemplateResponse(self.request, self.template_name, {
            "enrollment": enrollment, "client_name": client_name, "form": form,
            "steps": [(s, book_url(enrollment, s)) for s in steps],
            "step": step, "allotment": allotment(step) if step is not None else None,
            "coach_name": person(coach) if coach else "",
            "viewer_zone": timezone.get_current_timezone_name(),
            "client_zone": user_time_zone(enrollment.client).key,
            "card_url": card_url(enrollment),
            "header_title": _("Book a session for %(name)s") % {"name": client_name},
            "header_icon": "date",
            "breadcrumbs_items": _breadcrumbs(enrollment, client_name, _("Book a session")),
        }, status=status)


class MoveSessionView(CoachingAdminView):
    """GET: the coach's other free times (and, for those who may book for the client, a
    date and time outside availability); POST: move, then back to the card or the
    session's page (``back``)."""

    http_method_names = ["get", "head", "post"]
    template_name = "wagtail_coaching/admin/one_to_one/move.html"

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def get_session(self, public_id):
        session = visible_or_404(
            self.request.user, "view_coachingsession",
            related=("enrollment__client", "enrollment__engagement", "coach"),
            public_id=public_id,
        )
        if not may(self.request.user, "reschedule_coachingsession", session):
            return None
        return session

    def form(self, session, **kwargs):
        now = timezone.now()
        movable = session.status == CoachingSessionStatus.BOOKED and session.starts_at > now
        times = reschedule_times(session, now) if movable else []
        return StaffTimeForm(
            times=_choices(times, user_time_zone(session.enrollment.client)),
            may_override=may(self.request.user, "book_for_client", session.enrollment),
            auto_id="id_move_%s", **kwargs,
        )

    def get(self, request, public_id):
        session = self.get_session(public_id)
        if session is None:
            return forbidden(request)
        back = "card" if request.GET.get("back") == "card" else ""
        return self.render(session, self.form(session, initial={"back": back}))

    def post(self, request, public_id):
        session = self.get_session(public_id)
        if session is None:
            return forbidden(request)
        form = self.form(session, data=request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                moved = reschedule_session(session, data["when"], actor=request.user,
                                           override=data["override"])
            except JourneyError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _(
                    "The session moved to %(when)s. Both calendars are updated."
                ) % {"when": local_time(moved.starts_at)})
                return redirect(card_url(session.enrollment) if data.get("back") == "card"
                                else inspect_url(session))
        return self.render(session, form)

    def render(self, session, form):
        client_name = person(session.enrollment.client)
        return TemplateResponse(self.request, self.template_name, {
            "session": session, "client_name": client_name, "form": form,
            "coach_name": person(session.coach),
            "may_override": "override" in form.fields,
            "when": time_for_both(session.starts_at, user_time_zone(session.enrollment.client)),
            "movable": session.status == CoachingSessionStatus.BOOKED
            and session.starts_at > timezone.now(),
            "viewer_zone": timezone.get_current_timezone_name(),
            "back_url": card_url(session.enrollment) if form["back"].value() == "card"
            else inspect_url(session),
            "header_title": _("Move the session of %(name)s") % {"name": client_name},
            "header_icon": "date",
            "breadcrumbs_items": _breadcrumbs(session.enrollment, client_name, _("Move")),
        })


urlpatterns = [
    path("client/<uuid:public_id>/book/", BookForClientView.as_view(), name="book_for_client"),
    path("one-to-one/<uuid:public_id>/move/", MoveSessionView.as_view(), name="one_to_one_move"),
]
