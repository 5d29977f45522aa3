"""Scopes: the relationship a user must have with an object, each a predicate for one object
beside the queryset filter that lists the same objects (a test checks they agree)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..conf import coaching_settings
from ..models import (
    OPEN_STATUSES,
    AccessState,
    Audience,
    CoachAssignment,
    CoachProfile,
    Cohort,
    Company,
    ConsentPurpose,
    Enrollment,
    EnrollmentStatus,
    GroupSession,
    NoteVisibility,
    OfferPage,
    Order,
    Registration,
    SessionStatus,
    TeamMembership,
)
from .roles import (
    CLIENT_VISIBLE_STATES,
    SHARED_NOTES,
)

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
def current_coaches(enrollment_id):
    """The open assignments of one enrollment: its coaches now, of every stage and role
    (through hand-offs and co-coaching). ``COACHED`` lets exactly these coaches in."""
    return CoachAssignment.objects.filter(enrollment_id=enrollment_id, ended_at__isnull=True)


COACHED = Scope(
    "coached",
    lambda user, e: current_coaches(e.pk).filter(coach=user).exists(),
    lambda user, prefix="": _f(
        prefix,
        pk__in=CoachAssignment.objects.filter(coach=user, ended_at__isnull=True).values(
            "enrollment_id"
        ),
    ),
)
# The client's main coach (in the "coach" role, for the whole engagement): not a stage's
# coach, not a co-coach.
MAIN_COACH_ROLE = "coach"


def _main_coached(user):
    return CoachAssignment.objects.filter(
        coach=user, role=MAIN_COACH_ROLE, ended_at__isnull=True
    ).values("enrollment_id")


MAIN_COACHED = Scope(
    "main_coach",
    lambda user, e: e.pk is not None and _main_coached(user).filter(enrollment_id=e.pk).exists(),
    lambda user, prefix="": _f(prefix, pk__in=_main_coached(user)),
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


def _team_admin_of(user):
    """Teams in which the user is a team admin."""
    return TeamMembership.objects.filter(user=user, active=True, role="admin").values("team_id")


TEAM_ADMIN = Scope(
    "team_admin",
    lambda user, e: e.engagement.team_id is not None
    and _team_admin_of(user).filter(team_id=e.engagement.team_id).exists(),
    lambda user, prefix="": _f(prefix, engagement__team_id__in=_team_admin_of(user)),
)
# A client's activity opens while the enrollment gives access: not cancelled (a refund
# cancels it) and not past its end. Paused and completed journeys stay readable.
READABLE_ENROLLMENT = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED, EnrollmentStatus.COMPLETED)


def _enrollment_readable(enrollment):
    return enrollment.status in READABLE_ENROLLMENT and (
        enrollment.ends_at is None or enrollment.ends_at > timezone.now()
    )


OWN_READABLE = Scope(
    "own_readable",
    lambda user, e: e.client_id == user.pk and _enrollment_readable(e),
    lambda user, prefix="": _f(prefix, client=user, status__in=READABLE_ENROLLMENT)
    & (_f(prefix, ends_at__isnull=True) | _f(prefix, ends_at__gt=timezone.now())),
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

# Notifications ------------------------------------------------------------------------------
RECIPIENT = Scope(
    "recipient",
    lambda user, n: n.recipient_id == user.pk,
    lambda user, prefix="": _f(prefix, recipient=user),
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

# Enquiries: the sales manager they are routed to.
ASSIGNED = Scope(
    "assigned",
    lambda user, q: q.sales_manager_id == user.pk,
    lambda user, prefix="": _f(prefix, sales_manager=user),
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
    for s in (
        ALL, OWN, COACHED, MAIN_COACHED, TEAM, TEAM_ADMIN, COMPANY_CONSENTED, AUTHOR,
        SHARED_ANY, SELF, MEMBER,
    )
}
# An engagement of one's team, for a role added in settings (``"automate_engagement":
# "engagement_team"``): the engagement itself, where ``team`` reaches it through an object.
SCOPES["engagement_team"] = ENGAGEMENT_TEAM
