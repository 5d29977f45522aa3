"""iCalendar files for session invitations and personal calendar feeds.

Self-contained: no models, no database. Callers turn a session into a
:class:`CalendarEvent` and use

* :func:`build_ics` for an iTIP message (``METHOD:REQUEST`` to invite or
  reschedule, ``METHOD:CANCEL`` to cancel) sent by email,
* :func:`invite_email_part` to attach that file to an email,
* :func:`build_feed` for a subscribable feed with many events,
* :func:`build_event_file` for one event to download and add to a calendar,
* :func:`build_series_ics` for a recurring series as one event (see
  :class:`SeriesEvent`),
* :func:`build_calendar_object` for the same event or series stored in a
  CalDAV calendar.

A reschedule keeps the same ``uid`` and raises ``sequence`` by one; a cancel
uses the current ``sequence`` (or higher) with ``method="CANCEL"``. To cancel
for a single attendee, pass an event whose ``attendees`` holds only them.
"""

from __future__ import annotations

import html
import re
from collections import Counter
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


def build_feed(
    events: Iterable[CalendarEvent], name: str, series: Iterable[SeriesEvent] = ()
) -> bytes:
    """A calendar feed (no METHOD) holding all ``events`` and each of ``series`` as one
    recurring event with its overrides."""
    events = list(events)
    series = list(series)
    cal = _calendar()
    cal.add("x-wr-calname", vText(_plain(name)))
    for event in events:
        cal.add_component(_vevent(event, cancelled=False))
    for one in series:
        for component in series_components(one, cancelled=False):
            cal.add_component(component)
    _add_timezones(cal, [*events, *(o for one in series for o in one.occurrences)])
    return cal.to_ical()


def build_event_file(event: CalendarEvent) -> bytes:
    """One event as a file to add to a calendar ("add to calendar"): no METHOD, so
    calendars import it rather than treat it as an invitation to answer. Its UID and
    SEQUENCE are the invitation's, so a calendar that has both keeps one event."""
    cal = _calendar()
    cal.add_component(_vevent(event, cancelled=False))
    _add_timezones(cal, [event])
    return cal.to_ical()


def build_calendar_object(
    event: CalendarEvent | None = None, series: SeriesEvent | None = None
) -> bytes:
    """One calendar object resource (RFC 4791: no METHOD, one UID) for a CalDAV calendar:
    a single ``event`` or a whole ``series`` with its overrides."""
    if (event is None) == (series is None):
        raise ValueError("Give an event or a series.")
    cal = _calendar()
    if event is not None:
        cal.add_component(_vevent(event, cancelled=False))
        _add_timezones(cal, [event])
    else:
        for component in series_components(series, cancelled=False):
            cal.add_component(component)
        _add_timezones(cal, series.occurrences)
    return cal.to_ical()


@dataclass(frozen=True, kw_only=True)
class Occurrence:
    """One occurrence of a series as one person's calendar shows it. ``cancelled``: it
    was in their calendar and is not any more (an EXDATE)."""

    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str = ""
    url: str = ""
    cancelled: bool = False

    def __post_init__(self):
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime.")
        if self.end <= self.start:
            raise ValueError("end must be after start.")

    def fields(self, tz):
        """What an instance generated from the rule must match to need no override."""
        local = self.start.astimezone(tz)
        return (local.time(), self.end - self.start, self.summary, self.description,
                self.location, self.url)


@dataclass(frozen=True, kw_only=True)
class SeriesEvent:
    """A series of occurrences as one recurring calendar event.

    ``interval_days`` (7 or 14) is the rhythm of a regular series: the occurrences become
    an RRULE whose DTSTART is the first one, in ``time_zone`` (so the rule keeps the local
    time across daylight-saving changes); a slot of the rhythm that is not (or no longer)
    in the calendar is an EXDATE. Without it, or when the occurrences do not fit the
    rhythm, they are listed as RDATEs (cancelled ones as EXDATEs). An occurrence that
    differs from the rule (moved, another title, link or length) is an override VEVENT
    with its RECURRENCE-ID.
    """

    uid: str
    sequence: int
    occurrences: Sequence[Occurrence]
    organizer_email: str
    organizer_name: str = ""
    attendees: Sequence[tuple[str, str]] = field(default_factory=tuple)
    time_zone: str = "UTC"
    interval_days: int | None = None

    def __post_init__(self):
        if not self.uid:
            raise ValueError("A calendar event needs a UID.")
        if self.sequence < 0:
            raise ValueError("SEQUENCE cannot be negative.")
        if not self.occurrences:
            raise ValueError("A series needs at least one occurrence.")
        if self.interval_days is not None and (
            self.interval_days <= 0 or self.interval_days % 7
        ):
            raise ValueError("interval_days must be a whole number of weeks.")
        ZoneInfo(self.time_zone)
        object.__setattr__(self, "occurrences", tuple(self.occurrences))
        object.__setattr__(
            self, "attendees", tuple((email, name) for email, name in self.attendees)
        )


def build_series_ics(series: SeriesEvent, method: str) -> bytes:
    """An iTIP message for a whole series: ``REQUEST`` (the series as it is now, replacing
    what the calendar held under its UID) or ``CANCEL`` (the whole series)."""
    method = _check_method(method)
    cal = _calendar()
    cal.add("method", method)
    for component in series_components(series, cancelled=method == "CANCEL"):
        cal.add_component(component)
    _add_timezones(cal, series.occurrences)
    return cal.to_ical()


def series_components(series: SeriesEvent, *, cancelled: bool) -> list[Event]:
    """The VEVENTs of a series: the recurring master, then one override per occurrence
    that differs from the rule (none when ``cancelled``: the master alone cancels all)."""
    tz = ZoneInfo(series.time_zone)
    occurrences = _distinct(series.occurrences)
    live = [o for o in occurrences if not o.cancelled]
    ref = _reference(live or occurrences, tz)
    wall, length = ref.start.astimezone(tz).time(), ref.end - ref.start
    first_day = occurrences[0].start.astimezone(tz).date()
    slots = _slots(occurrences, tz, first_day, series.interval_days)
    master = _event_part(series, ref)
    if slots is not None:
        step = timedelta(days=series.interval_days)
        count = max(slots) + 1

        def slot_start(k):
            return datetime.combine(first_day + step * k, wall, tzinfo=tz)

        dtstart = slot_start(0)
        master.add("rrule", {"freq": "weekly", "interval": series.interval_days // 7,
                             "count": count})
        exdates = [slot_start(k) for k in range(count)
                   if k not in slots or slots[k].cancelled]
        instances = [(slot_start(k), o) for k, o in sorted(slots.items()) if not o.cancelled]
    else:
        dtstart = occurrences[0].start.astimezone(tz)
        rdates = [o.start.astimezone(tz) for o in occurrences[1:]]
        if rdates:
            master.add("rdate", rdates)
        exdates = [o.start.astimezone(tz) for o in occurrences if o.cancelled]
        instances = [(o.start.astimezone(tz), o) for o in live]
    master.add("dtstart", dtstart)
    master.add("dtend", dtstart + length)
    if exdates:
        master.add("exdate", exdates)
    master.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    master.add("transp", "OPAQUE")
    if cancelled:
        return [master]
    parts = [master]
    ref_fields = ref.fields(tz)
    for recurrence_id, occurrence in instances:
        if recurrence_id == occurrence.start and occurrence.fields(tz) == ref_fields:
            continue
        override = _event_part(series, occurrence)
        override.add("recurrence-id", recurrence_id)
        override.add("dtstart", occurrence.start.astimezone(tz))
        override.add("dtend", occurrence.end.astimezone(tz))
        override.add("status", "CONFIRMED")
        override.add("transp", "OPAQUE")
        parts.append(override)
    return parts


def _distinct(occurrences):
    """Sorted by start, one per start (a live occurrence wins over a cancelled one)."""
    by_start = {}
    for o in sorted(occurrences, key=lambda o: (o.start, not o.cancelled)):
        by_start[o.start] = o
    return sorted(by_start.values(), key=lambda o: o.start)


def _reference(occurrences, tz):
    """The occurrence whose time, length and text the rule carries: the most common,
    the earliest of equals (every other one is an override)."""
    counts = Counter(o.fields(tz) for o in occurrences)
    return max(occurrences, key=lambda o: (counts[o.fields(tz)], -occurrences.index(o)))


def _slots(occurrences, tz, first_day, interval_days):
    """{slot number of the rhythm: occurrence}, or None when there is no rhythm or two
    occurrences would share a slot."""
    if not interval_days:
        return None
    slots = {}
    for o in occurrences:
        days = (o.start.astimezone(tz).date() - first_day).days
        k = (days + interval_days // 2) // interval_days
        if k in slots:
            return None
        slots[k] = o
    return slots


def _event_part(who, what) -> Event:
    """A VEVENT's identity, text and people, shared by single events and series: ``who``
    gives the UID, SEQUENCE, organizer and attendees, ``what`` the summary, description,
    location and URL (the same object for a single event)."""
    vevent = Event()
    vevent.add("uid", who.uid)
    vevent.add("sequence", who.sequence)
    vevent.add("dtstamp", datetime.now(UTC))
    vevent.add("summary", vText(_plain(what.summary)))
    if what.description:
        vevent.add("description", vText(what.description))
    if what.location:
        vevent.add("location", vText(_plain(what.location)))
    if what.url:
        vevent.add("url", what.url)
    vevent.add("organizer", _address(who.organizer_email, who.organizer_name))
    for email, name in who.attendees:
        vevent.add(
            "attendee",
            _address(email, name, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION",
                     RSVP="TRUE"),
            encode=False,
        )
    return vevent


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
    vevent = _event_part(event, event)
    vevent.add("dtstart", event.start.astimezone(tz))
    vevent.add("dtend", event.end.astimezone(tz))
    vevent.add("status", "CANCELLED" if cancelled else event.status)
    vevent.add("transp", "OPAQUE")
    return vevent


def _add_timezones(cal: Calendar, events: Sequence[CalendarEvent | Occurrence]) -> None:
    """VTIMEZONE for every zone used, covering the events' dates (+/- a year)."""
    if not events:
        return
    first = min(e.start for e in events).astimezone(UTC).date() - _TZ_MARGIN
    last = max(e.end for e in events).astimezone(UTC).date() + _TZ_MARGIN
    cal.add_missing_timezones(first_date=first, last_date=last)
    missing = cal.get_missing_tzids()
    if missing:  # zoneinfo knows it but icalendar could not describe it
        raise ValueError(f"No VTIMEZONE available for {sorted(missing)}.")
