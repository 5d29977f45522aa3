"""The reports (``wagtail_coaching/reports/``) through their pages: who may open each one,
what each role sees in it, the filters' choices and bad input, the CSV and XLSX exports, the
HR partner's company report, sales and refunds, query counts and the Reports menu.

The figures are worked out by hand from data made here. Which URL answers whom is also in
the URL × role table (tests/routes_reports.py); the metrics themselves are
tests/test_metrics.py's; payouts (the sessions delivered report) are tests/test_payouts.py's.
"""

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wagtail_coaching.journeys import (
    add_extra_activity,
    complete_activity,
    enroll_many,
    skip_activity,
)
from wagtail_coaching.models import (
    ActivityState,
    ClientActivity,
    CoachAssignment,
    CoachingSession,
    CoachingSessionStatus,
    Cohort,
    Consent,
    ConsentPurpose,
    Enrollment,
    EventKind,
    GroupSession,
    JourneyEvent,
    OfferPage,
    Order,
    OrderSource,
    OrderStatus,
    PaymentModel,
    Registration,
    RegistrationStatus,
    SessionStatus,
)
from wagtail_coaching.testing.factories import UserFactory

from .routes_reports import REPORT_ACTIONS
from .test_admin_clients import as_user, is_login_redirect
from .world import built_quietly, coach_in, staff
from .world_sessions import add_sessions, in_days

UTC = ZoneInfo("UTC")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# March 2025 in the viewer's zone (Europe/London, the tests' TIME_ZONE: GMT until the 30th).
MARCH = {"period_from": "2025-03-01", "period_to": "2025-03-31"}
PERIOD_REPORTS = ("retention", "time_to_first_session", "no_shows", "satisfaction", "outcomes",
                  "sessions_delivered", "sales")
# Who may open what, written out from the matrix (tests/test_admin_matrix.py reads it).
MAY_OPEN = {
    "view_coaching_reports": {"admin", "coach_a"},
    "view_payouts": {"admin", "coach_a"},
    "view_sales_report": {"admin", "sales"},
    "view_company_report": {"admin", "hr_acme"},
}


def at(day, hour=10, minute=0, month=3):
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def report_url(slug, results=False):
    return reverse(f"wagtail_coaching_admin:report_{slug}{'_results' if results else ''}")


# -- Reading a report: its table, its exports, its filters --------------------------------------

class ListingTable(HTMLParser):
    """Headings and cells (text) of Wagtail's listing table; the chart's own table of
    numbers is left out."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.headings, self.rows = None, []
        self.row = self.cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            if self.depth or "listing" in (dict(attrs).get("class") or "").split():
                self.depth += 1
        elif self.depth == 1 and tag == "tr":
            self.row = []
        elif self.depth == 1 and tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth == 1 and tag in ("th", "td") and self.cell is not None:
            self.row.append((tag, " ".join("".join(self.cell).split())))
            self.cell = None
        elif self.depth == 1 and tag == "tr" and self.row is not None:
            if self.headings is None and all(kind == "th" for kind, _text in self.row):
                self.headings = [text for _kind, text in self.row]
            else:
                self.rows.append([text for _kind, text in self.row])
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def listing(response):
    """(headings, rows) of the report's table; ([], []) when it lists nothing."""
    assert response.status_code == 200, response.status_code
    parser = ListingTable()
    parser.feed(response.content.decode())
    return parser.headings or [], parser.rows


def rows_of(response):
    return listing(response)[1]


def download(response):
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def csv_table(response):
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download(response).decode("utf-8"))))
    return rows[0], rows[1:]


def xlsx_sheet(response):
    assert response["Content-Type"] == XLSX
    return openpyxl.load_workbook(io.BytesIO(download(response))).active


def xlsx_table(response):
    rows = [list(row) for row in xlsx_sheet(response).iter_rows(values_only=True)]
    return rows[0], rows[1:]


def summary(response):
    html = response.content.decode()
    return {unescape(dt): unescape(dd) for dt, dd in
            re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html)}


def choices(response, name):
    """The labels a filter offers (the empty choice left out)."""
    html = response.content.decode()
    found = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no {name} filter"
    return [
        unescape(label).strip()
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>',
                                       found.group(1), re.S)
        if value
    ]


def has_filter(response, name):
    return f'<select name="{name}"' in response.content.decode()


def name(user):
    return user.get_full_name()


def numbers(rows):
    """Cells compared as numbers where they are numbers (SQLite and PostgreSQL write
    decimals and averages with different numbers of places)."""
    return [[Decimal(c) if re.fullmatch(r"-?\d+(\.\d+)?", c) else c for c in r] for r in rows]


# -- The world ---------------------------------------------------------------------------------

def reports_world():
    """``build_world()`` with its sessions (tests/world_sessions.py), a cohort per company
    (a1 in Acme spring, b1 in Globex autumn), and the two group sessions moved to three days
    ahead so that "sessions in the next 7 days" does not depend on the hour."""
    w = add_sessions(built_quietly())
    w.spring = Cohort.objects.get(name="Acme spring")
    w.autumn = Cohort.objects.create(
        name="Globex autumn", company=w.globex, engagement=w.engagement_b,
        start_date=w.spring.start_date,
    )
    Enrollment.objects.filter(pk=w.enrollment_a1.pk).update(cohort=w.spring)
    Enrollment.objects.filter(pk=w.enrollment_b1.pk).update(cohort=w.autumn)
    GroupSession.objects.filter(pk__in=[w.session_a.pk, w.session_b.pk]).update(
        starts_at=in_days(3, 17), ends_at=in_days(3, 18)
    )
    return w


build_shared_world = reports_world


@pytest.fixture
def world(shared):
    return shared


def step(enrollment, title):
    return enrollment.activities.get(title=title)


def make_progress(w):
    """a1 completes the welcome (1 of 4 steps: 3 in stage "Start", plus the extra 1:1 step
    outside the stages); a2 skips everything, which completes the engagement; b1 has been
    quiet for 20 days (stuck in both of its stages, at risk)."""
    complete_activity(step(w.enrollment_a1, "Welcome"), actor=w.client_a1)
    for activity in w.enrollment_a2.activities.all():
        skip_activity(activity, actor=w.admin)
    quiet(w.enrollment_b1, days=20)


def quiet(enrollment, days):
    JourneyEvent.objects.filter(enrollment=enrollment).update(at=F("at") - timedelta(days=days))
    Enrollment.objects.filter(pk=enrollment.pk).update(
        starts_at=F("starts_at") - timedelta(days=days)
    )


def group(w, coach, start, title, *, team, taken=True, marks=(), minutes=60):
    session = GroupSession.objects.create(
        title=title, coach=coach, team=team, starts_at=start,
        ends_at=start + timedelta(minutes=minutes), status=SessionStatus.SCHEDULED,
        attendance_taken_at=start + timedelta(minutes=minutes) if taken else None,
    )
    for user, status in marks:
        Registration.objects.create(session=session, user=user, status=status)
    return session


def one_to_one(w, enrollment, coach, start, status, minutes=60):
    return CoachingSession.objects.create(
        enrollment=enrollment, activity=w.one_to_one[enrollment.pk], coach=coach,
        starts_at=start, ends_at=start + timedelta(minutes=minutes), status=status,
        booked_at=start - timedelta(days=3),
    )


ATTENDED, NO_SHOW = RegistrationStatus.ATTENDED, RegistrationStatus.NO_SHOW


def make_no_shows(w):
    """March 2025 (UTC), worked out by hand:

    coach_a  Circle 1 (10 March): a1 attended, a2 no-show           1 attended, 1 no-show
             Circle 2 (12 March): a1 and a2 no-show                 2 no-shows
             Circle 3 (14 March): attendance not taken              not counted
             1:1 a1 held, 1:1 a1 no-show, 1:1 a1 cancelled late     1 attended, 1 no-show
             Circle 4 (2 April): a1 no-show                         outside the period
             = 2 attended, 4 no-shows: 66.7 %
    coach_b  Globex 1 (11 March): b1 attended                       1 attended
             1:1 b1 no-show                                         1 no-show
             = 1 attended, 1 no-show: 50.0 %
    """
    a1, a2, b1 = w.client_a1, w.client_a2, w.client_b1
    group(w, w.coach_a, at(10, 17), "Circle 1", team=w.team_a,
          marks=[(a1, ATTENDED), (a2, NO_SHOW)])
    group(w, w.coach_a, at(12, 17), "Circle 2", team=w.team_a,
          marks=[(a1, NO_SHOW), (a2, NO_SHOW)])
    group(w, w.coach_a, at(14, 17), "Circle 3", team=w.team_a, taken=False,
          marks=[(a1, RegistrationStatus.REGISTERED)])
    group(w, w.coach_a, at(2, 17, month=4), "Circle 4", team=w.team_a, marks=[(a1, NO_SHOW)])
    group(w, w.coach_b, at(11, 17), "Globex 1", team=w.team_b, marks=[(b1, ATTENDED)])
    one_to_one(w, w.enrollment_a1, w.coach_a, at(5), CoachingSessionStatus.COMPLETED)
    one_to_one(w, w.enrollment_a1, w.coach_a, at(6), CoachingSessionStatus.NO_SHOW)
    one_to_one(w, w.enrollment_a1, w.coach_a, at(7), CoachingSessionStatus.LATE_CANCELLED)
    one_to_one(w, w.enrollment_b1, w.coach_b, at(8), CoachingSessionStatus.NO_SHOW)


def order(w, offer, amount, *, label="Standard", currency="eur", paid=True, refunded=None,
          manager=None, created=None, installments=None, status=None):
    created = created or at(15)
    return Order.objects.create(
        buyer=w.client_a1, offer=offer, price_label=label, currency=currency,
        amount=Decimal(amount), source=OrderSource.CHECKOUT,
        payment_model=PaymentModel.INSTALLMENTS if installments else PaymentModel.ONE_TIME,
        installments_total=installments,
        status=status or (OrderStatus.REFUNDED if refunded == amount else
                          OrderStatus.PAID if paid else OrderStatus.PENDING),
        amount_refunded=Decimal(refunded or "0"), paid_at=created if paid else None,
        sales_manager=manager, created_at=created,
    )


def make_sales(w):
    """Orders placed in March 2025 (the world's own grant is placed today, outside it):

    Offer A  100 EUR paid (sales manager)                 sold 100
             100 EUR paid then refunded in full (s.m.)    sold 100, refund 100
             100 EUR paid, 40 refunded                    sold 100, refund 40
             3 installments of 50 EUR, paid ("Plan")      sold 150
             100 EUR awaiting payment                     an order, not paid
    Offer B  0 EUR (free)                                 free
             80 USD paid (sales manager)                  sold 80
    Offer A  100 EUR paid on 31 March 23:30 UTC, already 1 April in London: not counted.
    """
    offer_a, offer_b = (OfferPage.objects.get(title=t) for t in ("Offer A", "Offer B"))
    order(w, offer_a, "100.00", manager=w.sales)
    order(w, offer_a, "100.00", refunded="100.00", manager=w.sales)
    order(w, offer_a, "100.00", refunded="40.00")
    order(w, offer_a, "50.00", label="Plan", installments=3)
    order(w, offer_a, "100.00", paid=False)
    order(w, offer_b, "0.00", label="Free")
    order(w, offer_b, "80.00", label="Dollars", currency="usd", manager=w.sales)
    order(w, offer_a, "100.00", created=at(31, 23, 30))


def make_answers(w):
    """Feedback (1-5): a1 5, a2 2 (engagement A), b1 4 (B). Check-in scores (0-10): a1 7
    (A), b1 3 (B)."""
    now = timezone.now()
    for enrollment, score in ((w.enrollment_a1, 5), (w.enrollment_a2, 2), (w.enrollment_b1, 4)):
        ClientActivity.objects.create(
            enrollment=enrollment, block_id="feedback", kind="feedback", title="Feedback",
            state=ActivityState.COMPLETED, completed_at=now, score=score,
            response={"comment": "Private feedback words"},
        )
    for enrollment, client, score in ((w.enrollment_a1, w.client_a1, 7),
                                      (w.enrollment_b1, w.client_b1, 3)):
        welcome = step(enrollment, "Welcome")
        if welcome.state == ActivityState.AVAILABLE:
            complete_activity(welcome, actor=client)
        complete_activity(step(enrollment, "How are you?"), actor=client, score=score,
                          response={"answer": "My private answer"})


# -- Who may open each report ------------------------------------------------------------------

def addresses(slug):
    page, results = report_url(slug), report_url(slug, results=True)
    return [(page, {}), (results, {}), (page, {"export": "csv"}), (page, {"export": "xlsx"}),
            (results, {"export": "csv"}), (results, {"export": "xlsx"})]


@pytest.mark.parametrize("slug", sorted(REPORT_ACTIONS))
def test_each_role_is_let_in_or_kept_out(client, world, slug):
    make_progress(world)
    make_sales(world)
    allowed = MAY_OPEN[REPORT_ACTIONS[slug]]
    for who in ("admin", "coach_a", "sales", "hr_acme", "client_a1", None):
        user = getattr(world, who) if who else None
        as_user(client, user)
        for address, params in addresses(slug):
            response = client.get(address, params)
            where = (who, address, params)
            if who in (None, "client_a1"):
                assert is_login_redirect(response), where
            elif who in allowed:
                assert response.status_code == 200, where
                export = params.get("export")
                if export:
                    assert response["Content-Disposition"].startswith(
                        f'attachment; filename="{slug}-'
                    ), where
                    assert response["Content-Disposition"].endswith(f'.{export}"'), where
                    assert download(response)
            else:
                assert response.status_code == 403, where
                html = response.content.decode()
                for other in world.users():
                    if other != user:
                        assert name(other) not in html and other.email not in html, where


def test_the_sales_report_is_refused_to_coaches_and_hr_partners(client, world):
    make_sales(world)
    for who in ("coach_a", "coach_b", "hr_acme", "hr_globex"):
        as_user(client, getattr(world, who))
        for address, params in addresses("sales"):
            response = client.get(address, {**MARCH, **params})
            assert response.status_code == 403, (who, address, params)
            assert "Offer A" not in response.content.decode()


# -- Figures, worked out by hand ----------------------------------------------------------------

OUTSIDE = "Outside the program's stages"
PROGRESS_A = [
    # Engagement, stage, enrolled, active, completed, stuck, at risk, steps done (%),
    # practice adherence (%): none of these clients has a daily or weekly practice open.
    ["Engagement A", "All stages", "2", "1", "1", "0", "0", "62.5", ""],
    ["Engagement A", "Start", "2", "1", "1", "0", "", "66.7", ""],
    ["Engagement A", OUTSIDE, "2", "1", "1", "0", "", "50.0", ""],
]
PROGRESS_B = [
    # b1 is stuck in two stages but is one client.
    ["Engagement B", "All stages", "1", "1", "0", "1", "1", "0.0", ""],
    ["Engagement B", "Start", "1", "1", "0", "1", "", "0.0", ""],
    ["Engagement B", OUTSIDE, "1", "1", "0", "1", "", "0.0", ""],
]


def test_progress_figures(client, world):
    make_progress(world)
    response = as_user(client, world.admin).get(report_url("progress"))
    headings, rows = listing(response)
    assert headings == ["Engagement", "Stage", "Enrolled", "Active", "Completed", "Stuck",
                        "At risk", "Steps done (%)", "Practice adherence (%)"]
    assert rows == PROGRESS_A + PROGRESS_B
    assert summary(response) == {
        "Clients": "3", "Active clients": "2", "Engaged (active in the last 7 days)": "1",
        "At risk": "1", "Completed": "1",
    }


@pytest.mark.parametrize("who, expected", [
    ("coach_a", PROGRESS_A),  # team A: a1 (coached) and a2
    ("coach_a2", PROGRESS_A),  # team A, coaches nobody
    ("coach_b", PROGRESS_B),
])
def test_a_coach_sees_progress_of_their_teams_clients(client, world, who, expected):
    make_progress(world)
    response = as_user(client, getattr(world, who)).get(report_url("progress"))
    assert rows_of(response) == expected
    clients = {"coach_b": "1"}.get(who, "2")
    assert summary(response)["Clients"] == clients


def test_a_coach_counts_a_client_they_coach_in_another_team(client, world):
    """Cy is in engagement B (team B) and coached by coach_a: coach_a counts Cy and not Bea."""
    cy = UserFactory(username="cy", first_name="Cy", last_name="Cross")
    (cross,), _ = enroll_many([cy], world.engagement_b)
    CoachAssignment.objects.create(enrollment=cross, coach=world.coach_a, method="manual",
                                   started_at=timezone.now())
    rows = rows_of(as_user(client, world.coach_a).get(report_url("progress")))
    assert [r[:3] for r in rows if r[1] == "All stages"] == [
        ["Engagement A", "All stages", "2"], ["Engagement B", "All stages", "1"],
    ]
    rows = rows_of(as_user(client, world.coach_b).get(report_url("progress")))
    assert [r[:3] for r in rows if r[1] == "All stages"] == [["Engagement B", "All stages", "2"]]


BY_COACH_HEADINGS = ["Coach", "Attended", "No-shows", "No-show rate (%)"]


def test_no_shows_by_coach(client, world):
    make_no_shows(world)
    response = as_user(client, world.admin).get(report_url("no_shows"), MARCH)
    headings, rows = listing(response)
    assert headings == BY_COACH_HEADINGS
    assert sorted(rows) == sorted([
        [name(world.coach_a), "2", "4", "66.7"],
        [name(world.coach_b), "1", "1", "50.0"],
    ])
    # April: Circle 4 only.
    rows = rows_of(client.get(report_url("no_shows"),
                              {"period_from": "2025-04-01", "period_to": "2025-04-30"}))
    assert rows == [[name(world.coach_a), "0", "1", "100.0"]]


def test_no_shows_by_session(client, world):
    make_no_shows(world)
    response = as_user(client, world.admin).get(report_url("no_shows"), {**MARCH, "by": "session"})
    headings, rows = listing(response)
    assert headings == ["Session", "Starts", "Coach", "Attended", "No-shows",
                        "No-show rate (%)"]
    assert [[r[0], *r[2:]] for r in rows] == [  # newest first
        ["Circle 2", name(world.coach_a), "0", "2", "100.0"],
        ["Globex 1", name(world.coach_b), "1", "0", "0.0"],
        ["Circle 1", name(world.coach_a), "1", "1", "50.0"],
    ]
    # Shown in the viewer's zone: 12 March 17:00 UTC is 17:00 in London (GMT).
    assert rows[0][1] == "March 12, 2025, 5 p.m."


@pytest.mark.parametrize("who, coaches", [
    ("coach_a", ["coach_a"]),  # team A's sessions and team A's clients' 1:1 sessions
    ("coach_a2", ["coach_a"]),  # a teammate: the team's sessions, though coach_a ran them
    ("coach_b", ["coach_b"]),
])
def test_a_coach_sees_no_shows_of_their_teams_sessions(client, world, who, coaches):
    make_no_shows(world)
    as_user(client, getattr(world, who))
    rows = rows_of(client.get(report_url("no_shows"), MARCH))
    expected = {"coach_a": ["2", "4", "66.7"], "coach_b": ["1", "1", "50.0"]}
    assert rows == [[name(getattr(world, c)), *expected[c]] for c in coaches]
    sessions = rows_of(client.get(report_url("no_shows"), {**MARCH, "by": "session"}))
    titles = {"coach_a": ["Circle 2", "Circle 1"], "coach_b": ["Globex 1"]}
    assert [r[0] for r in sessions] == titles[coaches[0]]
    # Asking for the other team's coach changes nothing (the filters are not applied, the
    # period is the default: the 90 days to 15 April) and names nobody.
    other = world.coach_b if coaches == ["coach_a"] else world.coach_a
    with time_machine.travel(datetime(2025, 4, 15, 12, tzinfo=UTC)):
        plain = rows_of(client.get(report_url("no_shows")))
        response = client.get(report_url("no_shows"), {"coach": other.pk})
    assert plain == [r[:1] + (["2", "5", "71.4"] if c == "coach_a" else r[1:])
                     for r, c in zip(rows, coaches, strict=True)]  # with Circle 4
    assert rows_of(response) == plain
    assert "Select a valid choice" in response.content.decode()
    assert name(other) not in response.content.decode()


def test_coach_load(client, world):
    def table(who):
        return rows_of(as_user(client, getattr(world, who)).get(report_url("coach_load")))

    # Coach, active clients, capacity, load (%), free places, at risk, sessions next 7 days.
    rows = {
        "coach_a": [name(world.coach_a), "1", "10", "10.0", "9", "0", "2"],
        "coach_a2": [name(world.coach_a2), "0", "10", "0.0", "10", "0", "0"],
        "coach_b": [name(world.coach_b), "1", "10", "10.0", "9", "0", "2"],
    }

    def by_name(*who):
        return sorted((rows[w] for w in who), key=lambda r: r[0])

    assert table("admin") == by_name("coach_a", "coach_a2", "coach_b")
    # A coach: themselves and their teammates.
    assert table("coach_a") == by_name("coach_a", "coach_a2")
    assert table("coach_a2") == by_name("coach_a", "coach_a2")
    assert table("coach_b") == by_name("coach_b")


def test_satisfaction_and_outcomes(client, world):
    make_answers(world)
    as_user(client, world.admin)
    # Engagement, answers, average, satisfied (4 or more), CSAT.
    assert numbers(rows_of(client.get(report_url("satisfaction")))) == numbers([
        ["Engagement A", "2", "3.5", "1", "50.0"],
        ["Engagement B", "1", "4", "1", "100"],
    ])
    month = timezone.localdate().strftime("%Y-%m")
    assert numbers(rows_of(client.get(report_url("outcomes")))) == numbers([
        ["Engagement A", "How are you?", month, "1", "7"],
        ["Engagement B", "How are you?", month, "1", "3"],
    ])
    as_user(client, world.coach_b)
    assert numbers(rows_of(client.get(report_url("satisfaction")))) == numbers([
        ["Engagement B", "1", "4", "1", "100"],
    ])
    assert numbers(rows_of(client.get(report_url("outcomes")))) == numbers([
        ["Engagement B", "How are you?", month, "1", "3"],
    ])


def test_retention_and_time_to_first_session_count_only_what_the_coach_sees(client, world):
    for enrollment, client_user in ((world.enrollment_a1, world.client_a1),
                                    (world.enrollment_b1, world.client_b1)):
        JourneyEvent.objects.create(enrollment=enrollment, kind=EventKind.SESSION_ATTENDED,
                                    at=enrollment.starts_at + timedelta(days=1),
                                    actor=client_user)
    month = timezone.localdate().strftime("%Y-%m")
    for who, enrolled, engagements in (("admin", "3", ["Engagement A", "Engagement B"]),
                                       ("coach_a", "2", ["Engagement A"]),
                                       ("coach_b", "1", ["Engagement B"])):
        as_user(client, getattr(world, who))
        rows = rows_of(client.get(report_url("retention")))
        assert [r[:3] for r in rows] == [[month, enrolled, "100.0"]], who
        rows = rows_of(client.get(report_url("time_to_first_session")))
        assert [r[0] for r in rows] == engagements, who
    # Engagement, enrollments, had a session, average days, within 7/14/30 days (%), none yet.
    as_user(client, world.admin)
    assert rows_of(client.get(report_url("time_to_first_session"))) == [
        ["Engagement A", "2", "1", "1.0", "50.0", "50.0", "50.0", "1"],
        ["Engagement B", "1", "1", "1.0", "100.0", "100.0", "100.0", "0"],
    ]


# -- Sales --------------------------------------------------------------------------------------

SALES_HEADINGS = ["Currency", "Orders", "Paid", "Free", "Refunded", "Sold", "Refunds", "Net"]




@pytest.mark.parametrize("who", ["admin", "sales"])
def test_sales_by_offer(client, world, who):
    make_sales(world)
    response = as_user(client, getattr(world, who)).get(report_url("sales"), MARCH)
    headings, rows = listing(response)
    assert headings == ["Offer", *SALES_HEADINGS]
    assert numbers(rows) == numbers([
        ["Offer A", "EUR", "5", "4", "0", "2", "450", "140", "310"],
        ["Offer B", "EUR", "1", "0", "1", "0", "0", "0", "0"],
        ["Offer B", "USD", "1", "1", "0", "0", "80", "0", "80"],
    ])


def test_sales_by_price_and_by_sales_manager(client, world):
    make_sales(world)
    as_user(client, world.admin)
    headings, rows = listing(client.get(report_url("sales"), {**MARCH, "by": "price"}))
    assert headings == ["Offer", "Price", *SALES_HEADINGS]
    assert numbers(rows) == numbers([
        ["Offer A", "Plan", "EUR", "1", "1", "0", "0", "150", "0", "150"],
        ["Offer A", "Standard", "EUR", "4", "3", "0", "2", "300", "140", "160"],
        ["Offer B", "Dollars", "USD", "1", "1", "0", "0", "80", "0", "80"],
        ["Offer B", "Free", "EUR", "1", "0", "1", "0", "0", "0", "0"],
    ])
    headings, rows = listing(client.get(report_url("sales"), {**MARCH, "by": "sales_manager"}))
    assert headings == ["Sales manager", *SALES_HEADINGS]
    assert sorted(numbers(rows), key=str) == sorted(numbers([
        [name(world.sales), "EUR", "2", "2", "0", "1", "200", "100", "100"],
        [name(world.sales), "USD", "1", "1", "0", "0", "80", "0", "80"],
        ["No sales manager", "EUR", "4", "2", "1", "1", "250", "40", "210"],
    ]), key=str)
    # Filtered by the sales manager.
    rows = rows_of(client.get(report_url("sales"), {**MARCH, "sales_manager": world.sales.pk}))
    assert numbers(rows) == numbers([
        ["Offer A", "EUR", "2", "2", "0", "1", "200", "100", "100"],
        ["Offer B", "USD", "1", "1", "0", "0", "80", "0", "80"],
    ])


def test_a_refund_shows_and_reduces_net(client, world):
    offer_a = OfferPage.objects.get(title="Offer A")
    paid = order(world, offer_a, "120.00")
    as_user(client, world.admin)
    assert numbers(rows_of(client.get(report_url("sales"), MARCH))) == numbers([
        ["Offer A", "EUR", "1", "1", "0", "0", "120", "0", "120"],
    ])
    Order.objects.filter(pk=paid.pk).update(status=OrderStatus.REFUNDED,
                                            amount_refunded=Decimal("120.00"),
                                            refunded_at=at(20))
    assert numbers(rows_of(client.get(report_url("sales"), MARCH))) == numbers([
        ["Offer A", "EUR", "1", "1", "0", "1", "120", "120", "0"],
    ])


def test_the_period_of_sales_is_the_viewers(client, world):
    """31 March 23:30 UTC is 1 April in London, 31 March in New York."""
    from wagtail.users.models import UserProfile

    make_sales(world)
    as_user(client, world.admin)
    april = {"period_from": "2025-04-01", "period_to": "2025-04-30"}
    assert [r[:3] for r in rows_of(client.get(report_url("sales"), april))] == [
        ["Offer A", "EUR", "1"]
    ]
    profile = UserProfile.get_for_user(world.admin)
    profile.current_time_zone = "America/New_York"
    profile.save()
    assert rows_of(client.get(report_url("sales"), april)) == []
    assert [r[:3] for r in rows_of(client.get(report_url("sales"), MARCH))][0] == [
        "Offer A", "EUR", "6"
    ]


# -- The company report -------------------------------------------------------------------------

COMPANY_HEADINGS = ["Client", "Company", "Engagement", "Cohort", "Status", "Progress (%)",
                    "Steps done", "Steps", "Sessions attended", "Sessions missed"]
ADA = ["Ada Acme", "Acme", "Engagement A", "Acme spring", "Active", "50.0", "2", "4", "2", "1"]
ABE = ["Abe Private", "Acme", "Engagement A", "", "Active", "0.0", "0", "4", "0", "0"]
BEA = ["Bea Globex", "Globex", "Engagement B", "Globex autumn", "Active", "25.0", "1", "4", "0",
       "1"]


def make_company(w):
    """Ada: welcome and check-in done (2 of 4 steps), 2 sessions attended, 1 missed; Bea:
    welcome done, 1 missed; Abe (who does not share his progress): nothing."""
    complete_activity(step(w.enrollment_a1, "Welcome"), actor=w.client_a1)
    complete_activity(step(w.enrollment_a1, "How are you?"), actor=w.client_a1, score=2,
                      response={"answer": "My private answer"})
    complete_activity(step(w.enrollment_b1, "Welcome"), actor=w.client_b1)
    now = timezone.now()
    for enrollment, kinds in (
        (w.enrollment_a1, [EventKind.SESSION_ATTENDED] * 2 + [EventKind.SESSION_MISSED]),
        (w.enrollment_b1, [EventKind.SESSION_MISSED]),
    ):
        for kind in kinds:
            JourneyEvent.objects.create(enrollment=enrollment, kind=kind, at=now)


@pytest.mark.parametrize("who, expected", [
    ("admin", [ADA, ABE, BEA]),
    ("hr_acme", [ADA]),
    ("hr_globex", [BEA]),
])
def test_company_report(client, world, who, expected):
    make_company(world)
    response = as_user(client, getattr(world, who)).get(report_url("company"))
    headings, rows = listing(response)
    assert headings == COMPANY_HEADINGS
    assert rows == expected
    attended = sum(int(r[8]) for r in expected)
    assert summary(response)["Sessions attended"] == str(attended)


def everything_hr_acme_gets(client, world, params=None):
    """The page, the results fragment and both exports, as text."""
    as_user(client, world.hr_acme)
    params = params or {}
    texts = []
    for address, extra in addresses("company"):
        response = client.get(address, {**params, **extra})
        if extra:
            if extra["export"] == "csv":
                texts.append(download(response).decode())
            else:
                sheet = xlsx_sheet(response)
                texts.append("\n".join(str(c) for row in sheet.iter_rows(values_only=True)
                                       for c in row))
        else:
            texts.append(response.content.decode())
    return texts


def test_the_hr_partner_never_gets_clients_who_did_not_consent(client, world):
    make_company(world)
    cohort = {"cohort": world.spring.pk}
    for params in (None, {"company": world.acme.pk}, {"engagement": world.engagement_a.pk},
                   cohort, {"company": world.globex.pk}, {"cohort": world.autumn.pk}):
        for text in everything_hr_acme_gets(client, world, params):
            for user in (world.client_a2, world.client_b1):
                assert name(user) not in text, (params, user)
                assert user.email not in text, (params, user)
            assert "Globex" not in text, params
            # No answers, scores or notes.
            assert "My private answer" not in text
            assert " note by " not in text


def test_the_hr_partner_exports_only_attendance_and_progress(client, world):
    make_company(world)
    as_user(client, world.hr_acme)
    headings, rows = csv_table(client.get(report_url("company"), {"export": "csv"}))
    assert headings == COMPANY_HEADINGS
    assert rows == [ADA]
    headings, rows = xlsx_table(client.get(report_url("company"), {"export": "xlsx"}))
    assert headings == COMPANY_HEADINGS
    assert len(rows) == 1 and rows[0][0] == "Ada Acme"
    for heading in headings:
        assert not re.search(r"score|answer|note|feedback", heading, re.I), heading


def test_a_client_who_withdraws_consent_leaves_the_company_report(client, world):
    make_company(world)
    Consent.objects.filter(client=world.client_a1).update(granted=False)
    as_user(client, world.hr_acme)
    assert rows_of(client.get(report_url("company"))) == []
    headings, rows = csv_table(client.get(report_url("company"), {"export": "csv"}))
    assert (headings, rows) == (COMPANY_HEADINGS, [])
    Consent.objects.filter(client=world.client_a2).update(granted=True)
    assert [r[0] for r in rows_of(client.get(report_url("company")))] == ["Abe Private"]


# -- Filters: the choices are the viewer's, a value outside them changes nothing ----------------

def test_filter_choices_of_the_client_reports(client, world):
    as_user(client, world.coach_b)
    for slug in ("progress", "retention", "time_to_first_session", "satisfaction", "outcomes"):
        response = client.get(report_url(slug))
        assert choices(response, "engagement") == ["Engagement B"], slug
        assert choices(response, "company") == ["Globex"], slug
        assert choices(response, "cohort") == ["Globex autumn"], slug
        assert choices(response, "coach") == [name(world.coach_b)], slug
    response = as_user(client, world.coach_a).get(report_url("progress"))
    assert choices(response, "engagement") == ["Engagement A"]
    assert choices(response, "company") == ["Acme"]
    assert choices(response, "cohort") == ["Acme spring"]
    assert choices(response, "coach") == [name(world.coach_a)]  # a2 has no coach
    response = as_user(client, world.admin).get(report_url("progress"))
    assert choices(response, "engagement") == ["Engagement A", "Engagement B"]
    assert choices(response, "company") == ["Acme", "Globex"]
    assert choices(response, "cohort") == ["Acme spring", "Globex autumn"]
    assert sorted(choices(response, "coach")) == sorted([name(world.coach_a),
                                                         name(world.coach_b)])


def test_filter_choices_of_the_other_reports(client, world):
    make_sales(world)
    as_user(client, world.coach_a)
    assert choices(client.get(report_url("no_shows")), "coach") == [name(world.coach_a)]
    assert sorted(choices(client.get(report_url("coach_load")), "coach")) == sorted(
        [name(world.coach_a), name(world.coach_a2)]
    )
    assert choices(client.get(report_url("sessions_delivered")), "coach") == [
        name(world.coach_a)
    ]
    as_user(client, world.hr_acme)
    response = client.get(report_url("company"))
    assert choices(response, "engagement") == ["Engagement A"]
    assert choices(response, "company") == ["Acme"]
    assert choices(response, "cohort") == ["Acme spring"]
    assert not has_filter(response, "coach")
    as_user(client, world.hr_globex)
    response = client.get(report_url("company"))
    assert choices(response, "company") == ["Globex"]
    assert choices(response, "cohort") == ["Globex autumn"]
    as_user(client, world.sales)
    response = client.get(report_url("sales"))
    assert choices(response, "offer") == ["Offer A", "Offer B"]
    assert choices(response, "sales_manager") == [name(world.sales)]


def test_a_filter_value_outside_the_viewers_scope_changes_nothing(client, world):
    make_progress(world)
    as_user(client, world.coach_b)
    plain = rows_of(client.get(report_url("progress")))
    assert plain == PROGRESS_B
    hidden = [name(world.client_a1), name(world.client_a2), name(world.coach_a), "Acme",
              "Engagement A"]
    for params in ({"company": world.acme.pk}, {"engagement": world.engagement_a.pk},
                   {"cohort": world.spring.pk}, {"coach": world.coach_a.pk}):
        for results in (False, True):
            response = client.get(report_url("progress", results), {**params,
                                                                    "_w_filter_fragment": 1})
            assert rows_of(response) == plain, params
            html = response.content.decode()
            assert "Select a valid choice" in html, params
            for text in hidden:
                assert text not in html, (params, text)
        csv_rows = csv_table(client.get(report_url("progress"), {**params, "export": "csv"}))[1]
        assert csv_rows == plain
    as_user(client, world.coach_a)
    response = client.get(report_url("coach_load"), {"coach": world.coach_b.pk})
    assert name(world.coach_b) not in response.content.decode()
    assert sorted(r[0] for r in rows_of(response)) == sorted([name(world.coach_a),
                                                              name(world.coach_a2)])


# -- Bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("slug", PERIOD_REPORTS)
def test_a_period_ending_before_it_starts_is_explained(client, world, slug):
    make_sales(world)
    as_user(client, world.admin)
    plain = rows_of(client.get(report_url(slug)))
    backwards = {"period_from": "2025-03-31", "period_to": "2025-03-01"}
    response = client.get(report_url(slug), backwards)
    assert "The period ends before it starts." in response.content.decode()
    assert rows_of(response) == plain  # the period is not applied
    # The fragment Wagtail's filter drawer fetches brings the message back with the filters.
    response = client.get(report_url(slug, results=True), {**backwards, "_w_filter_fragment": 1})
    assert response.status_code == 200
    assert "The period ends before it starts." in response.content.decode()
    for export in ("csv", "xlsx"):
        assert client.get(report_url(slug), {**backwards, "export": export}).status_code == 200


BAD_VALUES = {
    "progress": {"engagement": "abc", "company": "99999", "cohort": "1.5", "coach": "x"},
    "retention": {"period_from": "not-a-date", "company": "abc"},
    "time_to_first_session": {"period_to": "2025-02-30", "cohort": "abc"},
    "no_shows": {"period_from": "31/03/2025", "coach": "abc", "by": "everything"},
    "coach_load": {"coach": "abc"},
    "satisfaction": {"period_from": "yesterday", "engagement": "-1"},
    "outcomes": {"period_to": "2025-13-01", "coach": "99999"},
    "sessions_delivered": {"period_from": "soon", "coach": "abc"},
    "sales": {"period_from": "x", "offer": "abc", "sales_manager": "abc", "by": "colour"},
    "company": {"engagement": "abc", "company": "abc", "cohort": "abc"},
}


@pytest.mark.parametrize("slug", sorted(BAD_VALUES))
def test_bad_filter_values_get_a_message_and_no_error(client, world, slug):
    assert set(BAD_VALUES) == set(REPORT_ACTIONS)
    make_progress(world)
    make_sales(world)
    as_user(client, world.admin)
    plain = rows_of(client.get(report_url(slug)))
    for field, value in BAD_VALUES[slug].items():
        for results in (False, True):
            response = client.get(report_url(slug, results), {field: value,
                                                              "_w_filter_fragment": 1})
            assert response.status_code == 200, (field, value)
            html = response.content.decode()
            message = ("Enter a valid date" if field.startswith("period")
                       else "Select a valid choice")
            assert message in html, (field, value)
            assert rows_of(response) == plain, (field, value)
        for export in ("csv", "xlsx"):
            response = client.get(report_url(slug), {field: value, "export": export})
            assert response.status_code == 200, (field, value, export)


@pytest.mark.parametrize("slug", PERIOD_REPORTS)
def test_a_period_open_at_one_end(client, world, slug):
    make_no_shows(world)
    make_sales(world)
    as_user(client, world.admin)
    for params in ({"period_from": "2025-03-01"}, {"period_to": "2025-03-31"}):
        response = client.get(report_url(slug), params)
        assert response.status_code == 200, params
        html = response.content.decode()
        if "period_from" in params:
            assert "Counting from March 1, 2025." in html
        else:
            assert "Counting up to (not including) April 1, 2025." in html
        assert client.get(report_url(slug), {**params, "export": "csv"}).status_code == 200


# -- Exports -----------------------------------------------------------------------------------

def same_cell(shown, exported):
    """A table cell and the exported value: the same text, or the same number."""
    if exported is None:
        exported = ""
    if isinstance(exported, (int, float, Decimal)) and not isinstance(exported, bool):
        return shown != "" and Decimal(shown) == Decimal(str(exported))
    return shown == str(exported)


def assert_same(table, exported, what):
    (headings, rows), (export_headings, export_rows) = table, exported
    assert export_headings == headings, what
    assert len(export_rows) == len(rows), what
    for shown, got in zip(rows, export_rows, strict=True):
        assert len(shown) == len(got), what
        assert all(same_cell(s, g) for s, g in zip(shown, got, strict=True)), (what, shown, got)


EXPORT_CASES = [
    ("progress", {}), ("retention", {}), ("time_to_first_session", {}), ("no_shows", MARCH),
    ("coach_load", {}), ("satisfaction", {}), ("outcomes", {}), ("sessions_delivered", MARCH),
    ("sales", MARCH), ("sales", {**MARCH, "by": "price"}), ("company", {}),
]


@pytest.mark.parametrize("slug, params", EXPORT_CASES)
def test_the_exports_have_the_tables_headings_and_rows(client, world, slug, params):
    make_progress(world)
    make_no_shows(world)
    make_sales(world)
    make_answers(world)
    as_user(client, world.admin)
    table = listing(client.get(report_url(slug), params))
    assert table[1], "nothing to compare"
    assert_same(table, csv_table(client.get(report_url(slug), {**params, "export": "csv"})),
                "csv")
    assert_same(table, xlsx_table(client.get(report_url(slug), {**params, "export": "xlsx"})),
                "xlsx")


def test_session_times_are_exported_in_the_viewers_zone(client, world):
    """12 March 17:00 UTC is 13:00 in New York (EDT from 9 March)."""
    from wagtail.users.models import UserProfile

    make_no_shows(world)
    profile = UserProfile.get_for_user(world.admin)
    profile.current_time_zone = "America/New_York"
    profile.save()
    as_user(client, world.admin)
    params = {**MARCH, "by": "session"}
    assert rows_of(client.get(report_url("no_shows"), params))[0][:2] == [
        "Circle 2", "March 12, 2025, 1 p.m."
    ]
    rows = csv_table(client.get(report_url("no_shows"), {**params, "export": "csv"}))[1]
    assert rows[0][:2] == ["Circle 2", "2025-03-12 13:00"]
    rows = xlsx_table(client.get(report_url("no_shows"), {**params, "export": "xlsx"}))[1]
    assert rows[0][:2] == ["Circle 2", datetime(2025, 3, 12, 13, 0)]


FORMULAS = ['=HYPERLINK("http://evil.example","Click")', "+1+1", "-2+3", "@SUM(A1)"]


def test_a_name_that_looks_like_a_formula_stays_text(client, world):
    make_company(world)
    for user, formula in zip((world.coach_a, world.coach_a2, world.coach_b, world.client_a1),
                             FORMULAS, strict=True):
        user.first_name, user.last_name = formula, ""
        user.save()
    cases = [(world.admin, "coach_load", FORMULAS[:3]), (world.hr_acme, "company", FORMULAS[3:])]
    for viewer, slug, formulas in cases:
        as_user(client, viewer)
        rows = csv_table(client.get(report_url(slug), {"export": "csv"}))[1]
        assert sorted(r[0] for r in rows) == sorted("'" + f for f in formulas)
        sheet = xlsx_sheet(client.get(report_url(slug), {"export": "xlsx"}))
        cells = [row[0] for row in sheet.iter_rows(min_row=2)]
        assert sorted(c.value for c in cells) == sorted(formulas)
        assert {c.data_type for c in cells} == {"s"}  # text, not a formula


# -- Query counts ------------------------------------------------------------------------------

QUERY_CASES = [
    ("progress", {}), ("retention", {}), ("time_to_first_session", {}),
    ("no_shows", MARCH), ("no_shows", {**MARCH, "by": "session"}), ("coach_load", {}),
    ("satisfaction", {}), ("outcomes", {}), ("sessions_delivered", MARCH), ("sales", MARCH),
    ("sales", {**MARCH, "by": "sales_manager"}), ("company", {}),
]


def grow(w, count, tag):
    """``count`` more Acme clients in engagement A (cohort Acme spring, sharing their
    progress), a coach for every three of them, each with a step done, a check-in score, a
    feedback answer, an attended session on the timeline, a group session and a 1:1 session
    in March 2025 and an order."""
    clients = [UserFactory(username=f"{tag}{i}", first_name=f"{tag.title()}{i}",
                           last_name="Grown") for i in range(count)]
    created, _ = enroll_many(clients, w.engagement_a, company=w.acme, cohort=w.spring)
    offer = OfferPage.objects.get(title="Offer A")
    now = timezone.now()
    coach = None
    for i, (user, enrollment) in enumerate(zip(clients, created, strict=True)):
        if i % 3 == 0:
            coach = coach_in(w.team_a, f"{tag}_coach{i}")
            manager = staff(f"{tag}_sales{i}", "sales_manager")
        Consent.objects.create(client=user, purpose=ConsentPurpose.SHARE_PROGRESS,
                               granted=True, at=now)
        CoachAssignment.objects.create(enrollment=enrollment, coach=coach, method="manual",
                                       started_at=now)
        complete_activity(step(enrollment, "Welcome"), actor=user)
        complete_activity(step(enrollment, "How are you?"), actor=user, score=i % 11)
        ClientActivity.objects.create(
            enrollment=enrollment, block_id="feedback", kind="feedback", title="Feedback",
            state=ActivityState.COMPLETED, completed_at=now, score=1 + i % 5,
        )
        JourneyEvent.objects.create(enrollment=enrollment, kind=EventKind.SESSION_ATTENDED,
                                    at=now)
        group(w, coach, at(1 + i % 28, 9), f"{tag} circle {i}", team=w.team_a,
              marks=[(user, ATTENDED if i % 2 else NO_SHOW)])
        w.one_to_one[enrollment.pk] = add_extra_activity(
            enrollment, "one_to_one", {"title": "1:1", "sessions": 3, "duration_minutes": 60}
        )
        one_to_one(w, enrollment, coach, at(1 + i % 28, 14), CoachingSessionStatus.COMPLETED)
        order(w, offer, "10.00", manager=manager, label=f"{tag} price {i % 4}")


@pytest.mark.parametrize("slug, params", QUERY_CASES)
def test_queries_stay_flat_as_data_grows(client, world, django_assert_max_num_queries, slug,
                                         params):
    make_progress(world)
    make_no_shows(world)
    make_sales(world)
    make_answers(world)
    grow(world, 1, "few")
    as_user(client, world.admin)
    client.get(report_url(slug), params)  # warm caches (content types, site)
    with CaptureQueriesContext(connection) as few:
        small = client.get(report_url(slug), params)
    bound = len(few)
    small_rows = len(rows_of(small))
    grow(world, 26, "many")  # 3 + 1 + 26 = 30 enrollments
    with django_assert_max_num_queries(bound):
        big = client.get(report_url(slug), params)
    assert len(rows_of(big)) >= small_rows
    if slug in ("company", "coach_load", "sessions_delivered") or params.get("by") == "session":
        assert len(rows_of(big)) > small_rows  # one row per client, coach or session
    with django_assert_max_num_queries(bound):
        client.get(report_url(slug, results=True), params)


# -- The Reports menu --------------------------------------------------------------------------

MENU = {
    "admin": list(REPORT_ACTIONS),
    "coach_a": ["progress", "retention", "time_to_first_session", "no_shows", "coach_load",
                "satisfaction", "outcomes", "sessions_delivered"],
    "sales": ["sales"],
    "hr_acme": ["company"],
}


@pytest.mark.parametrize("who", sorted(MENU))
def test_the_reports_menu_shows_what_the_viewer_may_open(client, rf, world, who):
    from wagtail_coaching.reports import REPORTS, ReportMenuItem

    user = getattr(world, who)
    request = rf.get("/admin/")
    request.user = user
    shown = [r.slug for r in REPORTS if ReportMenuItem(r, 10).is_shown(request)]
    assert sorted(shown) == sorted(MENU[who])
    html = as_user(client, user).get("/admin/").content.decode()
    in_menu = re.findall(r'"name": "coaching-report-([a-z-]+)"', html)
    assert sorted(in_menu) == sorted(slug.replace("_", "-") for slug in MENU[who])

