"""Payouts: sessions delivered per coach over a period (the "Sessions delivered" report),
checked against figures worked out by hand, on the page and as CSV and XLSX, and who may see
whose; the old payouts address leads to the report. Runs on SQLite and PostgreSQL (the hours
are sums of durations in the database)."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from wagtail_coaching.models import (
    CoachingSession,
    CoachingSessionStatus,
    GroupSession,
    SessionStatus,
)
from wagtail_coaching.scheduling import delivered

from .test_admin_clients import admin_world, as_user, is_login_redirect
from .test_reports import choices, csv_table, listing, summary, xlsx_sheet, xlsx_table
from .world_sessions import add_sessions

UTC = ZoneInfo("UTC")
URL = "/admin/coaching/reports/sessions_delivered/"
RESULTS = "/admin/coaching/reports/sessions_delivered/results/"
OLD_URL = "/admin/coaching/payouts/"
MARCH = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
HEADINGS = ["Coach", "Email", "Group sessions", "Group hours", "1:1 sessions", "1:1 hours",
            "Late cancellations", "Total hours"]


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


def build_shared_world():
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


@pytest.fixture
def world(shared):
    return shared


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
# The same as the report shows them (from the group sessions column on).
SHOWN = {
    "coach_a": ["1", "1.5", "2", "1.75", "1", "3.25"],
    "coach_a2": ["1", "1.5", "0", "0.0", "0", "1.5"],
    "coach_b": ["1", "1.0", "0", "0.0", "0", "1.0"],
}


def figures(*cells):
    return [Decimal(cell) for cell in cells]


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


# -- The report --------------------------------------------------------------------------------

def march(**extra):
    # The viewer's zone is Europe/London (tests' TIME_ZONE): GMT all of March 2025 but for
    # its last day and a bit, so no session of the fixture moves across the boundary.
    return {"period_from": "2025-03-01", "period_to": "2025-03-31", **extra}


def by_coach(world, rows):
    """{username: figures} of the table's rows, checking each row's name and email."""
    users = {u.get_full_name(): u for u in (world.coach_a, world.coach_a2, world.coach_b)}
    found = {}
    for row in rows:
        user = users[row[0]]
        assert row[1] == user.email
        # Figures as numbers: a spreadsheet reads 0.0 back as 0.
        found[user.username] = [Decimal(str(cell)) for cell in row[2:]]
    return found


def test_an_admin_sees_every_coach(client, world):
    response = as_user(client, world.admin).get(URL, march())
    headings, rows = listing(response)
    assert headings == HEADINGS
    assert by_coach(world, rows) == {k: figures(*v) for k, v in SHOWN.items()}
    names = [r[0].lower() for r in rows]
    assert names == sorted(names)
    assert summary(response) == {"Group sessions": "3", "1:1 sessions": "2",
                                 "Late cancellations": "1", "Hours": "5.75"}
    assert sorted(choices(response, "coach")) == sorted(
        u.get_full_name() for u in (world.coach_a, world.coach_a2, world.coach_b)
    )
    html = response.content.decode()
    assert "export=csv" in html and "export=xlsx" in html


def test_the_period_through_the_report(client, world):
    """Days in London: 1 March is [00:00, 24:00) GMT; 1 April starts at 00:00 BST, so the
    group at 00:00 UTC (01:00 BST) is on 1 April; 28 February 23:30 UTC is on the 28th."""
    as_user(client, world.admin)

    def day(iso):
        return by_coach(world, listing(client.get(URL, {"period_from": iso,
                                                        "period_to": iso}))[1])

    assert day("2025-03-01") == {"coach_b": figures("1", "1.0", "0", "0.0", "0", "1.0")}
    assert day("2025-04-01") == {"coach_b": figures("1", "1.0", "0", "0.0", "0", "1.0")}
    assert day("2025-02-28") == {"coach_b": figures("0", "0.0", "1", "1.0", "0", "1.0")}
    assert day("2025-03-02") == {}


def test_an_admin_filters_by_coach(client, world):
    response = as_user(client, world.admin).get(URL, march(coach=world.coach_b.pk))
    assert by_coach(world, listing(response)[1]) == {"coach_b": figures(*SHOWN["coach_b"])}


def test_a_coach_sees_only_their_own_payouts(client, world):
    as_user(client, world.coach_a2)
    response = client.get(URL, march())
    assert by_coach(world, listing(response)[1]) == {"coach_a2": figures(*SHOWN["coach_a2"])}
    assert choices(response, "coach") == [world.coach_a2.get_full_name()]
    html = response.content.decode()
    assert world.coach_a.get_full_name() not in html
    assert world.coach_b.get_full_name() not in html
    # Asking for another coach's figures changes nothing: with the filters refused, the
    # period is the default (last calendar month: March from 15 April).
    with time_machine.travel(datetime(2025, 4, 15, 12, tzinfo=UTC)):
        for params in ({"coach": world.coach_a.pk}, {"coach": world.coach_a.pk, "export": "csv"},
                       {"coach": world.coach_a.pk, "export": "xlsx"}):
            response = client.get(URL, params)
            if "export" not in params:
                assert "Select a valid choice" in response.content.decode()
                rows = listing(response)[1]
            elif params["export"] == "csv":
                rows = csv_table(response)[1]
            else:
                rows = xlsx_table(response)[1]
            assert by_coach(world, rows) == {"coach_a2": figures(*SHOWN["coach_a2"])}, params
            if "export" not in params:
                assert world.coach_a.get_full_name() not in response.content.decode()


@pytest.mark.parametrize("who", ["sales", "hr_acme"])
def test_other_staff_are_refused(client, world, who):
    as_user(client, getattr(world, who))
    for address, params in ((URL, march()), (RESULTS, march()), (URL, march(export="csv")),
                            (URL, march(export="xlsx"))):
        response = client.get(address, params)
        assert response.status_code == 403
        assert world.coach_a.get_full_name() not in response.content.decode()


def test_clients_go_to_the_login(client, world):
    as_user(client, world.client_a1)
    for params in (march(), march(export="csv"), march(export="xlsx")):
        assert is_login_redirect(client.get(URL, params))
    assert is_login_redirect(client.get(OLD_URL))


def test_the_default_period_is_last_calendar_month(client, world):
    with time_machine.travel(datetime(2025, 4, 15, 12, tzinfo=UTC)):
        response = as_user(client, world.admin).get(URL)
    assert "Counting from March 1, 2025 up to (not including) April 1, 2025." in (
        response.content.decode()
    )
    assert by_coach(world, listing(response)[1]) == {k: figures(*v) for k, v in SHOWN.items()}


def test_a_period_ending_before_it_starts_is_refused(client, world):
    as_user(client, world.admin)
    backwards = {"period_from": "2025-03-31", "period_to": "2025-03-01"}
    with time_machine.travel(datetime(2025, 5, 15, 12, tzinfo=UTC)):  # April by default
        response = client.get(URL, backwards)
        fragment = client.get(RESULTS, {**backwards, "_w_filter_fragment": 1})
    for answer in (response, fragment):
        assert answer.status_code == 200
        assert "The period ends before it starts." in answer.content.decode()
    # The period is not applied: the table is the default month's (April: coach_b's group
    # at 1 April 00:00 UTC).
    assert by_coach(world, listing(response)[1]) == {
        "coach_b": figures("1", "1.0", "0", "0.0", "0", "1.0")
    }


def test_the_period_is_in_the_viewers_zone(client, world):
    from wagtail.users.models import UserProfile

    # 31 March 23:30 UTC is already 1 April in London (summer time from 30 March).
    one_to_one(world, world.enrollment_b1, world.coach_b, at(31, 23, 30), 60,
               CoachingSessionStatus.COMPLETED)
    assert table(delivered(*MARCH))["coach_b"] == (1, 1.0, 1, 1.0, 0, 2.0)
    as_user(client, world.admin)
    march_rows = csv_table(client.get(URL, march(coach=world.coach_b.pk, export="csv")))[1]
    april_rows = csv_table(client.get(URL, {"period_from": "2025-04-01",
                                            "period_to": "2025-04-30",
                                            "coach": world.coach_b.pk, "export": "csv"}))[1]
    assert march_rows[0][2:] == ["1", "1.0", "0", "0.0", "0", "1.0"]
    assert april_rows[0][2:] == ["1", "1.0", "1", "1.0", "0", "2.0"]
    # In New York (EDT from 9 March) that 1:1 is on 31 March (19:30), so is the group at
    # 1 April 00:00 UTC (20:00), and the group at 1 March 00:00 UTC is in February (19:00).
    profile = UserProfile.get_for_user(world.admin)
    profile.current_time_zone = "America/New_York"
    profile.save()
    march_rows = csv_table(client.get(URL, march(coach=world.coach_b.pk, export="csv")))[1]
    assert march_rows[0][2:] == ["1", "1.0", "1", "1.0", "0", "2.0"]
    april_rows = csv_table(client.get(URL, {"period_from": "2025-04-01",
                                            "period_to": "2025-04-30",
                                            "coach": world.coach_b.pk, "export": "csv"}))[1]
    assert april_rows == []


# -- Exports -----------------------------------------------------------------------------------

def test_the_csv_has_the_same_rows(client, world):
    response = as_user(client, world.admin).get(URL, march(export="csv"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        'attachment; filename="sessions_delivered-'
    )
    headings, rows = csv_table(response)
    assert headings == HEADINGS
    assert by_coach(world, rows) == {k: figures(*v) for k, v in SHOWN.items()}
    assert rows == listing(client.get(URL, march()))[1]


def test_the_xlsx_has_the_same_rows(client, world):
    response = as_user(client, world.admin).get(URL, march(export="xlsx"))
    assert response["Content-Disposition"].startswith(
        'attachment; filename="sessions_delivered-'
    )
    headings, rows = xlsx_table(response)
    assert headings == HEADINGS
    figures = {r[0]: tuple(r[2:]) for r in rows}
    assert figures == {
        world.coach_a.get_full_name(): (1, 1.5, 2, 1.75, 1, 3.25),
        world.coach_a2.get_full_name(): (1, 1.5, 0, 0, 0, 1.5),
        world.coach_b.get_full_name(): (1, 1.0, 0, 0, 0, 1.0),
    }
    assert [r[1] for r in rows] == [r[1] for r in listing(client.get(URL, march()))[1]]


def test_a_name_that_looks_like_a_formula_stays_text(client, world):
    world.coach_b.first_name = "=HYPERLINK(\"http://evil\")"
    world.coach_b.save()
    as_user(client, world.admin)
    rows = csv_table(client.get(URL, march(export="csv")))[1]
    assert any(r[0].startswith("'=HYPERLINK") for r in rows)
    sheet = xlsx_sheet(client.get(URL, march(export="xlsx")))
    (cell,) = [row[0] for row in sheet.iter_rows(min_row=2)
               if str(row[0].value).startswith("=HYPERLINK")]
    assert cell.data_type == "s"  # text, not a formula


# -- The old address ---------------------------------------------------------------------------

@pytest.mark.parametrize("old, new", [
    ({}, {}),
    ({"start": "2025-03-01", "end": "2025-03-31"},
     {"period_from": "2025-03-01", "period_to": "2025-03-31"}),
    ({"start": "2025-03-01", "end": "2025-03-31", "coach": "7", "format": "csv"},
     {"period_from": "2025-03-01", "period_to": "2025-03-31", "coach": "7", "export": "csv"}),
    ({"end": "2025-03-31", "format": "html", "other": "x"}, {"period_to": "2025-03-31"}),
])
def test_the_old_payouts_address_leads_to_the_report(client, world, old, new):
    from urllib.parse import parse_qs, urlparse

    assert reverse("wagtail_coaching_admin:payouts") == OLD_URL
    response = as_user(client, world.admin).get(OLD_URL, old)
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert location.path == URL
    assert {k: v[0] for k, v in parse_qs(location.query).items()} == new


def test_an_old_bookmark_gives_the_same_figures(client, world):
    as_user(client, world.admin)
    response = client.get(OLD_URL, {"start": "2025-03-01", "end": "2025-03-31",
                                    "coach": world.coach_a.pk, "format": "csv"}, follow=True)
    headings, rows = csv_table(response)
    assert by_coach(world, rows) == {"coach_a": figures(*SHOWN["coach_a"])}
    # Whoever may not see payouts is refused by the report itself.
    as_user(client, world.sales)
    assert client.get(OLD_URL, {"format": "csv"}, follow=True).status_code == 403
