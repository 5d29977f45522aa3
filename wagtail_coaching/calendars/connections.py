"""Connecting a calendar: test the account on save (nothing is stored when it fails),
choose which calendars make the person busy and which one receives their sessions,
disconnect."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import CalendarBusyTime, CalendarConnection, CalendarEntry
from .client import CalendarError, discover
from .credentials import encrypt
from .entries import mirror_coach


class InvalidChoice(CalendarError):
    pass


def connection_of(user):
    return CalendarConnection.objects.filter(user=user).first()


def connect(user, *, url, username, password):
    """Test the account and keep it (replacing the person's previous connection). Raises a
    CalendarError with a message for the person when the server refuses, cannot be
    reached or is not CalDAV; nothing is stored then. The calendars found are offered;
    none is chosen yet, except that an account whose calendar was chosen before keeps
    those of its choices that still exist."""
    found = discover(url, username, password)
    urls = {c["url"] for c in found}
    with transaction.atomic():
        connection = CalendarConnection.objects.select_for_update().filter(user=user).first()
        if connection is None:
            connection = CalendarConnection(user=user)
        same_account = connection.pk and (connection.url, connection.username) == (url, username)
        connection.url = url
        connection.username = username
        connection.secret = encrypt(password)
        connection.calendars = found
        if same_account:
            connection.busy_calendars = [u for u in connection.busy_calendars if u in urls]
            if connection.write_calendar not in urls:
                connection.write_calendar = ""
        else:
            connection.busy_calendars = []
            connection.write_calendar = ""
            if connection.pk:
                CalendarBusyTime.objects.filter(connection=connection).delete()
        connection.synced_at = None
        connection.failures = 0
        connection.failing_since = None
        connection.last_error = ""
        connection.next_sync_at = None
        connection.save()
        mirror_coach(user.pk)
    return connection


def choose_calendars(connection, *, busy, write):
    """Which of the connection's calendars make the person busy (URLs) and which one
    receives their sessions ("" for none). Sessions move to the new calendar (and out of
    the old one); busy times are read again in the background."""
    known = {c["url"] for c in connection.calendars}
    busy = list(dict.fromkeys(busy))
    if any(url not in known for url in busy) or (write and write not in known):
        raise InvalidChoice(_("Choose among the calendars found on the server."))
    with transaction.atomic():
        connection = CalendarConnection.objects.select_for_update().get(pk=connection.pk)
        connection.busy_calendars = busy
        connection.write_calendar = write
        connection.synced_at = None
        connection.next_sync_at = None
        connection.save(update_fields=[
            "busy_calendars", "write_calendar", "synced_at", "next_sync_at", "updated_at",
        ])
        if not busy:
            CalendarBusyTime.objects.filter(connection=connection).delete()
        mirror_coach(connection.user_id)
        if busy:
            read_soon(connection.pk)
    return connection


def read_soon(connection_id):
    from ..tasks import enqueue, refresh_calendar

    enqueue(refresh_calendar, connection_id)


def disconnect(user):
    """Forget the connection: its password, busy times and entries. Sessions already
    written stay in the calendar (the site can no longer reach it)."""
    with transaction.atomic():
        CalendarEntry.objects.filter(user=user).delete()
        CalendarConnection.objects.filter(user=user).delete()


def refresh_now(connection, now=None):
    """Read the busy times and write the pending sessions now (the coach's "Check now")."""
    from .sync import refresh_busy_times
    from .writing import write_calendar_entries

    now = now or timezone.now()
    CalendarConnection.objects.filter(pk=connection.pk).update(next_sync_at=None)
    CalendarEntry.objects.filter(user_id=connection.user_id).update(next_try_at=None)
    read = refresh_busy_times(connection.pk, now) if connection.busy_calendars else True
    write_calendar_entries(connection.user_id, now)
    return read
