"""The client card: everything about one client the viewer may see, and what they may do.

``GET client/<public_id>/`` is a full admin page; with ``?panel=1`` (or an
``X-Requested-With``/``HX-Request`` header) it is the fragment the admin's script shows in a
slide-out dialog. Each action is a POST to its own URL and goes through the journey
services, which record it in the timeline; the answer is a message and a redirect back to
the card.

The enrollment is looked up inside ``visible(user, "view_enrollment")`` (404 otherwise),
then the action is checked with ``allowed()`` (403 otherwise).
"""

from dataclasses import dataclass, field

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from ..charts.journeys import add_charts
from ..continuity.brief import coach_briefs
from ..continuity.intake import answer_lines
from ..conversations import mark_read, threads
from ..journeys import (
    JourneyError,
    add_extra_activity,
    add_note,
    pause_enrollment,
    resume_enrollment,
    skip_activity,
    unlock_activity,
)
from ..journeys.assignment import coaches_in_order
from ..journeys.co_coaching import add_co_coach, remove_co_coach
from ..journeys.queries import enrollment_outline
from ..models import (
    CoachAssignment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Registration,
)
from ..permissions import allowed, visible
from ..portability import erase_client, is_erased
from ..scheduling.reassignment import sessions_ahead_counts
from ..views.conversations import MessageForm
from ..views.portability import data_download
from .card_booking import add_booking, on_behalf_text
from .co_coaching import AddCoCoachForm, RemoveCoCoachForm, add_co_coaching
from .display import card_url, person
from .forms import (
    ActivityForm,
    ExtraActivityForm,
    NoFieldsForm,
    NoteForm,
    coach_choices,
    extra_activity_value,
    first_error,
)
from .panels import group_session_url
from .permission import forbidden, may_use_admin, refusing, visible_or_404, wants_fragment

# Timeline entries shown per enrollment.
TIMELINE_LENGTH = 40
# Sessions shown of each kind (group, 1:1), the latest first.
SESSIONS_LENGTH = 30
# Messages of each conversation shown on the card, the latest ones.
CARD_MESSAGES = 20


@dataclass
class EnrollmentCard:
    """One enrollment of the client, as this viewer may see it."""

    enrollment: object
    outline: object
    can_change: bool
    can_reassign: bool
    show_detail: bool
    current_coaches: list = field(default_factory=list)
    past_coaches: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    events: list = field(default_factory=list)
    rule_events: list = field(default_factory=list)
    coach_choices: list = field(default_factory=list)
    sessions_ahead: int = 0  # 1:1 sessions booked ahead with the current coach
    extra_form: object = None
    note_form: object = None
    brief: object = None  # continuity.brief.Brief, for a viewer who sees the detail
    thread: object = None  # the conversation, where the viewer may read it
    message_form: object = None  # where the viewer may write in it
    co_coaching: object = None  # co_coaching.CoCoaching
    booking: object = None  # card_booking.BookingBlock: 1:1 sessions to book, move, cancel

    @property
    def is_active(self):
        return self.enrollment.status == EnrollmentStatus.ACTIVE

    @property
    def is_paused(self):
        return self.enrollment.status == EnrollmentStatus.PAUSED


def _event_text(event, names, client_name=""):
    """What a timeline entry says; never a note's text or a score (those need the detail)."""
    label = event.get_kind_display()
    data = event.data or {}
    on_behalf = on_behalf_text(event, client_name)
    if on_behalf:
        return on_behalf
    if event.kind in (
        EventKind.COACH_ASSIGNED, EventKind.COACH_HANDOFF, EventKind.CO_COACH_ADDED,
        EventKind.CO_COACH_REMOVED, EventKind.SESSION_COACH_CHANGED,
    ) and data.get("coach"):
        return f"{label}: {names.get(data['coach'], '')}".rstrip(": ")
    if event.kind == EventKind.STAGE_NEEDS_COACH and data.get("stage_title"):
        return f"{label}: {data['stage_title']}"
    if event.kind == EventKind.STATUS_CHANGED and data.get("to"):
        return f"{label}: {EnrollmentStatus(data['to']).label}"
    if event.activity is not None:
        return f"{label}: {event.activity.title}"
    if event.kind == EventKind.EXTRA_ADDED and data.get("title"):
        return f"{label}: {data['title']}"
    if event.kind == EventKind.RULE_FIRED and data.get("name"):
        return f"{label}: {data['name']}"
    return label


def client_card(user, enrollment):
    """The card of ``enrollment``'s client: every enrollment of theirs ``user`` may see
    (``enrollment`` first), with what each may show and which actions each allows."""
    client = enrollment.client
    enrollments = [enrollment] + list(
        visible(user, "view_enrollment")
        .filter(client_id=client.pk)
        .exclude(pk=enrollment.pk)
        .select_related("engagement", "company", "cohort")
        .order_by("-created_at")
    )
    ids = [e.pk for e in enrollments]
    assignments = list(
        CoachAssignment.objects.filter(enrollment_id__in=ids)
        .select_related("coach")
        .order_by("-started_at", "-pk")
    )
    names = {a.coach_id: person(a.coach) for a in assignments}
    notes = list(
        visible(user, "view_sessionnote")
        .filter(enrollment_id__in=ids)
        .select_related("author")
        .order_by("-created_at", "-pk")
    )
    ahead = sessions_ahead_counts(
        [e.pk for e in enrollments if allowed(user, "reassign_enrollment", e) and e.is_open]
    )
    cards = []
    for e in enrollments:
        can_change = allowed(user, "change_enrollment", e)
        can_reassign = allowed(user, "reassign_enrollment", e) and e.is_open
        show_detail = allowed(user, "view_journey_detail", e)
        mine = [a for a in assignments if a.enrollment_id == e.pk]
        card = EnrollmentCard(
            enrollment=e,
            outline=enrollment_outline(e),
            can_change=can_change,
            can_reassign=can_reassign,
            show_detail=show_detail,
            current_coaches=coaches_in_order([a for a in mine if a.ended_at is None]),
            past_coaches=[a for a in mine if a.ended_at is not None],
            notes=[n for n in notes if n.enrollment_id == e.pk],
        )
        if show_detail:
            for stage in card.outline.stages:
                for row in stage.activities:
                    row.answer_lines = answer_lines(row.response)
            # Automation's bookkeeping would crowd out what happened: it is listed apart,
            # folded away, with its own allowance.
            events = JourneyEvent.objects.filter(enrollment=e).select_related(
                "actor", "activity"
            ).order_by("-at", "-pk")
            card.events = [
                (ev, _event_text(ev, names, person(client)))
                for ev in events.exclude(kind=EventKind.RULE_FIRED)[:TIMELINE_LENGTH]
            ]
            card.rule_events = [
                (ev, _event_text(ev, names))
                for ev in events.filter(kind=EventKind.RULE_FIRED)[:TIMELINE_LENGTH]
            ]
        if can_change and e.is_open:
            card.extra_form = ExtraActivityForm(enrollment=e, auto_id=f"id_extra_{e.pk}_%s")
        if can_change:
            card.note_form = NoteForm(auto_id=f"id_note_{e.pk}_%s")
        if can_reassign:
            card.coach_choices = coach_choices(e)
            card.sessions_ahead = ahead.get(e.pk, 0)
        cards.append(card)
    add_threads(user, cards)
    add_co_coaching(user, cards)
    add_booking(user, cards)
    # Check-in scores are journey detail: charted only where the viewer may see the detail.
    detailed = {card.enrollment.pk for card in cards if card.show_detail}
    briefs = coach_briefs([card.enrollment for card in cards if card.show_detail])
    for card in cards:
        card.brief = briefs.get(card.enrollment.pk)
    add_charts([card.outline for card in cards],
               show_checkins=lambda outline: outline.enrollment.pk in detailed)
    return {
        "client": client, "client_name": person(client), "cards": cards,
        "erased": is_erased(client),
        "can_export": allowed(user, "export_client_data", enrollment),
        "can_erase": allowed(user, "erase_client", enrollment),
        **client_sessions(user, client, ids),
    }


def add_threads(user, cards):
    """Each card's conversation (the latest messages) where the viewer may read it, marked
    read for them, and a reply box where they may write: a fixed number of queries."""
    readable = [card.enrollment for card in cards if allowed(user, "view_messages",
                                                             card.enrollment)]
    found = threads(user, readable, limit=CARD_MESSAGES) if readable else {}
    mark_read(user, {t.conversation.pk: t.latest_id for t in found.values() if t.conversation})
    for card in cards:
        card.thread = found.get(card.enrollment.pk)
        if card.thread is not None and allowed(user, "write_messages", card.enrollment):
            card.message_form = MessageForm(auto_id=f"id_message_{card.enrollment.pk}_%s")


def client_sessions(user, client, enrollment_ids):
    """The client's group session places and 1:1 sessions, among the sessions ``user`` may
    see. Two queries."""
    registrations = list(
        Registration.objects.filter(
            user=client,
            session_id__in=visible(user, "view_groupsession").order_by().values("pk"),
        )
        .select_related("session")
        .order_by("-session__starts_at", "-pk")[:SESSIONS_LENGTH]
    )
    for registration in registrations:
        registration.url = group_session_url(registration.session)
    one_to_ones = list(
        visible(user, "view_coachingsession")
        .filter(enrollment_id__in=enrollment_ids)
        .select_related("coach", "enrollment__engagement")
        .order_by("-starts_at", "-pk")[:SESSIONS_LENGTH]
    )
    for session in one_to_ones:
        session.url = reverse("coaching_one_to_one_modeladmin_inspect", args=[session.pk])
    return {"group_registrations": registrations, "one_to_ones": one_to_ones}


class CoachingAdminView(View):
    """Staff only; a PermissionDenied anywhere below becomes the 403 page."""

    def dispatch(self, request, *args, **kwargs):
        if not may_use_admin(request.user):
            return forbidden(request)
        return refusing(super().dispatch, request, *args, **kwargs)


class EnrollmentLookupMixin:
    def get_enrollment(self, public_id):
        return visible_or_404(
            self.request.user, "view_enrollment",
            related=("client", "engagement", "company", "cohort"), public_id=public_id,
        )


class ClientCardView(EnrollmentLookupMixin, CoachingAdminView):
    http_method_names = ["get", "head"]

    def get(self, request, public_id):
        enrollment = self.get_enrollment(public_id)
        context = client_card(request.user, enrollment)
        if wants_fragment(request):
            return TemplateResponse(
                request, "wagtail_coaching/admin/client_card_panel.html",
                {**context, "fragment": True},
            )
        context.update(
            header_title=context["client_name"],
            breadcrumbs_items=[
                {"url": reverse("wagtailadmin_home"), "label": _("Home")},
                {"url": reverse("coaching_clients_modeladmin_index"), "label": _("Clients")},
                # The page itself: no address (Wagtail links any item whose url is not None).
                {"label": context["client_name"]},
            ],
            header_icon="user",
        )
        return TemplateResponse(request, "wagtail_coaching/admin/client_card.html", context)


class EnrollmentActionView(EnrollmentLookupMixin, CoachingAdminView):
    """One action of the card: check, validate, call the service, say what happened."""

    http_method_names = ["post"]
    permission = "change_enrollment"
    form_class = NoFieldsForm

    def post(self, request, public_id):
        enrollment = self.get_enrollment(public_id)
        if not allowed(request.user, self.permission, enrollment):
            return forbidden(request)
        form = self.form_class(request.POST, enrollment=enrollment)
        if not form.is_valid():
            messages.error(request, first_error(form))
        else:
            try:
                done = self.perform(enrollment, form.cleaned_data)
            except JourneyError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, done)
        return redirect(card_url(enrollment, fragment=wants_fragment(request)))

    def perform(self, enrollment, data):
        raise NotImplementedError


class AddExtraActivityView(EnrollmentActionView):
    form_class = ExtraActivityForm

    def perform(self, enrollment, data):
        row = add_extra_activity(
            enrollment, data["kind"],
            extra_activity_value(
                data["kind"], data["title"], data["text"], cadence=data.get("cadence"),
                times_per_week=data.get("times_per_week"), weeks=data.get("weeks"),
            ),
            actor=self.request.user, stage_block_id=data["stage"] or "",
        )
        return _("“%(title)s” was added to the journey.") % {"title": row.title}


class UnlockActivityView(EnrollmentActionView):
    form_class = ActivityForm

    def perform(self, enrollment, data):
        activity = unlock_activity(data["activity"], actor=self.request.user)
        return _("“%(title)s” is open.") % {"title": activity.title}


class SkipActivityView(EnrollmentActionView):
    form_class = ActivityForm

    def perform(self, enrollment, data):
        activity = skip_activity(data["activity"], actor=self.request.user)
        return _("“%(title)s” was skipped.") % {"title": activity.title}


class AddCoCoachView(EnrollmentActionView):
    """"Add a co-coach": a second coach of the team, for the whole engagement or a stage."""

    permission = "manage_co_coaches"
    form_class = AddCoCoachForm

    def perform(self, enrollment, data):
        assignment = add_co_coach(
            enrollment, data["coach"], stage_block_id=data["stage"] or "",
            actor=self.request.user,
        )
        return _("%(coach)s now co-coaches this client.") % {"coach": person(assignment.coach)}


class RemoveCoCoachView(EnrollmentActionView):
    permission = "manage_co_coaches"
    form_class = RemoveCoCoachForm

    def perform(self, enrollment, data):
        assignment = remove_co_coach(enrollment, data["coach"], actor=self.request.user)
        return _("%(coach)s no longer co-coaches this client.") % {
            "coach": person(assignment.coach)
        }


class PauseView(EnrollmentActionView):
    def perform(self, enrollment, data):
        pause_enrollment(enrollment, actor=self.request.user)
        return _("The engagement is paused.")


class ResumeView(EnrollmentActionView):
    def perform(self, enrollment, data):
        resume_enrollment(enrollment, actor=self.request.user)
        return _("The engagement is running again.")


class AddNoteView(EnrollmentActionView):
    form_class = NoteForm

    def perform(self, enrollment, data):
        add_note(
            enrollment, author=self.request.user, body=data["body"],
            visibility=data["visibility"],
        )
        return _("The note was added.")


class ExportClientDataView(EnrollmentLookupMixin, CoachingAdminView):
    """Download all the data of the enrollment's client (``?format=json|csv``)."""

    http_method_names = ["get", "head"]

    def get(self, request, public_id):
        enrollment = self.get_enrollment(public_id)
        if not allowed(request.user, "export_client_data", enrollment):
            return forbidden(request)
        return data_download(
            enrollment.client, request.GET.get("format", "json"),
            basename=f"coaching-client-{enrollment.client.pk}",
        )


class EraseClientView(EnrollmentLookupMixin, CoachingAdminView):
    """Anonymise the enrollment's client: a confirmation page (GET), then the erasure (POST)."""

    template_name = "wagtail_coaching/admin/erase_client.html"

    def get_allowed(self, public_id):
        enrollment = self.get_enrollment(public_id)
        if not allowed(self.request.user, "erase_client", enrollment):
            return enrollment, False
        return enrollment, True

    def get(self, request, public_id):
        enrollment, ok = self.get_allowed(public_id)
        if not ok:
            return forbidden(request)
        name = person(enrollment.client)
        return TemplateResponse(request, self.template_name, {
            "enrollment": enrollment, "client_name": name,
            "already_erased": is_erased(enrollment.client),
            "header_title": _("Anonymise %(name)s") % {"name": name},
            "header_icon": "warning",
            "breadcrumbs_items": [
                {"url": reverse("wagtailadmin_home"), "label": _("Home")},
                {"url": reverse("coaching_clients_modeladmin_index"), "label": _("Clients")},
                {"url": card_url(enrollment), "label": name},
                {"label": _("Anonymise")},
            ],
        })

    def post(self, request, public_id):
        enrollment, ok = self.get_allowed(public_id)
        if not ok:
            return forbidden(request)
        if erase_client(enrollment.client, actor=request.user):
            messages.success(request, _("The client was anonymised."))
        else:
            messages.info(request, _("This client had already been anonymised."))
        return redirect(card_url(enrollment))
