"""Reading coaches' busy times from their calendars: on a schedule (the periodic job), and
before a booking or a move is confirmed when the last read is older than
``CALENDAR_REFRESH_BEFORE_BOOKING_SECONDS``.

A calendar that cannot be read keeps its last known busy times in force for
``CALENDAR_BUSY_KEEP_HOURS`` after the last successful read (``scheduling.busy`` applies
that bound); the failure is recorded on the connection, shown to the coach and the admins,
and the next read waits longer after each failure in a row (backoff).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from ..models import CalendarBusyTime, CalendarConnection, CoachProfile
from ..utils.time_zones import coach_time_zone
from .client import CalendarError, open_client, read_events
from .credentials import UnreadableSecret, decrypt
from .reading import busy_intervals

# Backoff after failures in a row: 5, 10, 20 ... minutes, at most 6 hours.
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
# Read from a day back (an all-day event of today, in any zone) to a day past the horizon.
READ_BEHIND = timedelta(days=1)


def backoff(failures):
    return min(FIRST_BACKOFF * (2 ** max(failures - 1, 0)), MAX_BACKOFF)


def read_window(now):
    return now - READ_BEHIND, now + timedelta(days=coaching_settings.BOOKING_HORIZON_DAYS + 1)


def busy_times_count_since(now=None):
    """Busy times count while the last successful read is after this instant."""
    now = now or timezone.now()
    return now - timedelta(hours=coaching_settings.CALENDAR_BUSY_KEEP_HOURS)


def record_failure(connection_id, message, now):
    """A failed read or write: counted, kept for the warning, next try after a backoff."""
    with transaction.atomic():
        connection = (
            CalendarConnection.objects.select_for_update().filter(pk=connection_id).first()
        )
        if connection is None:
            return
        connection.failures += 1
        connection.failing_since = connection.failing_since or now
        connection.last_error = str(message)[:500]
        connection.next_sync_at = now + backoff(connection.failures)
        connection.save(update_fields=[
            "failures", "failing_since", "last_error", "next_sync_at", "updated_at",
        ])


def password_of(connection):
    try:
        return decrypt(connection.secret)
    except UnreadableSecret as exc:
        raise CalendarError(_(
            "The stored app password can no longer be read (the site's key changed): "
            "connect the calendar again."
        )) from exc


def refresh_busy_times(connection_id, now=None):
    """Read the busy times of one connection's chosen calendars and replace the known ones.
    Returns True when read; on failure records it and keeps the last known busy times."""
    now = now or timezone.now()
    connection = CalendarConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        return False
    start, end = read_window(now)
    calendars = []
    if connection.busy_calendars:
        try:
            client = open_client(connection.url, connection.username, password_of(connection))
            for url in connection.busy_calendars:
                calendars += read_events(client, url, start, end)
        except CalendarError as exc:
            record_failure(connection.pk, exc, now)
            return False
    profile = CoachProfile.objects.filter(user_id=connection.user_id).only("time_zone").first()
    intervals = busy_intervals(calendars, start, end, coach_time_zone(profile))
    with transaction.atomic():
        current = (
            CalendarConnection.objects.select_for_update().filter(pk=connection.pk).first()
        )
        if current is None or current.busy_calendars != connection.busy_calendars:
            return False  # disconnected or changed meanwhile: that change reads again
        CalendarBusyTime.objects.filter(connection=current).delete()
        CalendarBusyTime.objects.bulk_create([
            CalendarBusyTime(connection=current, user_id=current.user_id,
                             starts_at=begins, ends_at=ends)
            for begins, ends in intervals
        ])
        current.synced_at = now
        current.failures = 0
        current.failing_since = None
        current.last_error = ""
        current.next_sync_at = None
        current.save(update_fields=[
            "synced_at", "failures", "failing_since", "last_error", "next_sync_at",
            "updated_at",
        ])
    return True


def due_connections(now=None):
    """Connections whose busy times the periodic job reads now (not those waiting out a
    backoff)."""
    now = now or timezone.now()
    return CalendarConnection.objects.filter(
        Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    ).exclude(busy_calendars=[]).values_list("pk", flat=True)


def refresh_before_booking(coach_ids, now=None):
    """Before a booking or a move of these coaches is confirmed: read again the calendars
    read longer ago than ``CALENDAR_REFRESH_BEFORE_BOOKING_SECONDS``. A calendar waiting
    out a backoff after failures is not tried (its last known busy times stand), so a
    server that is down never slows booking beyond one timeout per backoff. One query
    when no coach has a calendar."""
    now = now or timezone.now()
    fresh = now - timedelta(seconds=coaching_settings.CALENDAR_REFRESH_BEFORE_BOOKING_SECONDS)
    stale = (
        CalendarConnection.objects.filter(user_id__in=coach_ids)
        .exclude(busy_calendars=[])
        .filter(Q(synced_at__isnull=True) | Q(synced_at__lt=fresh))
        .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        .values_list("pk", flat=True)
    )
    for connection_id in list(stale):
        refresh_busy_times(connection_id, now)


# -- What the coach and the admins are shown ---------------------------------------------------

OK = "ok"
FAILING = "failing"  # the last read or write failed; the last known busy times still count
STALE = "stale"  # failing for longer than CALENDAR_BUSY_KEEP_HOURS: busy times no longer count
NEW = "new"  # not read yet


@dataclass(frozen=True)
class Health:
    state: str
    message: str

    @property
    def warning(self):
        return self.state in (FAILING, STALE)


def health(connection, now=None):
    """How a connection is doing, in words for people."""
    now = now or timezone.now()
    if connection.last_error:
        counts = connection.synced_at is not None and (
            connection.synced_at >= busy_times_count_since(now)
        )
        if counts:
            return Health(FAILING, _(
                "The calendar could not be reached: %(error)s The busy times read last "
                "still block booking; it is tried again automatically."
            ) % {"error": connection.last_error})
        return Health(STALE, _(
            "The calendar could not be reached: %(error)s Its busy times no longer block "
            "booking until it is read again; it is tried again automatically."
        ) % {"error": connection.last_error})
    if connection.synced_at is None and connection.busy_calendars:
        return Health(NEW, _("The busy times have not been read yet."))
    return Health(OK, "")
