"""The staff side of 1:1 sessions: availability, the 1:1 sessions list and page (record,
reschedule, cancel), "My calendar", the dashboard's upcoming sessions and the client card's
sessions. Who may open each URL at all is tests/test_admin_matrix.py's
(tests/routes_one_to_one_admin.py)."""

import datetime
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wagtail_coaching.admin.panels import UpcomingSessionsPanel, upcoming_sessions
from wagtail_coaching.journeys import add_extra_activity
from wagtail_coaching.models import (
    ActivityState,
    Audience,
    AvailabilitySlot,
    CalendarFeed,
    CoachingSession,
    CoachingSessionStatus,
    CoachProfile,
    Notification,
    SessionNote,
)
from wagtail_coaching.permissions import visible
from wagtail_coaching.scheduling import (
    SessionPlan,
    book_session,
    cancel_session,
    change_coach,
    create_sessions,
    publish_availability,
    record_session,
    register,
)

from .test_admin_clients import admin_world, as_user, card_url, message_texts
from .text import mentions
from .world_sessions import add_sessions, in_days

AVAILABILITY = "/admin/coaching/availability/"
PUBLISH = "/admin/coaching/availability/create/"
SESSIONS = "/admin/coaching/one-to-one/"
UTC = ZoneInfo("UTC")


def build_shared_world():
    return add_sessions(admin_world())


@pytest.fixture
def world(shared):
    return shared


def page_url(session):
    return reverse("coaching_one_to_one_modeladmin_inspect", args=[session.pk])


def action_url(name, obj):
    return reverse(f"wagtail_coaching_admin:{name}", args=[obj.public_id])


def html_of(response):
    return response.content.decode()


def free_slot(coach):
    booked = CoachingSession.objects.filter(status=CoachingSessionStatus.BOOKED).values("slot_id")
    return (
        AvailabilitySlot.objects.filter(coach=coach).exclude(pk__in=booked)
        .order_by("starts_at").first()
    )


def notifications(kind, **filters):
    return list(Notification.objects.filter(kind=kind, **filters).order_by("pk"))


# -- Availability: the list --------------------------------------------------------------------

@pytest.mark.parametrize("who, coaches", [
    ("admin", {"coach_a", "coach_a2", "coach_b"}),
    ("coach_a", {"coach_a"}),
    ("coach_b", {"coach_b"}),
])
def test_the_availability_list_shows_the_visible_coaches_slots(client, world, who, coaches):
    html = html_of(as_user(client, getattr(world, who)).get(AVAILABILITY))
    shown = {u.username for u in (world.coach_a, world.coach_a2, world.coach_b)
             if u.get_full_name() in html}
    assert shown == coaches


def test_a_booked_slot_names_its_client_for_whoever_may_see_the_session(client, world):
    html = html_of(as_user(client, world.coach_a).get(AVAILABILITY))
    assert f'href="{page_url(world.booking_a1)}">Ada Acme</a>' in html
    assert "Free" in html
    assert "Bea Globex" not in html
    # The free slot can be withdrawn; the booked one cannot.
    assert html.count("/remove/") == 1
    assert action_url("slot_remove", free_slot(world.coach_a)) in html


def test_past_slots_are_not_listed(client, world):
    with time_machine.travel(in_days(4)):
        html = html_of(as_user(client, world.coach_a).get(AVAILABILITY))
    assert "Ada Acme" not in html and not mentions(html, "Free")


def availability_queries(client, user):
    as_user(client, user)
    client.get(AVAILABILITY)  # warm the session and caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(AVAILABILITY).status_code == 200
    return len(queries)


def test_the_availability_list_runs_a_fixed_number_of_queries(client, world):
    few = availability_queries(client, world.coach_a)
    publish_availability(world.coach_a, start=in_days(5), end=in_days(5, 20), slot_minutes=30)
    extra = add_extra_activity(world.enrollment_a1, "one_to_one", {
        "title": "More", "sessions": 5, "duration_minutes": 30,
    })
    for hour in (10, 11, 12):
        book_session(extra, in_days(5, hour), actor=world.client_a1)
    assert AvailabilitySlot.objects.filter(coach=world.coach_a).count() > 20
    assert availability_queries(client, world.coach_a) == few


# -- Availability: publishing ------------------------------------------------------------------

def publish_data(day, start="09:00", end="11:00", minutes=60, weeks=1, zone="UTC", **extra):
    return {"date": day.isoformat(), "start_time": start, "end_time": end,
            "slot_minutes": minutes, "weeks": weeks, "time_zone": zone, **extra}


def test_a_coach_publishes_their_own_availability(client, world):
    day = (timezone.now() + timedelta(days=10)).date()
    as_user(client, world.coach_b)
    form = html_of(client.get(PUBLISH))
    assert 'name="coach"' not in form  # a coach publishes for themselves
    # An id of another coach slipped into the form changes nothing.
    response = client.post(PUBLISH, publish_data(day, coach=world.coach_a.pk))
    assert response.status_code == 302 and response["Location"] == AVAILABILITY
    assert message_texts(response) == ["2 slots published."]
    slots = AvailabilitySlot.objects.filter(starts_at__date=day)
    assert [(s.coach, s.starts_at.astimezone(UTC).hour) for s in slots] == [
        (world.coach_b, 9), (world.coach_b, 10)
    ]


def test_an_admin_publishes_for_any_coach(client, world):
    day = (timezone.now() + timedelta(days=10)).date()
    as_user(client, world.admin)
    assert 'name="coach"' in html_of(client.get(PUBLISH))
    response = client.post(PUBLISH, publish_data(day, coach=world.coach_a2.pk, minutes=30))
    assert response.status_code == 302
    assert AvailabilitySlot.objects.filter(starts_at__date=day, coach=world.coach_a2).count() == 4
    # Without a coach there is nothing to publish.
    response = client.post(PUBLISH, publish_data(day + timedelta(days=1)))
    assert response.status_code == 400
    assert not AvailabilitySlot.objects.filter(starts_at__date=day + timedelta(days=1)).exists()


def test_the_coachs_time_zone_is_the_default(client, world):
    CoachProfile.objects.filter(user=world.coach_b).update(time_zone="America/New_York")
    day = (timezone.now() + timedelta(days=10)).date()
    as_user(client, world.coach_b)
    assert '<option value="America/New_York" selected>' in html_of(client.get(PUBLISH))
    as_user(client, world.admin)
    client.post(PUBLISH, publish_data(day, coach=world.coach_b.pk, zone=""))
    slot = AvailabilitySlot.objects.filter(coach=world.coach_b, starts_at__date__gte=day).first()
    assert slot.starts_at.astimezone(ZoneInfo("America/New_York")).hour == 9


def test_weekly_availability_keeps_its_local_time_across_a_clock_change(client, world):
    # Paris moves to summer time on Sunday 31 March 2030.
    with time_machine.travel(datetime.datetime(2030, 3, 1, 12, tzinfo=UTC)):
        response = as_user(client, world.coach_a).post(PUBLISH, publish_data(
            datetime.date(2030, 3, 18), start="09:00", end="10:00", weeks=3,
            zone="Europe/Paris",
        ))
    assert response.status_code == 302
    starts = list(
        AvailabilitySlot.objects.filter(coach=world.coach_a, starts_at__year=2030)
        .values_list("starts_at", flat=True)
    )
    assert [s.astimezone(UTC).strftime("%m-%d %H:%M") for s in starts] == [
        "03-18 08:00", "03-25 08:00", "04-01 07:00"
    ]
    paris = ZoneInfo("Europe/Paris")
    assert {s.astimezone(paris).strftime("%a %H:%M") for s in starts} == {"Mon 09:00"}


def test_overlapping_availability_is_refused_and_nothing_is_created(client, world):
    day = in_days(2).date()  # world_sessions offers 10:00-12:00 UTC that day
    before = AvailabilitySlot.objects.count()
    response = as_user(client, world.coach_a).post(
        PUBLISH, publish_data(day, start="08:00", end="12:00", weeks=2)
    )
    assert response.status_code == 400
    assert "overlap availability you already offer" in html_of(response)
    assert AvailabilitySlot.objects.count() == before


@pytest.mark.parametrize("change, error", [
    ({"start_time": "11:00", "end_time": "09:00"}, "The end must be after the start."),
    ({"slot_minutes": 10}, "Slots are at least 15 minutes long."),
    ({"weeks": 0}, "Repeat for 1 to 52 weeks."),
    ({"weeks": 53}, "Repeat for 1 to 52 weeks."),
    ({"date": "2001-01-01"}, "Availability must be in the future."),
    ({"start_time": "09:00", "end_time": "09:30"}, "The time given is shorter than one slot."),
    ({"date": "not a date"}, "Enter a valid date."),
    ({"time_zone": "Mars/Olympus"}, "Select a valid choice."),
])
def test_bad_availability_says_why_and_creates_nothing(client, world, change, error):
    day = (timezone.now() + timedelta(days=10)).date()
    before = AvailabilitySlot.objects.count()
    response = as_user(client, world.coach_a).post(PUBLISH, {**publish_data(day), **change})
    assert response.status_code == 400
    assert error in html_of(response)
    assert AvailabilitySlot.objects.count() == before


@pytest.mark.parametrize("who", ["sales", "hr_acme"])
def test_only_coaches_and_admins_publish(client, world, who):
    day = (timezone.now() + timedelta(days=10)).date()
    as_user(client, getattr(world, who))
    assert client.get(PUBLISH).status_code == 403
    assert client.post(PUBLISH, publish_data(day)).status_code == 403
    assert not AvailabilitySlot.objects.filter(starts_at__date=day).exists()


# -- Availability: withdrawing -----------------------------------------------------------------

def test_a_free_slot_is_withdrawn(client, world):
    slot = free_slot(world.coach_a)
    as_user(client, world.coach_a)
    confirm = html_of(client.get(action_url("slot_remove", slot)))
    assert "Withdraw" in confirm and "<form" in confirm
    response = client.post(action_url("slot_remove", slot))
    assert response.status_code == 302 and response["Location"] == AVAILABILITY
    assert message_texts(response)[0].startswith("The time ")
    assert not AvailabilitySlot.objects.filter(pk=slot.pk).exists()


def test_a_booked_slot_stays(client, world):
    slot = world.booking_a1.slot
    response = as_user(client, world.admin).post(action_url("slot_remove", slot))
    assert response.status_code == 302
    assert message_texts(response) == [
        "This slot is booked: reschedule or cancel the session first."
    ]
    assert AvailabilitySlot.objects.filter(pk=slot.pk).exists()


@pytest.mark.parametrize("who, status", [("coach_b", 404), ("coach_a2", 404), ("sales", 404)])
def test_another_coachs_slot_does_not_exist(client, world, who, status):
    slot = free_slot(world.coach_a)
    response = as_user(client, getattr(world, who)).post(action_url("slot_remove", slot))
    assert response.status_code == status
    assert AvailabilitySlot.objects.filter(pk=slot.pk).exists()


# -- The 1:1 sessions list ---------------------------------------------------------------------

def listed_sessions(response):
    ids = {int(i) for i in re.findall(r"/admin/coaching/one-to-one/inspect/(\d+)/",
                                      html_of(response))}
    return sorted(CoachingSession.objects.filter(pk__in=ids).values_list(
        "enrollment__client__username", flat=True))


@pytest.mark.parametrize("who, clients", [
    ("admin", ["client_a1", "client_b1"]),
    ("coach_a", ["client_a1"]),
    ("coach_a2", ["client_a1"]),  # the same team
    ("coach_b", ["client_b1"]),
])
def test_the_sessions_list_follows_the_matrix(client, world, who, clients):
    assert listed_sessions(as_user(client, getattr(world, who)).get(SESSIONS)) == clients


def test_the_sessions_list_links_the_client_card_and_filters(client, world):
    as_user(client, world.admin)
    html = html_of(client.get(SESSIONS))
    assert f'<a href="{card_url(world.enrollment_a1)}" data-coaching-card>Ada Acme</a>' in html
    with time_machine.travel(in_days(3)):
        assert listed_sessions(client.get(SESSIONS + "?when=past")) == ["client_a1", "client_b1"]
        assert listed_sessions(client.get(SESSIONS + "?when=upcoming")) == []
    assert listed_sessions(client.get(SESSIONS + "?when=upcoming")) == ["client_a1", "client_b1"]
    assert listed_sessions(client.get(f"{SESSIONS}?coach={world.coach_b.pk}")) == ["client_b1"]
    assert listed_sessions(client.get(SESSIONS + "?status__exact=cancelled")) == []
    # The bare field name is no filter of this list: ignored, never passed to the ORM.
    assert listed_sessions(client.get(SESSIONS + "?status=cancelled")) == [
        "client_a1", "client_b1"]


# -- The 1:1 session page ----------------------------------------------------------------------

def test_the_page_shows_the_allotment_and_the_free_times(client, world):
    html = html_of(as_user(client, world.coach_a).get(page_url(world.booking_a1)))
    assert "Ada Acme" in html and "Engagement A" in html
    assert "1 of 3 used, 2 left" in html
    assert f'value="{free_slot(world.coach_a).starts_at.isoformat()}"' in html
    assert "Cancel the session" in html
    assert "Record the session" not in html  # not before it starts


def test_recording_shares_the_summary_once_and_keeps_the_note_private(client, world):
    session = world.booking_a1
    as_user(client, world.coach_a)
    with time_machine.travel(session.starts_at + timedelta(minutes=70)):
        page = html_of(client.get(page_url(session)))
        assert "Record the session" in page and "Cancel the session" not in page
        data = {"outcome": "completed", "summary": "We set three goals.",
                "note": "Seems tired; ask about sleep.", "note_visibility": "coach"}
        response = client.post(action_url("one_to_one_record", session), data)
        assert message_texts(response) == ["The session is recorded."]
        assert response["Location"] == page_url(session)
        # Recording it again sends nothing more: one message per held session.
        client.post(action_url("one_to_one_record", session), {**data, "note": ""})
    session.refresh_from_db()
    assert session.status == CoachingSessionStatus.COMPLETED
    assert session.summary == "We set three goals."
    sent = notifications("after_session")
    assert [(n.recipient, n.channel) for n in sent] == [
        (world.client_a1, "email"), (world.client_a1, "in_app")]
    note = SessionNote.objects.get(coaching_session=session)
    assert note.author == world.coach_a and note.body == "Seems tired; ask about sleep."
    # The author reads the note; the teammate and the admin see the session, not the note.
    assert "ask about sleep" in html_of(client.get(page_url(session)))
    for other in (world.coach_a2, world.admin):
        html = html_of(as_user(client, other).get(page_url(session)))
        assert "We set three goals." in html and "ask about sleep" not in html
    assert not visible(world.client_a1, "view_sessionnote").filter(pk=note.pk).exists()


def test_a_no_show_is_recorded(client, world):
    session = world.booking_b1
    with time_machine.travel(session.starts_at + timedelta(minutes=5)):
        response = as_user(client, world.coach_b).post(
            action_url("one_to_one_record", session), {"outcome": "no_show"}
        )
    assert message_texts(response) == ["The session is recorded."]
    session.refresh_from_db()
    assert session.status == CoachingSessionStatus.NO_SHOW
    assert notifications("after_session") == []


def test_recording_before_the_start_or_with_a_bad_outcome_is_refused(client, world):
    session = world.booking_a1
    as_user(client, world.coach_a)
    response = client.post(action_url("one_to_one_record", session), {"outcome": "completed"})
    assert message_texts(response) == ["A session can be recorded once it has started."]
    with time_machine.travel(session.starts_at + timedelta(minutes=5)):
        response = client.post(action_url("one_to_one_record", session), {"outcome": "late"})
    assert "Select a valid choice" in message_texts(response)[-1]
    session.refresh_from_db()
    assert session.status == CoachingSessionStatus.BOOKED


def test_recording_every_session_completes_the_step(client, world):
    single = add_extra_activity(world.enrollment_a1, "one_to_one", {
        "title": "Single call", "sessions": 1, "duration_minutes": 60,
    })
    session = book_session(single, free_slot(world.coach_a).starts_at, actor=world.client_a1)
    with time_machine.travel(session.starts_at + timedelta(hours=2)):
        as_user(client, world.coach_a).post(
            action_url("one_to_one_record", session), {"outcome": "completed"}
        )
    single.refresh_from_db()
    assert single.state == ActivityState.COMPLETED
    # The three-session package is still open after one of three.
    with time_machine.travel(world.booking_a1.starts_at + timedelta(hours=2)):
        record_session(world.booking_a1, outcome="completed", actor=world.coach_a)
    package = world.one_to_one[world.enrollment_a1.pk]
    package.refresh_from_db()
    assert package.state == ActivityState.AVAILABLE


def calendar_notes(kind):
    return {
        n.recipient.username: (n.payload["calendar"]["method"],
                               n.payload["calendar"]["event"]["sequence"])
        for n in notifications(kind)
    }


def test_staff_reschedule_to_another_free_time_of_the_coach(client, world):
    session = world.booking_a1
    target = free_slot(world.coach_a)
    response = as_user(client, world.coach_a2).post(
        action_url("one_to_one_reschedule", session), {"starts_at": target.starts_at.isoformat()}
    )
    assert message_texts(response)[0].startswith("The session moved to ")
    session.refresh_from_db()
    assert (session.slot, session.starts_at, session.sequence) == (target, target.starts_at, 1)
    assert calendar_notes("one_to_one_rescheduled") == {
        "client_a1": ("REQUEST", 1), "coach_a": ("REQUEST", 1)
    }


def another_coachs_time(world):
    (slot,) = publish_availability(
        world.coach_b, start=in_days(3), end=in_days(3, 11), slot_minutes=60
    )
    return slot.starts_at.isoformat()


@pytest.mark.parametrize("value, error", [
    ("", "New time: This field is required."),
    ("tomorrow", "New time: Choose one of the free times."),
    ("2030-01-01T10:00:00", "New time: Choose one of the free times."),  # no zone
    ("2030-01-01T10:00:00+00:00", "This time can no longer be booked. Please choose another."),
    (another_coachs_time, "This time was just taken. Please choose another."),
])
def test_a_reschedule_to_a_time_that_is_not_free_is_refused(client, world, value, error):
    session = world.booking_a1
    response = as_user(client, world.admin).post(
        action_url("one_to_one_reschedule", session),
        {"starts_at": value(world) if callable(value) else value},
    )
    assert message_texts(response) == [error]
    session.refresh_from_db()
    assert session.sequence == 0 and session.starts_at == world.booking_a1.starts_at


def test_staff_cancelling_is_never_late(client, world):
    session = world.booking_a1
    with time_machine.travel(session.starts_at - timedelta(hours=2)):
        response = as_user(client, world.coach_a).post(action_url("one_to_one_cancel", session))
    assert message_texts(response) == [
        "The session is cancelled and goes back to the client's sessions."
    ]
    session.refresh_from_db()
    assert session.status == CoachingSessionStatus.CANCELLED and session.sequence == 1
    assert calendar_notes("one_to_one_cancelled") == {
        "client_a1": ("CANCEL", 1), "coach_a": ("CANCEL", 1)
    }
    # Cancelled again: nothing more happens.
    response = as_user(client, world.coach_a).post(action_url("one_to_one_cancel", session))
    assert message_texts(response) == ["Only an upcoming booked session can be cancelled."]


@pytest.mark.parametrize("who, status", [
    ("coach_b", 404), ("sales", 404), ("hr_acme", 404),
])
@pytest.mark.parametrize("name", ["one_to_one_record", "one_to_one_reschedule",
                                  "one_to_one_cancel"])
def test_others_cannot_touch_a_session(client, world, who, name, status):
    session = world.booking_a1
    with time_machine.travel(session.starts_at + timedelta(minutes=5)):
        response = as_user(client, getattr(world, who)).post(
            action_url(name, session), {"outcome": "completed"}
        )
        assert response.status_code == status
        assert as_user(client, getattr(world, who)).get(page_url(session)).status_code == status
    session.refresh_from_db()
    assert (session.status, session.sequence) == (CoachingSessionStatus.BOOKED, 0)


def test_clients_go_to_the_login(client, world):
    as_user(client, world.client_a1)
    for response in (
        client.get(page_url(world.booking_a1)),
        client.post(action_url("one_to_one_cancel", world.booking_a1)),
    ):
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert CoachingSession.objects.get(pk=world.booking_a1.pk).status == "booked"


# -- My calendar -------------------------------------------------------------------------------

def test_my_calendar_gives_an_absolute_feed_address_and_the_next_sessions(client, world):
    html = html_of(as_user(client, world.coach_a).get("/admin/coaching/calendar/"))
    path = reverse("wagtail_coaching:calendar_feed", args=[
        CalendarFeed.objects.get(user=world.coach_a).token
    ])
    assert f'value="http://testserver{path}"' in html
    assert f'href="webcal://testserver{path}"' in html
    assert "Team A circle" in html and "Ada Acme" in html
    assert "Globex circle" not in html


def test_resetting_the_feed_replaces_the_address(client, world):
    as_user(client, world.coach_a)
    client.get("/admin/coaching/calendar/")
    old = CalendarFeed.objects.get(user=world.coach_a).token
    response = client.post("/admin/coaching/calendar/reset/")
    assert response.status_code == 302
    assert "new address" in message_texts(response)[0]
    new = CalendarFeed.objects.get(user=world.coach_a).token
    assert new != old and old not in html_of(client.get("/admin/coaching/calendar/"))


# -- The dashboard: your upcoming sessions -----------------------------------------------------

def row_titles(rows):
    return [(r["kind"], r["title"], r["with"]) for r in rows]


def test_upcoming_sessions_are_the_ones_you_run(world):
    assert row_titles(upcoming_sessions(world.coach_a)) == [
        ("one_to_one", "Engagement A", "Ada Acme"), ("group", "Team A circle", ""),
    ]
    assert row_titles(upcoming_sessions(world.coach_b)) == [
        ("one_to_one", "Engagement B", "Bea Globex"), ("group", "Globex circle", ""),
    ]
    assert upcoming_sessions(world.coach_a2) == []
    assert upcoming_sessions(world.admin) == []


def test_a_new_coach_and_a_co_coach_see_the_session(world):
    world.session_b.co_coaches.add(world.coach_a2)
    change_coach(world.session_a, world.coach_a2, actor=world.admin)
    rows = upcoming_sessions(world.coach_a2)
    assert [(r["title"], r["co_coach"]) for r in rows] == [
        ("Team A circle", False), ("Globex circle", True)
    ]
    assert [r["title"] for r in upcoming_sessions(world.coach_a)] == ["Engagement A"]


def test_past_and_cancelled_sessions_are_not_upcoming(world):
    cancel_session(world.booking_a1, actor=world.coach_a)
    assert row_titles(upcoming_sessions(world.coach_a)) == [("group", "Team A circle", "")]
    assert upcoming_sessions(world.coach_a, now=in_days(8)) == []


@pytest.mark.parametrize("who, shown", [
    ("admin", True), ("coach_a", True), ("hr_acme", False), ("sales", False),
])
def test_the_panel_shows_to_coaches_and_admins(client, world, who, shown):
    html = html_of(as_user(client, getattr(world, who)).get("/admin/"))
    assert ("Your upcoming sessions" in html) is shown
    if who == "coach_a":
        assert f'href="{page_url(world.booking_a1)}"' in html
        assert f'href="/admin/coaching/sessions/inspect/{world.session_a.pk}/"' in html


def panel_queries(rf, user):
    user = get_user_model().objects.get(pk=user.pk)
    request = rf.get("/admin/")
    request.user = user
    with CaptureQueriesContext(connection) as queries:
        UpcomingSessionsPanel(request).render_html({})
    return len(queries)


def test_the_panel_runs_a_fixed_number_of_queries(rf, world):
    few = panel_queries(rf, world.coach_a)
    publish_availability(world.coach_a, start=in_days(5), end=in_days(5, 20), slot_minutes=60)
    extra = add_extra_activity(world.enrollment_a1, "one_to_one", {
        "title": "More", "sessions": 8, "duration_minutes": 60,
    })
    for hour in range(10, 18):
        book_session(extra, in_days(5, hour), actor=world.client_a1)
    world.session_b.co_coaches.add(world.coach_a)
    assert len(upcoming_sessions(world.coach_a)) == 10
    assert panel_queries(rf, world.coach_a) == few


# -- The client card: sessions -----------------------------------------------------------------

def sessions_section(html):
    return html.split('id="coaching-card-sessions"')[1] if "coaching-card-sessions" in html else ""


def test_the_card_lists_group_places_and_one_to_ones(client, world):
    with time_machine.travel(world.booking_a1.starts_at + timedelta(hours=2)):
        record_session(world.booking_a1, outcome="completed", summary="Goals agreed.",
                       actor=world.coach_a)
    section = sessions_section(html_of(
        as_user(client, world.coach_a).get(card_url(world.enrollment_a1))
    ))
    assert "Team A circle" in section and "Registered" in section
    assert "Held" in section and "Goals agreed." in section
    assert f'href="{page_url(world.booking_a1)}"' in section


def test_an_hr_partner_sees_attendance_but_no_one_to_ones(client, world):
    world.session_a.company = world.acme
    world.session_a.save()
    with time_machine.travel(world.booking_a1.starts_at + timedelta(hours=2)):
        record_session(world.booking_a1, outcome="completed", summary="Goals agreed.",
                       actor=world.coach_a)
    section = sessions_section(html_of(
        as_user(client, world.hr_acme).get(card_url(world.enrollment_a1))
    ))
    assert "Team A circle" in section
    assert "Goals agreed." not in section and "1:1 sessions" not in section


def card_queries(client, user, enrollment):
    as_user(client, user)
    client.get(card_url(enrollment))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(card_url(enrollment)).status_code == 200
    return len(queries)


def test_the_cards_sessions_add_a_fixed_number_of_queries(client, world):
    extra = add_extra_activity(world.enrollment_a1, "one_to_one", {
        "title": "More", "sessions": 6, "duration_minutes": 60,
    })
    few = card_queries(client, world.coach_a, world.enrollment_a1)
    publish_availability(world.coach_a, start=in_days(5), end=in_days(5, 20), slot_minutes=60)
    for hour in range(10, 16):
        book_session(extra, in_days(5, hour), actor=world.client_a1)
    more = create_sessions(
        SessionPlan(title="More circles", coach=world.coach_a, team=world.team_a,
                    starts_at=in_days(8, 17), duration=timedelta(hours=1),
                    audience=Audience.ENGAGEMENT, engagement=world.engagement_a),
        [in_days(d, 17) for d in range(8, 14)], invite=False,
    )
    for session in more:
        register(session, world.client_a1)
    html = html_of(client.get(card_url(world.enrollment_a1)))
    assert html.count("More circles") == 6
    assert card_queries(client, world.coach_a, world.enrollment_a1) == few


def test_the_page_shows_the_coachs_zone_when_it_is_not_the_viewers(client, world):
    CoachingSession.objects.filter(pk=world.booking_a1.pk).update(time_zone="America/New_York")
    html = html_of(as_user(client, world.coach_a).get(page_url(world.booking_a1)))
    assert "(America/New_York)" in html
    CoachingSession.objects.filter(pk=world.booking_a1.pk).update(time_zone="Europe/London")
    assert "(Europe/London)" not in html_of(client.get(page_url(world.booking_a1)))


# -- Menu items for the Coaching menu ----------------------------------------------------------

@pytest.mark.parametrize("who, shown", [
    ("admin", ["Payouts", "My calendar"]),
    ("coach_a", ["Payouts", "My calendar"]),
    ("sales", []),
    ("hr_acme", []),
])
def test_the_menu_items_show_to_whoever_may_open_them(rf, world, who, shown):
    from wagtail_coaching.admin.one_to_one import menu_items

    request = rf.get("/admin/")
    request.user = getattr(world, who)
    items = menu_items(first_order=20)
    assert [str(i.label) for i in items if i.is_shown(request)] == shown
    # "Payouts" opens the sessions delivered report.
    assert [str(i.url) for i in items] == [
        "/admin/coaching/reports/sessions_delivered/", "/admin/coaching/calendar/"
    ]
