"""1:1 sessions in the coaching admin (Coaching → 1:1 sessions): the list of the sessions
the viewer may see and a session's page, with what happened and what the viewer may do
about it (record it, move it, cancel it, book another for the client). Sessions are booked
by clients, or by staff for them (``booking``), never created or edited through a generic
form."""

from django.contrib.admin import display
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail_modeladmin.helpers import ButtonHelper

from ...continuity.brief import coach_brief
from ...models import (
    CoachingSession,
    CoachingSessionStatus,
    EnrollmentStatus,
    FollowUpPractice,
)
from ...permissions import visible
from ...scheduling import allotment
from ...scheduling.booking import reschedule_times
from ..base import (
    ContextInspectView,
    DeclaredFiltersIndexView,
    MatrixModelAdmin,
    PlainNameURLHelper,
)
from ..display import card_link, in_viewer_zone, local_time, person
from ..permission import MatrixPermissionHelper, may
from .filters import SessionCoachFilter, WhenFilter
from .forms import RecordForm
from .text import minutes_between, session_zone_time

# Statuses a session can be recorded from (again: a coach may correct held / no-show).
RECORDABLE = (
    CoachingSessionStatus.BOOKED, CoachingSessionStatus.COMPLETED, CoachingSessionStatus.NO_SHOW
)


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


class OneToOneIndexView(DeclaredFiltersIndexView):
    """The list, with "Book for a client" in its header for those who may book for
    clients (the page it opens lists the clients each may book for)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if may(self.request.user, "book_for_client"):
            context["book_for_client_url"] = reverse(
                "wagtail_coaching_admin:one_to_one_book_for_client"
            )
        return context


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
    index_view_class = OneToOneIndexView
    index_template_name = "wagtail_coaching/admin/one_to_one/index.html"
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
            "practices": [
                f.activity for f in FollowUpPractice.objects.filter(coaching_session=session)
                .select_related("activity").order_by("pk")
            ],
            "times": times,
            "move_url": reverse("wagtail_coaching_admin:one_to_one_move", args=[session.public_id])
            if can_move else "",
            "book_url": reverse("wagtail_coaching_admin:book_for_client",
                                args=[session.enrollment.public_id])
            if session.enrollment.status == EnrollmentStatus.ACTIVE
            and may(user, "book_for_client", session.enrollment) else "",
            # Answers and check-in values: journey detail.
            "brief": coach_brief(session.enrollment, now)
            if may(user, "view_journey_detail", session.enrollment) else None,
        }


def inspect_url(session):
    return reverse("coaching_one_to_one_modeladmin_inspect", args=[session.pk])
