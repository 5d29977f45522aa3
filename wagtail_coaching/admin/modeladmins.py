"""The "Coaching" menu: clients, teams, coaches, companies and cohorts, built on
wagtail-modeladmin with every list and permission taken from the matrix."""

from django import forms
from django.contrib.admin import display
from django.db.models import OuterRef, Prefetch, Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.auth import user_has_any_page_permission
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.panels import FieldPanel, InlinePanel, ObjectList
from wagtail_modeladmin.helpers import ButtonHelper
from wagtail_modeladmin.views import CreateView, EditView

from ..journeys.assignment import coaches_in_order
from ..journeys.queries import VISIBLE_STATES
from ..models import (
    DONE_STATES,
    OPEN_STATUSES,
    ClientActivity,
    CoachAssignment,
    CoachProfile,
    Cohort,
    Company,
    Enrollment,
    Team,
    TeamMembership,
)
from ..models.teams import time_zone_names
from ..permissions import visible
from . import one_to_one
from .base import (
    ContextInspectView,
    DeclaredFiltersIndexView,
    GuardedModelAdminGroup,
    MatrixModelAdmin,
    _count,
)
from .display import card_link, person
from .enrolling import EnrollClientView
from .filters import CoachFilter, CohortFilter, CompanyFilter, EngagementFilter
from .group_sessions import GroupSessionsAdmin, session_history
from .jobs import FailedJobsAdmin
from .one_to_one import AvailabilityAdmin, OneToOneAdmin
from .permission import (
    CoachProfilePermissionHelper,
    CohortPermissionHelper,
    CompanyPermissionHelper,
    EnrollmentPermissionHelper,
    TeamPermissionHelper,
    may,
    refusing,
)
from .rules import AutomationRulesAdmin

# -- Clients ---------------------------------------------------------------------------------

class ClientsButtonHelper(ButtonHelper):
    def add_button(self, classnames_add=None, classnames_exclude=None):
        button = super().add_button(classnames_add, classnames_exclude)
        button["label"] = _("Enroll a client")
        button["title"] = _("Enroll a client in an engagement")
        return button


class ClientsPaginator(WagtailPaginator):
    verbose_name = gettext_lazy("client")
    verbose_name_plural = gettext_lazy("clients")


class ClientsIndexView(DeclaredFiltersIndexView):
    """The clients list speaks of clients, as its menu item and breadcrumbs do (a row is one
    client in one engagement: an enrollment underneath)."""

    page_title = gettext_lazy("Clients")
    paginator_class = ClientsPaginator  # "12 clients" under the list

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The search box's placeholder and the empty list's text.
        self.verbose_name_plural = _("clients")


class ClientsAdmin(MatrixModelAdmin):
    """Enrollments the viewer may see. No generic edit or delete: a journey changes through
    the client card's actions, each with its own permission."""

    model = Enrollment
    menu_label = gettext_lazy("Clients")
    menu_icon = "user"
    base_url_path = "coaching/clients"
    permission_helper_class = EnrollmentPermissionHelper
    button_helper_class = ClientsButtonHelper
    index_view_class = ClientsIndexView
    admin_views = ("index", "create")
    list_display = (
        "client_name", "engagement_title", "status", "coaches", "progress", "company", "cohort",
    )
    list_display_add_buttons = "client_name"
    list_filter = (EngagementFilter, CoachFilter, "status", CompanyFilter, CohortFilter)
    search_fields = ("client__first_name", "client__last_name", "client__email")
    ordering = ("client__last_name", "client__first_name", "pk")
    list_per_page = 50

    def get_queryset(self, request):
        seen = super().get_queryset(request).order_by().values("pk")
        activities = ClientActivity.objects.filter(enrollment=OuterRef("pk"))
        return (
            Enrollment.objects.filter(pk__in=seen)
            .select_related("client", "engagement", "company", "cohort")
            .annotate(
                steps_done=_count(activities.filter(state__in=DONE_STATES), "enrollment"),
                steps_total=_count(activities.filter(state__in=VISIBLE_STATES), "enrollment"),
            )
            .prefetch_related(
                Prefetch(
                    "assignments",
                    queryset=CoachAssignment.objects.filter(ended_at__isnull=True)
                    .select_related("coach")
                    .order_by("role", "pk"),
                    to_attr="current_assignments",
                )
            )
            .order_by(*self.get_ordering(request))
        )

    def create_view(self, request):
        return refusing(EnrollClientView.as_view(model_admin=self), request)

    def register_admin_url_finders(self):
        # Enrollments have no edit view to find.
        pass

    @display(description=gettext_lazy("client"), ordering="client__last_name")
    def client_name(self, enrollment):
        return card_link(enrollment)

    @display(description=gettext_lazy("engagement"), ordering="engagement__title")
    def engagement_title(self, enrollment):
        return enrollment.engagement.title

    @display(description=gettext_lazy("coaches"))
    def coaches(self, enrollment):
        # The main coach first, co-coaches last.
        return ", ".join(
            person(a.coach) for a in coaches_in_order(enrollment.current_assignments)
        )

    @display(description=gettext_lazy("progress"))
    def progress(self, enrollment):
        total = enrollment.steps_total
        return f"{round(100 * enrollment.steps_done / total) if total else 0}%"


# -- Teams -----------------------------------------------------------------------------------

class TeamsAdmin(MatrixModelAdmin):
    """Admins create and edit teams and their members; coaches see their own teams."""

    model = Team
    menu_label = gettext_lazy("Teams")
    menu_icon = "group"
    base_url_path = "coaching/teams"
    permission_helper_class = TeamPermissionHelper
    inspect_view_enabled = True
    inspect_view_class = ContextInspectView
    inspect_view_fields = ["name", "description"]
    inspect_template_name = "wagtail_coaching/admin/team_inspect.html"
    list_display = ("name", "members")
    search_fields = ("name",)
    panels = [
        FieldPanel("name"),
        FieldPanel("description"),
        InlinePanel(
            "memberships",
            heading=gettext_lazy("Members"),
            label=gettext_lazy("Member"),
            panels=[FieldPanel("user"), FieldPanel("role"), FieldPanel("capacity"),
                    FieldPanel("active")],
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch(
                "memberships",
                queryset=TeamMembership.objects.select_related("user").order_by(
                    "user__first_name", "user__last_name", "pk"
                ),
            )
        )

    @display(description=gettext_lazy("members"))
    def members(self, team):
        return ", ".join(
            f"{person(m.user)} ({m.get_role_display()})"
            for m in team.memberships.all() if m.active
        )

    def extra_context(self, request, team):
        return {
            "memberships": team.memberships.select_related("user").order_by(
                "-active", "user__first_name", "user__last_name", "pk"
            )
        }


# -- Coaches ---------------------------------------------------------------------------------

COACH_PANELS = [
    "user", "bio", "specialties", "languages", "time_zone", "photo", "active", "max_clients",
]


def time_zone_choices():
    return [("", _("The site's time zone"))] + [
        (name, name) for name in sorted(time_zone_names())
    ]


class CoachProfileForm(WagtailAdminModelForm):
    """A coach profile, from the Coaches list's "Add" and "Edit".

    The time zone is one of the IANA list. A submission that lacks any of the form's fields
    (a truncated or hand-made request, as opposed to a box left unticked, which a browser
    leaves out) is refused whole: it never blanks the profile nor switches "taking clients"
    off.
    """

    time_zone = forms.ChoiceField(
        label=gettext_lazy("time zone"), choices=time_zone_choices, required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose a time zone from the list.")},
    )

    def clean(self):
        data = super().clean()
        missing = [
            name for name, field in self.fields.items()
            if field.widget.value_omitted_from_data(self.data, self.files, self.add_prefix(name))
        ]
        for name in missing:
            self.add_error(name, _("This field was missing from the form sent."))
        if missing:
            raise forms.ValidationError(
                _("The form arrived incomplete, so nothing was saved. Please fill it in "
                  "again."),
                code="incomplete",
            )
        return data


def coach_panels(names):
    return ObjectList(
        [FieldPanel(name) for name in names], base_form_class=CoachProfileForm
    ).bind_to_model(CoachProfile)


class CoachCreateView(CreateView):
    def get_edit_handler(self):
        return coach_panels(COACH_PANELS)


class CoachEditView(EditView):
    """The coach a profile belongs to never changes; how many clients a coach takes is the
    admins' call (those who may create profiles), not the coach's own."""

    def get_edit_handler(self):
        names = [n for n in COACH_PANELS if n != "user"]
        if not self.permission_helper.user_can_create(self.request.user):
            names.remove("max_clients")
        return coach_panels(names)


class CoachesAdmin(MatrixModelAdmin):
    model = CoachProfile
    menu_label = gettext_lazy("Coaches")
    menu_icon = "user"
    base_url_path = "coaching/coaches"
    permission_helper_class = CoachProfilePermissionHelper
    create_view_class = CoachCreateView
    edit_view_class = CoachEditView
    inspect_view_enabled = True
    inspect_view_class = ContextInspectView
    inspect_view_fields = ["bio", "specialties", "languages", "time_zone", "active", "max_clients"]
    inspect_template_name = "wagtail_coaching/admin/coach_inspect.html"
    list_display = ("coach_name", "active", "load", "teams")
    search_fields = ("user__first_name", "user__last_name", "user__email")

    def get_queryset(self, request):
        load = CoachAssignment.objects.filter(
            coach=OuterRef("user_id"), ended_at__isnull=True,
            enrollment__status__in=OPEN_STATUSES,
        )
        teams = TeamMembership.objects.filter(
            active=True, team__in=visible(request.user, "view_team")
        ).select_related("team").order_by("team__name")
        return (
            super().get_queryset(request)
            .select_related("user")
            .annotate(current_load=_count(load, "coach"))
            .prefetch_related(
                Prefetch("user__coaching_memberships", queryset=teams, to_attr="seen_teams")
            )
        )

    @display(description=gettext_lazy("coach"), ordering="user__first_name")
    def coach_name(self, profile):
        return person(profile.user)

    @display(description=gettext_lazy("clients now / most"))
    def load(self, profile):
        return f"{profile.current_load} / {profile.max_clients}"

    @display(description=gettext_lazy("teams"))
    def teams(self, profile):
        return ", ".join(dict.fromkeys(m.team.name for m in profile.user.seen_teams))

    def extra_context(self, request, profile):
        profile = self.get_queryset(request).get(pk=profile.pk)
        return {
            "coach": profile,
            "coach_name": person(profile.user),
            "load": self.load(profile),
            "teams": self.teams(profile),
        }


# -- Companies -------------------------------------------------------------------------------

class CompaniesAdmin(MatrixModelAdmin):
    """Admins manage companies and their HR partners; an HR partner sees their company."""

    model = Company
    menu_label = gettext_lazy("Companies")
    menu_icon = "site"
    base_url_path = "coaching/companies"
    permission_helper_class = CompanyPermissionHelper
    inspect_view_enabled = True
    inspect_view_class = ContextInspectView
    inspect_view_fields = ["name"]
    inspect_template_name = "wagtail_coaching/admin/company_inspect.html"
    list_display = ("name", "hr_partner_names", "clients")
    search_fields = ("name",)
    panels = [FieldPanel("name"), FieldPanel("hr_partners")]

    def get_queryset(self, request):
        seen = visible(request.user, "view_enrollment").order_by().values("pk")
        clients = Enrollment.objects.filter(company=OuterRef("pk"), pk__in=seen)
        return (
            super().get_queryset(request)
            .prefetch_related("hr_partners")
            .annotate(client_count=_count(clients, "company"))
        )

    @display(description=gettext_lazy("HR partners"))
    def hr_partner_names(self, company):
        return ", ".join(sorted(person(u) for u in company.hr_partners.all()))

    @display(description=gettext_lazy("clients you can see"))
    def clients(self, company):
        return company.client_count

    def extra_context(self, request, company):
        return {
            "hr_partners": sorted(person(u) for u in company.hr_partners.all()),
            "enrollments": visible(request.user, "view_enrollment")
            .filter(company=company)
            .select_related("client", "engagement")
            .order_by("client__last_name", "client__first_name", "pk"),
            "group_sessions": session_history(
                request.user, Q(company=company) | Q(cohort__company=company)
            ),
        }


# -- Cohorts ---------------------------------------------------------------------------------

class CohortsButtonHelper(ButtonHelper):
    def get_buttons_for_obj(self, obj, exclude=None, classnames_add=None,
                            classnames_exclude=None):
        buttons = super().get_buttons_for_obj(obj, exclude, classnames_add, classnames_exclude)
        if may(self.request.user, "change_cohort", obj):
            buttons.append({
                "url": reverse("wagtail_coaching_admin:enroll_cohort", args=[obj.pk]),
                "label": _("Enroll members"),
                "classname": self.finalise_classname(
                    ["button-secondary", *(classnames_add or [])]
                ),
                "title": _("Enroll the cohort's members in its engagement"),
            })
        return buttons


class CohortForm(WagtailAdminModelForm):
    """The engagement's page chooser offers "Edit this page" only to people who edit pages:
    for anyone else (a coaching admin who edits no pages, a coach) the link led to a "no
    permission" page."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "engagement" in self.fields:
            self.fields["engagement"].widget.show_edit_link = bool(
                self.for_user and user_has_any_page_permission(self.for_user)
            )


class CohortsAdmin(MatrixModelAdmin):
    model = Cohort
    menu_label = gettext_lazy("Cohorts")
    menu_icon = "calendar"
    base_url_path = "coaching/cohorts"
    permission_helper_class = CohortPermissionHelper
    button_helper_class = CohortsButtonHelper
    inspect_view_enabled = True
    inspect_view_class = ContextInspectView
    inspect_view_fields = ["name", "company", "engagement", "start_date"]
    inspect_template_name = "wagtail_coaching/admin/cohort_inspect.html"
    list_display = ("name", "company", "engagement_title", "start_date", "member_count")
    search_fields = ("name",)
    edit_handler = ObjectList([
        FieldPanel("name"), FieldPanel("company"), FieldPanel("engagement"),
        FieldPanel("start_date"), FieldPanel("members"),
    ], base_form_class=CohortForm)

    def get_queryset(self, request):
        members = Cohort.members.through.objects.filter(cohort_id=OuterRef("pk"))
        return (
            super().get_queryset(request)
            .select_related("company", "engagement")
            .annotate(members_total=_count(members, "cohort_id"))
        )

    @display(description=gettext_lazy("engagement"))
    def engagement_title(self, cohort):
        return cohort.engagement.title

    @display(description=gettext_lazy("members"))
    def member_count(self, cohort):
        return cohort.members_total

    def extra_context(self, request, cohort):
        return {
            "member_total": cohort.members.count(),
            "enrollments": visible(request.user, "view_enrollment")
            .filter(cohort=cohort)
            .select_related("client", "engagement")
            .order_by("client__last_name", "client__first_name", "pk"),
            "can_enroll": may(request.user, "change_cohort", cohort),
            "group_sessions": session_history(request.user, Q(cohort=cohort)),
        }


class CoachingAdminGroup(GuardedModelAdminGroup):
    """One "Coaching" menu; each item shows only to roles the matrix lets list it."""

    menu_label = gettext_lazy("Coaching")
    menu_icon = "group"
    menu_order = 250
    items = (
        ClientsAdmin, GroupSessionsAdmin, OneToOneAdmin, AvailabilityAdmin, TeamsAdmin,
        CoachesAdmin, CompaniesAdmin, CohortsAdmin, AutomationRulesAdmin, FailedJobsAdmin,
    )

    def get_submenu_items(self):
        items = super().get_submenu_items()
        return items + one_to_one.menu_items(first_order=len(items) + 1)

