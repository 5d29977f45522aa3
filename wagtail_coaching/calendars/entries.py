"""Sessions written into their coaches' own calendars: what to write is recorded here, in
the transaction of the change (a ``CalendarEntry`` per coach and calendar UID); the writer
(``calendars.writing``, a background job) puts each entry as the session is then, or
removes it.

The scheduling services call :func:`mirror_sessions` wherever a session's calendar copy
changes (booked, moved, cancelled, another coach, co-coaches added or removed). The entries
of a UID are raised for everyone who has one (a coach reassigned away has theirs removed)
and created for the session's coaches now, if they write sessions into a calendar.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import (
    CalendarConnection,
    CalendarEntry,
    CoachingSession,
    CoachingSessionStatus,
    GroupSession,
    SessionStatus,
)


def _targets(one_to_one, group):
    """{uid: (entry fields, coach ids)} of these sessions (a session of a series held as
    one event is the series' entry)."""
    targets = {}
    for session in CoachingSession.objects.filter(pk__in=list(one_to_one)).only(
        "pk", "public_id", "coach_id"
    ):
        targets[session.uid] = ({"coaching_session_id": session.pk}, {session.coach_id})
    group = list(group)
    if group:
        co_led = GroupSession.co_coaches.through.objects.filter(
            groupsession_id__in=group
        ).values_list("groupsession_id", "user_id")
        co_coaches = {}
        for session_id, user_id in co_led:
            co_coaches.setdefault(session_id, set()).add(user_id)
        for session in GroupSession.objects.filter(pk__in=group).select_related("series").only(
            "pk", "public_id", "coach_id", "series__public_id", "series__one_invitation"
        ):
            coaches = {session.coach_id, *co_coaches.get(session.pk, ())}
            if session.series_id and session.series.one_invitation:
                fields, known = targets.get(session.series.uid, ({}, set()))
                targets[session.series.uid] = ({"series_id": session.series_id},
                                               known | coaches)
            else:
                targets[session.uid] = ({"group_session_id": session.pk}, coaches)
    return targets


def mirror_sessions(*, one_to_one=(), group=()):
    """Record that these sessions (ids of 1:1 and group sessions) must be written again
    into the calendars of whoever leads them or had them written. Call it inside the
    transaction of the change; the writer runs once it commits. Five queries, however many
    sessions."""
    targets = _targets(one_to_one, group)
    if not targets:
        return
    CalendarEntry.objects.filter(uid__in=list(targets)).update(version=F("version") + 1)
    coaches = {c for _fields, people in targets.values() for c in people if c}
    writing = set(
        CalendarConnection.objects.filter(user_id__in=coaches).exclude(write_calendar="")
        .values_list("user_id", flat=True)
    )
    CalendarEntry.objects.bulk_create([
        CalendarEntry(user_id=coach, uid=uid, **fields)
        for uid, (fields, people) in targets.items() for coach in sorted(people)
        if coach in writing
    ], ignore_conflicts=True)
    users = set(CalendarEntry.objects.filter(uid__in=list(targets)).values_list(
        "user_id", flat=True))
    write_soon(users)


def mirror_coach(user_id, now=None):
    """Everything ``user_id`` leads from now on, and every entry they have, written again
    (after they chose another calendar to receive sessions, or connected one)."""
    now = now or timezone.now()
    one_to_one = CoachingSession.objects.filter(
        coach_id=user_id, status=CoachingSessionStatus.BOOKED, ends_at__gt=now
    ).values_list("pk", flat=True)
    led = GroupSession.objects.filter(status=SessionStatus.SCHEDULED, ends_at__gt=now)
    group = set(led.filter(coach_id=user_id).values_list("pk", flat=True)) | set(
        led.filter(co_coaches=user_id).values_list("pk", flat=True)
    )
    with transaction.atomic():
        CalendarEntry.objects.filter(user_id=user_id).update(version=F("version") + 1)
        mirror_sessions(one_to_one=list(one_to_one), group=sorted(group))
        write_soon({user_id})


def write_soon(user_ids):
    """Send the writer for these people once the transaction commits (the entries are the
    record: the periodic job writes what a lost message left pending)."""
    if not user_ids:
        return
    from ..tasks import enqueue, write_calendar_entries

    for user_id in sorted(user_ids):
        enqueue(write_calendar_entries, user_id)
