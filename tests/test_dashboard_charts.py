"""Chart panels on the admin home: who sees which, their figures worked out by hand, months
in the viewer's time zone, links to the reports, and a fixed number of queries.

The business (``build_world()``), read on Friday 10 April 2026 at 12:00 UTC (13:00 in
London, 14:00 in Berlin):

- a1 (engagement A, coach_a) starts 15 Jan; attended sessions on 10 Feb and 2 Apr.
- a2 (engagement A, team A, no coach) starts 20 Jan; completed 31 Mar 22:30 UTC, which is
  still March in London but 1 April in Berlin.
- b1 (engagement B, coach_b) starts 10 Apr.
- 1:1 sessions: coach_a (with a1) held three and missed one in March, and missed one in
  December (outside the 90 days); coach_b (with b1) held one on 1 Apr. Group session of
  team B (coach_b) on 20 Mar: b1 did not come.
- Capacity: coach_a 4, coach_a2 10, coach_b 2.
- Orders in EUR: 50 paid on 15 Feb with 20 refunded (30 net), 3 installments of 30 paid on
  3 Mar (90), 500 never paid on 4 Mar, the world's 100 paid on 10 Apr, and 1000 paid in
  September 2025 (too old); in USD: 40 paid on 5 Mar.
"""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.users.models import UserProfile

from wagtail_coaching.admin.chart_panels import (
    ActivityChartPanel,
    CoachLoadChartPanel,
    NoShowsChartPanel,
    RetentionChartPanel,
    SalesChartPanel,
    activity_chart,
    coach_load_chart,
    no_shows_chart,
    report_url,
    retention_chart,
    sales_charts,
)
from wagtail_coaching.admin.display import person
from wagtail_coaching.journeys import add_extra_activity, assign_coach, enroll_many
from wagtail_coaching.models import (
    CoachingSession,
    CoachingSessionStatus,
    CoachProfile,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    GroupSession,
    JourneyEvent,
    OfferPage,
    Order,
    OrderStatus,
    PaymentModel,
    Registration,
    RegistrationStatus,
)
from wagtail_coaching.testing.factories import UserFactory
from wagtail_coaching.testing.jobs import drain

from .test_admin_clients import as_user, is_login_redirect
from .test_charts import ESCAPED, SCRIPT, parse, table
from .world import build_world

UTC = datetime.UTC
LONDON = zoneinfo.ZoneInfo("Europe/London")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NOW = datetime.datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
MONTHS = ["Nov 2025", "Dec 2025", "Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026"]

PANELS = {
    "activity": "coaching-chart-activity-section",
    "retention": "coaching-chart-retention-section",
    "no_shows": "coaching-chart-no-shows-section",
    "coach_load": "coaching-chart-coach-load-section",
    "sales": "coaching-chart-sales-section",
}


def at(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def event(enrollment, kind, when):
    JourneyEvent.objects.create(enrollment=enrollment, kind=kind, at=when)


def move_start(enrollment, when):
    Enrollment.objects.filter(pk=enrollment.pk).update(starts_at=when)
    JourneyEvent.objects.filter(enrollment=enrollment, kind=EventKind.ENROLLED).update(at=when)


def one_to_one(enrollment, coach, when, status):
    allotment = enrollment.activities.filter(kind="one_to_one").first() or add_extra_activity(
        enrollment, "one_to_one", {"title": "Sessions", "sessions": 10, "duration_minutes": 60}
    )
    return CoachingSession.objects.create(
        enrollment=enrollment, activity=allotment, coach=coach, starts_at=when,
        ends_at=when + datetime.timedelta(hours=1), status=status, booked_at=when,
    )


def order(world, when, amount, currency="eur", paid=True, **extra):
    return Order.objects.create(
        buyer=world.client_a1, offer=OfferPage.objects.get(slug="offer-a"),
        status=extra.pop("status", OrderStatus.PAID if paid else OrderStatus.PENDING),
        amount=Decimal(amount),
        currency=currency, payment_model=extra.pop("payment_model", PaymentModel.ONE_TIME),
        paid_at=when if paid else None, created_at=when, **extra,
    )


def shape(world):
    w = world
    move_start(w.enrollment_a1, at(2026, 1, 15, 10))
    move_start(w.enrollment_a2, at(2026, 1, 20, 10))
    event(w.enrollment_a1, EventKind.SESSION_ATTENDED, at(2026, 2, 10, 10))
    event(w.enrollment_a1, EventKind.SESSION_ATTENDED, at(2026, 4, 2, 10))
    Enrollment.objects.filter(pk=w.enrollment_a2.pk).update(
        status=EnrollmentStatus.COMPLETED, completed_at=at(2026, 3, 31, 22, 30)
    )
    for day in (1, 8, 15):
        one_to_one(w.enrollment_a1, w.coach_a, at(2026, 3, day, 9), CoachingSessionStatus.COMPLETED)
    one_to_one(w.enrollment_a1, w.coach_a, at(2026, 3, 22, 9), CoachingSessionStatus.NO_SHOW)
    one_to_one(w.enrollment_a1, w.coach_a, at(2026, 3, 29, 9), CoachingSessionStatus.CANCELLED)
    one_to_one(w.enrollment_a1, w.coach_a, at(2025, 12, 1, 9), CoachingSessionStatus.NO_SHOW)
    one_to_one(w.enrollment_b1, w.coach_b, at(2026, 4, 1, 9), CoachingSessionStatus.COMPLETED)
    circle = GroupSession.objects.create(
        title="Globex circle", team=w.team_b, coach=w.coach_b, starts_at=at(2026, 3, 20, 17),
        ends_at=at(2026, 3, 20, 18), attendance_taken_at=at(2026, 3, 20, 18),
    )
    Registration.objects.create(session=circle, user=w.client_b1, status=RegistrationStatus.NO_SHOW)
    CoachProfile.objects.filter(user=w.coach_a).update(max_clients=4)
    CoachProfile.objects.filter(user=w.coach_b).update(max_clients=2)
    order(w, at(2026, 2, 15, 10), "50.00", amount_refunded=Decimal("20.00"),
          status=OrderStatus.REFUNDED)
    order(w, at(2026, 3, 3, 10), "30.00", payment_model=PaymentModel.INSTALLMENTS,
          installments_total=3)
    order(w, at(2026, 3, 4, 10), "500.00", paid=False)
    order(w, at(2026, 3, 5, 10), "40.00", currency="usd")
    order(w, at(2025, 9, 5, 10), "1000.00")
    return w


@pytest.fixture
def world(db, enqueue_at_once):
    with time_machine.travel(NOW):
        world = build_world()
        drain()
        mail.outbox.clear()
        yield shape(world)


def values(chart):
    return [s.values for s in chart.series]


# -- Who sees which panel --------------------------------------------------------------------

@pytest.mark.parametrize("who, shown", [
    ("admin", {"activity", "retention", "no_shows", "coach_load", "sales"}),
    ("coach_a", {"activity", "retention", "no_shows", "coach_load"}),
    ("coach_b", {"activity", "retention", "no_shows", "coach_load"}),
    ("sales", {"sales"}),
    ("hr_acme", set()),
])
def test_panels_follow_the_matrix(client, world, who, shown):
    html = as_user(client, getattr(world, who)).get("/admin/").content.decode()
    assert {name for name, anchor in PANELS.items() if f'id="{anchor}"' in html} == shown
    # The chart styles come with every admin page (reports and cards draw charts too).
    assert "wagtail_coaching/charts.css" in html


def test_clients_cannot_reach_the_admin(client, world):
    assert is_login_redirect(as_user(client, world.client_a1).get("/admin/"))


def test_each_panel_links_to_its_report(client, world):
    html = as_user(client, world.admin).get("/admin/").content.decode()
    for slug in ("progress", "retention", "no_shows", "coach_load", "sales"):
        url = report_url(slug)
        if url:  # the reports may not be installed yet
            assert f'href="{url}"' in html
    assert report_url("no_such_report") == ""


# -- Figures, by hand ------------------------------------------------------------------------

def test_active_clients_and_completions(world):
    chart = activity_chart(world.admin, LONDON)
    assert [str(label.strftime("%b %Y")) for label in chart.labels] == MONTHS
    assert values(chart) == [[0, 0, 2, 1, 0, 2], [0, 0, 0, 0, 1, 0]]
    # a2 completed at 23:30 on 31 March in London, 00:30 on 1 April in Berlin.
    assert values(activity_chart(world.admin, BERLIN)) == [
        [0, 0, 2, 1, 0, 2], [0, 0, 0, 0, 0, 1],
    ]
    # Coach A: a1 (coached) and a2 (team); coach B: b1 only.
    assert values(activity_chart(world.coach_a, LONDON)) == [
        [0, 0, 2, 1, 0, 1], [0, 0, 0, 0, 1, 0],
    ]
    assert values(activity_chart(world.coach_b, LONDON)) == [
        [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0],
    ]


def test_six_quiet_months_say_so(world):
    later = NOW + datetime.timedelta(days=365)
    chart = activity_chart(world.admin, LONDON, now=later)
    assert chart.is_empty()
    assert "No clients yet." in chart.render()


def test_retention_of_the_latest_cohorts(world):
    chart = retention_chart(world.admin, LONDON)
    assert [label.strftime("%b %Y") for label in chart.labels] == ["Jan 2026", "Apr 2026"]
    assert [s.label for s in chart.series] == [
        "After 1 month", "After 2 months", "After 3 months",
    ]
    # January: a1 and a2 joined. February: a1 active (1 of 2); March: nobody active, a2
    # completes; April: a1 active, a2 completed before (2 of 2). April's cohort is too young.
    assert values(chart) == [[50.0, None], [0.0, None], [100.0, None]]
    assert chart.unit == "%" and chart.y_max == 100


def test_no_shows_per_coach_over_90_days(world):
    chart = no_shows_chart(world.admin, LONDON)
    # Coach B: one held, one missed (group). Coach A: three held, one missed (December's
    # no-show is older than 90 days, the cancelled session does not count). Highest first.
    assert chart.labels == [person(world.coach_b), person(world.coach_a)]
    assert values(chart) == [[50.0, 25.0]]
    # Coach A sees the 1:1 sessions of their team, not team B's group session.
    chart = no_shows_chart(world.coach_a, LONDON)
    assert chart.labels == [person(world.coach_a)]
    assert values(chart) == [[25.0]]


def test_coach_load_against_capacity(world):
    chart = coach_load_chart(world.admin)
    # Fullest first: coach B 1 of 2, coach A 1 of 4, coach A2 0 of 10.
    assert chart.labels == [person(world.coach_b), person(world.coach_a), person(world.coach_a2)]
    assert values(chart) == [[1, 1, 0], [2, 4, 10]]
    # A coach sees themselves and their teammates.
    chart = coach_load_chart(world.coach_a)
    assert chart.labels == [person(world.coach_a), person(world.coach_a2)]


def test_net_sales_by_month_and_currency(world):
    eur, usd = sales_charts(world.sales, LONDON)
    assert eur.title == "Net sales in EUR, last 6 months" and eur.unit == "EUR"
    assert [label.strftime("%b %Y") for label in eur.labels] == MONTHS
    assert values(eur) == [[0, 0, 0, Decimal("30.00"), Decimal("90.00"), Decimal("100.00")]]
    assert [str(v) for v in eur.series[0].values] == [
        "0.00", "0.00", "0.00", "30.00", "90.00", "100.00",
    ]
    assert usd.title == "Net sales in USD, last 6 months"
    assert values(usd) == [[0, 0, 0, 0, Decimal("40.00"), 0]]


def test_no_sales_say_so(world):
    Order.objects.all().delete()
    (chart,) = sales_charts(world.sales, LONDON)
    assert chart.is_empty() and "No sales in this period." in chart.render()


# -- On the page -----------------------------------------------------------------------------

def test_the_home_page_shows_months_in_the_viewers_zone(client, world):
    profile, _ = UserProfile.objects.get_or_create(user=world.admin)
    profile.current_time_zone = "Europe/Berlin"
    profile.save()
    with time_machine.travel(NOW + datetime.timedelta(minutes=1)):
        html = as_user(client, world.admin).get("/admin/").content.decode()
    (activity,) = [f for f in parse(html) if f["title"].startswith("Active clients")]
    assert activity["head"] == ["Month", "Active clients", "Completions"]
    assert table(activity) == {
        "Nov 2025": ["0", "0"], "Dec 2025": ["0", "0"], "Jan 2026": ["2", "0"],
        "Feb 2026": ["1", "0"], "Mar 2026": ["0", "0"], "Apr 2026": ["2", "1"],
    }
    (eur,) = [f for f in parse(html) if f["title"].startswith("Net sales in EUR")]
    assert table(eur)["Mar 2026"] == ["90.00"] and table(eur)["Dec 2025"] == ["0.00"]


def test_a_hostile_coach_name_is_escaped_in_the_charts(client, world):
    world.coach_b.first_name = SCRIPT
    world.coach_b.save()
    with time_machine.travel(NOW + datetime.timedelta(minutes=1)):
        html = as_user(client, world.admin).get("/admin/").content.decode()
    assert SCRIPT not in html
    assert ESCAPED in html


# -- Queries ---------------------------------------------------------------------------------

PANEL_CLASSES = (
    ActivityChartPanel, RetentionChartPanel, NoShowsChartPanel, CoachLoadChartPanel,
    SalesChartPanel,
)
# Per panel: the viewer's roles (one query), then the metrics': monthly activity 3,
# retention 3, no-shows 2 and the coaches' names 1, coach load 4, monthly sales 1.
QUERIES = {
    ActivityChartPanel: 4, RetentionChartPanel: 4, NoShowsChartPanel: 4,
    CoachLoadChartPanel: 5, SalesChartPanel: 2,
}


def panel_request(rf, user_pk):
    request = rf.get("/admin/")
    request.user = get_user_model().objects.get(pk=user_pk)
    return request


def panel_queries(rf, user_pk, panel_class):
    request = panel_request(rf, user_pk)
    with CaptureQueriesContext(connection) as queries:
        panel_class(request).render_html({})
    return len(queries)


def grow(world, count):
    """``count`` more clients of team A with a coach, activity, sessions and orders."""
    CoachProfile.objects.filter(user=world.coach_a2).update(max_clients=count + 5)
    clients = [UserFactory(username=f"more{i}") for i in range(count)]
    created, _ = enroll_many(clients, world.engagement_a)
    for i, enrollment in enumerate(created):
        assign_coach(enrollment, coach=world.coach_a2, actor=world.admin)
        move_start(enrollment, at(2026, 1 + i % 3, 5, 10))
        event(enrollment, EventKind.SESSION_ATTENDED, at(2026, 3, 1 + i % 20, 10))
        one_to_one(enrollment, world.coach_a2, at(2026, 3, 1 + i % 20, 9),
                   CoachingSessionStatus.NO_SHOW if i % 3 else CoachingSessionStatus.COMPLETED)
        order(world, at(2026, 1 + i % 3, 10, 10), "10.00", currency="eur" if i % 2 else "gbp")
        UserFactory(username=f"coach_more{i}")  # people who are not coaches change nothing
    CoachProfile.objects.create(user=UserFactory(username="late_coach"), max_clients=3)


def test_each_panel_runs_a_fixed_number_of_queries(rf, world, django_assert_max_num_queries):
    viewers = {panel: (world.admin, world.coach_a) for panel in PANEL_CLASSES}
    viewers[SalesChartPanel] = (world.admin, world.sales)
    for panel, users in viewers.items():
        for user in users:
            assert panel_queries(rf, user.pk, panel) == QUERIES[panel], (panel, user)
    before = sum(values(activity_chart(world.admin, LONDON))[0])
    with time_machine.travel(NOW):
        grow(world, 15)
    # Each newcomer is active in the month they start (January, February or March, five
    # each) and in March: 5 + 5 + 15 more.
    assert sum(values(activity_chart(world.admin, LONDON))[0]) == before + 25
    for panel, users in viewers.items():
        for user in users:
            request = panel_request(rf, user.pk)
            with django_assert_max_num_queries(QUERIES[panel]):
                panel(request).render_html({})
