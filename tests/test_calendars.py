"""Coaches' own calendars over CalDAV, against a real server (Radicale, ``radicale`` in
tests/conftest.py): connect, read busy times (a weekly recurring event, an all-day event in
the coach's zone), book around them, write a session into the coach's calendar, move it,
cancel it, reassign it away; and the calendar servers that fail (wrong password, no answer,
garbage, down for a while)."""

import time
from datetime import UTC, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from wagtail_coaching.calendars.client import NotCalDAV, Unreachable, WrongCredentials
from wagtail_coaching.calendars.connections import choose_calendars, connect, disconnect
from wagtail_coaching.calendars.sync import FAILING, OK, STALE, health, refresh_busy_times
from wagtail_coaching.journeys import add_extra_activity
from wagtail_coaching.models import (
    CalendarBusyTime,
    CalendarConnection,
    CalendarEntry,
    CoachingSession,
    CoachProfile,
    GroupSession,
)
from wagtail_coaching.scheduling import (
    SessionPlan,
    SlotTaken,
    book_session,
    bookable_times,
    cancel_session,
    cancel_sessions,
    create_sessions,
    publish_availability,
    reassign_with_sessions,
    reschedule_session,
)
from wagtail_coaching.tasks import sync_calendars
from wagtail_coaching.testing.jobs import drain

from .caldav_server import USERS, free_port, garbage_server, silent_server
from .world import build_world
from .world_sessions import ONE_TO_ONE, in_days

pytestmark = pytest.mark.usefixtures("enqueue_at_once")
ZONE = "America/New_York"
PASSWORD = USERS["coach"]


def build_shared_world():
    w = build_world()
    CoachProfile.objects.filter(user=w.coach_a).update(time_zone=ZONE)
    for day in (3, 4):
        publish_availability(w.coach_a, start=in_days(day, 9), end=in_days(day, 15),
                             slot_minutes=60, time_zone="UTC")
    publish_availability(w.coach_a, start=in_days(5, 2), end=in_days(5, 4), slot_minutes=60,
                         time_zone="UTC")
    publish_availability(w.coach_a2, start=in_days(3, 9), end=in_days(3, 15), slot_minutes=60,
                         time_zone="UTC")
    w.allotment = add_extra_activity(w.enrollment_a1, "one_to_one",
                                     {**ONE_TO_ONE, "sessions": 5})
    mail.outbox.clear()
    return w


@pytest.fixture
def w(shared):
    return shared


def event_ics(uid, start, end=None, *, rrule="", all_day=False, extra=""):
    if all_day:
        times = f"DTSTART;VALUE=DATE:{start:%Y%m%d}\r\nDTEND;VALUE=DATE:{end:%Y%m%d}\r\n"
    else:
        times = f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{end:%Y%m%dT%H%M%SZ}\r\n"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{times}"
        + (f"RRULE:{rrule}\r\n" if rrule else "") + extra
        + "SUMMARY:Private\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def calendars(radicale, w):
    """The coach's own calendars on the server, connected: busy times from "Work",
    sessions written into "Sessions"."""
    work = radicale.new_calendar("Work")
    sessions = radicale.new_calendar("Sessions")
    connection = connect(w.coach_a, url=radicale.home(), username="coach", password=PASSWORD)
    choose_calendars(connection, busy=[str(work.url)], write=str(sessions.url))
    drain()
    return work, sessions


def move_to(connection, url):
    """Point every address of the connection (account, calendars) at another server, as
    when its server is down: each request goes there."""
    old = connection.url
    CalendarConnection.objects.filter(pk=connection.pk).update(
        url=url,
        busy_calendars=[u.replace(old, url) for u in connection.busy_calendars],
        write_calendar=connection.write_calendar.replace(old, url),
    )
    connection.refresh_from_db()
    return old


def server_events(calendar):
    """{uid: VEVENT} of what the server holds in ``calendar`` now."""
    found = {}
    for obj in calendar.events():
        for event in Calendar.from_ical(obj.data).walk("VEVENT"):
            found[str(event["UID"])] = event
    return found


# -- Reading busy times ---------------------------------------------------------------------

def test_busy_times_remove_free_times_in_every_zone(w, calendars, radicale):
    work, _sessions = calendars
    # Weekly since two weeks ago, so only its expansion reaches day 3 at 10:00 UTC.
    work.save_event(event_ics("weekly-1", in_days(3, 10) - timedelta(days=14),
                              in_days(3, 11) - timedelta(days=14), rrule="FREQ=WEEKLY"))
    # All day on day 4 in the coach's zone (New York): 05:00 UTC on day 4 to 05:00 UTC on
    # day 5, so day 5 at 03:00 UTC (22:00 in New York) is busy too.
    day4 = in_days(4).astimezone(UTC).date()
    work.save_event(event_ics("holiday", day4, day4 + timedelta(days=1), all_day=True))
    # Free (transparent) and cancelled events block nothing.
    work.save_event(event_ics("maybe", in_days(3, 13), in_days(3, 14),
                              extra="TRANSP:TRANSPARENT\r\n"))
    work.save_event(event_ics("off", in_days(3, 14), in_days(3, 15),
                              extra="STATUS:CANCELLED\r\n"))
    assert refresh_busy_times(CalendarConnection.objects.get(user=w.coach_a).pk)

    offered = set(bookable_times(w.allotment))
    assert in_days(3, 10) not in offered
    assert {in_days(3, 9), in_days(3, 11), in_days(3, 13), in_days(3, 14)} <= offered
    assert not any(t.date() == in_days(4).date() and t.hour >= 5 for t in offered)
    assert in_days(5, 3) not in offered  # 22:00 in New York, still the holiday
    # The late evening before it starts, in New York, is still free.
    assert in_days(5, 2) not in offered and in_days(4, 9) not in offered
    # Staff booking outside availability is refused too, with the reason.
    with pytest.raises(SlotTaken, match="calendar shows them busy"):
        book_session(w.allotment, in_days(3, 10), actor=w.admin)
    with pytest.raises(SlotTaken, match="calendar shows them busy"):
        book_session(w.allotment, in_days(4, 20), actor=w.admin, override=True)


def test_a_session_is_written_moved_and_removed_in_the_coachs_calendar(w, calendars):
    _work, sessions = calendars
    session = book_session(w.allotment, in_days(3, 11), actor=w.client_a1)
    drain()
    (event,) = server_events(sessions).values()
    assert str(event["UID"]) == session.uid  # the invitations' UID
    assert event.decoded("DTSTART") == in_days(3, 11)
    assert "1:1" in str(event["SUMMARY"]) and "METHOD" not in sessions.events()[0].data

    reschedule_session(session, in_days(3, 12), actor=w.client_a1)
    drain()
    (moved,) = server_events(sessions).values()
    assert moved.decoded("DTSTART") == in_days(3, 12) and int(moved["SEQUENCE"]) == 1
    # Written twice (a job run again): still one event.
    CalendarEntry.objects.filter(user=w.coach_a).update(written_version=0)
    drain()
    sync_calendars.send()
    drain()
    assert len(server_events(sessions)) == 1

    cancel_session(session, actor=w.client_a1)
    drain()
    assert server_events(sessions) == {}
    assert not CalendarEntry.objects.filter(user=w.coach_a).exists()


def test_a_coach_reassigned_away_loses_the_session(w, calendars, radicale):
    _work, sessions = calendars
    session = book_session(w.allotment, in_days(3, 9), actor=w.client_a1)
    drain()
    assert session.uid in server_events(sessions)
    reassign_with_sessions(w.enrollment_a1, coach=w.coach_a2, default="move", actor=w.admin)
    drain()
    assert server_events(sessions) == {}


def test_group_sessions_the_coach_leads_are_written_and_removed(w, calendars):
    _work, sessions = calendars
    (group,) = create_sessions(
        SessionPlan(title="Circle", coach=w.coach_a, team=w.team_a, starts_at=in_days(6, 17),
                    duration=timedelta(hours=1), capacity=5),
        [in_days(6, 17)], invite=False,
    )
    drain()
    assert str(server_events(sessions)[group.uid]["SUMMARY"]) == "Circle"
    cancel_sessions(GroupSession.objects.get(pk=group.pk))
    drain()
    assert group.uid not in server_events(sessions)


def test_a_busy_time_added_after_the_page_opened_refuses_the_booking(
    client, w, calendars, settings
):
    work, _sessions = calendars
    settings.WAGTAIL_COACHING = {"CALENDAR_REFRESH_BEFORE_BOOKING_SECONDS": 0}
    url = reverse("wagtail_coaching:book", args=[w.allotment.public_id])
    client.force_login(w.client_a1)
    page = client.get(url).content.decode()
    assert f'value="{in_days(3, 13).isoformat()}"' in page
    work.save_event(event_ics("dentist", in_days(3, 13), in_days(3, 14)))
    response = client.post(url, {"starts_at": in_days(3, 13).isoformat()}, follow=True)
    assert "calendar shows them busy" in response.content.decode()
    assert not CoachingSession.objects.filter(
        activity=w.allotment, starts_at=in_days(3, 13)
    ).exists()
    # The page no longer offers it.
    assert f'value="{in_days(3, 13).isoformat()}"' not in client.get(url).content.decode()


# -- Servers that fail -----------------------------------------------------------------------

def test_a_wrong_password_is_said_and_nothing_is_stored(w, radicale):
    with pytest.raises(WrongCredentials, match="refused the user name or the app password"):
        connect(w.coach_a, url=radicale.home(), username="coach", password="wrong")
    assert not CalendarConnection.objects.exists()


def test_a_server_that_never_answers_times_out(w, settings):
    settings.WAGTAIL_COACHING = {"CALENDAR_TIMEOUT_SECONDS": 0.5}
    with silent_server() as url:
        began = time.monotonic()
        with pytest.raises(Unreachable, match="did not answer in time"):
            connect(w.coach_a, url=url, username="coach", password=PASSWORD)
        assert time.monotonic() - began < 5
    assert not CalendarConnection.objects.exists()


def test_a_closed_port_is_unreachable(w):
    with pytest.raises(Unreachable, match="cannot be reached"):
        connect(w.coach_a, url=f"http://127.0.0.1:{free_port()}/", username="coach",
                password=PASSWORD)


def test_a_server_that_answers_garbage_is_not_caldav(w):
    with garbage_server() as url:
        with pytest.raises(NotCalDAV, match="No event calendar was found at that address"):
            connect(w.coach_a, url=url, username="coach", password=PASSWORD)
    assert not CalendarConnection.objects.exists()


def test_a_server_down_keeps_the_last_busy_times_for_a_bounded_time(w, calendars, settings):
    work, _sessions = calendars
    work.save_event(event_ics("block", in_days(3, 10), in_days(3, 11)))
    connection = CalendarConnection.objects.get(user=w.coach_a)
    assert refresh_busy_times(connection.pk)
    move_to(connection, f"http://127.0.0.1:{free_port()}/")
    assert not refresh_busy_times(connection.pk)
    connection.refresh_from_db()
    assert health(connection).state == FAILING and connection.next_sync_at > timezone.now()
    assert "cannot be reached" in health(connection).message
    assert in_days(3, 10) not in bookable_times(w.allotment)  # still in force
    # Past CALENDAR_BUSY_KEEP_HOURS they no longer count, and the warning says so.
    CalendarConnection.objects.filter(pk=connection.pk).update(
        synced_at=timezone.now() - timedelta(hours=25)
    )
    connection.refresh_from_db()
    assert health(connection).state == STALE
    assert in_days(3, 10) in bookable_times(w.allotment)


def test_a_write_that_fails_is_retried_with_backoff_and_written_once(w, calendars, radicale):
    _work, sessions = calendars
    connection = CalendarConnection.objects.get(user=w.coach_a)
    good_url = move_to(connection, f"http://127.0.0.1:{free_port()}/")
    session = book_session(w.allotment, in_days(3, 14), actor=w.client_a1)
    drain()
    entry = CalendarEntry.objects.get(user=w.coach_a, uid=session.uid)
    assert entry.written_version < entry.version and entry.next_try_at > timezone.now()
    assert "cannot be reached" in entry.last_error
    sync_calendars.send()
    drain()  # waiting out its backoff: not tried
    assert CalendarEntry.objects.get(pk=entry.pk).attempts == 1
    move_to(connection, good_url)
    CalendarEntry.objects.filter(pk=entry.pk).update(next_try_at=timezone.now())
    sync_calendars.send()
    drain()
    assert list(server_events(sessions)) == [session.uid]
    entry.refresh_from_db()
    assert entry.written_version == entry.version and entry.last_error == ""


def test_disconnecting_forgets_the_password_and_the_busy_times(w, calendars):
    work, _sessions = calendars
    work.save_event(event_ics("block", in_days(3, 10), in_days(3, 11)))
    refresh_busy_times(CalendarConnection.objects.get(user=w.coach_a).pk)
    assert CalendarBusyTime.objects.filter(user=w.coach_a).exists()
    disconnect(w.coach_a)
    assert not CalendarConnection.objects.exists() and not CalendarBusyTime.objects.exists()
    assert in_days(3, 10) in bookable_times(w.allotment)


def test_the_password_is_stored_encrypted(w, calendars):
    connection = CalendarConnection.objects.get(user=w.coach_a)
    assert PASSWORD not in connection.secret
    assert health(connection).state == OK


# -- The admin pages -------------------------------------------------------------------------

MY_CALENDAR = reverse("wagtail_coaching_admin:my_calendar")
CONNECT = reverse("wagtail_coaching_admin:my_calendar_connect")
CHOOSE = reverse("wagtail_coaching_admin:my_calendar_choose")
CONNECTIONS = reverse("wagtail_coaching_admin:calendar_connections")


def test_connecting_from_my_calendar_never_shows_the_password_again(client, w, radicale):
    client.force_login(w.coach_a)
    refused = client.post(CONNECT, {"url": radicale.home(), "username": "coach",
                                     "password": "wrong"})
    assert refused.status_code == 200
    assert "refused the user name or the app password" in refused.content.decode()
    assert not CalendarConnection.objects.exists()
    work = radicale.new_calendar("Work")
    done = client.post(CONNECT, {"url": radicale.home(), "username": "coach",
                                 "password": PASSWORD})
    assert done.status_code == 302
    page = client.get(MY_CALENDAR).content.decode()
    assert PASSWORD not in page and "Work" in page and 'type="password"' in page
    client.post(CHOOSE, {"busy": [str(work.url)], "write": ""})
    connection = CalendarConnection.objects.get(user=w.coach_a)
    assert connection.busy_calendars == [str(work.url)] and connection.write_calendar == ""
    # Only calendars of the account can be chosen.
    odd = client.post(CHOOSE, {"busy": ["https://elsewhere.example/cal/"]})
    assert odd.status_code == 200 and "Select a valid choice" in odd.content.decode()


@pytest.mark.parametrize("data", [
    {"url": "https://cal.example.com/\x00", "username": "coach", "password": "x"},
    {"url": "https://cal.example.com/", "username": "co\x00ach", "password": "x"},
    {"url": "javascript:alert(1)", "username": "coach", "password": "x"},
    {"url": "https://cal.example.com/"},
])
def test_bad_connect_input_is_refused_and_changes_nothing(client, w, data):
    client.force_login(w.coach_a)
    response = client.post(CONNECT, data)
    assert response.status_code in (200, 400)
    assert not CalendarConnection.objects.exists()


def test_admins_see_every_connection_status_never_a_password(
    client, w, calendars, django_assert_max_num_queries
):
    CalendarConnection.objects.filter(user=w.coach_a).update(
        last_error="The calendar server cannot be reached at that address.",
        synced_at=timezone.now(),
    )
    for n in range(5):
        CalendarConnection.objects.create(
            user=w.coach_b if n == 0 else w.coach_a2 if n == 1 else
            type(w.coach_a).objects.create(username=f"extra{n}"),
            url="https://cal.example.com/", username=f"u{n}", secret="x",
        )
    client.force_login(w.admin)
    with django_assert_max_num_queries(14):
        page = client.get(CONNECTIONS).content.decode()
    assert "127.0.0.1" in page and "cannot be reached" in page and PASSWORD not in page
    assert page.count('<td class="title">') == 6
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert "Calendars that cannot be reached" in home
    # A coach sees their own only.
    client.force_login(w.coach_b)
    page = client.get(CONNECTIONS).content.decode()
    assert page.count('<td class="title">') == 1 and "127.0.0.1" not in page
    assert "Calendars that cannot be reached" not in client.get(
        reverse("wagtailadmin_home")).content.decode()
