"""Co-coaches: a second coach working with a client alongside the coach they have, for the
whole engagement or one stage, without a hand-off (the client's coach stays).

A co-coach is a ``CoachAssignment`` in ``CO_COACH_ROLE``: everything that asks who coaches
a client now (the permission layer's coach scope, the conversation, the card, the client's
dashboard) counts them with no rule of its own. A co-coach must be an active coach of the
engagement's team; capacity is not checked (adding one is a deliberate choice of the
coaching admin), but a co-coach counts in their load like any client of theirs.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from ..models import (
    CO_COACH_ROLE,
    AssignmentMethod,
    CoachAssignment,
    EventKind,
    JourneyEvent,
    TeamMembership,
)
from ..notifications.outbox import queue_notifications
from . import notices
from .assignment import MAIN_ROLE
from .errors import CoachUnavailable, EnrollmentNotOpen, JourneyError
from .program import program_stages
from .progress import lock_enrollment


class NotCoCoaching(JourneyError):
    """The coach named is not a co-coach of this client now."""


def _team_coach_ids(engagement):
    """Active coaches of the engagement's team, in a coaching role, who take clients."""
    if engagement.team_id is None:
        return set()
    return set(
        TeamMembership.objects.filter(
            team_id=engagement.team_id, active=True,
            role__in=coaching_settings.COACHING_ROLES,
            user__is_active=True, user__coach_profile__active=True,
        ).values_list("user_id", flat=True)
    )


def co_coach_candidates(enrollment):
    """Coaches who may be added as co-coaches, by name: the team's active coaches who do
    not coach this client yet (in any role). Two queries."""
    ids = _team_coach_ids(enrollment.engagement) - set(
        CoachAssignment.objects.filter(
            enrollment=enrollment, ended_at__isnull=True
        ).values_list("coach_id", flat=True)
    )
    return list(
        get_user_model().objects.filter(pk__in=ids).order_by("first_name", "last_name", "pk")
    )


def stage_titles(engagement):
    """{stage block id: title} of the engagement's program, in program order."""
    return {block_id: stage.title for block_id, stage in program_stages(
        engagement.program
    ).items()}


def add_co_coach(enrollment, coach, *, stage_block_id="", actor=None, now=None):
    """Add ``coach`` (a user or an id) as a co-coach of the enrollment's client, for the
    whole engagement (``stage_block_id`` empty) or one stage of its program.

    Raises CoachUnavailable for someone who is not an active coach of the team or who
    coaches the client already, JourneyError for a stage not in the program, and
    EnrollmentNotOpen for a finished engagement. The co-coach and the client's coach are
    told; the timeline records it.
    """
    now = now or timezone.now()
    coach_id = getattr(coach, "pk", coach)
    with transaction.atomic():
        enrollment = lock_enrollment(enrollment.pk)
        if not enrollment.is_open:
            raise EnrollmentNotOpen(_("This engagement is not active at the moment."))
        engagement = enrollment.engagement
        stages = stage_titles(engagement)
        if stage_block_id and stage_block_id not in stages:
            raise JourneyError(_("That stage is not part of the program."))
        if coach_id not in _team_coach_ids(engagement):
            raise CoachUnavailable(_("Only an active coach of the engagement's team can "
                                     "co-coach this client."))
        current = CoachAssignment.objects.filter(enrollment=enrollment, ended_at__isnull=True)
        if current.filter(coach_id=coach_id).exists():
            raise CoachUnavailable(_("This coach already works with this client."))
        assignment = CoachAssignment.objects.create(
            enrollment=enrollment, coach_id=coach_id, role=CO_COACH_ROLE,
            stage_block_id=stage_block_id, method=AssignmentMethod.MANUAL,
            assigned_by=actor, started_at=now,
        )
        JourneyEvent.objects.create(
            enrollment=enrollment, kind=EventKind.CO_COACH_ADDED, actor=actor, at=now,
            data={"coach": coach_id, "stage": stage_block_id},
        )
        main = current.filter(role=MAIN_ROLE).first()
        queue_notifications(notices.co_coach_added(
            assignment, main, engagement.title, stages.get(stage_block_id, ""),
        ))
    return assignment


def remove_co_coach(enrollment, coach, *, actor=None, now=None):
    """End ``coach``'s co-coaching of the enrollment's client (history is kept) and tell
    them. Raises NotCoCoaching when they are not a co-coach of this client now."""
    now = now or timezone.now()
    coach_id = getattr(coach, "pk", coach)
    with transaction.atomic():
        enrollment = lock_enrollment(enrollment.pk)
        assignment = CoachAssignment.objects.select_for_update().filter(
            enrollment=enrollment, coach_id=coach_id, role=CO_COACH_ROLE,
            ended_at__isnull=True,
        ).select_related("coach").first()
        if assignment is None:
            raise NotCoCoaching(_("This coach is not a co-coach of this client."))
        assignment.ended_at = now
        assignment.save(update_fields=["ended_at"])
        assignment.enrollment = enrollment
        JourneyEvent.objects.create(
            enrollment=enrollment, kind=EventKind.CO_COACH_REMOVED, actor=actor, at=now,
            data={"coach": coach_id, "stage": assignment.stage_block_id},
        )
        queue_notifications(notices.co_coach_removed(assignment, enrollment.engagement.title))
    return assignment
