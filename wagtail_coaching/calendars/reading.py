"""Busy times out of calendar data: pure functions over icalendar, no I/O.

Recurring events are expanded (``recurring-ical-events``: RRULE, RDATE, EXDATE and moved
occurrences), all-day events cover their days in the coach's time zone, floating times are
read in it too. Free (TRANSP:TRANSPARENT) and cancelled events do not make anyone busy, nor
do the sessions this site wrote itself (they are busy times of their own already).
"""

from datetime import UTC, date, datetime, time, timedelta

import recurring_ical_events

# The UIDs of the sessions' calendar events end with this (models' ``uid`` properties).
OWN_UID_SUFFIX = "@wagtail-coaching"


def _instant(value, zone):
    """An aware UTC datetime for a DTSTART/DTEND value: a date is its midnight in ``zone``,
    a floating time is read in ``zone``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
    raise ValueError(f"Not a date or time: {value!r}")


def _end(event, start):
    if "DTEND" in event:
        return event.decoded("DTEND")
    if "DURATION" in event:
        return start + event.decoded("DURATION")
    # RFC 5545: without either, a date lasts one day and a date-time no time at all.
    if isinstance(start, datetime):
        return start
    return start + timedelta(days=1)


def _counts(event):
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return False
    return not str(event.get("UID", "")).endswith(OWN_UID_SUFFIX)


def busy_intervals(calendars, start, end, zone):
    """The busy (start, end) pairs, in UTC and merged where they overlap, that the
    ``calendars`` (icalendar Calendar objects) hold between ``start`` and ``end``."""
    found = []
    for calendar in calendars:
        for event in recurring_ical_events.of(calendar, components=["VEVENT"]).between(
            start, end
        ):
            if not _counts(event):
                continue
            first = event.decoded("DTSTART")
            begins, ends = _instant(first, zone), _instant(_end(event, first), zone)
            if ends > begins and begins < end and ends > start:
                found.append((begins, ends))
    return merge(found)


def merge(intervals):
    merged = []
    for begins, ends in sorted(intervals):
        if merged and begins <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((begins, ends))
    return merged
