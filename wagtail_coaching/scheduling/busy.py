"""When a coach is busy and when they are free for a 1:1 session: one definition, used by
booking (clients and staff), moving, reassignment and the times offered.

A coach is busy while a booked 1:1 session of theirs, a scheduled group session they lead
or co-lead, or a busy time of their own calendar (connected over CalDAV, ``calendars``)
overlaps the time; a client is busy while another booked 1:1 of theirs does.

A calendar's busy times count as long as they were read successfully less than
``CALENDAR_BUSY_KEEP_HOURS`` ago: a calendar server that is down leaves the last known ones
in force for that long, never for ever.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from ..models import (
    AvailabilitySlot,
    CalendarBusyTime,
    CoachingSession,
    CoachingSessionStatus,
    GroupSession,
    SessionStatus,
)

# -- A coach's free time ----------------------------------------------------------------------

# Why a coach cannot take a 1:1 session at some time.
BUSY = "busy"  # a booked 1:1 session, a group session they lead, or their calendar, is then
UNAVAILABLE = "unavailable"  # no free published slot of theirs starts then, long enough


@dataclass(frozen=True)
class Clash:
    reason: str  # BUSY or UNAVAILABLE
    group_session: str = ""  # the title of the group session in the way, if one is
    calendar: bool = False  # busy in their own calendar


def booked_slot_ids():
    return CoachingSession.objects.filter(
        status=CoachingSessionStatus.BOOKED, slot__isnull=False
    ).values("slot_id")


def free_slots_at(coach_id, times, *, lock=False):
    """Whether ``coach_id`` can take a 1:1 session at each of ``times`` ((start, end)
    pairs): ``{(start, end): AvailabilitySlot or Clash}``.

    The coach is busy when a booked 1:1 session of theirs, a scheduled group session they
    lead or co-lead, or a busy time of their own calendar overlaps the time; otherwise
    they need the slot a booking would take: a published slot of theirs starting then, long
    enough, holding no booked session. With ``lock`` those slots are locked for the
    transaction (as ``_claim_slot`` does). Four queries, however many times.
    """
    times = list(times)
    if not times:
        return {}
    first, last = min(t[0] for t in times), max(t[1] for t in times)
    # What makes a coach busy is decided once, by the querysets ``busy_reason`` uses too.
    one_to_ones = list(
        coach_sessions(coach_id, first, last).values_list("starts_at", "ends_at")
    )
    groups = list(
        coach_group_sessions(coach_id, first, last).distinct().values_list(
            "starts_at", "ends_at", "title"
        )
    )
    own = list(coach_calendar_busy(coach_id, first, last).values_list("starts_at", "ends_at"))
    slots = AvailabilitySlot.objects.filter(
        coach_id=coach_id, starts_at__in={start for start, _end in times}
    ).exclude(pk__in=booked_slot_ids())
    if lock:
        slots = slots.select_for_update()
    by_start = {slot.starts_at: slot for slot in slots}
    found = {}
    for start, end in times:
        group = next((g for g in groups if g[0] < end and g[1] > start), None)
        slot = by_start.get(start)
        if group is not None:
            found[start, end] = Clash(BUSY, group_session=group[2])
        elif any(s < end and e > start for s, e in one_to_ones):
            found[start, end] = Clash(BUSY)
        elif any(s < end and e > start for s, e in own):
            found[start, end] = Clash(BUSY, calendar=True)
        elif slot is None or slot.ends_at - slot.starts_at < end - start:
            found[start, end] = Clash(UNAVAILABLE)
        else:
            found[start, end] = slot
    return found


# -- Who is busy when ---------------------------------------------------------------------------

def overlapping(starts_at, ends_at):
    return Q(starts_at__lt=ends_at, ends_at__gt=starts_at)


def coach_sessions(coach_id, starts_at, ends_at):
    return CoachingSession.objects.filter(
        overlapping(starts_at, ends_at), coach_id=coach_id, status=CoachingSessionStatus.BOOKED
    )


def coach_group_sessions(coach_id, starts_at, ends_at):
    """Scheduled group sessions the coach leads or co-leads overlapping that time."""
    return GroupSession.objects.filter(
        Q(coach_id=coach_id) | Q(co_coaches=coach_id), overlapping(starts_at, ends_at),
        status=SessionStatus.SCHEDULED,
    )


def calendar_busy_counts_since(now=None):
    """Busy times of a calendar read successfully after this instant count."""
    now = now or timezone.now()
    return now - timedelta(hours=coaching_settings.CALENDAR_BUSY_KEEP_HOURS)


def coach_calendar_busy(coach_id, starts_at, ends_at):
    """The coach's own calendar's busy times overlapping that time, while they count."""
    return CalendarBusyTime.objects.filter(
        overlapping(starts_at, ends_at), user_id=coach_id,
        connection__synced_at__gte=calendar_busy_counts_since(),
    )


def busy_reason(coach_id, client_id, starts_at, ends_at, *, exclude=None):
    """Why ``starts_at``–``ends_at`` cannot hold a 1:1 session of this coach and client:
    the coach has a booked 1:1 or a group session they lead then, or is busy in their own
    calendar, or the client has another booked 1:1 then. None when both are free.
    ``exclude`` is a session being moved."""
    sessions = CoachingSession.objects.filter(
        overlapping(starts_at, ends_at), status=CoachingSessionStatus.BOOKED
    )
    if exclude is not None:
        sessions = sessions.exclude(pk=exclude.pk)
    if (
        sessions.filter(coach_id=coach_id).exists()
        or coach_group_sessions(coach_id, starts_at, ends_at).exists()
    ):
        return _("The coach has another session at that time.")
    if coach_calendar_busy(coach_id, starts_at, ends_at).exists():
        return _(
            "The coach is no longer free at that time: their calendar shows them busy. "
            "Please choose another time."
        )
    if sessions.filter(enrollment__client_id=client_id).exists():
        return _("The client has another session at that time.")
    return None
