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

from collections.abc import Callable
from dataclasses import dataclass

import rules
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .conf import coaching_settings
from .models import (
    OPEN_STATUSES,
    AccessState,
    ActivityState,
    Audience,
    AutomationRule,
    AvailabilitySlot,
    ClientActivity,
    CoachAssignment,
    CoachingSession,
    CoachProfile,
    Cohort,
    Company,
    ConsentPurpose,
    EngagementPage,
    Enrollment,
    EnrollmentStatus,
    FailedJob,
    GroupSession,
    NoteVisibility,
    OfferPage,
    Order,
    Registration,
    SalesManagerProfile,
    SessionNote,
    SessionStatus,
    StripeEvent,
    Team,
    TeamMembership,
)

ROLE_ADMIN = "admin"
ROLE_COACH = "coach"
ROLE_SALES_MANAGER = "sales_manager"
ROLE_HR_PARTNER = "hr_partner"
ROLE_CLIENT = "client"
ROLES = (ROLE_ADMIN, ROLE_COACH, ROLE_SALES_MANAGER, ROLE_HR_PARTNER, ROLE_CLIENT)

# States in which a client may open an activity of their own.
CLIENT_VISIBLE_STATES = (ActivityState.AVAILABLE, ActivityState.COMPLETED, ActivityState.SKIPPED)
SHARED_NOTES = (NoteVisibility.TEAM, NoteVisibility.CLIENT)


def roles_of(user):
    """The coaching roles a user holds, from their groups (cached on the user object).

    A signed-in user with no staff role is a client; a superuser is also an admin.
    """
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_coaching_roles", None)
    if cached is not None:
        return cached
    groups = coaching_settings.ROLE_GROUPS
    names = set(user.groups.values_list("name", flat=True))
    roles = {role for role, group in groups.items() if group in names}
    if user.is_superuser:
        roles.add(ROLE_ADMIN)
    if not roles:
        roles.add(ROLE_CLIENT)
    user._coaching_roles = frozenset(roles)
    return user._coaching_roles


def is_staff_role(user):
    return bool(roles_of(user) - {ROLE_CLIENT})


def may_use_admin(user):
    """The coaching admin (its pages and reports) is for the team; clients follow their
    journey on the site."""
    return user is not None and user.is_authenticated and is_staff_role(user)


def admin_allowed(user, action, obj=None):
    """``allowed()`` for someone working in the coaching admin or its reports."""
    return may_use_admin(user) and allowed(user, action, obj)


def users_with_role(role):
    """The active users holding ``role``: the queryset ``roles_of`` agrees with (a
    superuser is an admin; a client is anyone with no other role)."""
    groups = coaching_settings.ROLE_GROUPS
    users = get_user_model().objects.filter(is_active=True)
    if role == ROLE_CLIENT:
        staff_groups = [group for group in groups.values() if group]
        return users.filter(is_superuser=False).exclude(groups__name__in=staff_groups)
    condition = Q(pk__in=[])
    if groups.get(role):
        condition |= Q(groups__name=groups[role])
    if role == ROLE_ADMIN:
        condition |= Q(is_superuser=True)
    return users.filter(pk__in=users.filter(condition).values("pk"))


# -- Scopes --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """A relationship between a user and an object: ``test`` for one object, ``q`` for a
    queryset filter (``prefix`` reaches the object through a relation)."""

    name: str
    test: Callable
    q: Callable

    def __or__(self, other):
        return Scope(
            f"{self.name} or {other.name}",
            lambda user, obj: self.test(user, obj) or other.test(user, obj),
            lambda user, prefix="": self.q(user, prefix) | other.q(user, prefix),
        )

    def via(self, relation):
        """The same scope applied to a related object (``activity.enrollment``)."""
        return Scope(
            self.name,
            lambda user, obj: self.test(user, getattr(obj, relation)),
            lambda user, prefix="": self.q(user, f"{prefix}{relation}__"),
        )


def _f(prefix, **lookups):
    return Q(**{f"{prefix}{key}": value for key, value in lookups.items()})


def _team_ids(user):
    """Teams in which the user coaches or is a team admin."""
    roles = [*coaching_settings.COACHING_ROLES, "admin"]
    return TeamMembership.objects.filter(user=user, active=True, role__in=roles).values("team_id")


def _is_team_member(user, team_id):
    return team_id is not None and _team_ids(user).filter(team_id=team_id).exists()


# (An empty Q() would vanish when OR-ed with another condition, hence the explicit test.)
ALL = Scope("all", lambda user, obj: True, lambda user, prefix="": _f(prefix, pk__isnull=False))

# Enrollments (a client inside an engagement) ----------------------------------------------
OWN = Scope(
    "own",
    lambda user, e: e.client_id == user.pk,
    lambda user, prefix="": _f(prefix, client=user),
)
COACHED = Scope(
    "coached",
    lambda user, e: CoachAssignment.objects.filter(
        enrollment_id=e.pk, coach=user, ended_at__isnull=True
    ).exists(),
    lambda user, prefix="": _f(
        prefix,
        pk__in=CoachAssignment.objects.filter(coach=user, ended_at__isnull=True).values(
            "enrollment_id"
        ),
    ),
)
TEAM = Scope(
    "team",
    lambda user, e: _is_team_member(user, e.engagement.team_id),
    lambda user, prefix="": _f(prefix, engagement__team_id__in=_team_ids(user)),
)
COMPANY_CONSENTED = Scope(
    "company_consented",
    lambda user, e: e.company_id is not None
    and Company.objects.filter(pk=e.company_id, hr_partners=user).exists()
    and e.client.coaching_consents.filter(
        purpose=ConsentPurpose.SHARE_PROGRESS, granted=True
    ).exists(),
    lambda user, prefix="": _f(
        prefix,
        company_id__in=Company.objects.filter(hr_partners=user).values("pk"),
        client__coaching_consents__purpose=ConsentPurpose.SHARE_PROGRESS,
        client__coaching_consents__granted=True,
    ),
)
# A client's activity opens while the enrollment gives access: not cancelled (a refund
# cancels it) and not past its end. Paused and completed journeys stay readable.
READABLE_ENROLLMENT = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED, EnrollmentStatus.COMPLETED)


def _enrollment_readable(enrollment):
    return enrollment.status in READABLE_ENROLLMENT and (
        enrollment.ends_at is None or enrollment.ends_at > timezone.now()
    )


OWN_OPEN_ACTIVITY = Scope(
    "own_unlocked",
    lambda user, a: a.enrollment.client_id == user.pk
    and a.state in CLIENT_VISIBLE_STATES
    and _enrollment_readable(a.enrollment),
    lambda user, prefix="": _f(
        prefix, enrollment__client=user, state__in=CLIENT_VISIBLE_STATES,
        enrollment__status__in=READABLE_ENROLLMENT,
    )
    & (
        _f(prefix, enrollment__ends_at__isnull=True)
        | _f(prefix, enrollment__ends_at__gt=timezone.now())
    ),
)

# Notes -------------------------------------------------------------------------------------
AUTHOR = Scope(
    "author",
    lambda user, n: n.author_id == user.pk,
    lambda user, prefix="": _f(prefix, author=user),
)
SHARED_IN_TEAM = Scope(
    "shared_with_team",
    lambda user, n: n.visibility in SHARED_NOTES and (COACHED | TEAM).test(user, n.enrollment),
    lambda user, prefix="": _f(prefix, visibility__in=SHARED_NOTES)
    & (COACHED | TEAM).q(user, f"{prefix}enrollment__"),
)
SHARED_ANY = Scope(
    "shared",
    lambda user, n: n.visibility in SHARED_NOTES,
    lambda user, prefix="": _f(prefix, visibility__in=SHARED_NOTES),
)
SHARED_WITH_ME = Scope(
    "shared_with_client",
    lambda user, n: n.visibility == NoteVisibility.CLIENT and n.enrollment.client_id == user.pk,
    lambda user, prefix="": _f(prefix, visibility=NoteVisibility.CLIENT, enrollment__client=user),
)

# Teams, coaches, companies, cohorts ------------------------------------------------------
MEMBER = Scope(
    "member",
    lambda user, t: _is_team_member(user, t.pk),
    lambda user, prefix="": _f(prefix, pk__in=_team_ids(user)),
)
SELF = Scope(
    "self",
    lambda user, p: p.user_id == user.pk,
    lambda user, prefix="": _f(prefix, user=user),
)
TEAMMATES = Scope(
    "teammates",
    lambda user, p: TeamMembership.objects.filter(
        user_id=p.user_id, active=True, team_id__in=_team_ids(user)
    ).exists(),
    lambda user, prefix="": _f(
        prefix,
        user_id__in=TeamMembership.objects.filter(
            active=True, team_id__in=_team_ids(user)
        ).values("user_id"),
    ),
)
HR_OF = Scope(
    "hr_partner_of",
    lambda user, c: c.hr_partners.filter(pk=user.pk).exists(),
    lambda user, prefix="": _f(
        prefix, pk__in=Company.objects.filter(hr_partners=user).values("pk")
    ),
)
COHORT_COMPANY_HR = Scope(
    "company_hr",
    lambda user, c: c.company_id is not None and HR_OF.test(user, c.company),
    lambda user, prefix="": _f(
        prefix, company_id__in=Company.objects.filter(hr_partners=user).values("pk")
    ),
)
COHORT_TEAM = Scope(
    "team",
    lambda user, c: _is_team_member(user, c.engagement.team_id),
    lambda user, prefix="": _f(prefix, engagement__team_id__in=_team_ids(user)),
)

# Sales ---------------------------------------------------------------------------------------
OWN_ORDER = Scope(
    "buyer",
    lambda user, o: o.buyer_id == user.pk,
    lambda user, prefix="": _f(prefix, buyer=user),
)


# The paywall: a user has access to an offer when an order of theirs for it grants access
# now, or when they hold an active, unexpired enrollment in every published engagement the
# offer grants (e.g. enrolled by the team).

def _active_user(user):
    return user is not None and user.is_authenticated and user.is_active


def enrollment_access_q(now, prefix=""):
    """Enrollments (or, with ``prefix="enrollment__"``, their activities) that give access
    now: active and not past their end."""
    return Q(**{f"{prefix}status": EnrollmentStatus.ACTIVE}) & (
        Q(**{f"{prefix}ends_at__isnull": True}) | Q(**{f"{prefix}ends_at__gt": now})
    )


def current_enrollments(user, now):
    """The user's enrollments that give access now."""
    return Enrollment.objects.filter(Q(client=user) & enrollment_access_q(now))


def granting_orders(user, now):
    """The user's orders that give access now."""
    return Order.objects.filter(
        Q(buyer=user, access_state=AccessState.ACTIVE, fulfilled_at__isnull=False)
        & (Q(access_ends_at__isnull=True) | Q(access_ends_at__gt=now))
    )


def has_offer_access(user, offer, now=None):
    """Whether ``user`` may see what ``offer`` sells (``access_offer`` in the matrix)."""
    if not _active_user(user) or offer is None or offer.pk is None:
        return False
    now = now or timezone.now()
    if granting_orders(user, now).filter(offer_id=offer.pk).exists():
        return True
    needed = set(
        OfferPage.engagements.through.objects.filter(
            offerpage_id=offer.pk, engagementpage__live=True
        ).values_list("engagementpage_id", flat=True)
    )
    if not needed:
        return False
    held = set(
        current_enrollments(user, now)
        .filter(engagement_id__in=needed).values_list("engagement_id", flat=True)
    )
    return held == needed


def offers_accessible_to(user, now=None):
    """The offers ``has_offer_access`` allows for ``user``."""
    if not _active_user(user):
        return OfferPage.objects.none()
    now = now or timezone.now()
    links = OfferPage.engagements.through.objects.filter(
        offerpage_id=OuterRef("pk"), engagementpage__live=True
    )
    held = current_enrollments(user, now).values("engagement_id")
    return OfferPage.objects.filter(
        Q(pk__in=granting_orders(user, now).values("offer_id"))
        | (Q(Exists(links)) & ~Q(Exists(links.exclude(engagementpage_id__in=held))))
    )


OFFER_ACCESS = Scope(
    "paid_or_enrolled",
    lambda user, offer: has_offer_access(user, offer),
    lambda user, prefix="": _f(prefix, pk__in=offers_accessible_to(user).values("pk")),
)

# Group sessions -------------------------------------------------------------------------------
def _co_coached(user):
    return GroupSession.co_coaches.through.objects.filter(user_id=user.pk).values(
        "groupsession_id"
    )


RUNS = Scope(
    "runs",
    lambda user, s: s.coach_id == user.pk
    or (s.pk is not None and _co_coached(user).filter(groupsession_id=s.pk).exists()),
    lambda user, prefix="": _f(prefix, coach=user) | _f(prefix, pk__in=_co_coached(user)),
)
SESSION_TEAM = Scope(
    "team",
    lambda user, s: _is_team_member(user, s.team_id),
    lambda user, prefix="": _f(prefix, team_id__in=_team_ids(user)),
)


def eligible_q(user, prefix=""):
    """Group sessions a client may join: they are in its audience, or already on its list."""
    open_enrollments = Enrollment.objects.filter(client=user, status__in=OPEN_STATUSES)
    cohorts = Cohort.members.through.objects.filter(user_id=user.pk)
    audience = (
        _f(prefix, audience=Audience.OPEN)
        | _f(prefix, audience=Audience.ENGAGEMENT,
             engagement_id__in=open_enrollments.values("engagement_id"))
        | _f(prefix, audience=Audience.COHORT, cohort_id__in=cohorts.values("cohort_id"))
        | _f(prefix, audience=Audience.COMPANY,
             company_id__in=open_enrollments.filter(company__isnull=False).values("company_id"))
        | _f(prefix, audience=Audience.COMPANY,
             company_id__in=Cohort.objects.filter(
                 pk__in=cohorts.values("cohort_id"), company__isnull=False
             ).values("company_id"))
        | _f(prefix, audience=Audience.LIST,
             pk__in=GroupSession.invitees.through.objects.filter(user_id=user.pk).values(
                 "groupsession_id"
             ))
    )
    listed = _f(prefix, pk__in=Registration.objects.filter(user=user).values("session_id"))
    return (audience & _f(prefix, status=SessionStatus.SCHEDULED)) | listed


ELIGIBLE = Scope(
    "eligible",
    lambda user, s: s.pk is not None
    and GroupSession.objects.filter(eligible_q(user), pk=s.pk).exists(),
    eligible_q,
)
SESSION_COMPANY_HR = Scope(
    "company_hr",
    lambda user, s: Company.objects.filter(hr_partners=user).filter(
        pk__in=[s.company_id, s.cohort.company_id if s.cohort_id else None]
    ).exists(),
    lambda user, prefix="": _f(
        prefix, company_id__in=Company.objects.filter(hr_partners=user).values("pk")
    ) | _f(prefix, cohort__company_id__in=Company.objects.filter(hr_partners=user).values("pk")),
)

# Who leads a new group session, and which engagements it is for ------------------------------
ACTIVE_COACH = Scope(
    "coaches",
    lambda user, u: u.is_active and CoachProfile.objects.filter(user_id=u.pk).exists(),
    lambda user, prefix="": _f(
        prefix, is_active=True, pk__in=CoachProfile.objects.values("user_id")
    ),
)
ONESELF = Scope(
    "self",
    lambda user, u: u.pk == user.pk,
    lambda user, prefix="": _f(prefix, pk=user.pk),
)
ENGAGEMENT_TEAM = Scope(
    "team",
    lambda user, e: _is_team_member(user, e.team_id),
    lambda user, prefix="": _f(prefix, team_id__in=_team_ids(user)),
)
ENGAGEMENT_COACHED = Scope(
    "coached",
    lambda user, e: Enrollment.objects.filter(COACHED.q(user), engagement_id=e.pk).exists(),
    lambda user, prefix="": _f(
        prefix, pk__in=Enrollment.objects.filter(COACHED.q(user)).values("engagement_id")
    ),
)

# 1:1 sessions and availability ----------------------------------------------------------------
SESSION_COACH = Scope(
    "coach",
    lambda user, s: s.coach_id == user.pk,
    lambda user, prefix="": _f(prefix, coach=user),
)

# Automation rules ------------------------------------------------------------------------------
RULE_TEAM_OR_GLOBAL = Scope(
    "team_or_all_engagements",
    lambda user, r: r.engagement_id is None or _is_team_member(user, r.engagement.team_id),
    lambda user, prefix="": _f(prefix, engagement__isnull=True)
    | _f(prefix, engagement__team_id__in=_team_ids(user)),
)

SCOPES = {
    s.name: s
    for s in (ALL, OWN, COACHED, TEAM, COMPANY_CONSENTED, AUTHOR, SHARED_ANY, SELF, MEMBER)
}


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
    "export_client_data": Action(
        Enrollment, "Download all of a client's data (JSON or CSV)", {ROLE_ADMIN: ALL}
    ),
    "erase_client": Action(
        Enrollment, "Anonymise a client (names, email, answers, notes)", {ROLE_ADMIN: ALL}
    ),
    "choose_coach": Action(Enrollment, "Pick their coach (client's-choice engagements)", {
        ROLE_CLIENT: OWN,
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
# ObjectPermissionBackend in AUTHENTICATION_BACKENDS, as the README asks).
rules.add_perm(
    "wagtailadmin.access_admin", rules.predicate(is_staff_role, name="is_coaching_staff")
)


def matrix_markdown():
    """The matrix as a Markdown table (the README's copy is checked against this)."""
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

