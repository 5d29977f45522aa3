"""Staff booking for a client who phones or writes: who may (``book_for_client``), booking
from the client's allotment at a free time of the coach or outside availability with the
override, moving and cancelling as staff, the same emails and calendar files as a client's
own booking, never a double booking (also under concurrent staff and client bookings), the
pages of the client card and of the 1:1 sessions admin, and bad input.

Who may open each URL at all is tests/test_admin_matrix.py's (tests/routes_one_to_one_admin.py);
here each role also posts."""

import os
import re
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import close_old_connections, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import urlencode
from wagtail.users.models import UserProfile

from wagtail_coaching.admin.card import client_card
from wagtail_coaching.admin.display import person
from wagtail_coaching.admin.one_to_one import clients as clients_module
from wagtail_coaching.journeys import add_extra_activity, assign_coach, enroll, pause_enrollment
from wagtail_coaching.models import (
    AssignmentMethod,
    ClientActivity,
    CoachingSession,
    CoachingSessionStatus,
    Enrollment,
    EventKind,
    JourneyEvent,
    Team,
)
from wagtail_coaching.permissions import allowed, visible
from wagtail_coaching.scheduling import (
    AllotmentUsedUp,
    InvalidSchedule,
    SlotTaken,
    allotment,
    allotments_left,
    book_session,
    bookable_times,
    cancel_session,
    open_steps,
    publish_availability,
    reschedule_session,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.jobs import drain

from .test_admin_clients import admin_world, as_user, card_url, message_texts
from .text import mentions
from .world import coach_in
from .world_sessions import ONE_TO_ONE, add_sessions, calendar_parts, in_days, only_event

B = CoachingSessionStatus
pytestmark = pytest.mark.usefixtures("enqueue_at_once")


def build_shared_world():
    """``world_sessions``: coach_a coaches Ada (client_a1, one session booked two days
    ahead at 10:00, a free slot at 11:00), coach_a2 is in team A without coaching her,
    lead_a administers team A. Ada reads times in New York, the admin in Paris."""
    w = add_sessions(admin_world())
    w.lead_a = coach_in(w.team_a, "lead_a", role="admin")
    for user, zone in ((w.client_a1, "America/New_York"), (w.admin, "Europe/Paris")):
        profile = UserProfile.get_for_user(user)
        profile.current_time_zone = zone
        profile.save()
    w.step_a1 = w.one_to_one[w.enrollment_a1.pk]
    drain()
    return w


@pytest.fixture
def world(shared):
    mail.outbox.clear()
    return shared


def book_url(enrollment):
    return reverse("wagtail_coaching_admin:book_for_client", args=[enrollment.public_id])


def move_url(session):
    return reverse("wagtail_coaching_admin:one_to_one_move", args=[session.public_id])


def cancel_url(session):
    return reverse("wagtail_coaching_admin:one_to_one_cancel", args=[session.public_id])


def booked(enrollment):
    return list(CoachingSession.objects.filter(enrollment=enrollment, status=B.BOOKED)
                .order_by("starts_at"))


def free_time(world):
    """coach_a's free slot (11:00, two days ahead)."""
    return in_days(2, 11)


def form_data(world, starts_at=None, step=None, **extra):
    data = {"activity": str((step or world.step_a1).public_id)}
    if starts_at is not None:
        data["starts_at"] = starts_at.isoformat()
    return {**data, **extra}


# -- Who may book for a client -------------------------------------------------------------------

@pytest.mark.parametrize("who, may", [
    ("admin", True),  # a coaching admin
    ("coach_a", True),  # Ada's coach
    ("lead_a", True),  # team A's admin
    ("coach_a2", False),  # another coach of the team
    ("coach_b", False),  # a coach of another team
    ("sales", False),
    ("hr_acme", False),  # Ada's company's HR partner
    ("client_a1", False),  # Ada herself (she books on the site)
])
def test_the_matrix_lets_the_clients_coaches_and_admins_book(world, who, may):
    user = getattr(world, who)
    assert allowed(user, "book_for_client", world.enrollment_a1) is may
    assert (world.enrollment_a1 in visible(user, "book_for_client")) is may


def test_nobody_signed_out_books_for_a_client(world):
    from django.contrib.auth.models import AnonymousUser

    assert not allowed(AnonymousUser(), "book_for_client", world.enrollment_a1)


@pytest.mark.parametrize("who, status", [
    ("admin", 302),
    ("coach_a", 302),
    ("lead_a", 302),
    ("coach_a2", 403),  # sees Ada (team) but may not book for her
    ("coach_b", 404),  # does not see Ada
    ("sales", 404),
    ("hr_acme", 403),  # sees Ada's progress (consent), nothing more
    ("client_a1", "login"),  # clients never get into the admin
    (None, "login"),
])
def test_posting_a_booking_answers_each_role(client, world, who, status):
    user = getattr(world, who) if who else None
    as_user(client, user)
    response = client.post(book_url(world.enrollment_a1), form_data(world, free_time(world)))
    if status == "login":
        assert response.status_code == 302 and "login" in response["Location"]
    else:
        assert response.status_code == status
    now_booked = [s.starts_at for s in booked(world.enrollment_a1)]
    assert (free_time(world) in now_booked) is (status == 302)
    if status == 302:
        assert response["Location"] == card_url(world.enrollment_a1)
        session = CoachingSession.objects.get(enrollment=world.enrollment_a1,
                                              starts_at=free_time(world))
        assert session.booked_by == user


def test_moving_outside_availability_needs_the_right_to_book_for_the_client(client, world):
    """coach_a2 may move Ada's session (team), only to a free time of the coach."""
    session = world.booking_a1
    as_user(client, world.coach_a2)
    page = client.get(move_url(session)).content.decode()
    assert "Move the session" in page and 'name="override"' not in page
    client.post(move_url(session), {"override": "on", "date": in_days(4).date().isoformat(),
                                    "time": "15:00"})
    session.refresh_from_db()
    assert session.starts_at == in_days(2, 10)
    as_user(client, world.coach_b)
    assert client.get(move_url(session)).status_code == 404


# -- The service: booking as staff ---------------------------------------------------------------

def test_staff_book_a_free_time_with_the_clients_emails_and_calendar_files(world):
    session = book_session(world.step_a1, free_time(world), actor=world.admin)
    assert (session.coach, session.booked_by, session.outside_availability) == (
        world.coach_a, world.admin, False
    )
    assert session.slot.starts_at == free_time(world)
    event = JourneyEvent.objects.get(kind=EventKind.SESSION_BOOKED,
                                     data__session=str(session.public_id))
    assert event.actor == world.admin
    assert event.data["for_client"] is True and event.data["override"] is False
    drain()
    parts = calendar_parts(mail.outbox)
    assert sorted(m.to[0] for _x, _c, m in parts) == sorted(
        [world.client_a1.email, world.coach_a.email]
    )
    for method, calendar, _m in parts:
        assert method == "REQUEST"
        assert str(only_event(calendar)["UID"]) == session.uid


def test_a_client_booking_herself_is_not_on_behalf(world):
    session = book_session(world.step_a1, free_time(world), actor=world.client_a1)
    event = JourneyEvent.objects.get(kind=EventKind.SESSION_BOOKED,
                                     data__session=str(session.public_id))
    assert "for_client" not in event.data


def test_without_the_override_staff_book_only_offered_times(world):
    with pytest.raises(SlotTaken):
        book_session(world.step_a1, in_days(3, 15), actor=world.admin)
    assert len(booked(world.enrollment_a1)) == 1


def test_the_override_books_outside_availability(world):
    when = in_days(3, 15)
    session = book_session(world.step_a1, when, actor=world.coach_a, override=True)
    assert (session.starts_at, session.ends_at - session.starts_at) == (when, timedelta(hours=1))
    assert session.slot is None and session.outside_availability
    event = JourneyEvent.objects.get(kind=EventKind.SESSION_BOOKED,
                                     data__session=str(session.public_id))
    assert event.data["override"] is True
    drain()
    assert len(calendar_parts(mail.outbox)) == 2


def test_the_override_never_double_books_the_coach(world):
    """Abe gets coach_a, whose session with Ada is at 10:00: half past is refused, and so
    is the time of the group session coach_a leads."""
    assign_coach(world.enrollment_a2, coach=world.coach_a, actor=world.admin)
    step = world.one_to_one[world.enrollment_a2.pk]
    for when in (in_days(2, 10) + timedelta(minutes=30), in_days(7, 17)):
        with pytest.raises(SlotTaken, match="coach has another session"):
            book_session(step, when, actor=world.admin, override=True)
    assert booked(world.enrollment_a2) == []


def test_a_slot_during_the_coachs_group_session_is_not_offered_to_the_client(world):
    """The rule is the same for a client's own booking: coach_a leads a group session
    seven days ahead at 17:00, so a slot offered then cannot be booked."""
    publish_availability(world.coach_a, start=in_days(7, 17), end=in_days(7, 18),
                         slot_minutes=60)
    assert in_days(7, 17) not in bookable_times(world.step_a1)
    with pytest.raises(SlotTaken, match="coach has another session"):
        book_session(world.step_a1, in_days(7, 17), actor=world.client_a1)


def test_the_override_never_double_books_the_client(world):
    """Ada in a second engagement, with a free coach: her 10:00 with coach_a is in the way."""
    page = make_engagement(title="Second", slug="second", team=world.team_b,
                           assignment_policy=AssignmentMethod.MANUAL)
    second = enroll(world.client_a1, page)
    assign_coach(second, coach=coach_in(world.team_b, "coach_b3"), actor=world.admin)
    step = add_extra_activity(second, "one_to_one", ONE_TO_ONE)
    with pytest.raises(SlotTaken, match="client has another session"):
        book_session(step, in_days(2, 10) + timedelta(minutes=15), actor=world.admin,
                     override=True)
    assert booked(second) == []


def test_a_slot_overlapped_by_an_override_is_no_longer_offered(world):
    """An override at 10:30 for Abe (coach_a2) takes half of coach_a2's free 11:00 slot:
    the slot is no longer offered and a client cannot book it."""
    assign_coach(world.enrollment_a2, coach=world.coach_a2, actor=world.admin)
    step = world.one_to_one[world.enrollment_a2.pk]
    assert in_days(2, 11) in bookable_times(step)
    book_session(step, in_days(2, 10) + timedelta(minutes=30), actor=world.admin,
                 override=True)
    assert in_days(2, 11) not in bookable_times(step)
    with pytest.raises(SlotTaken):
        book_session(step, in_days(2, 11), actor=world.client_a2)


def test_the_override_never_exceeds_the_allotment(world):
    step = add_extra_activity(world.enrollment_a1, "one_to_one", {**ONE_TO_ONE, "sessions": 1})
    book_session(step, in_days(4, 9), actor=world.admin, override=True)
    with pytest.raises(AllotmentUsedUp):
        book_session(step, in_days(5, 9), actor=world.admin, override=True)
    assert allotment(step).used == 1


@pytest.mark.parametrize("when", [-2, 24 * 400])
def test_the_override_is_in_the_future_and_within_a_year(world, when):
    with pytest.raises(InvalidSchedule):
        book_session(world.step_a1, timezone.now() + timedelta(hours=when), actor=world.admin,
                     override=True)


def test_the_override_needs_a_coach(world):
    with pytest.raises(InvalidSchedule, match="no coach"):
        book_session(world.one_to_one[world.enrollment_a2.pk], in_days(3, 15),
                     actor=world.admin, override=True)


# -- Moving and cancelling as staff ----------------------------------------------------------------

def test_staff_move_outside_availability_with_the_same_uid_and_a_higher_sequence(world):
    session = world.booking_a1
    moved = reschedule_session(session, in_days(3, 15), actor=world.admin, override=True)
    assert (moved.starts_at, moved.sequence, moved.slot, moved.outside_availability) == (
        in_days(3, 15), 1, None, True
    )
    # The 10:00 slot is free again.
    assert in_days(2, 10) in bookable_times(world.step_a1)
    drain()
    for method, calendar, _m in calendar_parts(mail.outbox):
        event = only_event(calendar)
        assert method == "REQUEST"
        assert (str(event["UID"]), int(event["SEQUENCE"])) == (session.uid, 1)
        assert event.decoded("DTSTART") == in_days(3, 15)
    # Back into a slot: no longer outside availability.
    again = reschedule_session(moved, free_time(world), actor=world.admin)
    assert (again.sequence, again.outside_availability) == (2, False)


def test_staff_cancelling_late_gives_the_session_back_unless_they_count_it(world, settings):
    settings.WAGTAIL_COACHING = {"LATE_CANCEL_HOURS": 72}
    first = cancel_session(world.booking_a1, actor=world.coach_a)
    assert first.status == B.CANCELLED
    assert allotment(world.step_a1).used == 0
    second = book_session(world.step_a1, in_days(3, 15), actor=world.admin, override=True)
    counted = cancel_session(second, actor=world.admin, count_as_used=True)
    assert counted.status == B.LATE_CANCELLED
    assert allotment(world.step_a1).used == 1
    event = JourneyEvent.objects.get(kind=EventKind.SESSION_CANCELLED,
                                     data__session=str(second.public_id))
    assert event.data == {"session": str(second.public_id), "late": True, "for_client": True}


def test_a_client_cannot_waive_her_own_late_cancel(world, settings):
    """``count_as_used`` is staff's say; a client early is never charged by it."""
    cancelled = cancel_session(world.booking_a1, actor=world.client_a1, count_as_used=True)
    assert cancelled.status == B.CANCELLED


# -- The pages -------------------------------------------------------------------------------------

def test_the_card_offers_book_move_and_cancel(client, world):
    as_user(client, world.admin)
    html = client.get(card_url(world.enrollment_a1)).content.decode()
    assert "Book a session" in html and f"?activity={world.step_a1.public_id}" in html
    assert ">Move<" in html and move_url(world.booking_a1) in html
    assert "Cancel session" in html and cancel_url(world.booking_a1) in html
    assert "1 of 3 used, 2 left" in html


def test_the_card_of_someone_who_may_not_book_offers_no_booking(client, world):
    as_user(client, world.coach_a2)
    html = client.get(card_url(world.enrollment_a1)).content.decode()
    assert "Book a session" not in html
    # coach_a2 may still move and cancel Ada's sessions (the team's, as on the session page).
    assert move_url(world.booking_a1) in html


def test_the_booking_page_shows_free_times_in_both_zones(client, world):
    as_user(client, world.admin)
    response = client.get(book_url(world.enrollment_a1))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Book a session for Ada Acme" in html
    # 11:00 UTC is 12:00 in Paris (the admin) and 06:00 in New York (Ada), outside summer.
    choice = response.context["form"].fields["starts_at"].choices[1]
    assert choice[0] == free_time(world).isoformat()
    assert "for the client" in choice[1]
    assert "Europe/Paris" in html and "America/New_York" in html
    assert "Book outside the coach&#x27;s availability" in html


def test_booking_from_the_page_and_the_timeline_says_who_for_whom(client, world):
    as_user(client, world.admin)
    response = client.post(book_url(world.enrollment_a1), form_data(world, free_time(world)))
    assert response.status_code == 302
    assert any("Ada Acme is booked" in m for m in message_texts(response))
    html = client.get(card_url(world.enrollment_a1)).content.decode()
    assert mentions(html, "Booked by") and "for Ada Acme" in html


def test_booking_outside_availability_from_the_page_reads_the_viewers_zone(client, world):
    as_user(client, world.admin)
    day = in_days(4).date()
    response = client.post(book_url(world.enrollment_a1), form_data(
        world, override="on", date=day.isoformat(), time="15:00",
    ))
    assert response.status_code == 302
    (session,) = [s for s in booked(world.enrollment_a1) if s.outside_availability]
    # 15:00 in Paris (winter or summer) is 13:00 or 14:00 UTC.
    assert session.starts_at.astimezone(ZoneInfo("Europe/Paris")).hour == 15
    html = client.get(card_url(world.enrollment_a1)).content.decode()
    assert "outside the coach" in html


@pytest.mark.parametrize("data, error", [
    ({"starts_at": "2020-01-01T10:00:00+00:00"}, "Select a valid choice"),  # not offered
    ({}, "Choose one of the free times"),  # nothing chosen
    ({"override": "on", "date": "", "time": "10:00"}, "Give the date and the time"),
    ({"override": "on", "date": "2020-01-01", "time": "10:00"}, "in the future"),
    ({"starts_at": "not a time"}, "Select a valid choice"),
])
def test_bad_bookings_are_form_errors_and_book_nothing(client, world, data, error):
    as_user(client, world.admin)
    before = CoachingSession.objects.count()
    response = client.post(book_url(world.enrollment_a1), {**form_data(world), **data})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert CoachingSession.objects.count() == before


def test_another_clients_step_is_refused(client, world):
    as_user(client, world.admin)
    other = world.one_to_one[world.enrollment_b1.pk]
    before = CoachingSession.objects.count()
    response = client.post(book_url(world.enrollment_a1), form_data(
        world, in_days(2, 11), step=other,
    ))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert CoachingSession.objects.count() == before
    assert client.get(book_url(world.enrollment_a1) + f"?activity={other.public_id}") \
        .status_code == 404


def test_nul_bytes_are_refused(client, world):
    as_user(client, world.admin)
    before = CoachingSession.objects.count()
    response = client.post(book_url(world.enrollment_a1),
                           form_data(world, free_time(world), back="card\x00"))
    assert response.status_code == 400
    assert client.get(book_url(world.enrollment_a1) + "?activity=a%00b").status_code == 400
    assert CoachingSession.objects.count() == before


def test_moving_from_the_card_goes_back_to_the_card(client, world):
    as_user(client, world.admin)
    page = client.get(move_url(world.booking_a1) + "?back=card")
    assert page.status_code == 200 and 'value="card"' in page.content.decode()
    response = client.post(move_url(world.booking_a1), {
        "starts_at": free_time(world).isoformat(), "back": "card",
    })
    assert response["Location"] == card_url(world.enrollment_a1)
    world.booking_a1.refresh_from_db()
    assert (world.booking_a1.starts_at, world.booking_a1.sequence) == (free_time(world), 1)
    html = client.get(card_url(world.enrollment_a1)).content.decode()
    assert "Moved by" in html


def test_moving_to_a_time_not_offered_changes_nothing(client, world):
    as_user(client, world.coach_a)
    response = client.post(move_url(world.booking_a1), {"starts_at": in_days(3, 15).isoformat()})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    world.booking_a1.refresh_from_db()
    assert world.booking_a1.sequence == 0


def test_cancelling_from_the_card(client, world):
    as_user(client, world.coach_a)
    response = client.post(cancel_url(world.booking_a1), {"back": "card"})
    assert response["Location"] == card_url(world.enrollment_a1)
    world.booking_a1.refresh_from_db()
    assert world.booking_a1.status == B.CANCELLED
    assert allotment(world.step_a1).used == 0
    html = client.get(card_url(world.enrollment_a1)).content.decode()
    assert "Cancelled by" in html


def test_cancelling_counted_as_used_from_the_session_page(client, world):
    as_user(client, world.admin)
    response = client.post(cancel_url(world.booking_a1), {"count_as_used": "on"})
    assert response["Location"] == reverse("coaching_one_to_one_modeladmin_inspect",
                                           args=[world.booking_a1.pk])
    assert "counts as used" in " ".join(message_texts(response))
    world.booking_a1.refresh_from_db()
    assert world.booking_a1.status == B.LATE_CANCELLED


def test_the_session_page_links_to_move_and_book(client, world):
    as_user(client, world.admin)
    html = client.get(reverse("coaching_one_to_one_modeladmin_inspect",
                              args=[world.booking_a1.pk])).content.decode()
    assert move_url(world.booking_a1) in html and book_url(world.enrollment_a1) in html
    as_user(client, world.coach_a2)
    html = client.get(reverse("coaching_one_to_one_modeladmin_inspect",
                              args=[world.booking_a1.pk])).content.decode()
    assert move_url(world.booking_a1) in html and book_url(world.enrollment_a1) not in html


def test_the_cards_booking_block_costs_the_same_with_more_sessions(world):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            client_card(world.admin, world.enrollment_a1)
        return len(ctx.captured_queries)

    few = queries()
    step = add_extra_activity(world.enrollment_a1, "one_to_one", {**ONE_TO_ONE, "sessions": 6})
    for day in range(3, 8):
        book_session(step, in_days(day, 6), actor=world.admin, override=True)
    assert queries() <= few + 2  # the new step's own rows in the outline, not per session


# -- Concurrency (PostgreSQL) ---------------------------------------------------------------------

on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="concurrent transactions need PostgreSQL",
)


def race(calls):
    barrier = threading.Barrier(len(calls))
    outcomes = []

    def run(call):
        close_old_connections()
        try:
            barrier.wait()
            call()
            outcomes.append("booked")
        except SlotTaken:
            outcomes.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_staff_overrides_and_clients_racing_for_one_coach_book_once():
    """Clients book coach's 9:00 slot while staff book, outside availability, 9:30 for
    other clients of the same coach: exactly one of them gets the coach."""
    from wagtail_coaching.testing.factories import site_root

    site_root()
    team = Team.objects.create(name="Race")
    coach = coach_in(team, "race-coach")
    admin = coach_in(team, "race-admin", role="admin")
    page = make_engagement(title="Race", slug="race", team=team,
                           assignment_policy=AssignmentMethod.MANUAL)
    publish_availability(coach, start=in_days(3, 9), end=in_days(3, 10), slot_minutes=60)
    calls = []
    for i in range(6):
        enrollment = enroll(UserFactory(username=f"racer{i}"), page)
        assign_coach(enrollment, coach=coach)
        step = add_extra_activity(enrollment, "one_to_one", ONE_TO_ONE)
        if i % 2:
            calls.append(lambda step=step: book_session(step, in_days(3, 9),
                                                        actor=step.enrollment.client))
        else:
            calls.append(lambda step=step: book_session(
                step, in_days(3, 9) + timedelta(minutes=30), actor=admin, override=True))
    assert race(calls) == ["booked"] + ["taken"] * 5
    assert CoachingSession.objects.filter(status=B.BOOKED, coach=coach).count() == 1


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_staff_and_the_client_racing_for_one_client_book_once():
    """The client books her coach's slot while staff book her, outside availability, with
    her other coach at the same time: she gets one session."""
    from wagtail_coaching.testing.factories import site_root

    site_root()
    team = Team.objects.create(name="Race")
    coach, other = coach_in(team, "race-coach"), coach_in(team, "race-other")
    admin = coach_in(team, "race-admin", role="admin")
    client = UserFactory(username="racer")
    publish_availability(coach, start=in_days(3, 9), end=in_days(3, 10), slot_minutes=60)
    steps = []
    for n, who in enumerate((coach, other)):
        page = make_engagement(title=f"Race {n}", slug=f"race-{n}", team=team,
                               assignment_policy=AssignmentMethod.MANUAL)
        enrollment = enroll(client, page)
        assign_coach(enrollment, coach=who)
        steps.append(add_extra_activity(enrollment, "one_to_one", ONE_TO_ONE))
    calls = [
        lambda: book_session(steps[0], in_days(3, 9), actor=client),
        lambda: book_session(steps[1], in_days(3, 9), actor=admin, override=True),
    ] * 2
    assert race(calls) == ["booked"] + ["taken"] * 3
    assert CoachingSession.objects.filter(status=B.BOOKED).count() == 1


# -- Book for a client, from the 1:1 sessions list ----------------------------------------------

SESSIONS_LIST = "coaching_one_to_one_modeladmin_index"
BOOK_LINK = re.compile(r'/admin/coaching/client/([0-9a-f-]{36})/book/\?activity=([0-9a-f-]{36})"')


def clients_url(**params):
    return reverse("wagtail_coaching_admin:one_to_one_book_for_client") + (
        "?" + urlencode(params) if params else ""
    )


def listed_steps(response):
    """(client's username, step) of each "Book a session" link of the page, in order."""
    found = BOOK_LINK.findall(response.content.decode())
    steps = {
        str(step.public_id): step for step in ClientActivity.objects.filter(
            public_id__in=[activity for _e, activity in found]
        ).select_related("enrollment__client")
    }
    rows = []
    for enrollment_id, activity_id in found:
        step = steps[activity_id]
        assert str(step.enrollment.public_id) == enrollment_id
        rows.append((step.enrollment.client.username, step))
    return rows


def listed(response):
    return [username for username, _step in listed_steps(response)]


@pytest.mark.parametrize("who, status, clients", [
    ("admin", 200, ["client_a1", "client_b1", "client_a2"]),  # by last name
    ("coach_a", 200, ["client_a1"]),  # the client's coach
    ("lead_a", 200, ["client_a1", "client_a2"]),  # team A's admin: the team's clients
    ("coach_a2", 200, []),  # a coach of the team who coaches nobody: nobody
    ("coach_b", 200, ["client_b1"]),  # another team's coach: that team's client only
    ("sales", 403, None),
    ("hr_acme", 403, None),
    ("client_a1", "login", None),
    (None, "login", None),
])
def test_the_clients_to_book_for_are_exactly_those_one_may_book_for(client, world, who, status,
                                                                   clients):
    user = getattr(world, who) if who else None
    as_user(client, user)
    response = client.get(clients_url())
    if status == "login":
        assert response.status_code == 302 and "login" in response["Location"]
        return
    assert response.status_code == status
    html = response.content.decode()
    if status == 403:
        assert "Ada Acme" not in html and "Book a session" not in html
        return
    assert listed(response) == clients
    # The list is the permission layer's filter; each row also passes its predicate.
    enrollments = [world.enrollment_a1, world.enrollment_a2, world.enrollment_b1]
    assert sorted(listed(response)) == sorted(
        e.client.username for e in enrollments if allowed(user, "book_for_client", e)
    )
    if not clients:
        assert "None of the clients you may book for has 1:1 sessions left" in html


def test_a_row_names_the_client_engagement_coach_and_sessions_used(client, world):
    as_user(client, world.admin)
    response = client.get(clients_url())
    rows = {username: step for username, step in listed_steps(response)}
    assert rows["client_a1"] == world.step_a1
    html = response.content.decode()
    ada = html[html.index("Ada Acme"):html.index(book_url(world.enrollment_a1))]
    assert "Engagement A" in ada and escape(person(world.coach_a)) in ada and "1 of 3 used" in ada
    assert card_url(world.enrollment_a1) in html
    abe = html[html.index("Abe Private"):]
    abe = abe[:abe.index("Book a session")]
    assert "0 of 3 used" in abe and "None yet" in abe  # Abe has no coach yet


def test_the_link_opens_the_booking_page_of_that_step(client, world):
    as_user(client, world.coach_a)
    ((_username, step),) = listed_steps(client.get(clients_url()))
    response = client.get(book_url(world.enrollment_a1) + f"?activity={step.public_id}")
    assert response.status_code == 200
    assert response.context["step"] == world.step_a1
    assert "Book a session for Ada Acme" in response.content.decode()


def test_clients_with_no_session_left_or_no_open_step_are_not_listed(client, world):
    """Ada's other two sessions booked, Abe's journey paused: only Bea is left."""
    for day in (3, 4):
        book_session(world.step_a1, in_days(day, 15), actor=world.admin, override=True)
    pause_enrollment(world.enrollment_a2)
    as_user(client, world.admin)
    assert listed(client.get(clients_url())) == ["client_b1"]
    as_user(client, world.coach_a)
    response = client.get(clients_url())
    assert listed(response) == []
    assert "None of the clients you may book for has 1:1 sessions left" in \
        response.content.decode()


def test_the_figures_are_those_of_the_allotment(world):
    """``allotments_left`` agrees with ``allotment``, step by step, and leaves out the steps
    with nothing left."""
    step = add_extra_activity(world.enrollment_a1, "one_to_one", {**ONE_TO_ONE, "sessions": 1})
    book_session(step, in_days(4, 9), actor=world.admin, override=True)
    found = dict(allotments_left(open_steps(Enrollment.objects.all()).select_related("enrollment")))
    assert step not in found and allotment(step).left == 0
    assert set(found) == set(world.one_to_one.values())
    for open_step, allot in found.items():
        assert allot == allotment(open_step)


@pytest.mark.parametrize("query, clients", [
    ("ada", ["client_a1"]),
    ("Ada Acme", ["client_a1"]),
    ("acme ada", ["client_a1"]),
    ("client_b1@example", ["client_b1"]),  # by email
    ("GLOBEX", ["client_b1"]),
    ("Ada Globex", []),  # every word must match
    ("  ", ["client_a1", "client_b1", "client_a2"]),
])
def test_the_search_reads_the_clients_name_and_email(client, world, query, clients):
    as_user(client, world.admin)
    response = client.get(clients_url(q=query))
    assert response.status_code == 200
    assert listed(response) == clients
    if not clients:
        assert "No client you may book for matches" in response.content.decode()


def test_the_search_never_reaches_beyond_ones_clients(client, world):
    as_user(client, world.coach_a)
    assert listed(client.get(clients_url(q="Bea"))) == []
    assert listed(client.get(clients_url(q="example.com"))) == ["client_a1"]


def test_unknown_parameters_are_ignored(client, world):
    as_user(client, world.coach_a)
    response = client.get(clients_url(**{
        "q": "", "enrollment__client__username": "client_b1", "coach": world.coach_b.pk,
        "client__password__startswith": "pbkdf2", "o": "-1", "page": "nonsense",
    }))
    assert response.status_code == 200
    assert listed(response) == ["client_a1"]


@pytest.mark.parametrize("params", [
    {"q": "Ada\x00"},
    {"q": "x" * 1001},  # longer than any search
    {"page": "1\x00"},
])
def test_bad_input_is_a_400(client, world, params):
    as_user(client, world.admin)
    response = client.get(clients_url(**params))
    assert response.status_code == 400
    assert "Ada Acme" not in response.content.decode()


def test_a_long_search_finds_nobody(client, world):
    as_user(client, world.admin)
    response = client.get(clients_url(q="Ada " + "x" * 300))
    assert response.status_code == 200 and listed(response) == []


def test_the_list_comes_in_pages_that_keep_the_search(client, world, monkeypatch):
    monkeypatch.setattr(clients_module, "PER_PAGE", 2)
    as_user(client, world.admin)
    first = client.get(clients_url(q="example.com"))
    second = client.get(clients_url(q="example.com", page=2))
    assert listed(first) == ["client_a1", "client_b1"] and listed(second) == ["client_a2"]
    assert "q=example.com&amp;page=2" in first.content.decode()
    assert "Page 2 of 2" in second.content.decode()
    # A page past the end is the last page.
    assert listed(client.get(clients_url(page=9))) == ["client_a2"]


def test_the_lists_queries_do_not_grow_with_its_rows(client, world,
                                                     django_assert_max_num_queries):
    """Three clients, then twenty more on an engagement whose program holds the 1:1 step
    (two sessions; every third client has used both and is not listed)."""
    as_user(client, world.admin)
    with django_assert_max_num_queries(BOOK_LIST_QUERIES):
        response = client.get(clients_url())
    assert len(listed(response)) == 3
    page = make_engagement(
        title="Programmed", slug="programmed", team=world.team_a,
        assignment_policy=AssignmentMethod.MANUAL,
        program=[programs.stage("Sessions", [
            programs.activity("one_to_one", "Included sessions", rule="immediately", sessions=2),
        ])],
    )
    coach = coach_in(world.team_a, "coach_many", max_clients=20)
    for n in range(20):
        enrollment = enroll(UserFactory(username=f"many{n:02}", last_name=f"Many {n:02}"), page)
        assign_coach(enrollment, coach=coach, actor=world.admin)
        if n % 3 == 0:
            step = enrollment.activities.get(kind="one_to_one")
            for hour in (6, 8):
                book_session(step, in_days(10 + n, hour), actor=world.admin, override=True)
    with django_assert_max_num_queries(BOOK_LIST_QUERIES):
        response = client.get(clients_url())
    assert len(listed(response)) == 3 + 20 - 7
    assert "0 of 2 used" in response.content.decode()


# Queries of the page, whatever its length: the session, the user, their groups and profile,
# the steps, the sessions used, the engagements, the coaches, and Wagtail's admin menu (five).
BOOK_LIST_QUERIES = 13


def test_the_sessions_list_offers_book_for_a_client_to_those_who_may(client, world):
    url = reverse("wagtail_coaching_admin:one_to_one_book_for_client")
    for who in ("admin", "coach_a", "coach_b"):
        as_user(client, getattr(world, who))
        html = client.get(reverse(SESSIONS_LIST)).content.decode()
        assert f'href="{url}"' in html and "Book for a client" in html, who


def test_the_sessions_list_has_no_booking_for_those_who_may_not(client, world):
    """A role that sees 1:1 sessions but may not book for anyone gets neither the button
    nor the page."""
    supervisor = UserFactory(username="supervisor")
    supervisor.groups.add(Group.objects.create(name="Supervisors"))
    with override_settings(WAGTAIL_COACHING={
        "ROLE_GROUPS": {"admin": "Coaching admins", "coach": "Coaches",
                        "sales_manager": "Sales managers", "hr_partner": "HR partners",
                        "supervisor": "Supervisors"},
        "ROLE_PERMISSIONS": {"supervisor": {"view_coachingsession": "all"}},
    }):
        as_user(client, supervisor)
        response = client.get(reverse(SESSIONS_LIST))
        assert response.status_code == 200 and "Ada Acme" in response.content.decode()
        assert "Book for a client" not in response.content.decode()
        assert client.get(clients_url()).status_code == 403
