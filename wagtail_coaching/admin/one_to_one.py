"""The staff side of 1:1 sessions: coaches' availability, the 1:1 sessions list and page
(record, reschedule, cancel), and the URLs of payouts and "My calendar".

Every list comes from ``visible()`` and every object is looked up there first (404), then
the action is checked with the matrix (403 page). The work is done by
``wagtail_coaching.scheduling``; a refusal it raises becomes an error message.

- Availability (``view_availabilityslot`` / ``change_availabilityslot``): a coach publishes
  and removes their own slots, an admin anyone's.
- 1:1 sessions (``view_coachingsession``; recording needs ``change_coachingsession``, moving
  or cancelling ``reschedule_coachingsession``). Staff cancelling is never late.
"""

import zoneinfo
from datetime import datetime

from django import forms
from django.contrib import messages
from django.contrib.admin import SimpleListFilter, display
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from wagtail.admin.localization import get_available_admin_time_zones
from wagtail.admin.widgets import AdminDateInput, AdminTimeInput
from wagtail_modeladmin.helpers import ButtonHelper
from wagtail_modeladmin.views import WMABaseView

from ..journeys import JourneyError
from ..models import AvailabilitySlot, CoachingSession, CoachingSessionStatus, CoachProfile
from ..permissions import visible
from ..scheduling import (
    allotment,
    cancel_session,
    publish_availability,
    record_session,
    remove_slot,
    reschedule_session,
)
from ..scheduling.booking import parse_start, reschedule_times
from ..utils import time_zones
from . import my_calendar, payouts
from .base import ContextInspectView, MatrixModelAdmin, PlainNameURLHelper
from .card import CoachingAdminView
from .display import card_link, in_viewer_zone, local_time, person
from .forms import first_error
from .permission import MatrixPermissionHelper, forbidden, may, visible_or_404

# Statuses a session can be recorded from (again: a coach may correct held / no-show).
RECORDABLE = (
    CoachingSessionStatus.BOOKED, CoachingSessionStatus.COMPLETED, CoachingSessionStatus.NO_SHOW
)


def minutes_between(start, end):
    return int((end - start).total_seconds() // 60)


# -- Availability ------------------------------------------------------------------------------

class AvailabilityPermissionHelper(MatrixPermissionHelper):
    """A coach publishes their own availability even though ``change_availabilityslot``
    reaches only their own slots: the form makes them the coach. Slots are never edited,
    only removed (``slot_remove``)."""

    view_action = "view_availabilityslot"
    change_action = "change_availabilityslot"

    def user_can_create(self, user):
        return may(user, self.change_action)

    def user_can_edit_obj(self, user, obj):
        return False


def publishes_for_anyone(user):
    """Whether ``user`` may publish availability for any coach (admins), rather than only
    for themselves: the matrix's answer for a slot of nobody yet."""
    return may(user, "change_availabilityslot", AvailabilitySlot())


def coach_time_zone(coach):
    """The zone of the coach's profile, else the coaching default."""
    return time_zones.coach_time_zone(
        CoachProfile.objects.filter(user=coach).only("time_zone").first()
    ).key


class PublishAvailabilityForm(forms.Form):
    """One date, from–to, cut into slots; the same weekday and local time for N weeks.

    The rules (future, at least 15 minutes, 1 to 52 weeks, no overlap) are the service's:
    it says what is wrong and creates nothing.
    """

    coach = forms.ModelChoiceField(label=gettext_lazy("Coach"), queryset=None)
    date = forms.DateField(label=gettext_lazy("Date"), widget=AdminDateInput)
    start_time = forms.TimeField(label=gettext_lazy("From"), widget=AdminTimeInput)
    end_time = forms.TimeField(label=gettext_lazy("To"), widget=AdminTimeInput)
    slot_minutes = forms.IntegerField(
        label=gettext_lazy("Slot length (minutes)"), initial=60,
    )
    weeks = forms.IntegerField(
        label=gettext_lazy("Weeks"), initial=1,
        help_text=gettext_lazy("1 for this date only; more repeats it every week."),
    )
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"), required=False,
        help_text=gettext_lazy("The zone of the times above; the coach's own if left empty."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if publishes_for_anyone(user):
            coaches = CoachProfile.objects.values("user_id")
            self.fields["coach"].queryset = get_user_model().objects.filter(
                pk__in=coaches
            ).order_by("first_name", "last_name", "username")
            self.fields["coach"].label_from_instance = person
        else:
            del self.fields["coach"]
            self.initial.setdefault("time_zone", coach_time_zone(user))
        self.fields["time_zone"].choices = [("", _("The coach's time zone"))] + [
            (name, name) for name in get_available_admin_time_zones()
        ]

    def clean(self):
        data = super().clean()
        coach = data.get("coach") if "coach" in self.fields else self.user
        if coach is not None and not may(
            self.user, "change_availabilityslot", AvailabilitySlot(coach=coach)
        ):
            raise forms.ValidationError(_("You can only publish your own availability."))
        data["coach"] = coach
        return data

    def plan(self):
        """The arguments of ``publish_availability``."""
        data = self.cleaned_data
        name = data["time_zone"] or coach_time_zone(data["coach"])
        zone = zoneinfo.ZoneInfo(name)
        return {
            "start": datetime.combine(data["date"], data["start_time"], tzinfo=zone),
            "end": datetime.combine(data["date"], data["end_time"], tzinfo=zone),
            "slot_minutes": data["slot_minutes"],
            "weeks": data["weeks"],
            "time_zone": name,
        }


class PublishAvailabilityView(WMABaseView):
    """The availability list's "create" view: publish slots, then back to the list."""

    page_title = gettext_lazy("Publish availability")
    template_name = "wagtail_coaching/admin/one_to_one/publish.html"

    def check_action_permitted(self, user):
        return self.permission_helper.user_can_create(user)

    def get(self, request, *args, **kwargs):
        form = PublishAvailabilityForm(user=request.user)
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        form = PublishAvailabilityForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        try:
            slots = publish_availability(form.cleaned_data["coach"], **form.plan())
        except JourneyError as exc:
            form.add_error(None, str(exc))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        messages.success(request, ngettext(
            "%(n)d slot published.", "%(n)d slots published.", len(slots)
        ) % {"n": len(slots)})
        return redirect(self.index_url)


class AvailabilityButtonHelper(ButtonHelper):
    def add_button(self, classnames_add=None, classnames_exclude=None):
        button = super().add_button(classnames_add, classnames_exclude)
        button["label"] = _("Publish availability")
        button["title"] = _("Offer times for 1:1 sessions")
        return button

    def get_buttons_for_obj(self, obj, exclude=None, classnames_add=None,
                            classnames_exclude=None):
        if obj.booked_sessions or not may(self.request.user, "change_availabilityslot", obj):
            return []
        return [{
            "url": reverse("wagtail_coaching_admin:slot_remove", args=[obj.public_id]),
            "label": _("Remove"),
            "classname": self.finalise_classname(["button-secondary", "no"]),
            "title": _("Withdraw this time"),
        }]


class SlotCoachFilter(SimpleListFilter):
    title = gettext_lazy("coach")
    parameter_name = "coach"
    view_action = "view_availabilityslot"

    def lookups(self, request, model_admin):
        seen = visible(request.user, self.view_action).order_by().values("coach_id")
        coaches = get_user_model().objects.filter(pk__in=seen).order_by(
            "first_name", "last_name", "username"
        )
        return [(str(c.pk), person(c)) for c in coaches]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdecimal():
            return queryset.none()
        return queryset.filter(coach_id=int(value))


class AvailabilityAdmin(MatrixModelAdmin):
    """Upcoming slots of the coaches the viewer may see, and who booked them. A fixed
    number of queries however many slots: the booked session and whether the viewer may
    see it come with the page of slots."""

    model = AvailabilitySlot
    menu_label = gettext_lazy("Availability")
    menu_icon = "time"
    base_url_path = "coaching/availability"
    url_helper_class = PlainNameURLHelper
    permission_helper_class = AvailabilityPermissionHelper
    button_helper_class = AvailabilityButtonHelper
    create_view_class = PublishAvailabilityView
    admin_views = ("index", "create")
    list_display = ("when", "coach_name", "length", "booked")
    list_display_add_buttons = "when"
    list_filter = (SlotCoachFilter,)
    ordering = ("starts_at", "coach__first_name", "pk")
    list_per_page = 50

    def get_queryset(self, request):
        seen = visible(request.user, "view_coachingsession").filter(pk=OuterRef("pk"))
        booked = (
            CoachingSession.objects.filter(status=CoachingSessionStatus.BOOKED)
            .select_related("enrollment__client")
            .annotate(seen=Exists(seen))
        )
        return (
            super().get_queryset(request)
            .filter(ends_at__gt=timezone.now())
            .select_related("coach")
            .prefetch_related(Prefetch("sessions", queryset=booked, to_attr="booked_sessions"))
        )

    def register_admin_url_finders(self):
        # Slots have no edit view to find.
        pass

    def index_view(self, request):
        return in_viewer_zone(request, super().index_view)

    def create_view(self, request):
        return in_viewer_zone(request, super().create_view)

    @display(description=gettext_lazy("when"), ordering="starts_at")
    def when(self, slot):
        return local_time(slot.starts_at)

    @display(description=gettext_lazy("coach"), ordering="coach__first_name")
    def coach_name(self, slot):
        return person(slot.coach)

    @display(description=gettext_lazy("length"))
    def length(self, slot):
        return _("%(n)d min") % {"n": minutes_between(slot.starts_at, slot.ends_at)}

    @display(description=gettext_lazy("booked"))
    def booked(self, slot):
        if not slot.booked_sessions:
            return _("Free")
        session = slot.booked_sessions[0]
        if not session.seen:
            return _("Booked")
        return format_html(
            '<a href="{}">{}</a>', inspect_url(session), person(session.enrollment.client)
        )


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


def availability_url():
    return reverse("coaching_availability_modeladmin_index")


# -- 1:1 sessions ------------------------------------------------------------------------------

class OneToOnePermissionHelper(MatrixPermissionHelper):
    """1:1 sessions are booked by clients (or moved and cancelled from their page), never
    created or edited through a generic form."""

    view_action = "view_coachingsession"
    change_action = "change_coachingsession"

    def user_can_create(self, user):
        return False

    def user_can_edit_obj(self, user, obj):
        return False


class ListedRowsButtonHelper(ButtonHelper):
    """Every row of the list comes from ``visible(user, view_action)``, which is what
    inspecting asks, so the button needs no question per row (the list's queries stay
    fixed)."""

    def get_buttons_for_obj(self, obj, exclude=None, classnames_add=None,
                            classnames_exclude=None):
        if "inspect" in (exclude or []):
            return []
        return [self.inspect_button(obj.pk, ["button-secondary"], classnames_exclude)]

    def inspect_button(self, pk, classnames_add=None, classnames_exclude=None):
        button = super().inspect_button(pk, classnames_add, classnames_exclude)
        button["label"] = _("Open")
        return button


class WhenFilter(SimpleListFilter):
    title = gettext_lazy("when")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("upcoming", _("Upcoming")), ("past", _("Past"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "upcoming":
            return queryset.filter(ends_at__gt=now)
        if self.value() == "past":
            return queryset.filter(ends_at__lte=now)
        return queryset


class SessionCoachFilter(SlotCoachFilter):
    view_action = "view_coachingsession"


class OneToOneInspectView(ContextInspectView):
    page_title = gettext_lazy("1:1 session")

    def get_page_subtitle(self):
        return local_time(self.instance.starts_at)


class OneToOneAdmin(MatrixModelAdmin):
    """The 1:1 sessions the viewer may see; each opens on a page with what happened and
    what they may do about it."""

    model = CoachingSession
    menu_label = gettext_lazy("1:1 sessions")
    menu_icon = "user"
    base_url_path = "coaching/one-to-one"
    url_helper_class = PlainNameURLHelper
    permission_helper_class = OneToOnePermissionHelper
    button_helper_class = ListedRowsButtonHelper
    admin_views = ("index", "inspect")
    inspect_view_enabled = True
    inspect_view_class = OneToOneInspectView
    inspect_view_fields = ["status"]
    inspect_template_name = "wagtail_coaching/admin/one_to_one/inspect.html"
    list_display = ("when", "client", "coach_name", "status")
    list_display_add_buttons = "when"
    list_filter = (WhenFilter, SessionCoachFilter, "status")
    search_fields = (
        "enrollment__client__first_name", "enrollment__client__last_name",
        "enrollment__client__email",
    )
    ordering = ("starts_at", "pk")
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "enrollment__client", "enrollment__engagement", "coach"
        )

    def register_admin_url_finders(self):
        # Sessions have no edit view to find.
        pass

    def index_view(self, request):
        return in_viewer_zone(request, super().index_view)

    def inspect_view(self, request, instance_pk):
        return in_viewer_zone(request, super().inspect_view, instance_pk)

    @display(description=gettext_lazy("when"), ordering="starts_at")
    def when(self, session):
        return local_time(session.starts_at)

    @display(description=gettext_lazy("client"), ordering="enrollment__client__last_name")
    def client(self, session):
        return card_link(session.enrollment)

    @display(description=gettext_lazy("coach"), ordering="coach__first_name")
    def coach_name(self, session):
        return person(session.coach)

    def extra_context(self, request, session):
        session = CoachingSession.objects.select_related(
            "enrollment__client", "enrollment__engagement", "coach", "activity", "booked_by"
        ).get(pk=session.pk)
        user, now = request.user, timezone.now()
        can_record = (
            may(user, "change_coachingsession", session)
            and session.status in RECORDABLE and session.starts_at <= now
        )
        can_move = (
            may(user, "reschedule_coachingsession", session)
            and session.status == CoachingSessionStatus.BOOKED and session.starts_at > now
        )
        minutes = minutes_between(session.starts_at, session.ends_at)
        times = []
        if can_move:
            times = [
                (start.isoformat(), local_time(start))
                for start in reschedule_times(session, now)
            ]
        return {
            "session": session,
            "client_link": card_link(session.enrollment),
            "coach_name": person(session.coach),
            "when": local_time(session.starts_at),
            "session_when": session_zone_time(session),
            "minutes": minutes,
            "booked_by": person(session.booked_by) if session.booked_by else "",
            "allotment": allotment(session.activity),
            "notes": visible(user, "view_sessionnote")
            .filter(coaching_session=session)
            .select_related("author")
            .order_by("-created_at", "-pk"),
            "can_record": can_record,
            "can_move": can_move,
            "record_form": RecordForm(initial={
                "outcome": (session.status if session.status != CoachingSessionStatus.BOOKED
                            else CoachingSessionStatus.COMPLETED),
                "summary": session.summary,
            }) if can_record else None,
            "times": times,
        }


def session_zone_time(session):
    """The time in the session's own zone (the coach's), when it is not the viewer's."""
    zone = time_zones.known_zone(session.time_zone)
    if zone is None:
        return ""
    if zone.key == timezone.get_current_timezone_name():
        return ""
    local = timezone.localtime(session.starts_at, zone)
    return f"{date_format(local, 'D j M Y, H:i')} ({session.time_zone})"


def inspect_url(session):
    return reverse("coaching_one_to_one_modeladmin_inspect", args=[session.pk])


class RecordForm(forms.Form):
    outcome = forms.ChoiceField(
        label=gettext_lazy("What happened"), widget=forms.RadioSelect,
        choices=[
            (CoachingSessionStatus.COMPLETED, gettext_lazy("Held")),
            (CoachingSessionStatus.NO_SHOW, gettext_lazy("The client did not come")),
        ],
    )
    summary = forms.CharField(
        label=gettext_lazy("Summary for the client"), required=False, max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Emailed to the client when it is new or changed."),
    )
    private_note = forms.CharField(
        label=gettext_lazy("Private note"), required=False, max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Only you can read it."),
    )


class RescheduleForm(forms.Form):
    starts_at = forms.CharField(label=gettext_lazy("New time"))

    def clean_starts_at(self):
        value = parse_start(self.cleaned_data["starts_at"])
        if value is None:
            raise forms.ValidationError(_("Choose one of the free times."))
        return value


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
        form = self.form_class(request.POST)
        if not form.is_valid():
            messages.error(request, first_error(form))
        else:
            try:
                done = self.perform(session, form.cleaned_data)
            except JourneyError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, done)
        return redirect(inspect_url(session))

    def perform(self, session, data):
        raise NotImplementedError


class RecordSessionView(SessionActionView):
    form_class = RecordForm

    def perform(self, session, data):
        record_session(
            session, outcome=data["outcome"], summary=data["summary"],
            private_note=data["private_note"], actor=self.request.user,
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

    def perform(self, session, data):
        cancel_session(session, actor=self.request.user)
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


def menu_items(first_order=100):
    """Menu items for the Coaching menu that are not modeladmin lists: payouts and "My
    calendar", each shown only to whoever may open it."""
    return [payouts.payouts_menu_item(first_order), my_calendar.my_calendar_menu_item(
        first_order + 1
    )]
