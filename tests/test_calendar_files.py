"""Calendar files for session invitations and feeds (no database needed).

Every file is parsed back twice: with ``icalendar`` (which wrote it) and with
``vobject`` as an independent parser.
"""

import email
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from django.core.mail import EmailMultiAlternatives
from icalendar.parser import unescape_backslash

from wagtail_coaching.scheduling.calendar import (
    CalendarEvent,
    build_feed,
    build_ics,
    invite_email_part,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def make_event(**overrides):
    values = dict(
        uid="session-42@coaching.example",
        sequence=0,
        start=datetime(2026, 6, 10, 9, 0, tzinfo=NEW_YORK),
        end=datetime(2026, 6, 10, 10, 30, tzinfo=NEW_YORK),
        summary="Leadership circle",
        description="Bring your notes.",
        location="Video call",
        url="https://meet.example/abc",
        organizer_email="coach@coaching.example",
        organizer_name="Carla Coach",
        attendees=[("ann@client.example", "Ann Client"), ("bob@client.example", "Bob")],
        time_zone="America/New_York",
    )
    values.update(overrides)
    return CalendarEvent(**values)


def parse_both(data):
    """(icalendar VEVENT list, icalendar calendar, vobject calendar)."""
    cal = icalendar.Calendar.from_ical(data)
    vcal = vobject.readOne(data.decode("utf-8"))
    return cal.walk("VEVENT"), cal, vcal


def mail(address):
    return str(address).removeprefix("mailto:").removeprefix("MAILTO:")


def test_invitation_fields():
    data = build_ics(make_event(), "REQUEST")
    [vevent], cal, vcal = parse_both(data)

    assert cal["PRODID"] and str(cal["VERSION"]) == "2.0"
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(vevent["UID"]) == "session-42@coaching.example"
    assert vevent["SEQUENCE"] == 0
    assert str(vevent["SUMMARY"]) == "Leadership circle"
    assert str(vevent["DESCRIPTION"]) == "Bring your notes."
    assert str(vevent["LOCATION"]) == "Video call"
    assert str(vevent["URL"]) == "https://meet.example/abc"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    stamp = vevent.decoded("DTSTAMP")
    assert stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)
    assert vevent["DTSTART"].params["TZID"] == "America/New_York"
    assert vevent.decoded("DTSTART") == datetime(2026, 6, 10, 13, 0, tzinfo=UTC)
    assert vevent.decoded("DTEND") == datetime(2026, 6, 10, 14, 30, tzinfo=UTC)
    assert [tz.tz_name for tz in cal.timezones] == ["America/New_York"]

    organizer = vevent["ORGANIZER"]
    assert mail(organizer) == "coach@coaching.example"
    assert organizer.params["CN"] == "Carla Coach"
    attendees = vevent["ATTENDEE"]
    assert [mail(a) for a in attendees] == ["ann@client.example", "bob@client.example"]
    for attendee in attendees:
        assert attendee.params["RSVP"] == "TRUE"
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert [a.params["CN"] for a in attendees] == ["Ann Client", "Bob"]

    assert vcal.method.value == "REQUEST"
    ve = vcal.vevent
    assert ve.uid.value == "session-42@coaching.example"
    assert ve.sequence.value == "0"
    assert ve.summary.value == "Leadership circle"
    assert ve.location.value == "Video call"
    assert ve.organizer.params["CN"] == ["Carla Coach"]
    assert [a.value.lower() for a in ve.attendee_list] == [
        "mailto:ann@client.example",
        "mailto:bob@client.example",
    ]
    assert ve.dtstart.value == datetime(2026, 6, 10, 13, 0, tzinfo=UTC)
    assert ve.dtend.value == datetime(2026, 6, 10, 14, 30, tzinfo=UTC)


def test_reschedule_keeps_uid_and_bumps_sequence():
    first = make_event()
    moved = replace(
        first,
        sequence=first.sequence + 1,
        start=first.start + timedelta(days=1),
        end=first.end + timedelta(days=1),
    )
    [old], _, vold = parse_both(build_ics(first, "REQUEST"))
    [new], _, vnew = parse_both(build_ics(moved, "REQUEST"))

    assert str(new["UID"]) == str(old["UID"])
    assert new["SEQUENCE"] == old["SEQUENCE"] + 1
    assert new.decoded("DTSTART") == old.decoded("DTSTART") + timedelta(days=1)
    assert vnew.vevent.uid.value == vold.vevent.uid.value
    assert int(vnew.vevent.sequence.value) == int(vold.vevent.sequence.value) + 1


def test_cancel():
    event = make_event(sequence=3)
    [vevent], cal, vcal = parse_both(build_ics(event, "CANCEL"))

    assert str(cal["METHOD"]) == "CANCEL"
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert str(vevent["UID"]) == event.uid
    assert vevent["SEQUENCE"] == 3
    assert vcal.method.value == "CANCEL"
    assert vcal.vevent.status.value == "CANCELLED"


def test_single_attendee_cancel_lists_only_that_attendee():
    event = make_event()
    one = replace(event, attendees=[("bob@client.example", "Bob")])
    [vevent], _, vcal = parse_both(build_ics(one, "cancel"))

    attendees = vevent["ATTENDEE"]
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [mail(a) for a in attendees] == ["bob@client.example"]
    assert [a.value.lower() for a in vcal.vevent.attendee_list] == ["mailto:bob@client.example"]
    assert vcal.method.value == "CANCEL"


def test_escaping_and_markup_round_trip():
    event = make_event(
        summary="<b>Goals, plans; and</b>\nnext steps \\ more",
        description="Agenda:\n1. Intro, hello; welcome\n2. <b>Work</b> \\ notes",
        location="Room 4, Floor 2; East",
        organizer_name="Carla <i>Coach</i>, PhD; MCC",
        attendees=[("ann@client.example", "<b>Ann</b> Smith, Jr.; CEO\nAcme")],
    )
    data = build_ics(event, "REQUEST")
    [vevent], _, vcal = parse_both(data)

    summary = "Goals, plans; and\nnext steps \\ more"
    description = "Agenda:\n1. Intro, hello; welcome\n2. <b>Work</b> \\ notes"
    assert b"SUMMARY:Goals\\, plans\\; and\\nnext steps \\\\ more" in data
    assert b"<b>" not in data.split(b"DESCRIPTION")[0]  # markup gone from title
    assert str(vevent["SUMMARY"]) == summary
    assert str(vevent["DESCRIPTION"]) == description
    assert str(vevent["LOCATION"]) == "Room 4, Floor 2; East"
    assert vevent["ORGANIZER"].params["CN"] == "Carla Coach, PhD; MCC"
    # A CN parameter cannot hold a line break: names are put on one line.
    assert vevent["ATTENDEE"].params["CN"] == "Ann Smith, Jr.; CEO Acme"

    ve = vcal.vevent
    assert ve.summary.value == summary
    assert ve.description.value == description
    assert ve.location.value == "Room 4, Floor 2; East"
    assert ve.organizer.params["CN"] == ["Carla Coach, PhD; MCC"]
    assert ve.attendee.params["CN"] == ["Ann Smith, Jr.; CEO Acme"]


def assert_crlf_and_folded(data):
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        assert b"\n" not in line and b"\r" not in line, line
        assert len(line) <= 75, (len(line), line)
        line.decode("utf-8")  # never folded inside a multi-byte character


def test_crlf_and_line_folding_with_multibyte_text():
    long_text = "Überblick über Ziele — café, naïve résumé; 日本語のテキスト 🎯. " * 12
    event = make_event(
        summary="Séance de coaching: " + "é" * 80,
        description=long_text,
        organizer_name="Zoë Ångström-" + "ü" * 60,
        attendees=[("ann@client.example", "Ünïcödé " * 15)],
    )
    for data in (build_ics(event, "REQUEST"), build_feed([event, event], "Ünïcödé " * 10)):
        assert_crlf_and_folded(data)
        assert any(len(line) > 70 for line in data.split(b"\r\n"))  # folding happened

    [vevent], _, vcal = parse_both(build_ics(event, "REQUEST"))
    assert str(vevent["DESCRIPTION"]) == long_text
    assert vcal.vevent.description.value == long_text
    assert vcal.vevent.summary.value == event.summary


def test_event_across_daylight_saving_change():
    # Clocks go forward at 01:00 GMT on 2026-03-29: 00:30 GMT -> 02:30 BST is one hour.
    event = make_event(
        start=datetime(2026, 3, 29, 0, 30, tzinfo=LONDON),
        end=datetime(2026, 3, 29, 2, 30, tzinfo=LONDON),
        time_zone="Europe/London",
    )
    data = build_ics(event, "REQUEST")
    [vevent], cal, vcal = parse_both(data)

    start_utc = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    end_utc = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert b"DTSTART;TZID=Europe/London:20260329T003000" in data
    assert b"DTEND;TZID=Europe/London:20260329T023000" in data
    assert vevent.decoded("DTSTART") == start_utc
    assert vevent.decoded("DTEND") == end_utc
    duration = vevent.decoded("DTEND").astimezone(UTC) - vevent.decoded("DTSTART").astimezone(UTC)
    assert duration == timedelta(hours=1)

    [vtimezone] = cal.timezones
    assert vtimezone.tz_name == "Europe/London"
    assert vtimezone.walk("STANDARD") and vtimezone.walk("DAYLIGHT")
    # The VTIMEZONE itself (not only the zone name) gives the right offsets.
    tz = vtimezone.to_tz()
    assert tz.utcoffset(datetime(2026, 3, 29, 0, 30)) == timedelta(0)
    assert tz.utcoffset(datetime(2026, 3, 29, 2, 30)) == timedelta(hours=1)

    assert {c.name for c in vcal.vtimezone.getChildren()} >= {"STANDARD", "DAYLIGHT"}
    assert vcal.vevent.dtstart.value == start_utc
    assert vcal.vevent.dtend.value == end_utc


def test_utc_event_needs_no_vtimezone():
    event = make_event(
        start=datetime(2026, 6, 10, 9, 0, tzinfo=UTC),
        end=datetime(2026, 6, 10, 10, 0, tzinfo=UTC),
        time_zone="UTC",
    )
    data = build_ics(event, "REQUEST")
    [vevent], cal, vcal = parse_both(data)
    assert b"DTSTART:20260610T090000Z" in data
    assert cal.timezones == []
    assert vcal.vevent.dtstart.value == datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("method", ["PUBLISH", "REPLY", "", "REQUEST;X=1", None])
def test_unknown_method_is_rejected(method):
    with pytest.raises(ValueError):
        build_ics(make_event(), method)
    with pytest.raises(ValueError):
        invite_email_part(b"", method)


@pytest.mark.parametrize(
    "overrides",
    [
        {"start": datetime(2026, 6, 10, 9, 0)},
        {"end": datetime(2026, 6, 10, 8, 0, tzinfo=NEW_YORK)},
        {"status": "MAYBE"},
        {"sequence": -1},
    ],
)
def test_invalid_events_are_rejected(overrides):
    with pytest.raises(ValueError):
        make_event(**overrides)


def test_event_is_frozen():
    event = make_event()
    assert isinstance(event.attendees, tuple)
    with pytest.raises(AttributeError):
        event.sequence = 2


def test_feed_contains_all_events_and_no_method():
    events = [
        make_event(
            uid=f"session-{i}@coaching.example",
            summary=f"Session {i}",
            start=datetime(2026, 3 + i, 1, 9, 0, tzinfo=LONDON),
            end=datetime(2026, 3 + i, 1, 10, 0, tzinfo=LONDON),
            time_zone="Europe/London" if i % 2 else "America/New_York",
        )
        for i in range(4)
    ]
    data = build_feed(events, "Ann's <b>coaching</b>, sessions")
    vevents, cal, vcal = parse_both(data)

    assert "METHOD" not in cal
    assert b"METHOD" not in data
    # The name is TEXT, escaped in the file; icalendar reads X- properties raw.
    assert b"X-WR-CALNAME:Ann's coaching\\, sessions\r\n" in data
    name = unescape_backslash(str(cal["X-WR-CALNAME"]))
    assert name == "Ann's coaching, sessions"
    assert [str(v["UID"]) for v in vevents] == [e.uid for e in events]
    assert [v.decoded("DTSTART") for v in vevents] == [e.start for e in events]
    assert sorted(tz.tz_name for tz in cal.timezones) == ["America/New_York", "Europe/London"]

    assert not hasattr(vcal, "method")
    assert vcal.contents["x-wr-calname"][0].value == "Ann's coaching, sessions"
    assert [v.uid.value for v in vcal.vevent_list] == [e.uid for e in events]
    assert [v.dtstart.value for v in vcal.vevent_list] == [e.start for e in events]
    assert_crlf_and_folded(data)


def test_empty_feed():
    cal = icalendar.Calendar.from_ical(build_feed([], "Nothing yet"))
    assert cal.walk("VEVENT") == [] and "METHOD" not in cal


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_invite_email_part(method):
    ics = build_ics(make_event(summary="Café, ☕"), method)
    part = invite_email_part(ics, method)
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == method
    assert part.get_content_charset() == "utf-8"
    assert part.get_payload(decode=True) == ics

    message = EmailMultiAlternatives("Invitation", "You are invited.", to=["ann@client.example"])
    message.attach_alternative("<p>You are invited.</p>", "text/html")
    message.attach(part)
    parsed = email.message_from_bytes(message.message().as_bytes())
    [calendar_part] = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert calendar_part.get_param("method") == method
    assert calendar_part.get_content_charset() == "utf-8"
    assert calendar_part.get_payload(decode=True) == ics  # CRLF survives transport
    assert vobject.readOne(ics.decode()).vevent.summary.value == "Café, ☕"
