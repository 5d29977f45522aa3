"""Booking a person would use: the week view of free times in the client's time zone, each
session's own calendar file, and asking the coach for a time when none suits."""

import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from wagtail.users.models import UserProfile

from wagtail_coaching.conversations.notices import COACH_KIND
from wagtail_coaching.journeys import pause_enrollment
from wagtail_coaching.models import (
    AvailabilitySlot,
    CoachingSession,
    Message,
    Notification,
)
from wagtail_coaching.scheduling import cancel_session, publish_availability, reschedule_session
from wagtail_coaching.scheduling.messages import calendar_attachment
from wagtail_coaching.scheduling.time_requests import ask_for_time
from wagtail_coaching.scheduling.week import (
    WeekOutOfRange,
    bookable_weeks,
    choose_week,
    free_week,
    monday_of,
)

from .test_admin_clients import as_user
from .world import build_world
from .world_sessions import add_sessions, in_days

NEW_YORK = ZoneInfo("America/New_York")
UTC = datetime.UTC


def build_shared_world():
    return add_sessions(build_world())


@pytest.fixture
def w(shared):
    return shared


def book_url(activity, **params):
    url = reverse("wagtail_coaching:book", args=[activity.public_id])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def step_of(w, enrollment):
    return w.one_to_one[enrollment.pk]


def in_zone(user, name):
    profile, _ = UserProfile.objects.get_or_create(user=user)
    profile.current_time_zone = name
    profile.save()


# -- The week, as a pure function --------------------------------------------------------------

def dst_sunday(year):
    """The first Sunday of November: New York leaves daylight-saving time that night."""
    day = datetime.date(year, 11, 1)
    return day + timedelta(days=(6 - day.weekday()) % 7)


def test_a_week_across_the_end_of_daylight_saving_time_keeps_each_time_on_its_own_day():
    sunday = dst_sunday(2030)
    monday = monday_of(sunday)
    now = datetime.datetime.combine(monday - timedelta(days=10), datetime.time(8), tzinfo=UTC)

    def local(day, hour, minute=0):
        return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=NEW_YORK)

    times = sorted(t.astimezone(UTC) for t in (
        local(sunday - timedelta(days=1), 9),  # Saturday, still EDT (UTC-4)
        local(sunday, 9),  # Sunday, EST (UTC-5)
        local(sunday, 23, 30),  # late Sunday: Monday 04:30 in UTC, Sunday on the clock
        local(sunday + timedelta(days=1), 0, 30),  # already next week
    ))
    week = free_week(times, monday, NEW_YORK, now=now)
    assert [d.day for d in week.days] == [monday + timedelta(days=i) for i in range(7)]
    by_day = {d.day: [t.astimezone(NEW_YORK).strftime("%H:%M %z") for t in d.times]
              for d in week.days}
    assert by_day[sunday - timedelta(days=1)] == ["09:00 -0400"]
    assert by_day[sunday] == ["09:00 -0500", "23:30 -0500"]
    assert sum(len(d.times) for d in week.days) == 3
    assert week.has_times and week.next_free is None
    assert week.previous == monday - timedelta(days=7) and week.next == monday + timedelta(7)


def test_a_full_week_points_to_the_next_free_day():
    now = datetime.datetime(2030, 3, 1, 8, tzinfo=UTC)
    later = datetime.datetime(2030, 3, 19, 14, tzinfo=UTC)  # a Tuesday, two weeks on
    week = free_week([later], monday_of(datetime.date(2030, 3, 4)), UTC, now=now)
    assert not week.has_times
    assert week.next_free == later and week.next_free_monday == datetime.date(2030, 3, 18)
    # With nothing after it, there is no next free time to point to.
    assert free_week([later], datetime.date(2030, 3, 25), UTC, now=now).next_free is None


def test_the_weeks_one_can_move_to_are_those_of_the_booking_window(settings):
    now = datetime.datetime(2030, 3, 6, 12, tzinfo=UTC)  # a Wednesday
    first, last = bookable_weeks(UTC, now)
    assert first == datetime.date(2030, 3, 4)
    assert last == monday_of((now + timedelta(days=60)).date())
    assert free_week([], first, UTC, now=now).previous is None
    assert free_week([], last, UTC, now=now).next is None
    # Without a week asked for: the week of the first free time.
    soon = datetime.datetime(2030, 3, 20, 9, tzinfo=UTC)
    assert choose_week([soon], UTC, now=now) == datetime.date(2030, 3, 18)
    assert choose_week([], UTC, now=now) == first
    for outside, nearest in ((datetime.date(2029, 1, 1), first), (datetime.date(9999, 12, 31),
                                                                  last)):
        with pytest.raises(WeekOutOfRange) as caught:
            choose_week([soon], UTC, outside, now=now)
        assert caught.value.args[0] == nearest


# -- The booking page --------------------------------------------------------------------------

def test_the_week_view_shows_days_as_columns_of_time_buttons(client, w):
    as_user(client, w.client_a1)
    step = step_of(w, w.enrollment_a1)
    response = client.get(book_url(step))
    assert response.status_code == 200
    html = response.content.decode()
    free = AvailabilitySlot.objects.filter(coach=w.coach_a).exclude(
        sessions__status="booked").order_by("starts_at").first().starts_at
    assert html.count("data-day=") == 7
    assert f'value="{free.isoformat()}"' in html
    assert f'value="{w.booking_a1.starts_at.isoformat()}"' not in html
    # Each time is a labelled radio button; the day is said to screen readers too.
    assert 'type="radio" name="starts_at"' in html and "<legend" in html
    assert "coaching-visually-hidden" in html and "Book this time" in html
    assert "Next week" in html
    assert "Ask your coach for a time" in html  # when none suits


def test_the_week_is_in_the_clients_zone_across_a_daylight_saving_change(client, w, settings):
    """A New York client looking at the week New York leaves daylight-saving time: each
    time is on the day and at the hour of their clock, with the offset of that day."""
    settings.WAGTAIL_COACHING = {**settings.WAGTAIL_COACHING, "BOOKING_HORIZON_DAYS": 400}
    in_zone(w.client_a1, "America/New_York")
    sunday = dst_sunday(timezone.localdate().year)
    if sunday - timedelta(days=2) <= timezone.localdate():
        sunday = dst_sunday(timezone.localdate().year + 1)
    saturday = sunday - timedelta(days=1)
    for day, hour in ((saturday, 9), (sunday, 9), (sunday, 22)):
        start = datetime.datetime.combine(day, datetime.time(hour), tzinfo=NEW_YORK)
        publish_availability(w.coach_a, start=start, end=start + timedelta(hours=1),
                             slot_minutes=60, time_zone="America/New_York")
    as_user(client, w.client_a1)
    html = client.get(book_url(step_of(w, w.enrollment_a1), week=sunday.isoformat())).content \
        .decode()
    assert "America/New_York" in html
    assert f'datetime="{saturday.isoformat()}T09:00:00-04:00"' in html
    assert f'datetime="{sunday.isoformat()}T09:00:00-05:00"' in html
    assert f'datetime="{sunday.isoformat()}T22:00:00-05:00"' in html  # 03:00 UTC Monday
    days = html.split("data-day=")[1:]
    sunday_column = days[6]
    assert sunday_column.count('type="radio"') == 2 and "22:00:00-05:00" in sunday_column


def test_a_full_week_links_to_the_next_free_time(client, w):
    as_user(client, w.client_a1)
    step = step_of(w, w.enrollment_a1)
    later = in_days(23, 15)
    publish_availability(w.coach_a, start=later, end=later + timedelta(hours=1), slot_minutes=60)
    empty_week = monday_of(timezone.localdate() + timedelta(days=14))
    response = client.get(book_url(step, week=empty_week.isoformat()))
    html = response.content.decode()
    assert response.status_code == 200
    assert "No free time this week." in html and 'name="starts_at"' not in html
    target = monday_of(timezone.localtime(later).date())
    assert f'href="{book_url(step, week=target.isoformat())}"' in html
    assert "Next free time: " + timezone.localtime(later).strftime("%a %-d %b") in html
    followed = client.get(book_url(step, week=target.isoformat())).content.decode()
    assert f'value="{later.isoformat()}"' in followed


@pytest.mark.parametrize("value", ["tomorrow", "2030-02-30", "1e9", "2030-1-1T00", "-1"])
def test_an_unreadable_week_is_a_400_with_the_first_free_week(client, w, value):
    as_user(client, w.client_a1)
    response = client.get(book_url(step_of(w, w.enrollment_a1), week=value))
    assert response.status_code == 400
    assert any("could not be read" in t for t in texts(response))
    assert 'name="starts_at"' in response.content.decode()


@pytest.mark.parametrize("value", ["0001-01-01", "1999-12-31", "9999-12-31"])
def test_a_week_out_of_reach_falls_back_to_the_nearest_with_a_message(client, w, value):
    as_user(client, w.client_a1)
    response = client.get(book_url(step_of(w, w.enrollment_a1), week=value))
    assert response.status_code == 200
    assert any("nearest week you can book" in t for t in texts(response))


def test_the_week_view_costs_the_same_for_few_or_many_slots(
    client, w, django_assert_max_num_queries
):
    as_user(client, w.client_a1)
    start = in_days(4, 8)
    url = book_url(step_of(w, w.enrollment_a1),
                   week=timezone.localtime(start).date().isoformat())
    client.get(url)  # warm up (content types, the user's profile)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    publish_availability(w.coach_a, start=start, end=start + timedelta(hours=10),
                         slot_minutes=60, weeks=6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.content.decode().count('name="starts_at"') >= 10


def test_booking_from_the_week_view(client, w):
    as_user(client, w.client_a1)
    step = step_of(w, w.enrollment_a1)
    free = AvailabilitySlot.objects.filter(coach=w.coach_a).exclude(
        sessions__status="booked").order_by("starts_at").first().starts_at
    response = client.post(book_url(step), {"starts_at": free.isoformat()})
    assert response.status_code == 302
    assert CoachingSession.objects.filter(activity=step, starts_at=free, status="booked").exists()


# -- Each session's own calendar file ----------------------------------------------------------

def calendar_url(session):
    return reverse("wagtail_coaching:session_calendar", args=[session.public_id])


def test_a_session_file_is_the_invitations_event(client, w):
    session = reschedule_session(w.booking_a1, in_days(2, 11), actor=w.client_a1)
    as_user(client, w.client_a1)
    response = client.get(calendar_url(session))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"].startswith("attachment;")
    calendar = Calendar.from_ical(response.content)
    assert calendar.get("METHOD") is None  # added to a calendar, not an invitation to answer
    (event,) = calendar.walk("VEVENT")
    notice = Notification.objects.filter(
        recipient=w.client_a1, kind="one_to_one_rescheduled").latest("pk")
    (invite_event,) = Calendar.from_ical(
        calendar_attachment(notice.payload).get_payload(decode=True)).walk("VEVENT")
    assert str(event["UID"]) == str(invite_event["UID"]) == session.uid
    assert int(event["SEQUENCE"]) == int(invite_event["SEQUENCE"]) == session.sequence == 1
    assert event.decoded("DTSTART") == session.starts_at
    assert event.decoded("DTEND") == session.ends_at
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(w.enrollment_a1.engagement.title) in str(event["SUMMARY"])
    # A cancelled session's file says so (a calendar that has it drops it).
    cancel_session(session, actor=w.coach_a)
    again = Calendar.from_ical(client.get(calendar_url(session)).content)
    (cancelled,) = again.walk("VEVENT")
    assert str(cancelled["STATUS"]) == "CANCELLED" and int(cancelled["SEQUENCE"]) == 2


@pytest.mark.parametrize("who, status", [
    ("client_a1", 200), ("coach_a", 200), ("admin", 200),
    ("client_a2", 404), ("client_b1", 404), ("coach_b", 404), ("hr_acme", 404),
    ("sales", 404),
])
def test_only_the_client_and_staff_get_a_sessions_file(client, w, who, status):
    as_user(client, getattr(w, who))
    assert client.get(calendar_url(w.booking_a1)).status_code == status


def test_the_file_is_reached_by_public_id_only(client, w):
    as_user(client, w.client_a1)
    assert client.get(f"/coaching/one-to-one/{w.booking_a1.pk}/calendar.ics").status_code == 404


def test_sessions_page_and_step_page_offer_add_to_calendar(client, w):
    as_user(client, w.client_a1)
    link = f'href="{calendar_url(w.booking_a1)}"'
    assert link in client.get(reverse("wagtail_coaching:sessions")).content.decode()
    step = step_of(w, w.enrollment_a1)
    page = client.get(reverse("wagtail_coaching:activity", args=[step.public_id]))
    assert link in page.content.decode() and "Add to calendar" in page.content.decode()


# -- Asking for a time -------------------------------------------------------------------------

def ask_url(step):
    return reverse("wagtail_coaching:ask_for_time", args=[step.public_id])


def coach_notices(w):
    return Notification.objects.filter(recipient=w.coach_a, kind=COACH_KIND)


def test_asking_for_a_time_writes_one_message_and_tells_the_coach(client, w):
    step = step_of(w, w.enrollment_a1)
    as_user(client, w.client_a1)
    data = {"days": ["mon", "wed"], "parts_of_day": ["evening"], "note": "After 6 works."}
    response = client.post(ask_url(step), data)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "wagtail_coaching:conversation", args=[w.enrollment_a1.public_id])
    (message,) = Message.objects.filter(conversation__enrollment=w.enrollment_a1)
    assert message.author == w.client_a1
    assert "Coaching sessions" in message.body  # the step
    assert "Monday, Wednesday" in message.body and "evenings" in message.body
    assert "After 6 works." in message.body
    assert coach_notices(w).filter(channel="in_app").count() == 1
    assert coach_notices(w).filter(channel="email").count() == 1
    # Sent again (a double click, a reload): still one message, one notice each.
    client.post(ask_url(step), data)
    assert Message.objects.filter(conversation__enrollment=w.enrollment_a1).count() == 1
    assert coach_notices(w).count() == 2


@pytest.mark.parametrize("data", [
    {}, {"days": ["someday"]}, {"parts_of_day": ["midnight"]}, {"note": "   "},
    {"note": "x" * 1001},
])
def test_an_empty_or_odd_ask_changes_nothing(client, w, data):
    as_user(client, w.client_a1)
    response = client.post(ask_url(step_of(w, w.enrollment_a1)), data)
    assert response.status_code == 400
    assert not Message.objects.exists() and not coach_notices(w).exists()


def test_no_ask_from_a_paused_engagement(client, w):
    step = step_of(w, w.enrollment_a1)
    pause_enrollment(w.enrollment_a1)
    as_user(client, w.client_a1)
    response = client.post(ask_url(step), {"days": ["mon"]})
    assert response.status_code in (404, 409)
    assert not Message.objects.exists()


def test_another_clients_step_does_not_exist_here(client, w):
    as_user(client, w.client_a2)
    response = client.post(ask_url(step_of(w, w.enrollment_a1)), {"days": ["mon"]})
    assert response.status_code == 404
    assert not Message.objects.exists()


def test_with_no_free_time_the_page_asks_instead_of_a_dead_end(client, w):
    AvailabilitySlot.objects.filter(coach=w.coach_a).exclude(
        sessions__status="booked").delete()
    as_user(client, w.client_a1)
    html = client.get(book_url(step_of(w, w.enrollment_a1))).content.decode()
    assert 'name="starts_at"' not in html
    assert "Ask your coach for a time" in html
    assert f'action="{ask_url(step_of(w, w.enrollment_a1))}"' in html


def test_the_service_refuses_a_used_up_allotment(w):
    from wagtail_coaching.scheduling import AllotmentUsedUp, book_session

    step = step_of(w, w.enrollment_a1)
    free = list(AvailabilitySlot.objects.filter(coach=w.coach_a).exclude(
        sessions__status="booked").order_by("starts_at").values_list("starts_at", flat=True))
    start = in_days(5, 9)
    publish_availability(w.coach_a, start=start, end=start + timedelta(hours=2),
                         slot_minutes=60)
    for when in [*free, start, start + timedelta(hours=1)][:2]:
        book_session(step, when, actor=w.client_a1)
    with pytest.raises(AllotmentUsedUp):
        ask_for_time(step, w.client_a1, days=["mon"])
    assert not Message.objects.exists()


# -- A time at the end of a sentence brings no second full stop ------------------------------

def test_moving_a_session_says_its_new_time_with_one_full_stop(client, w):
    as_user(client, w.client_a1)
    new_time = in_days(2, 11)
    response = client.post(
        reverse("wagtail_coaching:reschedule", args=[w.booking_a1.public_id]),
        {"starts_at": new_time.isoformat()},
    )
    (text,) = texts(response)
    assert "The session is moved to" in text
    assert "a.m. Calendars" in text or "p.m. Calendars" in text, text  # "10 a.m." ends in "."
    assert ".." not in text, text


def test_the_privacy_page_says_when_consent_changed_with_one_full_stop(client, w):
    from wagtail_coaching.journeys import set_consent
    from wagtail_coaching.models import ConsentPurpose

    afternoon = timezone.now().replace(hour=15, minute=0)
    set_consent(w.client_a1, ConsentPurpose.SHARE_PROGRESS, True, now=afternoon)
    as_user(client, w.client_a1)
    html = client.get(reverse("wagtail_coaching:privacy")).content.decode()
    assert "Last changed" in html
    assert ".." not in html.split("Last changed", 1)[1].split("</p>", 1)[0]


def test_a_held_session_stays_confirmed_in_its_file_and_the_feed(client, w):
    from wagtail_coaching.scheduling import feed_calendar, record_session

    CoachingSession.objects.filter(pk=w.booking_a1.pk).update(
        starts_at=timezone.now() - timedelta(hours=2), ends_at=timezone.now() - timedelta(hours=1))
    w.booking_a1.refresh_from_db()
    record_session(w.booking_a1, outcome="completed", actor=w.coach_a)
    as_user(client, w.client_a1)
    (event,) = Calendar.from_ical(client.get(calendar_url(w.booking_a1)).content).walk("VEVENT")
    assert str(event["STATUS"]) == "CONFIRMED"
    feed = {str(e["UID"]): e for e in Calendar.from_ical(
        feed_calendar(w.client_a1)).walk("VEVENT")}
    assert str(feed[w.booking_a1.uid]["STATUS"]) == "CONFIRMED"
