"""Coach-client assignment inside an engagement: manual, the client's choice, round-robin
or least-loaded, with history, hand-offs between stage roles, and capacity that holds under
concurrency."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from ..models import (
    CO_COACH_ROLE,
    OPEN_STATUSES,
    AssignmentMethod,
    CoachAssignment,
    CoachProfile,
    Enrollment,
    EventKind,
    JourneyEvent,
    RoundRobinCursor,
    TeamMembership,
)
from ..notifications.outbox import queue_notifications
from ..permissions import ROLE_ADMIN, users_with_role
from . import notices
from .errors import CoachUnavailable, EnrollmentNotOpen, NoCoachAvailable
from .program import program_stages

MAIN_ROLE = "coach"


def current_loads(coach_ids, team_id=None):
    """Open clients per coach right now, across all engagements and (with ``team_id``) within
    that team's engagements: two dicts, read in one query."""
    counts = {"n": Count("id")}
    if team_id is not None:
        counts["in_team"] = Count("id", filter=Q(enrollment__engagement__team_id=team_id))
    rows = (
        CoachAssignment.objects.filter(
            coach_id__in=coach_ids, ended_at__isnull=True,
            enrollment__status__in=OPEN_STATUSES,
        )
        .values("coach_id")
        .annotate(**counts)
        .values_list("coach_id", *counts)
    )
    loads, team_loads = {}, {}
    for coach_id, n, *in_team in rows:
        loads[coach_id] = n
        if in_team:
            team_loads[coach_id] = in_team[0]
    return loads, team_loads


def available_coaches(engagement, role=MAIN_ROLE, lock=False):
    """Coaches of the engagement's team in ``role`` who take clients and have room, in a
    stable order (by user id). With ``lock`` their profiles are locked for the transaction,
    so concurrent assignments see each other's effect on capacity."""
    if engagement.team_id is None:
        return []
    memberships = list(
        TeamMembership.objects.filter(
            team_id=engagement.team_id, role=role, active=True,
            user__is_active=True, user__coach_profile__active=True,
        ).values_list("user_id", "capacity")
    )
    if not memberships:
        return []
    ids = sorted({user_id for user_id, _cap in memberships})
    profiles = CoachProfile.objects.filter(user_id__in=ids).order_by("user_id")
    if lock:
        profiles = profiles.select_for_update()
    max_clients = dict(profiles.values_list("user_id", "max_clients"))
    team_capacity = {user_id: cap for user_id, cap in memberships}
    loads, team_loads = current_loads(ids, engagement.team_id)
    return [
        user_id for user_id in ids
        if loads.get(user_id, 0) < max_clients.get(user_id, 0)
        and (team_capacity[user_id] is None or team_loads.get(user_id, 0) < team_capacity[user_id])
    ]


def _pick(policy, candidates, cursor):
    """The coach ``policy`` picks among ``candidates``; round-robin moves ``cursor`` (the
    locked row of ``_lock_cursor``) on to them."""
    if policy == AssignmentMethod.LEAST_LOADED:
        loads, _in_team = current_loads(candidates)
        return min(candidates, key=lambda c: (loads.get(c, 0), c))
    after = [c for c in candidates if cursor.last_coach_id is not None and c > cursor.last_coach_id]
    chosen = after[0] if after else candidates[0]
    RoundRobinCursor.objects.filter(pk=cursor.pk).update(last_coach_id=chosen)
    return chosen


def _lock_cursor(engagement, role):
    """Serialise assignments per engagement and role: the cursor row is the lock. Locked as
    it is read (one statement, every time but the first); the first time created or locked by
    an upsert (the conflicting row is locked as an update would lock it), then read. Returns
    the cursor."""
    cursors = RoundRobinCursor.objects.select_for_update().filter(engagement=engagement, role=role)
    cursor = cursors.first()
    if cursor is None:
        RoundRobinCursor.objects.bulk_create(
            [RoundRobinCursor(engagement=engagement, role=role)],
            update_conflicts=True, unique_fields=["engagement", "role"], update_fields=["role"],
        )
        cursor = cursors.get()
    return cursor


def assign_coach(
    enrollment, *, role=MAIN_ROLE, coach=None, method=None, actor=None, stage_block_id="",
    now=None,
):
    """Give the enrollment a coach in ``role`` and return the new ``CoachAssignment``.

    With ``coach`` the choice is made (manual, or the client's choice) and checked; without,
    the engagement's policy picks (round-robin or least-loaded). A policy of manual or
    client's choice with no coach given assigns nobody and returns None. A current
    assignment in the same role is ended (history is kept) and its coach told.
    """
    now = now or timezone.now()
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().select_related(
            "engagement", "client"
        ).get(pk=enrollment.pk)
        if not enrollment.is_open:
            raise EnrollmentNotOpen(_("This engagement is not active at the moment."))
        previous = CoachAssignment.objects.filter(
            enrollment=enrollment, role=role, ended_at__isnull=True
        ).first()
        return _assign(enrollment, role, coach, method, actor, stage_block_id, now, previous)


def _assign(enrollment, role, coach, method, actor, stage_block_id, now, previous, fresh=False):
    """``assign_coach`` once the enrollment is locked and its current assignment in ``role``
    (``previous``) is known; ``fresh``: the enrollment was created in this transaction (no
    one else sees it, and it has no coach yet)."""
    engagement = enrollment.engagement
    policy = method or engagement.assignment_policy
    if coach is None and policy in (AssignmentMethod.MANUAL, AssignmentMethod.CLIENT_CHOICE):
        return None
    cursor = _lock_cursor(engagement, role)
    candidates = [
        c for c in available_coaches(engagement, role, lock=True)
        if previous is None or c != previous.coach_id
    ]
    if coach is not None:
        coach_id = getattr(coach, "pk", coach)
        if previous is not None and previous.coach_id == coach_id:
            return previous
        if coach_id not in candidates:
            raise CoachUnavailable(_("That coach cannot take this client."))
        chosen = coach_id
    elif not candidates:
        raise NoCoachAvailable(_("No coach has room for this client at the moment."))
    else:
        chosen = _pick(policy, candidates, cursor)
    if previous is not None:
        previous.ended_at = now
        previous.save(update_fields=["ended_at"])
    assignment = CoachAssignment.objects.create(
        enrollment=enrollment, coach_id=chosen, role=role, stage_block_id=stage_block_id,
        method=policy if coach is None else method or AssignmentMethod.MANUAL,
        assigned_by=actor, started_at=now,
    )
    if not fresh:  # a new enrollment has no co-coach yet
        end_co_coaching(enrollment, chosen, actor=actor, now=now)
    JourneyEvent.objects.create(
        enrollment=enrollment, kind=EventKind.COACH_ASSIGNED, actor=actor, at=now,
        data={
            "coach": chosen, "role": role, "method": assignment.method,
            "previous": previous.coach_id if previous else None,
            "stage": stage_block_id,
        },
    )
    queue_notifications(notices.coach_assigned(assignment, previous, engagement.title))
    return assignment


def end_co_coaching(enrollment, coach_id, *, actor=None, now=None):
    """A co-coach who becomes one of the client's coaches in a role (reassigned to them, or
    handed a stage) is no longer their co-coach: one assignment per person and client."""
    now = now or timezone.now()
    ended = CoachAssignment.objects.filter(
        enrollment=enrollment, coach_id=coach_id, role=CO_COACH_ROLE, ended_at__isnull=True
    ).update(ended_at=now)
    if ended:
        JourneyEvent.objects.create(
            enrollment=enrollment, kind=EventKind.CO_COACH_REMOVED, actor=actor, at=now,
            data={"coach": coach_id, "stage": ""},
        )
    return bool(ended)


def assign_on_enrollment(enrollments, *, actor=None, now=None):
    """Run the engagement's policy for newly enrolled clients. A team with no room leaves
    them unassigned (the clients list shows them) rather than failing the enrollment.

    The enrollments were created in the caller's transaction (``enroll_many``): no one else
    sees them yet and none has a coach, so they are neither locked nor looked up again, and
    their clients are read in one query.
    """
    if not enrollments:
        return []
    now = now or timezone.now()
    clients = get_user_model().objects.in_bulk({e.client_id for e in enrollments})
    assigned = []
    for enrollment in enrollments:
        enrollment.client = clients[enrollment.client_id]
        try:
            # Nothing is written before NoCoachAvailable: no savepoint to roll back to.
            result = _assign(enrollment, MAIN_ROLE, None, None, actor, "", now, None, fresh=True)
        except NoCoachAvailable:
            result = None
        if result is not None:
            assigned.append(result)
    return assigned


def hand_off_for_stages(enrollment, stage_roles, opened_rows, *, actor=None, now=None):
    """When a client reaches a stage led by another role, assign a coach in that role.

    ``stage_roles`` maps stage block ids to their lead role (stages without one are
    absent). However the stage opened (a completed step, the unlock job, a coach opening a
    step by hand, enrollment, a program update), each stage is handed off once: a stage
    whose role already has a coach (or that has a co-coach of its own) is left alone.

    Round-robin and least-loaded engagements pick by their policy; a client's-choice
    engagement picks the least-loaded coach of the role (the client chose their own coach;
    specialists are matched by load). Manual engagements, and any engagement whose role has
    nobody with room, tell the coaching admins that the stage needs a coach. Both the
    client's coach and the new coach are told of a hand-off.
    """
    done = []
    policy = enrollment.engagement.assignment_policy
    method = policy if policy in (
        AssignmentMethod.ROUND_ROBIN, AssignmentMethod.LEAST_LOADED
    ) else AssignmentMethod.LEAST_LOADED
    for stage_block_id in dict.fromkeys(r.stage_block_id for r in opened_rows):
        role = stage_roles.get(stage_block_id)
        if not role or role == MAIN_ROLE:
            continue
        with transaction.atomic():
            # Under the enrollment's lock, so two paths opening the same stage at once
            # hand it off once.
            Enrollment.objects.select_for_update(of=("self",)).filter(pk=enrollment.pk).first()
            # The role's coach, or a co-coach added for this very stage, already leads it.
            if CoachAssignment.objects.filter(
                Q(role=role) | Q(role=CO_COACH_ROLE, stage_block_id=stage_block_id),
                enrollment=enrollment, ended_at__isnull=True,
            ).exists():
                continue
            assignment = None
            if policy != AssignmentMethod.MANUAL:
                try:
                    assignment = assign_coach(
                        enrollment, role=role, method=method, actor=actor,
                        stage_block_id=stage_block_id, now=now,
                    )
                except NoCoachAvailable:
                    assignment = None
            if assignment is None:
                report_stage_needs_coach(enrollment, stage_block_id, role, actor=actor, now=now)
                continue
            done.append(assignment)
            JourneyEvent.objects.create(
                enrollment=enrollment, kind=EventKind.COACH_HANDOFF, actor=actor,
                at=assignment.started_at,
                data={"role": role, "coach": assignment.coach_id, "stage": stage_block_id},
            )
            main = CoachAssignment.objects.filter(
                enrollment=enrollment, role=MAIN_ROLE, ended_at__isnull=True
            ).first()
            queue_notifications(notices.hand_off(assignment, main, enrollment.engagement.title))
    return done


def report_stage_needs_coach(enrollment, stage_block_id, role, *, actor=None, now=None):
    """A client reached a stage led by ``role`` and nobody in that role coaches them: the
    timeline says so and the coaching admins are told, once per client and stage."""
    if JourneyEvent.objects.filter(
        enrollment=enrollment, kind=EventKind.STAGE_NEEDS_COACH, data__stage=stage_block_id
    ).exists():
        return False
    now = now or timezone.now()
    stage = program_stages(enrollment.engagement.program).get(stage_block_id)
    stage_title = stage.title if stage else ""
    role_label = str(coaching_settings.TEAM_ROLES.get(role, role))
    JourneyEvent.objects.create(
        enrollment=enrollment, kind=EventKind.STAGE_NEEDS_COACH, actor=actor, at=now,
        data={"stage": stage_block_id, "role": role, "stage_title": stage_title},
    )
    admin_ids = list(users_with_role(ROLE_ADMIN).values_list("pk", flat=True))
    queue_notifications(
        notices.stage_needs_coach(enrollment, stage_block_id, stage_title, role_label, admin_ids)
    )
    return True


def coaches_of(enrollment_ids):
    """Current coaches per enrollment id: {enrollment_id: [CoachAssignment, ...]}."""
    grouped = {}
    for assignment in CoachAssignment.objects.filter(
        enrollment_id__in=enrollment_ids, ended_at__isnull=True
    ).select_related("coach"):
        grouped.setdefault(assignment.enrollment_id, []).append(assignment)
    return {pk: coaches_in_order(rows) for pk, rows in grouped.items()}


def coaches_in_order(assignments):
    """Assignments as the client and the team read them: the main coach first, then the
    coaches of stages led by another role, then co-coaches; the earliest first in each."""
    def rank(a):
        return (0 if a.role == MAIN_ROLE else 2 if a.role == CO_COACH_ROLE else 1,
                a.started_at, a.pk)
    return sorted(assignments, key=rank)
