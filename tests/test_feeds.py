"""Personal calendar feeds: every session of the person, nobody else's."""

import pytest
from icalendar import Calendar

from wagtail_coaching.models import CalendarFeed
from wagtail_coaching.scheduling import (
    cancel_session,
    feed_calendar,
    feed_of,
    register,
    reset_feed,
)
from wagtail_coaching.scheduling.feeds import feed_events

from .world import build_world
from .world_sessions import add_sessions


def build_shared_world():
    return add_sessions(build_world())


@pytest.fixture
def world(shared):
    return shared


def uids(user):
    return sorted(e.uid for e in feed_events(user))


def test_a_clients_feed_holds_their_seats_and_their_1to1s(world):
    assert uids(world.client_a1) == sorted([world.session_a.uid, world.booking_a1.uid])
    # Invited only (no seat): not in the feed yet.
    assert uids(world.client_a2) == []
    register(world.session_a, world.client_a2)
    assert uids(world.client_a2) == [world.session_a.uid]


def test_a_coachs_feed_holds_what_they_run(world):
    assert uids(world.coach_a) == sorted([world.session_a.uid, world.booking_a1.uid])
    world.session_b.co_coaches.add(world.coach_a2)
    assert uids(world.coach_a2) == [world.session_b.uid]
    assert uids(world.coach_b) == sorted([world.session_b.uid, world.booking_b1.uid])


def test_cancelled_sessions_stay_in_the_feed_marked_cancelled(world):
    cancel_session(world.booking_a1, actor=world.client_a1)
    calendar = Calendar.from_ical(feed_calendar(world.client_a1))
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert str(events[world.booking_a1.uid]["STATUS"]) == "CANCELLED"
    assert int(events[world.booking_a1.uid]["SEQUENCE"]) == 1
    assert str(events[world.session_a.uid]["STATUS"]) == "CONFIRMED"
    assert "METHOD" not in calendar


def test_resetting_a_feed_replaces_its_token(world):
    token = feed_of(world.client_a1).token
    assert feed_of(world.client_a1).token == token
    fresh = reset_feed(world.client_a1).token
    assert fresh != token and len(fresh) >= 32
    assert not CalendarFeed.objects.filter(token=token).exists()


def test_the_feed_costs_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        feed_events(world.coach_a)
