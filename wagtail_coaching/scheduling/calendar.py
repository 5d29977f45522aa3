"""iCalendar files for session invitations and personal calendar feeds.

Self-contained: no models, no database. Callers turn a session into a
:class:`CalendarEvent` and use

* :func:`build_ics` for an iTIP message (``METHOD:REQUEST`` to invite or
  reschedule, ``METHOD:CANCEL`` to cancel) sent by email,
* :func:`invite_email_part` to attach that file to an email,
* :func:`build_feed` for a subscribable feed with many events.

A reschedule keeps the same ``uid`` and raises ``sequence`` by one; a cancel
uses the current ``sequence`` (or higher) with ``method="CANCEL"``. To cancel
for a single attendee, pass an event whose ``attendees`` holds only them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import MIMEPart
from email.mime.text import MIMEText
from zoneinfo import ZoneInfo

import django
from django.utils.html import strip_tags
from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//wagtail-coaching//Sessions//EN"
METHODS = frozenset({"REQUEST", "CANCEL"})
STATUSES = frozenset({"TENTATIVE", "CONFIRMED", "CANCELLED"})

# How far either side of the events the generated VTIMEZONE reaches.
_TZ_MARGIN = timedelta(days=366)
_WS = re.compile(r"\s+")


@dataclass(frozen=True, kw_only=True)
class CalendarEvent:
    """One occurrence of a session, as it appears in a calendar."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str = ""
    url: str = ""
    organizer_email: str
    organizer_name: str = ""
    attendees: Sequence[tuple[str, str]] = field(default_factory=tuple)
    status: str = "CONFIRMED"
    time_zone: str = "UTC"

    def __post_init__(self):
        if not self.uid:
            raise ValueError("A calendar event needs a UID.")
        if self.sequence < 0:
            raise ValueError("SEQUENCE cannot be negative.")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime.")
        if self.end <= self.start:
            raise ValueError("end must be after start.")
        if self.status.upper() not in STATUSES:
            raise ValueError(f"Unknown STATUS {self.status!r}.")
        ZoneInfo(self.time_zone)  # raises for an unknown zone
        # Freeze the attendee list so the dataclass really is immutable.
        object.__setattr__(
            self, "attendees", tuple((email, name) for email, name in self.attendees)
        )
        object.__setattr__(self, "status", self.status.upper())


def build_ics(event: CalendarEvent, method: str) -> bytes:
    """An iTIP message (RFC 5546) for one event: ``REQUEST`` or ``CANCEL``."""
    method = _check_method(method)
    cal = _calendar()
    cal.add("method", method)
    cal.add_component(_vevent(event, cancelled=method == "CANCEL"))
    _add_timezones(cal, [event])
    return cal.to_ical()


def build_feed(events: Iterable[CalendarEvent], name: str) -> bytes:
    """A calendar feed (no METHOD) holding all ``events``."""
    events = list(events)
    cal = _calendar()
    cal.add("x-wr-calname", vText(_plain(name)))
    for event in events:
        cal.add_component(_vevent(event, cancelled=False))
    _add_timezones(cal, events)
    return cal.to_ical()


def invite_email_part(ics_bytes: bytes, method: str) -> MIMEText | MIMEPart:
    """A ``text/calendar; method=...; charset="utf-8"`` MIME part.

    Pass it to ``EmailMessage.attach(part)`` (mail clients show it as an
    invitation with accept/decline buttons). The payload is base64 encoded, so
    the CRLF line endings of the file survive transport.
    """
    method = _check_method(method)
    if django.VERSION >= (6, 0):
        # Django 6 takes a MIMEPart (attaching a MIMEBase is deprecated there).
        # As bytes: a str would have its CRLF line endings rewritten.
        part = MIMEPart()
        part.set_content(
            ics_bytes, maintype="text", subtype="calendar", cte="base64",
            disposition="attachment", filename="invite.ics",
            params={"method": method, "charset": "utf-8"},
        )
        return part
    part = MIMEText(ics_bytes.decode("utf-8"), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="invite.ics")
    return part


def _check_method(method: str) -> str:
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"Unsupported iTIP method {method!r}; use REQUEST or CANCEL.")
    return method.upper()


def _calendar() -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    return cal


def _plain(text: str) -> str:
    """A title without markup (``<b>x</b>`` -> ``x``, ``&amp;`` -> ``&``)."""
    return html.unescape(strip_tags(text or "")).strip()


def _name(text: str) -> str:
    """A person's name for a CN parameter: no markup, on one line."""
    return _WS.sub(" ", _plain(text)).replace('"', "'")


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    cn = _name(name)
    if cn:
        address.params["CN"] = cn
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = value
    return address


def _vevent(event: CalendarEvent, *, cancelled: bool) -> Event:
    tz = ZoneInfo(event.time_zone)
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", datetime.now(UTC))
    vevent.add("dtstart", event.start.astimezone(tz))
    vevent.add("dtend", event.end.astimezone(tz))
    vevent.add("summary", vText(_plain(event.summary)))
    if event.description:
        vevent.add("description", vText(event.description))
    if event.location:
        vevent.add("location", vText(_plain(event.location)))
    if event.url:
        vevent.add("url", event.url)
    vevent.add("organizer", _address(event.organizer_email, event.organizer_name))
    for email, name in event.attendees:
        vevent.add(
            "attendee",
            _address(
                email,
                name,
                ROLE="REQ-PARTICIPANT",
                PARTSTAT="NEEDS-ACTION",
                RSVP="TRUE",
            ),
            encode=False,
        )
    vevent.add("status", "CANCELLED" if cancelled else event.status)
    vevent.add("transp", "OPAQUE")
    return vevent


def _add_timezones(cal: Calendar, events: Sequence[CalendarEvent]) -> None:
    """VTIMEZONE for every zone used, covering the events' dates (+/- a year)."""
    if not events:
        return
    first = min(e.start for e in events).astimezone(UTC).date() - _TZ_MARGIN
    last = max(e.end for e in events).astimezone(UTC).date() + _TZ_MARGIN
    cal.add_missing_timezones(first_date=first, last_date=last)
    missing = cal.get_missing_tzids()
    if missing:  # zoneinfo knows it but icalendar could not describe it
        raise ValueError(f"No VTIMEZONE available for {sorted(missing)}.")
