"""The writer: puts a person's pending calendar entries into the calendar they chose (the
session as it is now, by its UID), or removes them (cancelled, reassigned, no calendar
chosen any more).

Safe to run twice and concurrently with changes: an entry's ``version`` is read before the
write and recorded as written after it, so a change made meanwhile leaves it pending for
the next run. A failure backs the person's pending entries off (5 minutes, doubling, at
most 6 hours), marks the connection failing (the coach and the admins see it) and leaves
the entries for the periodic job.
"""

from django.db.models import F, Q
from django.utils import timezone

from ..models import (
    CalendarConnection,
    CalendarEntry,
    CoachingSession,
    CoachingSessionStatus,
    GroupSession,
)
from ..scheduling.calendar import build_calendar_object
from ..scheduling.feeds import calendar_event
from ..scheduling.messages import group_event, one_to_one_event, series_event
from ..scheduling.series import INTERVAL_DAYS
from .client import CalendarError, delete_event, open_client, put_event
from .sync import backoff, password_of, record_failure


def _one_to_one(entry):
    session = (
        CoachingSession.objects.select_related(
            "enrollment__client", "enrollment__engagement", "coach"
        ).filter(pk=entry.coaching_session_id).first()
    )
    if (
        session is None or session.coach_id != entry.user_id
        or session.status != CoachingSessionStatus.BOOKED
    ):
        return None
    fields = one_to_one_event(
        session, session.enrollment.engagement.title, session.enrollment.client, session.coach
    )
    return build_calendar_object(calendar_event(fields, session.sequence))


def _leads(session, user_id):
    return session.coach_id == user_id or any(
        c.pk == user_id for c in session.co_coaches.all()
    )


def _group(entry):
    session = (
        GroupSession.objects.prefetch_related("co_coaches")
        .filter(pk=entry.group_session_id).first()
    )
    if session is None or session.is_cancelled or not _leads(session, entry.user_id):
        return None
    return build_calendar_object(calendar_event(group_event(session), session.sequence))


def _series(entry):
    sessions = [
        s for s in GroupSession.objects.filter(series_id=entry.series_id)
        .select_related("series").prefetch_related("co_coaches").order_by("starts_at", "pk")
        if _leads(s, entry.user_id)
    ]
    if not sessions or all(s.is_cancelled for s in sessions):
        return None
    series = sessions[0].series
    return build_calendar_object(series=series_event({
        "uid": series.uid,
        "sequence": series.sequence,
        "time_zone": sessions[0].time_zone,
        "interval_days": INTERVAL_DAYS.get(series.recurrence),
        "occurrences": [{**group_event(s), "cancelled": s.is_cancelled} for s in sessions],
    }))


def entry_content(entry):
    """The calendar object the entry's person should have under its UID now, or None when
    they should have none."""
    if entry.coaching_session_id:
        return _one_to_one(entry)
    if entry.group_session_id:
        return _group(entry)
    if entry.series_id:
        return _series(entry)
    return None


def pending_entries(user_id, now):
    return CalendarEntry.objects.filter(
        Q(next_try_at__isnull=True) | Q(next_try_at__lte=now),
        user_id=user_id, version__gt=F("written_version"),
    ).order_by("pk")


def write_calendar_entries(user_id, now=None):
    """Write ``user_id``'s pending entries. Returns how many were written (or removed)."""
    now = now or timezone.now()
    pending = list(pending_entries(user_id, now))
    if not pending:
        return 0
    connection = CalendarConnection.objects.filter(user_id=user_id).first()
    if connection is None:
        # Disconnected: nothing can be written any more, nor is anything expected.
        CalendarEntry.objects.filter(user_id=user_id).delete()
        return 0
    target = connection.write_calendar
    client = None
    done = 0
    for entry in pending:
        version = entry.version
        ics = entry_content(entry) if target else None
        try:
            if client is None:
                client = open_client(connection.url, connection.username,
                                     password_of(connection))
            if entry.written_to and (ics is None or entry.written_to != target):
                delete_event(client, entry.written_to, entry.uid)
            if ics is not None:
                put_event(client, target, entry.uid, ics)
        except CalendarError as exc:
            _back_off(user_id, exc, now)
            record_failure(connection.pk, exc, now)
            return done
        written_to = target if ics is not None else ""
        CalendarEntry.objects.filter(pk=entry.pk).update(
            written_version=version, written_to=written_to, attempts=0, next_try_at=None,
            last_error="",
        )
        if ics is None:
            # Nothing left to keep track of, unless it changed again meanwhile.
            CalendarEntry.objects.filter(pk=entry.pk, version=version).delete()
        done += 1
    if connection.last_error and not connection.busy_calendars:
        # Writing works again; a connection that also reads is cleared by its next read.
        CalendarConnection.objects.filter(pk=connection.pk).update(
            failures=0, failing_since=None, last_error="", next_sync_at=None
        )
    return done


def _back_off(user_id, exc, now):
    pending = CalendarEntry.objects.filter(user_id=user_id, version__gt=F("written_version"))
    attempts = (pending.order_by("-attempts").values_list("attempts", flat=True).first() or 0) + 1
    pending.update(
        attempts=F("attempts") + 1, next_try_at=now + backoff(attempts), last_error=str(exc)[:500]
    )


def users_with_due_entries(now=None):
    now = now or timezone.now()
    return (
        CalendarEntry.objects.filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now),
                                     version__gt=F("written_version"))
        .values_list("user_id", flat=True).distinct()
    )
