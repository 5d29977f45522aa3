"""Payouts: sessions delivered per coach over a period, checked against figures worked out
by hand, on the page and as CSV, and who may see whose. Runs on SQLite and PostgreSQL (the
hours are sums of durations in the database)."""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from wagtail_coaching.models import (
    CoachingSession,
    CoachingSessionStatus,
    GroupSession,
    SessionStatus,
)
from wagtail_coaching.scheduling import delivered

from .test_admin_clients import admin_world, as_user, is_login_redirect
from .world_sessions import add_sessions

UTC = ZoneInfo("UTC")
URL = "/admin/coaching/payouts/"
MARCH = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))


def at(day, hour=10, minute=0, month=3):
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def group(world, coach, start, minutes, *, taken=True, cancelled=False, co=()):
    session = GroupSession.objects.create(
        title=f"Group {start:%d %H:%M}", coach=coach, starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        status=SessionStatus.CANCELLED if cancelled else SessionStatus.SCHEDULED,
        attendance_taken_at=start + timedelta(minutes=minutes) if taken else None,
    )
    session.co_coaches.add(*co)
    return session


def one_to_one(world, enrollment, coach, start, minutes, status):
    return CoachingSession.objects.create(
        enrollment=enrollment, activity=world.one_to_one[enrollment.pk], coach=coach,
        starts_at=start, ends_at=start + timedelta(minutes=minutes), status=status,
        booked_at=start - timedelta(days=3),
    )


@pytest.fixture
def world(db):
    """March 2025, worked out by hand (UTC):

    coach_a:  group 90 min with coach_a2 as co-coach (attendance taken)   1 group, 1.5 h
              group 60 min, attendance not taken                          not counted
              1:1 held 60 min + 1:1 no-show 45 min                        2 1:1, 1.75 h
              1:1 cancelled late                                          1 late cancellation
              1:1 cancelled in time, 1:1 still "booked"                   not counted
    coach_a2: the co-coached group                                        1 group, 1.5 h
    coach_b:  group at 1 March 00:00 (the first instant)                  1 group, 1 h
              group at 1 April 00:00 (the end, excluded)                  not counted
              cancelled group (attendance taken before it was cancelled)  not counted
              1:1 held on 28 February 23:30                               not counted
    """
    w = add_sessions(admin_world())
    a1, b1 = w.enrollment_a1, w.enrollment_b1
    group(w, w.coach_a, at(10, 17), 90, co=[w.coach_a2])
    group(w, w.coach_a, at(12, 17), 60, taken=False)
    one_to_one(w, a1, w.coach_a, at(5), 60, CoachingSessionStatus.COMPLETED)
    one_to_one(w, a1, w.coach_a, at(6), 45, CoachingSessionStatus.NO_SHOW)
    one_to_one(w, a1, w.coach_a, at(7), 60, CoachingSessionStatus.LATE_CANCELLED)
    one_to_one(w, a1, w.coach_a, at(8), 60, CoachingSessionStatus.CANCELLED)
    one_to_one(w, a1, w.coach_a, at(9), 60, CoachingSessionStatus.BOOKED)
    group(w, w.coach_b, at(1, 0), 60)
    group(w, w.coach_b, datetime(2025, 4, 1, tzinfo=UTC), 60)
    group(w, w.coach_b, at(20), 60, cancelled=True)
    one_to_one(w, b1, w.coach_b, at(28, 23, 30, month=2), 60, CoachingSessionStatus.COMPLETED)
    return w


def table(rows):
    return {
        r.coach.username: (r.group_sessions, r.group_hours, r.one_to_one_sessions,
                           r.one_to_one_hours, r.late_cancellations, r.hours)
        for r in rows
    }


EXPECTED = {
    "coach_a": (1, 1.5, 2, 1.75, 1, 3.25),
    "coach_a2": (1, 1.5, 0, 0, 0, 1.5),
    "coach_b": (1, 1.0, 0, 0, 0, 1.0),
}


def test_the_figures_match_the_hand_count(world):
    rows = delivered(*MARCH)
    assert table(rows) == EXPECTED
    names = [r.coach.get_full_name().lower() for r in rows]
    assert names == sorted(names)


def test_the_period_is_start_inclusive_end_exclusive(world):
    assert table(delivered(at(1, 0), at(1, 1))) == {"coach_b": (1, 1.0, 0, 0, 0, 1.0)}
    assert table(delivered(at(1, 0, month=4), at(2, 0, month=4))) == {
        "coach_b": (1, 1.0, 0, 0, 0, 1.0)
    }
    assert table(delivered(at(28, 0, month=2), MARCH[0])) == {
        "coach_b": (0, 0, 1, 1.0, 0, 1.0)
    }
    assert delivered(at(2), at(4)) == []


def test_rows_can_be_limited_to_some_coaches(world):
    assert table(delivered(*MARCH, coach_ids=[world.coach_a2.pk])) == {
        "coach_a2": EXPECTED["coach_a2"]
    }
    assert delivered(*MARCH, coach_ids=[]) == []


# -- The page ----------------------------------------------------------------------------------

def march(**extra):
    # The viewer's zone is Europe/London (tests' TIME_ZONE): GMT all of March 2025 but for
    # its last day and a bit, so no session of the fixture moves across the boundary.
    return {"start": "2025-03-01", "end": "2025-03-31", **extra}


def listed(response):
    """The table's part of the page (the coach filter names coaches too)."""
    html = response.content.decode()
    marker = '<table class="listing">'
    return html.split(marker, 1)[1] if marker in html else ""


def test_an_admin_sees_every_coach(client, world):
    response = as_user(client, world.admin).get(URL, march())
    assert response.status_code == 200
    html = response.content.decode()
    for user in (world.coach_a, world.coach_a2, world.coach_b):
        assert user.get_full_name() in html
    assert "3.25" in html and "1.75" in html
    assert 'name="coach"' in html
    assert "format=csv" in html


def test_an_admin_filters_by_coach(client, world):
    response = as_user(client, world.admin).get(URL, march(coach=world.coach_b.pk))
    assert world.coach_b.get_full_name() in listed(response)
    assert world.coach_a.get_full_name() not in listed(response)


def test_a_coach_sees_only_their_own_payouts(client, world):
    as_user(client, world.coach_a2)
    response = client.get(URL, march())
    html = response.content.decode()
    assert response.status_code == 200
    assert world.coach_a2.get_full_name() in html
    assert world.coach_a.get_full_name() not in html
    assert world.coach_b.get_full_name() not in html
    assert 'name="coach"' not in html
    # Asking for another coach's figures changes nothing.
    response = client.get(URL, march(coach=world.coach_a.pk))
    assert world.coach_a2.get_full_name() in listed(response)
    assert world.coach_a.get_full_name() not in response.content.decode()
    csv_text = client.get(URL, march(format="csv")).content.decode()
    assert world.coach_a.get_full_name() not in csv_text
    assert world.coach_a2.get_full_name() in csv_text


@pytest.mark.parametrize("who", ["sales", "hr_acme"])
def test_other_staff_are_refused(client, world, who):
    as_user(client, getattr(world, who))
    for params in (march(), march(format="csv")):
        response = client.get(URL, params)
        assert response.status_code == 403
        assert world.coach_a.get_full_name() not in response.content.decode()


def test_clients_go_to_the_login(client, world):
    assert is_login_redirect(as_user(client, world.client_a1).get(URL, march(format="csv")))


def test_the_default_period_is_last_calendar_month(client, world):
    with time_machine.travel(datetime(2025, 4, 15, 12, tzinfo=UTC)):
        response = as_user(client, world.admin).get(URL)
    html = response.content.decode()
    assert 'value="2025-03-01"' in html and 'value="2025-03-31"' in html
    assert "3.25" in html


def test_a_period_ending_before_it_starts_is_refused(client, world):
    response = as_user(client, world.admin).get(URL, {"start": "2025-03-31", "end": "2025-03-01"})
    assert response.status_code == 400
    assert "The period ends before it starts." in response.content.decode()


def test_the_period_is_in_the_viewers_zone(client, world):
    # 31 March 23:30 UTC is already 1 April in London (summer time from 30 March).
    one_to_one(world, world.enrollment_b1, world.coach_b, at(31, 23, 30), 60,
               CoachingSessionStatus.COMPLETED)
    assert table(delivered(*MARCH))["coach_b"] == (1, 1.0, 1, 1.0, 0, 2.0)
    as_user(client, world.admin)
    march_rows = client.get(URL, march(coach=world.coach_b.pk, format="csv")).content.decode()
    april_rows = client.get(URL, {"start": "2025-04-01", "end": "2025-04-30",
                                  "coach": world.coach_b.pk, "format": "csv"}).content.decode()
    assert list(csv.reader(io.StringIO(march_rows)))[1][2:] == ["1", "1.0", "0", "0.0", "0", "1.0"]
    assert list(csv.reader(io.StringIO(april_rows)))[1][2:] == ["1", "1.0", "1", "1.0", "0", "2.0"]


# -- CSV ---------------------------------------------------------------------------------------

def test_the_csv_has_the_same_rows(client, world):
    response = as_user(client, world.admin).get(URL, march(format="csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="payouts-2025-03-01-2025-03-31.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Coach", "Email", "Group sessions", "Group hours", "1:1 sessions",
                       "1:1 hours", "Late cancellations", "Total hours"]
    names = {u.get_full_name(): u for u in (world.coach_a, world.coach_a2, world.coach_b)}
    assert {names[r[0]].username: tuple(r[2:]) for r in rows[1:]} == {
        "coach_a": ("1", "1.5", "2", "1.75", "1", "3.25"),
        "coach_a2": ("1", "1.5", "0", "0.0", "0", "1.5"),
        "coach_b": ("1", "1.0", "0", "0.0", "0", "1.0"),
    }
    emails = {r[0]: r[1] for r in rows[1:]}
    assert emails[world.coach_a.get_full_name()] == world.coach_a.email


def test_a_name_that_looks_like_a_formula_stays_text(client, world):
    world.coach_b.first_name = "=HYPERLINK(\"http://evil\")"
    world.coach_b.save()
    response = as_user(client, world.admin).get(URL, march(format="csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert any(r[0].startswith("'=HYPERLINK") for r in rows[1:])
