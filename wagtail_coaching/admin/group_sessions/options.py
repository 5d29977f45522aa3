"""The group-session admin itself (Coaching → Group sessions): the ModelAdmin with its
columns, who may list, inspect, edit and add (the matrix, through its permission helper),
its buttons, and the session history a cohort's or company's page shows."""

from django.contrib.admin import display
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...models import GroupSession, Registration, RegistrationStatus
from ...permissions import visible
from ...scheduling import seats_taken_annotation
from ...utils.time_zones import user_time_zone
from ..base import InspectFirstButtonHelper, MatrixModelAdmin, _count
from ..display import in_viewer_zone, person
from ..permission import MatrixPermissionHelper, may, may_use_admin
from .filters import (
    SessionCoachFilter,
    SessionCohortFilter,
    SessionCompanyFilter,
    SessionStatusFilter,
    WhenFilter,
)
from .text import audience_text, seats_text, week_label, week_start, when_text
from .views import (
    TEMPLATES,
    SessionCreateView,
    SessionEditView,
    SessionIndexView,
    SessionInspectView,
)


def with_counts(queryset):
    """Sessions with ``seats_held`` and ``waiting`` counted in the same query."""
    registrations = Registration.objects.filter(session=OuterRef("pk"))
    return queryset.annotate(
        seats_held=seats_taken_annotation(),
        waiting=_count(
            registrations.filter(status=RegistrationStatus.WAITLISTED), "session"
        ),
    )


def session_history(user, condition, limit=50):
    """Group sessions matching ``condition`` (a Q) that ``user`` may see, latest first, with
    their time in the viewer's zone and their seats: the history on a cohort's or company's
    page."""
    zone = user_time_zone(user)
    sessions = list(
        with_counts(visible(user, "view_groupsession").filter(condition))
        .select_related("coach")
        .order_by("-starts_at", "-pk")[:limit]
    )
    for s in sessions:
        s.when = when_text(s, zone)
        s.seats = seats_text(s.seats_held, s.capacity)
        s.coach_name = person(s.coach)
    return sessions


class GroupSessionPermissionHelper(MatrixPermissionHelper):
    """Listing and inspecting: ``view_groupsession``; editing: ``change_groupsession``;
    creating: ``create_groupsession`` (checked again on the sessions about to exist).

    Rows of the list carry ``viewer_may_change`` (from ``visible()``), so their buttons cost
    no query.
    """

    view_action = "view_groupsession"
    change_action = "change_groupsession"

    def user_can_create(self, user):
        return may(user, "create_groupsession")

    def user_can_inspect_obj(self, user, obj):
        if hasattr(obj, "viewer_may_change"):
            # A row of the list: visible to this viewer by construction.
            return self.inspect_view_enabled and may_use_admin(user)
        return super().user_can_inspect_obj(user, obj)

    def user_can_edit_obj(self, user, obj):
        known = getattr(obj, "viewer_may_change", None)
        if known is not None:
            return bool(known) and may_use_admin(user)
        return super().user_can_edit_obj(user, obj)


class GroupSessionButtonHelper(InspectFirstButtonHelper):
    def add_button(self, classnames_add=None, classnames_exclude=None):
        button = super().add_button(classnames_add, classnames_exclude)
        button["label"] = _("Add sessions")
        button["title"] = _("Add one group session or a series")
        return button

    def get_buttons_for_obj(self, obj, exclude=None, classnames_add=None,
                            classnames_exclude=None):
        exclude = list(exclude or [])
        if obj.is_cancelled or obj.starts_at <= timezone.now():
            exclude.append("edit")
        return super().get_buttons_for_obj(obj, exclude, classnames_add, classnames_exclude)


class GroupSessionsAdmin(MatrixModelAdmin):
    model = GroupSession
    menu_label = gettext_lazy("Group sessions")
    menu_icon = "date"
    base_url_path = "coaching/sessions"
    permission_helper_class = GroupSessionPermissionHelper
    button_helper_class = GroupSessionButtonHelper
    index_view_class = SessionIndexView
    inspect_view_enabled = True
    inspect_view_class = SessionInspectView
    inspect_template_name = TEMPLATES + "inspect.html"
    list_display = (
        "week", "title", "when", "coaches", "audience_label", "seats", "waitlist", "outcome",
    )
    list_display_add_buttons = "title"
    list_filter = (
        WhenFilter, SessionCoachFilter, SessionCompanyFilter, SessionCohortFilter,
        SessionStatusFilter,
    )
    search_fields = ("title",)
    ordering = ("starts_at", "pk")
    list_per_page = 50

    def get_queryset(self, request):
        may_change = visible(request.user, "change_groupsession").filter(pk=OuterRef("pk"))
        return (
            with_counts(super().get_queryset(request))
            .select_related("coach", "company", "cohort", "engagement")
            .prefetch_related(Prefetch(
                "co_coaches",
                queryset=get_user_model().objects.order_by("first_name", "last_name", "pk"),
            ))
            .annotate(viewer_may_change=Exists(may_change))
        )

    def index_view(self, request):
        return in_viewer_zone(request, super().index_view)

    def create_view(self, request):
        return in_viewer_zone(request, SessionCreateView.as_view(model_admin=self))

    def edit_view(self, request, instance_pk):
        self.get_visible_object(request, instance_pk)
        return in_viewer_zone(
            request, SessionEditView.as_view(model_admin=self, instance_pk=instance_pk)
        )

    def inspect_view(self, request, instance_pk):
        return in_viewer_zone(request, super().inspect_view, instance_pk)

    @display(description=gettext_lazy("week"))
    def week(self, session):
        label = week_label(week_start(session))
        if getattr(session, "same_week_as_previous", False):
            # Shown once per week; screen readers still hear it on every row.
            return format_html('<span class="w-sr-only">{}</span>', label)
        return label

    @display(description=gettext_lazy("when"), ordering="starts_at")
    def when(self, session):
        return when_text(session)

    @display(description=gettext_lazy("coach"))
    def coaches(self, session):
        names = [person(session.coach)]
        names += [person(c) for c in session.co_coaches.all() if c.pk != session.coach_id]
        return ", ".join(names)

    @display(description=gettext_lazy("audience"))
    def audience_label(self, session):
        return audience_text(session)

    @display(description=gettext_lazy("seats taken"))
    def seats(self, session):
        return seats_text(session.seats_held, session.capacity)

    @display(description=gettext_lazy("waitlist"))
    def waitlist(self, session):
        return session.waiting

    @display(description=gettext_lazy("status"), ordering="status")
    def outcome(self, session):
        return session.outcome_label
