"""Talking to a CalDAV server, through the ``caldav`` library: finding the calendars of an
account, reading the events of a time range, writing and removing one event by its UID.

Every failure comes out as a :class:`CalendarError` whose message is meant for the coach
(wrong password, unreachable, not a CalDAV server); nothing else escapes.
"""

import logging
from urllib.parse import quote, urlsplit

import caldav
from caldav.lib import error as dav_error
from django.utils.translation import gettext as _
from icalendar import Calendar

from ..conf import coaching_settings

logger = logging.getLogger(__name__)


class CalendarError(Exception):
    """The calendar server could not be used; ``str()`` says why, for people."""


class WrongCredentials(CalendarError):
    pass


class Unreachable(CalendarError):
    pass


class NotCalDAV(CalendarError):
    pass


class WriteRefused(CalendarError):
    pass


def _network_errors():
    """The transport's own errors (``caldav`` speaks HTTP through niquests or requests)."""
    errors = [OSError]
    for name in ("niquests", "requests"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        errors.append(module.exceptions.RequestException)
    return tuple(errors)


def translate(exc):
    """A CalendarError for anything the library or the network raised."""
    if isinstance(exc, CalendarError):
        return exc
    if isinstance(exc, dav_error.AuthorizationError):
        return WrongCredentials(_(
            "The calendar server refused the user name or the app password."
        ))
    if isinstance(exc, dav_error.RateLimitError):
        return Unreachable(_("The calendar server asks to wait before trying again."))
    if isinstance(exc, _network_errors()):
        text = str(exc).lower()
        if "timed out" in text or "timeout" in type(exc).__name__.lower():
            return Unreachable(_("The calendar server did not answer in time."))
        return Unreachable(_("The calendar server cannot be reached at that address."))
    return NotCalDAV(_(
        "The address does not answer as a CalDAV calendar server. Check the address "
        "(see the examples on this page)."
    ))


def open_client(url, username, password):
    return caldav.DAVClient(
        url=url, username=username, password=password,
        timeout=coaching_settings.CALENDAR_TIMEOUT_SECONDS,
    )


def _guarded(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message for people
        mapped = translate(exc)
        logger.info("CalDAV request failed: %r", exc)
        raise mapped from exc


def discover(url, username, password):
    """The event calendars of the account at ``url``: ``[{"url", "name"}]``. Raises a
    CalendarError when the server refuses, cannot be reached, or is not CalDAV."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise NotCalDAV(_("Enter an address starting with https://."))

    def find():
        client = open_client(url, username, password)
        calendars = client.principal().calendars()
        found = []
        for calendar in calendars:
            components = calendar.get_supported_components()
            if components and "VEVENT" not in components:
                continue  # a task list
            found.append({
                "url": str(calendar.url),
                "name": calendar.get_display_name() or _tail(str(calendar.url)),
            })
        return found

    found = _guarded(find)
    if not found:
        raise NotCalDAV(_(
            "No event calendar was found at that address. Check that it is the CalDAV "
            "address of your calendar service (see the examples on this page)."
        ))
    return found


def _tail(url):
    return [part for part in urlsplit(url).path.split("/") if part][-1:] or [url]


def read_events(client, calendar_url, start, end):
    """The events of one calendar overlapping ``start``–``end``, as icalendar objects (a
    recurring event comes as its master with its overrides: the caller expands it)."""

    def search():
        calendar = client.calendar(url=calendar_url)
        found = calendar.search(start=start, end=end, event=True, expand=False)
        return [Calendar.from_ical(obj.data) for obj in found]

    try:
        return _guarded(search)
    except CalendarError:
        raise
    except Exception as exc:  # noqa: BLE001 - unparsable calendar data
        raise translate(exc) from exc


def _find_href(client, calendar_url, uid):
    """Where the calendar keeps the event with ``uid`` (the coach may have accepted the
    invitation into this very calendar, under a name of its own), or None."""
    calendar = client.calendar(url=calendar_url)
    try:
        return str(calendar.get_event_by_uid(uid).url)
    except dav_error.NotFoundError:
        return None


def _default_href(calendar_url, uid):
    return calendar_url.rstrip("/") + "/" + quote(uid, safe="") + ".ics"


def put_event(client, calendar_url, uid, ics):
    """Create or replace the event ``uid`` in the calendar (a PUT to where that UID lives,
    so the same write twice leaves one event)."""

    def put():
        href = _find_href(client, calendar_url, uid) or _default_href(calendar_url, uid)
        response = client.put(href, ics, {"Content-Type": "text/calendar; charset=utf-8"})
        _check(response, href, (200, 201, 204))

    _guarded(put)


def delete_event(client, calendar_url, uid):
    """Remove the event ``uid`` from the calendar; gone already is fine."""

    def delete():
        href = _find_href(client, calendar_url, uid)
        if href is None:
            return
        response = client.delete(href)
        _check(response, href, (200, 204, 404))

    _guarded(delete)


def _check(response, href, ok):
    if response.status in ok:
        return
    if response.status == 401:
        raise dav_error.AuthorizationError(url=href, reason=str(response.status))
    if response.status == 403:
        raise WriteRefused(_(
            "The calendar server does not let this account write into the chosen calendar."
        ))
    raise WriteRefused(
        _("The calendar server refused to save the session (HTTP %(status)s).")
        % {"status": response.status}
    )
