"""Reassigning the client's coach from the client card, with the 1:1 sessions booked ahead.

``GET client/<public_id>/reassign/review/`` is the review page: the new coach, the sessions
booked ahead with the outgoing coach (times in the viewer's zone) and, once a coach is
chosen, what would happen to each (moves, stays and why, is cancelled), with a choice per
session. Confirming posts to ``client/<public_id>/reassign/``, which does it
(``scheduling.reassign_with_sessions``) and says what happened to each session.

Both need ``reassign_enrollment`` on the enrollment (403 otherwise), looked up inside
``view_enrollment`` (404 otherwise).
"""

from django import forms
from django.contrib import messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..permissions import allowed
from ..scheduling.booking import current_coach_id
from ..scheduling.reassignment import (
    CANCEL,
    KEEP,
    MOVE,
    clash_text,
    plan_reassignment,
    reassign_with_sessions,
    sessions_ahead,
)
from ..utils.time_zones import user_time_zone
from .card import CoachingAdminView, EnrollmentActionView, EnrollmentLookupMixin
from .display import card_url, in_viewer_zone, local_time, person
from .forms import ReassignForm, coach_choices
from .permission import forbidden

SESSION_CHOICES = [
    (MOVE, gettext_lazy("Move booked sessions to the new coach")),
    (KEEP, gettext_lazy("Keep with current coach")),
    (CANCEL, gettext_lazy("Cancel them")),
]
SESSION_FIELD = "session-"


class ReassignSessionsForm(ReassignForm):
    """The new coach, and what happens to the sessions booked ahead with the outgoing coach:
    ``booked`` for all of them, ``session-<public id>`` for one (it wins). A session named
    that is not one of them (another client's, one already held) is refused."""

    booked = forms.ChoiceField(
        label=gettext_lazy("Booked sessions ahead"), choices=SESSION_CHOICES, required=False
    )

    def __init__(self, *args, enrollment, **kwargs):
        super().__init__(*args, enrollment=enrollment, **kwargs)
        self.ahead = list(
            sessions_ahead([enrollment.pk]).select_related("activity", "coach")
            .order_by("starts_at", "pk")
        )
        for session in self.ahead:
            self.fields[f"{SESSION_FIELD}{session.public_id}"] = forms.ChoiceField(
                label=gettext_lazy("Booked session"), choices=SESSION_CHOICES, required=False
            )
        # The current coach is a valid answer with its own refusal (a reassignment sent
        # twice lands here the second time).
        self.current_coach_id = current_coach_id(enrollment)
        if self.current_coach_id is not None:
            field = self.fields["coach"]
            field.choices = [*field.choices, (self.current_coach_id, "")]

    def clean_coach(self):
        coach = self.cleaned_data["coach"]
        if coach == self.current_coach_id:
            raise forms.ValidationError(
                _("That coach cannot take this client: they coach them already.")
            )
        return coach

    def clean(self):
        data = super().clean()
        if any(key.startswith(SESSION_FIELD) and key not in self.fields for key in self.data):
            raise forms.ValidationError(
                _("That session is not one of this client's booked sessions ahead.")
            )
        data["default"] = data.get("booked") or KEEP
        data["choices"] = {
            s.pk: data[f"{SESSION_FIELD}{s.public_id}"] for s in self.ahead
            if data.get(f"{SESSION_FIELD}{s.public_id}")
        }
        return data


def outcome_lines(result):
    """What happened to each session, one sentence per kind of outcome, times in the active
    zone (the viewer's)."""
    def times(outcomes):
        return "; ".join(local_time(o.session.starts_at) for o in outcomes)

    new, old = person(result.coach), person(result.previous_coach) if result.previous_coach \
        else ""
    lines = []
    if result.moved:
        lines.append(_("Moved to %(coach)s: %(times)s.") % {
            "coach": new, "times": times(result.moved)})
    for outcome in result.not_moved:
        lines.append(_("Could not move %(time)s, kept with %(old)s: %(reason)s") % {
            "time": local_time(outcome.session.starts_at), "old": old,
            "reason": clash_text(outcome.clash, result.coach)})
    if result.kept:
        lines.append(_("Kept with %(coach)s: %(times)s.") % {
            "coach": old, "times": times(result.kept)})
    if result.cancelled:
        lines.append(_("Cancelled (the client and %(coach)s are told): %(times)s.") % {
            "coach": old, "times": times(result.cancelled)})
    return lines


class ReassignCoachView(EnrollmentActionView):
    """Reassign the coach and decide the sessions ahead (what the review page posts)."""

    permission = "reassign_enrollment"
    form_class = ReassignSessionsForm

    def post(self, request, public_id):
        self.details = []
        response = super().post(request, public_id)
        for line in self.details:
            messages.info(request, line)
        return response

    def perform(self, enrollment, data):
        result = reassign_with_sessions(
            enrollment, coach=data["coach"], choices=data["choices"], default=data["default"],
            actor=self.request.user,
        )
        with timezone.override(user_time_zone(self.request.user)):
            self.details = outcome_lines(result)
        return _("%(coach)s now coaches this client.") % {"coach": person(result.coach)}


class ReassignReviewView(EnrollmentLookupMixin, CoachingAdminView):
    """The review page (see the module's docstring). Without ``coach`` it is the form."""

    http_method_names = ["get", "head"]
    template_name = "wagtail_coaching/admin/reassign_review.html"

    def get(self, request, public_id):
        return in_viewer_zone(request, self.review, public_id)

    def review(self, request, public_id):
        enrollment = self.get_enrollment(public_id)
        if not allowed(request.user, "reassign_enrollment", enrollment):
            return forbidden(request)
        bound = "coach" in request.GET
        form = ReassignSessionsForm(request.GET if bound else None, enrollment=enrollment)
        plan = None
        if bound and enrollment.is_open and form.is_valid():
            data = form.cleaned_data
            plan = plan_reassignment(enrollment, coach=data["coach"], choices=data["choices"],
                                     default=data["default"])
        name = person(enrollment.client)
        return TemplateResponse(request, self.template_name, {
            "enrollment": enrollment, "client_name": name, "form": form, "plan": plan,
            "coach_choices": coach_choices(enrollment) if enrollment.is_open else [],
            "chosen_coach": form.data.get("coach", "") if bound else "",
            "chosen_sessions": (form.data.get("booked") if bound else "") or MOVE,
            "rows": review_rows(form.ahead, plan),
            "outgoing": person(form.ahead[0].coach) if form.ahead else "",
            "session_choices": SESSION_CHOICES,
            "header_title": _("Reassign %(name)s's coach") % {"name": name},
            "header_icon": "user",
            "breadcrumbs_items": [
                {"url": reverse("wagtailadmin_home"), "label": _("Home")},
                {"url": reverse("coaching_clients_modeladmin_index"), "label": _("Clients")},
                {"url": card_url(enrollment), "label": name},
                {"label": _("Reassign the coach")},
            ],
        })


class ReviewRow:
    """One session ahead on the review page."""

    def __init__(self, session, outcome=None, coach=None):
        self.session = session
        self.when = local_time(session.starts_at)
        self.step = session.activity.title
        self.outcome = outcome.outcome if outcome else ""
        self.can_move = outcome is None or outcome.clash is None
        self.reason = clash_text(outcome.clash, coach) if outcome and outcome.clash else ""
        self.field = f"{SESSION_FIELD}{session.public_id}"
        # What the confirmation proposes: the choice made, "keep" where it cannot move.
        self.choice = {"moved": MOVE, "cancelled": CANCEL}.get(self.outcome, KEEP)


def review_rows(ahead, plan):
    outcomes = {o.session.pk: o for o in plan.outcomes} if plan is not None else {}
    return [
        ReviewRow(s, outcomes.get(s.pk), plan.coach if plan is not None else None)
        for s in ahead
    ]
