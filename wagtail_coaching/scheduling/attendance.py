"""Attendance of a group session: the coach marks each person attended or no-show.

Attending completes the matching group-session step of the attendee's journey (the
session's step, or the attendee's next group-session step of the session's engagement);
both outcomes go to the attendee's timeline and feed the reports.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..journeys.errors import JourneyError
from ..journeys.progress import complete_activity
from ..models import (
    DONE_STATES,
    ActivityState,
    ClientActivity,
    EventKind,
    GroupSession,
    Registration,
    RegistrationStatus,
)
from .errors import InvalidSchedule, SessionNotOpen
from .seats import _record, journey_enrollment, seat_holders

ATTENDED, NO_SHOW = RegistrationStatus.ATTENDED, RegistrationStatus.NO_SHOW
# Who can be marked: everyone on the list but those who said no.
MARKABLE = (
    RegistrationStatus.INVITED, RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED,
    ATTENDED, NO_SHOW,
)


def mark_attendance(session, marks, *, actor=None, now=None):
    """Record attendance: ``marks`` maps user ids to ``"attended"`` or ``"no_show"``.

    Marking again with the same outcome changes nothing; a step completed by an earlier
    "attended" stays completed. Returns the registrations whose outcome changed.
    """
    now = now or timezone.now()
    if any(value not in (ATTENDED, NO_SHOW) for value in marks.values()):
        raise InvalidSchedule(_("Attendance is either attended or no-show."))
    changed = []
    with transaction.atomic():
        session = GroupSession.objects.select_for_update().get(pk=session.pk)
        if session.is_cancelled:
            raise SessionNotOpen(_("This session was cancelled."))
        if session.starts_at > now:
            raise SessionNotOpen(_("Attendance can be taken once the session has started."))
        registrations = {
            r.user_id: r
            for r in Registration.objects.select_for_update().filter(
                session=session, user_id__in=list(marks)
            )
        }
        unknown = set(marks) - set(registrations)
        if unknown or any(r.status not in MARKABLE for r in registrations.values()):
            raise InvalidSchedule(_("Only people on the session's list can be marked."))
        for user_id, outcome in marks.items():
            registration = registrations[user_id]
            if registration.status == outcome:
                continue
            registration.status = outcome
            registration.attendance_marked_at = now
            registration.attendance_marked_by = actor
            registration.save(update_fields=[
                "status", "attendance_marked_at", "attendance_marked_by", "updated_at"
            ])
            changed.append(registration)
            kind = EventKind.SESSION_ATTENDED if outcome == ATTENDED else EventKind.SESSION_MISSED
            _record(session, user_id, kind, actor, now, {"group": True})
            if outcome == ATTENDED:
                _complete_step(session, user_id, actor, now)
        if session.attendance_taken_at is None:
            session.attendance_taken_at = now
            session.save(update_fields=["attendance_taken_at", "updated_at"])
    return changed


def mark_everyone(session, outcome, *, actor=None, now=None):
    """Mark everyone holding a seat (registered, or already marked) with one outcome."""
    user_ids = seat_holders(
        Registration.objects.filter(session=session)
    ).values_list("user_id", flat=True)
    return mark_attendance(session, dict.fromkeys(user_ids, outcome), actor=actor, now=now)


def _complete_step(session, user_id, actor, now):
    enrollment = journey_enrollment(session, user_id)
    if enrollment is None:
        return None
    steps = ClientActivity.objects.filter(enrollment=enrollment, kind="group_session")
    if session.activity_block_id:
        steps = steps.filter(block_id=session.activity_block_id)
    step = steps.exclude(state__in=(*DONE_STATES, ActivityState.REMOVED)).order_by(
        "stage_position", "position", "pk"
    ).first()
    if step is None:
        return None
    try:
        return complete_activity(
            step, actor=actor, now=now, even_if_locked=True,
            response={"group_session": str(session.public_id)},
        )
    except JourneyError:
        # A paused or closed journey keeps the attendance but does not move.
        return None
