"""Roles and the permission matrix: the one place that decides who may see or do what.

The matrix maps an action (``view_enrollment``) and a role (``coach``) to a *scope*: the
relationship the user must have with the object (``coached``: the client is theirs). Each
scope is two things kept side by side: a predicate that answers for one object, and the
queryset filter that lists the same objects. ``allowed()`` asks the predicates (they are
registered with ``rules``, so ``rules.has_perm("wagtail_coaching.<action>", user, obj)``
works too); ``visible()`` applies the filters. A test checks the two agree on generated data.

Roles come from Django groups (``ROLE_GROUPS`` setting); adding a role is one entry in
``ROLE_GROUPS`` plus its row in ``MATRIX`` or in the ``ROLE_PERMISSIONS`` setting. Wagtail's
own page permissions stay Wagtail's.
"""

from dataclasses import dataclass

import rules
from django.contrib.auth import get_user_model
from django.db.models import Q

from ..conf import coaching_settings
from ..models import (
    AutomationRule,
    AvailabilitySlot,
    CalendarConnection,
    ClientActivity,
    CoachingSession,
    CoachProfile,
    Cohort,
    Company,
    EngagementPage,
    Enquiry,
    Enrollment,
    FailedJob,
    GroupSession,
    Notification,
    OfferPage,
    Order,
    SalesManagerProfile,
    SessionNote,
    StripeEvent,
    Team,
)
from .roles import (
    CLIENT_VISIBLE_STATES,
    ROLE_ADMIN,
    ROLE_CLIENT,
    ROLE_COACH,
    ROLE_HR_PARTNER,
    ROLE_SALES_MANAGER,
    ROLES,
    SHARED_NOTES,
    is_staff_role,
    may_use_admin,
    roles_of,
    users_with_role,
)
from .scopes import (
    ACTIVE_COACH,
    ALL,
    ASSIGNED,
    AUTHOR,
    COACHED,
    COHORT_COMPANY_HR,
    COHORT_TEAM,
    COMPANY_CONSENTED,
    ELIGIBLE,
    ENGAGEMENT_COACHED,
    ENGAGEMENT_TEAM,
    HR_OF,
    MAIN_COACH_ROLE,
    MAIN_COACHED,
    MEMBER,
    OFFER_ACCESS,
    ONESELF,
    OWN,
    OWN_OPEN_ACTIVITY,
    OWN_ORDER,
    OWN_READABLE,
    READABLE_ENROLLMENT,
    RECIPIENT,
    RULE_TEAM_OR_GLOBAL,
    RUNS,
    SCOPES,
    SELF,
    SESSION_COACH,
    SESSION_COMPANY_HR,
    SESSION_TEAM,
    SHARED_ANY,
    SHARED_IN_TEAM,
    SHARED_WITH_ME,
    TEAM,
    TEAM_ADMIN,
    TEAMMATES,
    Scope,
    current_coaches,
    current_enrollments,
    eligible_q,
    enrollment_access_q,
    granting_orders,
    has_offer_access,
    offers_accessible_to,
)


def admin_allowed(user, action, obj=None):
    """``allowed()`` for someone working in the coaching admin or its reports."""
    return may_use_admin(user) and allowed(user, action, obj)


# -- The matrix ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Action:
    model: type
    description: str
    roles: dict


MATRIX = {
    "view_enrollment": Action(Enrollment, "See a client's enrollment (client card, lists)", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: COACHED | TEAM,
        ROLE_HR_PARTNER: COMPANY_CONSENTED,
        ROLE_CLIENT: OWN,
    }),
    "view_journey_detail": Action(
        Enrollment, "See answers, scores, check-in values and the timeline", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: COACHED | TEAM,
            ROLE_CLIENT: OWN,
        }),
    "change_enrollment": Action(
        Enrollment, "Unlock, skip, add extra activities, pause, resume, add notes", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: COACHED | TEAM,
        }),
    "reassign_enrollment": Action(Enrollment, "Assign or reassign the client's coach", {
        ROLE_ADMIN: ALL,
    }),
    "manage_co_coaches": Action(
        Enrollment, "Add or remove a co-coach (a second coach, without a hand-off)", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: MAIN_COACHED,
        }),
    "export_client_data": Action(
        Enrollment, "Download all of a client's data (JSON or CSV)", {ROLE_ADMIN: ALL}
    ),
    "erase_client": Action(
        Enrollment, "Anonymise a client (names, email, answers, notes)", {ROLE_ADMIN: ALL}
    ),
    "choose_coach": Action(Enrollment, "Pick their coach (client's-choice engagements)", {
        ROLE_CLIENT: OWN,
    }),
    "view_messages": Action(
        Enrollment, "Read the client's conversation with their coaches, and its files", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: COACHED | TEAM_ADMIN,
            ROLE_CLIENT: OWN,
        }),
    "write_messages": Action(
        Enrollment, "Write in the client's conversation with their coaches, share files", {
            ROLE_COACH: COACHED,
            ROLE_CLIENT: OWN_READABLE,
        }),
    "open_notification": Action(Notification, "Open one's own in-app notifications", {
        role: RECIPIENT for role in ROLES
    }),
    "open_clientactivity": Action(ClientActivity, "Open and complete an activity on the site", {
        ROLE_CLIENT: OWN_OPEN_ACTIVITY,
    }),
    "view_sessionnote": Action(SessionNote, "Read a session note", {
        ROLE_ADMIN: AUTHOR | SHARED_ANY,
        ROLE_COACH: AUTHOR | SHARED_IN_TEAM,
        ROLE_CLIENT: SHARED_WITH_ME,
    }),
    "view_order": Action(Order, "See orders (the Orders panel)", {
        ROLE_ADMIN: ALL,
        ROLE_SALES_MANAGER: ALL,
    }),
    "change_order": Action(Order, "Grant offers manually, refund orders", {
        ROLE_ADMIN: ALL,
        ROLE_SALES_MANAGER: ALL,
    }),
    "follow_order": Action(Order, "Follow one's own order after checkout", {
        role: OWN_ORDER for role in ROLES
    }),
    "view_receipt": Action(Order, "Read an order's page and receipt on the site", {
        **{role: OWN_ORDER for role in ROLES},
        ROLE_ADMIN: ALL,
        ROLE_SALES_MANAGER: ALL,
    }),
    "access_offer": Action(OfferPage, "See an offer's paywalled content", {
        role: OFFER_ACCESS for role in ROLES
    }),
    "view_payment_setup": Action(
        OfferPage, "Be warned on an offer's page that its paid prices cannot be bought yet", {
            ROLE_ADMIN: ALL,
        }),
    "view_salesmanagerprofile": Action(SalesManagerProfile, "See referral codes", {
        ROLE_ADMIN: ALL,
        ROLE_SALES_MANAGER: SELF,
    }),
    "change_salesmanagerprofile": Action(SalesManagerProfile, "Manage referral codes", {
        ROLE_ADMIN: ALL,
    }),
    "earn_salesmanagerprofile": Action(
        SalesManagerProfile, "Be credited with the sales one's referral code brings", {
            ROLE_SALES_MANAGER: SELF,
        }),
    "view_enquiry": Action(Enquiry, "See enquiries from offer pages and their replies", {
        ROLE_ADMIN: ALL,
        ROLE_SALES_MANAGER: ASSIGNED,
    }),
    "change_enquiry": Action(
        Enquiry, "Reply to an enquiry, change its status, turn it into a grant or a personal "
        "checkout link", {
            ROLE_ADMIN: ALL,
            ROLE_SALES_MANAGER: ASSIGNED,
        }),
    "view_stripeevent": Action(StripeEvent, "Read the Stripe webhook log", {ROLE_ADMIN: ALL}),
    "view_team": Action(Team, "See a team", {ROLE_ADMIN: ALL, ROLE_COACH: MEMBER}),
    "change_team": Action(Team, "Create and edit teams and their members", {ROLE_ADMIN: ALL}),
    "view_coachprofile": Action(CoachProfile, "See a coach's profile and load", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: SELF | TEAMMATES,
    }),
    "change_coachprofile": Action(CoachProfile, "Edit a coach's profile", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: SELF,
    }),
    "view_company": Action(Company, "See a company", {
        ROLE_ADMIN: ALL,
        ROLE_HR_PARTNER: HR_OF,
    }),
    "change_company": Action(Company, "Create and edit companies", {ROLE_ADMIN: ALL}),
    "view_cohort": Action(Cohort, "See a cohort", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: COHORT_TEAM,
        ROLE_HR_PARTNER: COHORT_COMPANY_HR,
    }),
    "change_cohort": Action(Cohort, "Create and edit cohorts, enroll a cohort", {
        ROLE_ADMIN: ALL,
    }),
    "view_groupsession": Action(GroupSession, "See a group session", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: RUNS | SESSION_TEAM,
        ROLE_HR_PARTNER: SESSION_COMPANY_HR,
        ROLE_CLIENT: ELIGIBLE,
    }),
    "create_groupsession": Action(
        GroupSession, "Create group sessions (a coach: ones they or their team run)", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: ALL,
        }),
    "change_groupsession": Action(
        GroupSession, "Edit, cancel, invite, change the coach, take attendance", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: RUNS | SESSION_TEAM,
        }),
    "pick_groupsession_coach": Action(
        get_user_model(), "Choose who leads new group sessions (a coach: themselves)", {
            ROLE_ADMIN: ACTIVE_COACH,
            ROLE_COACH: ONESELF,
        }),
    "schedule_for_engagement": Action(
        EngagementPage, "Aim group sessions at an engagement's clients and steps (a coach: "
        "their teams' engagements and those of their clients)", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: ENGAGEMENT_TEAM | ENGAGEMENT_COACHED,
        }),
    "register_groupsession": Action(
        GroupSession, "Register for a group session (or join its waitlist)", {
            ROLE_CLIENT: ELIGIBLE,
        }),
    "view_availabilityslot": Action(AvailabilitySlot, "See a coach's availability", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: SESSION_COACH,
    }),
    "change_availabilityslot": Action(AvailabilitySlot, "Publish and remove availability", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: SESSION_COACH,
    }),
    "book_session": Action(ClientActivity, "Book a 1:1 session from an allotment", {
        ROLE_CLIENT: OWN_OPEN_ACTIVITY,
    }),
    "book_for_client": Action(
        Enrollment, "Book a client's 1:1 sessions for them from their allotment, and book or "
        "move one outside the coach's availability (an override)", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: COACHED | TEAM_ADMIN,
        }),
    "view_coachingsession": Action(CoachingSession, "See a 1:1 session", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: SESSION_COACH | TEAM.via("enrollment"),
        ROLE_CLIENT: OWN.via("enrollment"),
    }),
    "change_coachingsession": Action(
        CoachingSession, "Write the summary and private notes, mark held or no-show", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: SESSION_COACH | TEAM.via("enrollment"),
        }),
    "reschedule_coachingsession": Action(CoachingSession, "Reschedule or cancel a 1:1 session", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: SESSION_COACH | TEAM.via("enrollment"),
        ROLE_CLIENT: OWN.via("enrollment"),
    }),
    "connect_calendar": Action(
        CalendarConnection, "Connect one's own calendar (CalDAV): its busy times block "
        "booking, the sessions one leads are written into it", {
            ROLE_ADMIN: SELF,
            ROLE_COACH: SELF,
        }),
    "view_calendarconnection": Action(
        CalendarConnection, "See whether calendars are connected and working (never their "
        "passwords)", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: SELF,
        }),
    "view_payouts": Action(CoachProfile, "See sessions delivered per coach (payouts)", {
        ROLE_ADMIN: ALL,
        ROLE_COACH: SELF,
    }),
    "view_automationrule": Action(
        AutomationRule, "See automation rules, their firings and a dry run", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: RULE_TEAM_OR_GLOBAL,
        }),
    "change_automationrule": Action(
        AutomationRule, "Create, edit, pause and resume automation rules", {
            ROLE_ADMIN: ALL,
        }),
    "automate_engagement": Action(
        EngagementPage, "Name an engagement's published stages and steps in automation rules "
        "(the rule editor's choices)", {
            ROLE_ADMIN: ALL,
        }),
    "view_coaching_reports": Action(
        Enrollment, "See reports and charts over these clients (progress, retention, no-shows, "
        "time to first session, coach load, satisfaction, outcomes), and export them", {
            ROLE_ADMIN: ALL,
            ROLE_COACH: COACHED | TEAM,
        }),
    "view_sales_report": Action(
        Order, "See sales by offer, price and sales manager, and export them", {
            ROLE_ADMIN: ALL,
            ROLE_SALES_MANAGER: ALL,
        }),
    "view_company_report": Action(
        Enrollment, "See a company's report (attendance and progress), and export it", {
            ROLE_ADMIN: ALL,
            ROLE_HR_PARTNER: COMPANY_CONSENTED,
        }),
    "view_failedjob": Action(FailedJob, "See background jobs that failed, with their error", {
        ROLE_ADMIN: ALL,
    }),
    "retry_failedjob": Action(FailedJob, "Retry a failed background job", {ROLE_ADMIN: ALL}),
}


def _extra_role_scopes():
    """Roles added in settings: ``ROLE_PERMISSIONS = {"supervisor": {"view_enrollment":
    "coached|team"}}`` with scope names from ``SCOPES``."""
    extra = {}
    for role, actions in (coaching_settings.ROLE_PERMISSIONS or {}).items():
        for action, names in actions.items():
            scope = None
            for name in names.split("|"):
                part = SCOPES[name.strip()]
                scope = part if scope is None else scope | part
            extra.setdefault(action, {})[role] = scope
    return extra


def scope_for(action, role):
    return _extra_role_scopes().get(action, {}).get(role) or MATRIX[action].roles.get(role)


def scopes_of(user, action):
    return [s for s in (scope_for(action, role) for role in sorted(roles_of(user))) if s]


def allowed(user, action, obj=None):
    """Whether ``user`` may do ``action`` on ``obj`` (or on any object, with ``obj=None``).

    ``action`` is a matrix key (``"view_enrollment"``; the ``"wagtail_coaching."`` prefix
    is accepted too). Unlike ``user.has_perm`` a superuser is not let through everything:
    a superuser is a coaching admin, and what admins may do is in the matrix.
    """
    action = action.removeprefix("wagtail_coaching.")
    return rules.has_perm(f"wagtail_coaching.{action}", user, obj)


def visible(user, action):
    """The queryset of objects ``allowed(user, action, obj)`` is true for."""
    model = MATRIX[action].model
    scopes = scopes_of(user, action)
    if not user.is_authenticated or not scopes:
        return model.objects.none()
    condition = Q(pk__in=[])
    for scope in scopes:
        condition |= scope.q(user)
    return model.objects.filter(condition)


def _predicate(action):
    @rules.predicate(name=action)
    def check(user, obj=None):
        if user is None or not user.is_authenticated:
            return False
        scopes = scopes_of(user, action)
        if obj is None:
            return bool(scopes)
        return any(scope.test(user, obj) for scope in scopes)

    return check


for _action in MATRIX:
    rules.set_perm(f"wagtail_coaching.{_action}", _predicate(_action))


# Staff roles get into the Wagtail admin without a hand-made group permission (with rules'
# ObjectPermissionBackend in AUTHENTICATION_BACKENDS, as docs/install.md asks).
rules.add_perm(
    "wagtailadmin.access_admin", rules.predicate(is_staff_role, name="is_coaching_staff")
)


def matrix_markdown():
    """The matrix as a Markdown table (the copy in docs/permissions.md is checked against this)."""
    header = "| action | " + " | ".join(ROLES) + " |"
    lines = [header, "|" + " --- |" * (len(ROLES) + 1)]
    for action, spec in MATRIX.items():
        cells = [spec.roles[r].name if r in spec.roles else "–" for r in ROLES]
        lines.append(f"| `{action}`: {spec.description} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# Kept for callers of the first release.
def activities_client_may_open(user):
    return visible(user, "open_clientactivity")


def enrollments_visible_to(user):
    return visible(user, "view_enrollment")


# The package's API: roles, scopes and the matrix, imported from here.
__all__ = [
    "ACTIVE_COACH",
    "ALL",
    "ASSIGNED",
    "AUTHOR",
    "Action",
    "CLIENT_VISIBLE_STATES",
    "COACHED",
    "COHORT_COMPANY_HR",
    "COHORT_TEAM",
    "COMPANY_CONSENTED",
    "ELIGIBLE",
    "ENGAGEMENT_COACHED",
    "ENGAGEMENT_TEAM",
    "HR_OF",
    "MAIN_COACHED",
    "MAIN_COACH_ROLE",
    "MATRIX",
    "MEMBER",
    "OFFER_ACCESS",
    "ONESELF",
    "OWN",
    "OWN_OPEN_ACTIVITY",
    "OWN_ORDER",
    "OWN_READABLE",
    "READABLE_ENROLLMENT",
    "RECIPIENT",
    "ROLES",
    "ROLE_ADMIN",
    "ROLE_CLIENT",
    "ROLE_COACH",
    "ROLE_HR_PARTNER",
    "ROLE_SALES_MANAGER",
    "RULE_TEAM_OR_GLOBAL",
    "RUNS",
    "SCOPES",
    "SELF",
    "SESSION_COACH",
    "SESSION_COMPANY_HR",
    "SESSION_TEAM",
    "SHARED_ANY",
    "SHARED_IN_TEAM",
    "SHARED_NOTES",
    "SHARED_WITH_ME",
    "Scope",
    "TEAM",
    "TEAMMATES",
    "TEAM_ADMIN",
    "activities_client_may_open",
    "admin_allowed",
    "allowed",
    "current_coaches",
    "current_enrollments",
    "eligible_q",
    "enrollment_access_q",
    "enrollments_visible_to",
    "granting_orders",
    "has_offer_access",
    "is_staff_role",
    "matrix_markdown",
    "may_use_admin",
    "offers_accessible_to",
    "roles_of",
    "scope_for",
    "scopes_of",
    "users_with_role",
    "visible",
]
