"""Reassigning a client's coach together with the 1:1 sessions booked ahead.

The sessions ahead are the client's upcoming booked 1:1 sessions with the outgoing coach.
For each, the admin chooses: move it to the new coach, keep it with the outgoing coach, or
cancel it. A session moves only if the new coach is free then (``booking.free_slots_at``:
no booked 1:1 or group session they lead or co-lead overlaps it, and a free published slot
of theirs starts then); otherwise it stays with the outgoing coach and the result says why.

``plan_reassignment`` says what would happen, writing nothing (the review page);
``reassign_with_sessions`` does it, in one transaction. Choosing the coach the client already
has changes nothing, so submitting the same reassignment twice does it once.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from ..calendars.entries import mirror_sessions
from ..journeys.assignment import MAIN_ROLE, assign_coach
from ..journeys.progress import lock_enrollment
from ..models import (
    AssignmentMethod,
    CoachAssignment,
    CoachingSession,
    CoachingSessionStatus,
    CoachProfile,
    EventKind,
    JourneyEvent,
)
from ..notifications.outbox import queue_notifications
from ..utils.people import display_name
from ..utils.time_zones import coach_time_zone
from . import messages as msg
from .booking import cancel_session
from .busy import BUSY, Clash, free_slots_at
from .errors import InvalidSchedule, SessionNotOpen, SlotTaken

# What the admin chooses for a session ahead.
MOVE, KEEP, CANCEL = "move", "keep", "cancel"
CHOICES = (MOVE, KEEP, CANCEL)
# What happened to it.
MOVED, KEPT, CANCELLED, NOT_MOVED = "moved", "kept", "cancelled", "not_moved"


@dataclass(frozen=True)
class SessionOutcome:
    session: object  # the CoachingSession, as it is after the change
    outcome: str  # MOVED, KEPT, CANCELLED or NOT_MOVED (it stays with the outgoing coach)
    clash: Clash | None = None  # why it could not move (in a plan: could not, if asked)
    slot: object = None  # the new coach's slot it moves into


@dataclass
class Reassignment:
    """What a reassignment did (or, from ``plan_reassignment``, would do)."""

    coach: object  # the new coach
    previous_coach: object  # the outgoing coach, or None
    outcomes: list = field(default_factory=list)
    assignment: object = None  # the new CoachAssignment (None in a plan)
    changed: bool = True  # False: the client already had this coach, nothing was done

    def _with(self, outcome):
        return [o for o in self.outcomes if o.outcome == outcome]

    @property
    def moved(self):
        return self._with(MOVED)

    @property
    def kept(self):
        return self._with(KEPT)

    @property
    def cancelled(self):
        return self._with(CANCELLED)

    @property
    def not_moved(self):
        return self._with(NOT_MOVED)


def sessions_ahead(enrollment_ids, now=None):
    """The upcoming booked 1:1 sessions of these enrollments with each client's current
    coach (the main role), as a queryset."""
    now = now or timezone.now()
    current = CoachAssignment.objects.filter(
        enrollment_id=OuterRef("enrollment_id"), coach_id=OuterRef("coach_id"),
        role=MAIN_ROLE, ended_at__isnull=True,
    )
    return CoachingSession.objects.filter(
        Exists(current), enrollment_id__in=enrollment_ids,
        status=CoachingSessionStatus.BOOKED, starts_at__gt=now,
    )


def sessions_ahead_counts(enrollment_ids, now=None):
    """{enrollment id: number of sessions ahead} (those with none are left out). One query."""
    return dict(
        sessions_ahead(enrollment_ids, now).order_by().values("enrollment_id")
        .annotate(n=Count("id")).values_list("enrollment_id", "n")
    )


def clash_text(clash, coach):
    """Why ``coach`` cannot take a session, for people."""
    name = display_name(coach)
    if clash.reason == BUSY and clash.group_session:
        return _("%(coach)s is busy then (group session “%(title)s”).") % {
            "coach": name, "title": clash.group_session,
        }
    if clash.reason == BUSY and clash.calendar:
        return _("%(coach)s is busy then (in their own calendar).") % {"coach": name}
    if clash.reason == BUSY:
        return _("%(coach)s is busy then (another 1:1 session).") % {"coach": name}
    return _("This time is outside %(coach)s's availability.") % {"coach": name}


def _check_choices(choices, default):
    if default not in CHOICES or any(c not in CHOICES for c in choices.values()):
        raise InvalidSchedule(_("Choose to move, keep or cancel the booked sessions."))


def _check_sessions(enrollment, choices):
    """Every session named is one of this client's: nothing of another client is touched."""
    if not choices:
        return
    theirs = set(
        CoachingSession.objects.filter(enrollment=enrollment, pk__in=list(choices))
        .values_list("pk", flat=True)
    )
    if set(choices) - theirs:
        raise SessionNotOpen(_("That session is not one of this client's booked sessions."))


def _current(enrollment):
    return (
        CoachAssignment.objects.filter(enrollment=enrollment, role=MAIN_ROLE,
                                       ended_at__isnull=True)
        .select_related("coach").first()
    )


def _decide(sessions, coach_id, choices, default, *, lock):
    """What happens to each session: the choice made for it, a move only where the new
    coach is free. A plan (no ``lock``) also says of the sessions kept or cancelled whether
    they could move (their ``clash``); a change looks only at the sessions moving."""
    wanted = {s.pk: choices.get(s.pk, default) for s in sessions}
    free = free_slots_at(
        coach_id,
        [(s.starts_at, s.ends_at) for s in sessions if not lock or wanted[s.pk] == MOVE],
        lock=lock,
    )
    outcomes = []
    for s in sessions:
        found = free.get((s.starts_at, s.ends_at))
        clash = found if isinstance(found, Clash) else None
        if wanted[s.pk] == CANCEL:
            outcomes.append(SessionOutcome(s, CANCELLED, clash=clash))
        elif wanted[s.pk] == KEEP:
            outcomes.append(SessionOutcome(s, KEPT, clash=clash))
        elif clash is not None:
            outcomes.append(SessionOutcome(s, NOT_MOVED, clash=clash))
        else:
            outcomes.append(SessionOutcome(s, MOVED, slot=found))
    return outcomes


def _sessions(enrollment, now):
    return (
        sessions_ahead([enrollment.pk], now)
        .select_related("activity", "coach", "enrollment__client", "enrollment__engagement")
        .order_by("starts_at", "pk")
    )


def plan_reassignment(enrollment, *, coach, choices=None, default=KEEP, now=None):
    """What ``reassign_with_sessions`` would do now with the same arguments; writes nothing.
    ``coach`` is a user or a user id. A fixed number of queries, however many sessions."""
    now = now or timezone.now()
    choices = dict(choices or {})
    _check_choices(choices, default)
    coach = coach if hasattr(coach, "pk") else get_user_model().objects.get(pk=coach)
    current = _current(enrollment)
    if current is not None and current.coach_id == coach.pk:
        return Reassignment(coach=coach, previous_coach=None, changed=False)
    sessions = list(_sessions(enrollment, now)) if current is not None else []
    return Reassignment(
        coach=coach, previous_coach=current.coach if current else None,
        outcomes=_decide(sessions, coach.pk, choices, default, lock=False),
    )


def reassign_with_sessions(enrollment, *, coach, choices=None, default=KEEP, actor=None,
                           now=None):
    """Give the client ``coach`` (a manual assignment: ``assign_coach`` checks the coach may
    take them) and decide the sessions ahead: ``choices`` maps session ids to MOVE, KEEP or
    CANCEL, ``default`` applies to the others. Returns a ``Reassignment``.

    A moved session keeps its calendar UID, gets the new coach's slot, video link and time
    zone and a higher SEQUENCE: the client gets the updated invitation, the new coach the
    invitation, the outgoing coach a cancellation. A cancelled session is cancelled as staff
    cancel it (``cancel_session``: both calendars get a CANCEL, the allotment gets it back).
    All in one transaction; if the client already has ``coach``, nothing is done.
    """
    now = now or timezone.now()
    choices = dict(choices or {})
    _check_choices(choices, default)
    coach_id = getattr(coach, "pk", coach)
    with transaction.atomic():
        enrollment = lock_enrollment(enrollment.pk)
        current = _current(enrollment)
        if current is not None and current.coach_id == coach_id:
            return Reassignment(coach=current.coach, previous_coach=None,
                                assignment=current, changed=False)
        _check_sessions(enrollment, choices)
        sessions = []
        if current is not None:
            # Read before the assignment changes: "ahead" means with the current coach.
            sessions = list(_sessions(enrollment, now).select_for_update(of=("self",)))
        assignment = assign_coach(
            enrollment, coach=coach_id, method=AssignmentMethod.MANUAL, actor=actor, now=now
        )
        new_coach = assignment.coach
        outcomes = _decide(sessions, new_coach.pk, choices, default, lock=True)
        _move([o for o in outcomes if o.outcome == MOVED], new_coach, actor, now)
        for outcome in outcomes:
            if outcome.outcome == CANCELLED:
                cancel_session(outcome.session, actor=actor, now=now)
                outcome.session.refresh_from_db()
    return Reassignment(
        coach=new_coach, previous_coach=current.coach if current else None,
        outcomes=outcomes, assignment=assignment,
    )


def _move(outcomes, coach, actor, now):
    """Hand these sessions to ``coach``: a fixed number of queries for any number."""
    if not outcomes:
        return
    profile = CoachProfile.objects.filter(user=coach).first()
    zone = coach_time_zone(profile).key
    link = profile.video_link if profile else ""
    notices, events, sessions = [], [], []
    for outcome in outcomes:
        session = outcome.session
        previous = session.coach
        session.coach, session.slot = coach, outcome.slot
        session.time_zone, session.video_link = zone, link
        session.sequence += 1
        session.updated_at = now
        sessions.append(session)
        enrollment = session.enrollment
        client = enrollment.client
        events.append(JourneyEvent(
            enrollment=enrollment, activity_id=session.activity_id,
            kind=EventKind.SESSION_COACH_CHANGED, actor=actor, at=now,
            data={"session": str(session.public_id), "coach": coach.pk,
                  "previous": previous.pk, "starts_at": session.starts_at.isoformat()},
        ))
        event = msg.one_to_one_event(session, enrollment.engagement.title, client, coach)
        key = f"one-to-one:{session.pk}"
        payload = {"coach_name": display_name(coach), "client_name": display_name(client),
                   "previous_coach_name": display_name(previous)}
        notices += [
            msg.calendar_message(person, "one_to_one_coach_changed", key, event, method=method,
                                 sequence=session.sequence, payload={**payload, "role": role})
            for person, role, method in (
                (client, "client", "REQUEST"), (coach, "coach", "REQUEST"),
                (previous, "previous_coach", "CANCEL"),
            )
        ]
    try:
        with transaction.atomic():
            CoachingSession.objects.bulk_update(
                sessions, ["coach", "slot", "time_zone", "video_link", "sequence", "updated_at"]
            )
    except IntegrityError as exc:  # a slot booked in between: nothing is changed
        raise SlotTaken(_(
            "One of these times was just booked with the new coach. Nothing was changed: "
            "please review the reassignment again."
        )) from exc
    JourneyEvent.objects.bulk_create(events)
    queue_notifications(notices)
    mirror_sessions(one_to_one=[s.pk for s in sessions])
