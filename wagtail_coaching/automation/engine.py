"""Firing rules: the conditions, the once-only record, the actions.

``fire(rule, hits)`` is the one way a rule acts, whatever triggered it. It records a
``RuleFiring`` per enrollment and occurrence (inserted with conflicts ignored, then read back
by batch id, so a second run or a second worker finds nothing left to do), runs the actions
for the hits it won, and writes a ``rule_fired`` event on each timeline, in one transaction.
Bulk actions (notifications, the at-risk flag, timeline events) cost a fixed number of
queries per batch; actions that change one journey (open a step, add an activity, assign a
coach, enroll) go through the journey services one enrollment at a time.
"""

import logging
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ..journeys.errors import JourneyError
from ..models import (
    OPEN_STATUSES,
    ActivityState,
    ClientActivity,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    RuleFiring,
)
from ..notifications.kinds import CUSTOM, CUSTOM_KIND
from ..notifications.outbox import Message, queue_notifications
from ..permissions import ROLE_ADMIN, users_with_role
from ..utils.people import display_name as _name
from .messages import render_text

logger = logging.getLogger(__name__)
LIVE_STATUSES = (*OPEN_STATUSES, EnrollmentStatus.COMPLETED)


@dataclass
class Hit:
    """One enrollment a rule applies to, for one occurrence of its trigger."""

    enrollment_id: int
    occurrence: str
    context: dict = field(default_factory=dict)
    recipient_id: int | None = None  # e.g. a session's attendee (defaults to the client)

    @property
    def key(self):
        return (self.enrollment_id, self.occurrence)




def _path(name, *args):
    try:
        return reverse(f"wagtail_coaching:{name}", args=args)
    except NoReverseMatch:
        return ""


# -- Conditions ----------------------------------------------------------------------------

def current_stages(enrollment_ids):
    """The stage each enrollment is in now: that of its first open step (one query)."""
    stages = {}
    for enrollment_id, stage in (
        ClientActivity.objects.filter(
            enrollment_id__in=enrollment_ids, state=ActivityState.AVAILABLE
        )
        .order_by("enrollment_id", "stage_position", "position", "id")
        .values_list("enrollment_id", "stage_block_id")
    ):
        stages.setdefault(enrollment_id, stage)
    return stages


def filter_hits(rule, hits):
    """The hits whose enrollment meets the rule's conditions: its engagement, company, tag
    and stage, and not cancelled. A fixed number of queries."""
    if not hits:
        return []
    ids = {h.enrollment_id for h in hits}
    # A completed journey still hears about its last step (a rule may congratulate); a
    # cancelled one hears nothing.
    enrollments = Enrollment.objects.filter(pk__in=ids, status__in=LIVE_STATUSES)
    if rule.engagement_id:
        enrollments = enrollments.filter(engagement_id=rule.engagement_id)
    if rule.company_id:
        enrollments = enrollments.filter(company_id=rule.company_id)
    if rule.tag:
        enrollments = enrollments.filter(tags__name__iexact=rule.tag)
    keep = set(enrollments.values_list("pk", flat=True))
    if rule.stage_block_id and keep:
        stages = current_stages(keep)
        keep = {
            pk for pk in keep
            if stages.get(pk) == rule.stage_block_id
        } | {
            h.enrollment_id for h in hits
            if h.enrollment_id in keep and h.context.get("stage") == rule.stage_block_id
        }
    return [h for h in hits if h.enrollment_id in keep]


# -- Firing ------------------------------------------------------------------------------------

def fire(rule, hits, *, now=None):
    """Apply ``rule`` to ``hits`` that meet its conditions and have not had it yet.
    Returns the hits it acted on."""
    now = now or timezone.now()
    hits = filter_hits(rule, hits)
    if not hits:
        return []
    with transaction.atomic():
        batch = uuid.uuid4()
        RuleFiring.objects.bulk_create(
            [RuleFiring(rule=rule, enrollment_id=h.enrollment_id, occurrence=h.occurrence[:200],
                        fired_at=now, batch=batch) for h in hits],
            ignore_conflicts=True,
        )
        won = set(RuleFiring.objects.filter(batch=batch).values_list("enrollment_id",
                                                                       "occurrence"))
        hits = [h for h in hits if (h.enrollment_id, h.occurrence[:200]) in won]
        if not hits:
            return []
        enrollments = Enrollment.objects.select_related("client", "engagement").in_bulk(
            [h.enrollment_id for h in hits]
        )
        done = {}
        for index, action in enumerate(rule.actions):
            runner = ACTIONS[action.block_type]
            outcome = runner(rule, index, action.value, hits, enrollments, now)
            for key, result in (outcome or {}).items():
                done.setdefault(key, []).append(result)
        JourneyEvent.objects.bulk_create([
            JourneyEvent(
                enrollment_id=h.enrollment_id, kind=EventKind.RULE_FIRED, at=now,
                rules_done=True,
                data={"rule": rule.pk, "name": rule.name, "trigger": rule.trigger,
                      "occurrence": h.occurrence,
                      "actions": [a.block_type for a in rule.actions],
                      "results": done.get(h.key, [])},
            )
            for h in hits
        ])
    return hits


# -- Actions -----------------------------------------------------------------------------------
# Each takes (rule, index, value, hits, enrollments, now) and may return
# {hit.key: "what happened"} for the timeline.

def _context(hit, enrollment, coach):
    return {
        "client_name": _name(enrollment.client),
        "engagement_title": enrollment.engagement.title,
        "coach_name": _name(coach),
        "dashboard_path": _path("dashboard"),
        "sessions_path": _path("sessions"),
        "ends_at": enrollment.ends_at.isoformat() if enrollment.ends_at else "",
        **hit.context,
    }


def _coaches(enrollment_ids):
    from ..journeys.assignment import MAIN_ROLE, coaches_of

    return {
        enrollment_id: next((a.coach for a in rows if a.role == MAIN_ROLE), rows[0].coach)
        for enrollment_id, rows in coaches_of(enrollment_ids).items() if rows
    }


def _co_coaches(enrollment_ids):
    """{enrollment id: [co-coach ids]}: what the client's coach is told, their co-coaches
    are told too."""
    from ..models import CO_COACH_ROLE, CoachAssignment

    grouped = {}
    for enrollment_id, coach_id in CoachAssignment.objects.filter(
        enrollment_id__in=enrollment_ids, role=CO_COACH_ROLE, ended_at__isnull=True
    ).values_list("enrollment_id", "coach_id").order_by("started_at", "pk"):
        grouped.setdefault(enrollment_id, []).append(coach_id)
    return grouped


def notify(rule, index, value, hits, enrollments, now):
    template = value.get("template") or CUSTOM
    channels = {"email": ["email"], "in_app": ["in_app"], "both": ["email", "in_app"]}[
        value.get("channel") or "email"
    ]
    recipient = value.get("recipient") or "client"
    coaches = _coaches([h.enrollment_id for h in hits])
    co_coaches = _co_coaches([h.enrollment_id for h in hits]) if recipient == "coach" else {}
    admins = list(users_with_role(ROLE_ADMIN)) if recipient == "admins" else []
    messages = []
    for hit in hits:
        enrollment = enrollments[hit.enrollment_id]
        coach = coaches.get(hit.enrollment_id)
        context = _context(hit, enrollment, coach)
        if recipient == "client":
            people = [hit.recipient_id or enrollment.client_id]
        elif recipient == "coach":
            people = [coach.pk] if coach else []
            people += [pk for pk in co_coaches.get(hit.enrollment_id, []) if pk not in people]
        else:
            people = [a.pk for a in admins]
        payload = {**context, "rule": rule.pk}
        kind = template
        if template == CUSTOM:
            kind = CUSTOM_KIND
            payload["subject"] = render_text(value.get("subject"), context)
            payload["body"] = render_text(value.get("body"), context)
        for person in people:
            for channel in channels:
                messages.append(Message(
                    recipient_id=person, kind=kind, channel=channel, payload=payload,
                    dedup_key=f"rule:{rule.pk}:{hit.enrollment_id}:{hit.occurrence}:{index}:"
                              f"{person}:{channel}"[:255],
                ))
    queue_notifications(messages)
    return {h.key: f"notified {recipient}" for h in hits}


def flag_at_risk(rule, index, value, hits, enrollments, now):
    from ..metrics import risk_reasons

    flagged = {}
    for hit in hits:
        if not enrollments[hit.enrollment_id].is_at_risk \
                and hit.enrollment_id not in flagged.values():
            flagged[hit.key] = hit.enrollment_id
    if not flagged:
        return {}
    reason = (value or {}).get("reason") or ""
    computed = {} if reason else risk_reasons(flagged.values(), now)
    why = {pk: (reason or computed.get(pk) or rule.name)[:200] for pk in flagged.values()}
    for text in set(why.values()):  # one update per distinct reason
        Enrollment.objects.filter(
            pk__in=[pk for pk, w in why.items() if w == text], at_risk_since__isnull=True
        ).update(at_risk_since=now, at_risk_reason=text)
    JourneyEvent.objects.bulk_create([
        JourneyEvent(enrollment_id=pk, kind=EventKind.AT_RISK, at=now, rules_done=True,
                     data={"reason": text, "rule": rule.pk})
        for pk, text in why.items()
    ])
    return dict.fromkeys(flagged, "flagged at risk")


def clear_at_risk(rule, index, value, hits, enrollments, now):
    cleared = {}
    for hit in hits:
        if enrollments[hit.enrollment_id].is_at_risk and hit.enrollment_id not in cleared.values():
            cleared[hit.key] = hit.enrollment_id
    if not cleared:
        return {}
    Enrollment.objects.filter(pk__in=cleared.values()).update(
        at_risk_since=None, at_risk_reason=""
    )
    JourneyEvent.objects.bulk_create([
        JourneyEvent(enrollment_id=i, kind=EventKind.BACK_ON_TRACK, at=now, rules_done=True,
                     data={"rule": rule.pk})
        for i in cleared.values()
    ])
    return dict.fromkeys(cleared, "cleared at risk")


def _each(hits, enrollments, work):
    """Run ``work(enrollment)`` per hit; a refusal (a journey error) is recorded, not raised:
    one client's closed journey must not stop the rule for the others."""
    results = {}
    for hit in hits:
        try:
            with transaction.atomic():
                results[hit.key] = work(enrollments[hit.enrollment_id], hit)
        except JourneyError as exc:
            results[hit.key] = f"skipped: {exc}"
    return results


def unlock_activity(rule, index, value, hits, enrollments, now):
    from ..journeys.progress import unlock_activity as unlock

    def work(enrollment, hit):
        row = ClientActivity.objects.filter(
            enrollment=enrollment, block_id=value["activity_block_id"],
            state=ActivityState.LOCKED,
        ).first()
        if row is None:
            return "nothing to open"
        unlock(row, now=now)
        return f"opened {row.title}"

    return _each(hits, enrollments, work)


def unlock_next(rule, index, value, hits, enrollments, now):
    from ..journeys.progress import unlock_activity as unlock

    def work(enrollment, hit):
        rows = ClientActivity.objects.filter(enrollment=enrollment, state=ActivityState.LOCKED)
        if value.get("kind"):
            rows = rows.filter(kind=value["kind"])
        row = rows.order_by("stage_position", "position", "id").first()
        if row is None:
            return "nothing to open"
        unlock(row, now=now)
        return f"opened {row.title}"

    return _each(hits, enrollments, work)


def add_activity(rule, index, value, hits, enrollments, now):
    from ..journeys.progress import add_extra_activity

    stream = value["activity"]
    if not len(stream):
        return {}
    child = stream[0]
    raw = child.block.get_prep_value(child.value)

    def work(enrollment, hit):
        row = add_extra_activity(
            enrollment, child.block_type, raw, stage_block_id=value.get("stage_block_id") or "",
            now=now,
        )
        return f"added {row.title}"

    return _each(hits, enrollments, work)


def assign_coach(rule, index, value, hits, enrollments, now):
    from ..journeys import notices
    from ..journeys.assignment import MAIN_ROLE
    from ..journeys.assignment import assign_coach as assign
    from ..models import CoachAssignment

    role = value.get("role") or MAIN_ROLE

    def work(enrollment, hit):
        if CoachAssignment.objects.filter(
            enrollment=enrollment, role=role, ended_at__isnull=True
        ).exists():
            return "already has a coach in that role"
        assignment = assign(enrollment, role=role, now=now)
        if assignment is None:
            return "assigned by hand in this engagement"
        if value.get("hand_off"):
            JourneyEvent.objects.create(
                enrollment=enrollment, kind=EventKind.COACH_HANDOFF, at=now,
                data={"role": role, "coach": assignment.coach_id, "rule": rule.pk},
            )
            main = CoachAssignment.objects.filter(
                enrollment=enrollment, role=MAIN_ROLE, ended_at__isnull=True
            ).exclude(pk=assignment.pk).first()
            queue_notifications(notices.hand_off(assignment, main, enrollment.engagement.title))
        return f"assigned {_name(assignment.coach)}"

    return _each(hits, enrollments, work)


def enroll_follow_up(rule, index, value, hits, enrollments, now):
    from ..journeys.enroll import enroll

    engagement = value.get("engagement")
    if engagement is None:
        return {}

    def work(enrollment, hit):
        enroll(enrollment.client, engagement.specific, company=enrollment.company, now=now)
        return f"enrolled in {engagement.title}"

    return _each(hits, enrollments, work)


ACTIONS = {
    "notify": notify,
    "flag_at_risk": flag_at_risk,
    "clear_at_risk": clear_at_risk,
    "unlock_activity": unlock_activity,
    "unlock_next": unlock_next,
    "add_activity": add_activity,
    "assign_coach": assign_coach,
    "enroll": enroll_follow_up,
}
