"""Busy times out of calendar data and the stored calendar passwords: pure functions, no
server (tests/test_calendars.py runs them against a real one)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from icalendar import Calendar

from wagtail_coaching.calendars.credentials import UnreadableSecret, decrypt, encrypt
from wagtail_coaching.calendars.reading import busy_intervals
from wagtail_coaching.scheduling.calendar import CalendarEvent, build_calendar_object

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 30, tzinfo=UTC)


def calendar(*events):
    body = "".join(
        "BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n" + e + "END:VEVENT\r\n" for e in events
    )
    return Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + body + "END:VCALENDAR\r\n"
    )


def test_a_weekly_event_keeps_its_local_time_across_daylight_saving():
    cal = calendar(
        "UID:w\r\nDTSTART;TZID=Europe/Paris:20260302T090000\r\n"
        "DTEND;TZID=Europe/Paris:20260302T100000\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\n"
        "EXDATE;TZID=Europe/Paris:20260316T090000\r\n"
    )
    found = busy_intervals([cal], START, END, UTC)
    assert [b.astimezone(PARIS).hour for b, _e in found] == [9] * 5
    assert [b.day for b, _e in found] == [2, 9, 23, 30, 6]
    # 08:00 UTC in winter, 07:00 UTC after the change of 29 March.
    assert [b.hour for b, _e in found] == [8, 8, 8, 7, 7]


def test_all_day_and_floating_events_are_read_in_the_coachs_zone():
    cal = calendar(
        "UID:a\r\nDTSTART;VALUE=DATE:20260310\r\nDTEND;VALUE=DATE:20260312\r\n",
        "UID:f\r\nDTSTART:20260320T140000\r\nDURATION:PT30M\r\n",
    )
    (day_off, floating) = busy_intervals([cal], START, END, PARIS)
    assert day_off == (datetime(2026, 3, 9, 23, tzinfo=UTC), datetime(2026, 3, 11, 23, tzinfo=UTC))
    assert floating == (datetime(2026, 3, 20, 13, tzinfo=UTC),
                        datetime(2026, 3, 20, 13, 30, tzinfo=UTC))


def test_free_cancelled_and_own_sessions_block_nothing_and_overlaps_merge():
    cal = calendar(
        "UID:free\r\nDTSTART:20260305T090000Z\r\nDTEND:20260305T100000Z\r\nTRANSP:TRANSPARENT\r\n",
        "UID:off\r\nDTSTART:20260305T110000Z\r\nDTEND:20260305T120000Z\r\nSTATUS:CANCELLED\r\n",
        "UID:one-to-one-1@wagtail-coaching\r\nDTSTART:20260305T130000Z\r\n"
        "DTEND:20260305T140000Z\r\n",
        "UID:x\r\nDTSTART:20260306T090000Z\r\nDTEND:20260306T100000Z\r\n",
        "UID:y\r\nDTSTART:20260306T093000Z\r\nDTEND:20260306T110000Z\r\n",
    )
    assert busy_intervals([cal], START, END, UTC) == [
        (datetime(2026, 3, 6, 9, tzinfo=UTC), datetime(2026, 3, 6, 11, tzinfo=UTC))
    ]


def test_a_session_stored_in_a_calendar_has_no_method_and_one_uid():
    event = CalendarEvent(
        uid="one-to-one-x@wagtail-coaching", sequence=2,
        start=datetime(2026, 3, 5, 9, tzinfo=UTC), end=datetime(2026, 3, 5, 10, tzinfo=UTC),
        summary="1:1", organizer_email="team@example.com", time_zone="Europe/Paris",
    )
    cal = Calendar.from_ical(build_calendar_object(event))
    assert "METHOD" not in cal
    (vevent,) = cal.walk("VEVENT")
    assert str(vevent["UID"]) == event.uid and int(vevent["SEQUENCE"]) == 2
    assert cal.walk("VTIMEZONE")
    with pytest.raises(ValueError):
        build_calendar_object()


def test_passwords_are_encrypted_and_keys_rotate(settings):
    settings.WAGTAIL_COACHING = {}
    token = encrypt("app-password")
    assert "app-password" not in token and decrypt(token) == "app-password"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WAGTAIL_COACHING = {"CALENDAR_ENCRYPTION_KEY": old}
    with pytest.raises(UnreadableSecret):
        decrypt(token)  # derived from SECRET_KEY, not this key
    token = encrypt("app-password")
    settings.WAGTAIL_COACHING = {"CALENDAR_ENCRYPTION_KEY": [new, old]}
    assert decrypt(token) == "app-password"
    settings.WAGTAIL_COACHING = {"CALENDAR_ENCRYPTION_KEY": "not a key"}
    with pytest.raises(ImproperlyConfigured):
        encrypt("x")


def test_a_changed_secret_key_still_decrypts_through_its_fallbacks(settings):
    settings.WAGTAIL_COACHING = {}
    token = encrypt("app-password")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "another-secret-key-for-this-test-only"
    assert decrypt(token) == "app-password"
