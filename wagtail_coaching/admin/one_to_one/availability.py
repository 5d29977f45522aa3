"""Coaches' availability in the coaching admin (Coaching → Availability): the list of
upcoming slots and who booked them, publishing slots (its "create" view), and who may do
what: a coach publishes and removes their own slots, an admin anyone's."""

from django.contrib import messages
from django.contrib.admin import display
from django.db.models import Exists, OuterRef, Prefetch
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from wagtail_modeladmin.helpers import ButtonHelper
from wagtail_modeladmin.views import WMABaseView

from ...journeys import JourneyError
from ...models import AvailabilitySlot, CoachingSession, CoachingSessionStatus
from ...permissions import visible
from ...scheduling import publish_availability
from ..base import MatrixModelAdmin, PlainNameURLHelper
from ..display import in_viewer_zone, local_time, person
from ..permission import MatrixPermissionHelper, may
from .filters import SlotCoachFilter
from .forms import PublishAvailabilityForm
from .sessions import inspect_url
from .text import minutes_between


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


def availability_url():
    return reverse("coaching_availability_modeladmin_index")
