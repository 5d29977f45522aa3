"""Whether an engagement can give its clients a coach: what publishing warns about and what
the admin's home page lists. Nothing here changes anything."""

from django.db.models import Count, Exists, OuterRef
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from ..models import CoachAssignment, EnrollmentStatus, TeamMembership
from .program import stage_lead_roles


def staffing_problems(engagement):
    """Sentences saying why clients of ``engagement`` would get no coach: no team, a team
    with no active coach, a stage led by a role nobody in the team holds. Empty when all
    is well. Two queries at most."""
    if engagement.team_id is None:
        return [_("This engagement has no team: clients who enroll get no coach. Choose a "
                  "team in its settings.")]
    roles = set(
        TeamMembership.objects.filter(
            team_id=engagement.team_id, active=True, user__is_active=True,
            role__in=coaching_settings.COACHING_ROLES,
        ).values_list("role", flat=True)
    )
    if not roles:
        return [_("The team of this engagement has no active coach: clients who enroll get "
                  "no coach.")]
    problems = []
    labels = coaching_settings.TEAM_ROLES
    for role in sorted(set(stage_lead_roles(engagement.program).values()) - roles):
        problems.append(_("A stage is led by the role “%(role)s” and nobody in the team holds "
                          "it: clients reaching it get no coach for it.")
                        % {"role": labels.get(role, role)})
    return problems


def engagements_waiting_for_coaches(enrollments, limit):
    """Engagements with active clients (among ``enrollments``) who have no coach at all,
    the most waiting first: ``[{"engagement_id", "title", "team_id", "waiting"}]``.
    One query."""
    coached = CoachAssignment.objects.filter(enrollment=OuterRef("pk"), ended_at__isnull=True)
    return list(
        enrollments.filter(status=EnrollmentStatus.ACTIVE)
        .exclude(Exists(coached))
        .order_by()
        .values("engagement_id")
        .annotate(waiting=Count("pk"))
        .values("engagement_id", "engagement__title", "engagement__team_id", "waiting")
        .order_by("-waiting", "engagement__title")[:limit]
    )
