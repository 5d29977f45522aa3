"""Every figure of ``wagtail_coaching.metrics`` against the business of
tests/metrics_fixture.py, counted by hand (the arithmetic is in the comments). Read at
NOW = 15 April 2026 12:00 UTC: "engaged" means client activity since 8 April 12:00, "quiet"
(at risk, stuck) no client activity since 5 April 12:00."""

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wagtail_coaching import metrics
from wagtail_coaching.models import (
    CoachingSession,
    CoachProfile,
    Enrollment,
    GroupSession,
    Order,
)

from .metrics_fixture import NOW, at, build

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")

pytestmark = pytest.mark.django_db


def build_shared_world():
    return build()


@pytest.fixture
def biz(shared):
    return shared


def enrollments_of(*engagements):
    return Enrollment.objects.filter(engagement__in=engagements)


# -- Headline and per engagement -----------------------------------------------------------

def test_headline(biz):
    figures = metrics.headline(enrollments_of(biz.engagement_a, biz.engagement_b), NOW)
    assert figures == {
        # ann (A and B), ben, cat, dan, eve, fay, gus
        "enrollments": 8,
        "clients": 7,
        # ann A, ann B, ben, cat; not dan (access ended 1 Apr), eve (starts 1 May), fay
        # (completed), gus (paused)
        "active": 4,
        "active_clients": 3,  # ann, ben, cat
        # ann A (12 Apr), ann B (enrolled 10 Apr), cat (9 Apr 10:00 >= 8 Apr 12:00); not
        # ben (20 Mar), nor eve (enrolled 14 Apr, but not started)
        "engaged": 3,
        # ben (quiet since 20 Mar), cat (missed two in a row); dan is quiet too but has
        # no access any more
        "at_risk": 2,
        "completed": 1,  # fay
    }


def test_by_engagement(biz):
    figures = metrics.by_engagement(enrollments_of(biz.engagement_a, biz.engagement_b), NOW)
    assert figures == {
        biz.engagement_a.pk: {
            "enrolled": 7, "active": 3, "engaged": 2, "at_risk": 2, "completed": 1,
        },
        biz.engagement_b.pk: {
            "enrolled": 1, "active": 1, "engaged": 1, "at_risk": 0, "completed": 0,
        },
    }


def test_headline_of_nothing():
    assert metrics.headline(Enrollment.objects.none(), NOW) == {
        "enrollments": 0, "clients": 0, "active": 0, "active_clients": 0, "engaged": 0,
        "at_risk": 0, "completed": 0,
    }


# -- Stages -------------------------------------------------------------------------------

def test_stage_progress(biz):
    rows = metrics.stage_progress(enrollments_of(biz.engagement_a, biz.engagement_b), NOW)
    start = biz.fay_a.activities.get(title="Welcome").stage_block_id
    start_b = biz.ann_b.activities.get(title="Welcome").stage_block_id
    deepen_b = biz.ann_b.activities.get(title="Practise").stage_block_id
    assert rows == [
        # Start (Welcome, Mood) in A: every enrollment has a step open or done.
        # ann, ben, cat, dan: Welcome done, Mood open; eve, gus: Welcome open; fay: both done.
        {"engagement_id": biz.engagement_a.pk, "stage_block_id": start, "stage": "Start",
         "reached": 7,
         "in_stage": 3,  # ann, ben, cat (dan: access ended, eve: not started, gus: paused)
         "finished": 1,  # fay
         "stuck": 1,  # ben: Mood open, quiet since 20 Mar
         "steps_done": 6,  # 1 + 1 + 1 + 1 (ann, ben, cat, dan) + 2 (fay)
         "steps": 14},  # 7 x 2
        # Deepen (Practise, Feedback; ann's extra lesson) in A.
        {"engagement_id": biz.engagement_a.pk, "stage_block_id": biz.deepen_id,
         "stage": "Deepen",
         "reached": 2,  # ann (the extra lesson is open), fay
         "in_stage": 1,  # ann
         "finished": 1,  # fay
         "stuck": 0,
         "steps_done": 2,  # fay's two
         # ann 3 (with the extra), ben, cat, dan, eve, fay 2 each, gus 1 (Feedback removed)
         "steps": 14},
        # B: ann only, Welcome open.
        {"engagement_id": biz.engagement_b.pk, "stage_block_id": start_b, "stage": "Start",
         "reached": 1, "in_stage": 1, "finished": 0, "stuck": 0, "steps_done": 0, "steps": 2},
        {"engagement_id": biz.engagement_b.pk, "stage_block_id": deepen_b, "stage": "Deepen",
         "reached": 0, "in_stage": 0, "finished": 0, "stuck": 0, "steps_done": 0, "steps": 2},
    ]


# -- Retention ----------------------------------------------------------------------------

def retention_table(rows):
    return [(row["month"], row["enrolled"], row["retained"]) for row in rows]


def test_retention_in_utc(biz):
    rows = metrics.retention(enrollments_of(biz.engagement_r), UTC, NOW)
    assert retention_table(rows) == [
        # ola (31 Jan 23:30), pia, quin. Columns January to April, never past NOW.
        # Jan: all three; Feb: ola, pia (completed 28 Feb, active in Feb); Mar: ola, quin
        # + pia (completed before March); Apr: quin + pia (her 3 Apr booking is after
        # completing: counted once, as completed).
        (date(2026, 1, 1), 3, [3, 2, 1 + 2, 1 + 1]),
        # rex: enrolled in Feb, nothing in Mar, Welcome on 5 Apr.
        (date(2026, 2, 1), 1, [1, 0, 1]),
        # sue: Mar, Apr (active on 1 Apr, the day she completed).
        (date(2026, 3, 1), 1, [1, 1]),
    ]


def test_retention_in_berlin(biz):
    rows = metrics.retention(enrollments_of(biz.engagement_r), BERLIN, NOW)
    assert retention_table(rows) == [
        # pia, quin (ola enrolled at 00:30 on 1 Feb in Berlin).
        # Feb: pia (Mood at 00:30 on 1 Feb); Mar: pia (completed 00:30 on 1 Mar: active in
        # the month she completed) and quin; Apr: quin + pia (completed in March).
        (date(2026, 1, 1), 2, [2, 1, 2, 1 + 1]),
        # ola, rex. Mar: ola (5 Mar); Apr: rex (5 Apr).
        (date(2026, 2, 1), 2, [2, 1, 1]),
        (date(2026, 3, 1), 1, [1, 1]),
    ]


def test_retention_columns_are_capped(biz):
    rows = metrics.retention(enrollments_of(biz.engagement_r), UTC, NOW, months=2)
    assert retention_table(rows) == [
        (date(2026, 1, 1), 3, [3, 2]),
        (date(2026, 2, 1), 1, [1, 0]),
        (date(2026, 3, 1), 1, [1, 1]),
    ]


def test_retention_stops_at_the_current_month(biz):
    # Read on 20 February: January's cohort has two columns, February's one.
    rows = metrics.retention(enrollments_of(biz.engagement_r), UTC, at(2, 20, 12))
    assert retention_table(rows) == [
        (date(2026, 1, 1), 3, [3, 2]),  # Feb: ola (10 Feb) and pia (28 Feb)
        (date(2026, 2, 1), 1, [1]),
        (date(2026, 3, 1), 1, []),  # sue's cohort has not begun: no column yet
    ]


# -- Time to first session ----------------------------------------------------------------

def test_time_to_first_session(biz):
    figures = metrics.time_to_first_session(
        enrollments_of(biz.engagement_a, biz.engagement_s)
    )
    assert figures[biz.engagement_s.pk] == {
        # hal, ivy, jon, kim, leo, mia, nia
        "enrollments": 7,
        # hal: 1:1 recorded 9 Mar 10:00, 7 days after 2 Mar 10:00 (exactly: "within 7");
        # ivy: 1:1 no-show on 4 Mar does not count, group attended 12 Mar: 10 days;
        # kim: 1:1 22 Mar: 20 days; leo: group 12 Apr: 41 days (29 in Mar + 12).
        "with_session": 4,
        "average_days": 19.5,  # (7 + 10 + 20 + 41) / 4 = 78 / 4
        "within_7_days": 1,
        "within_14_days": 2,
        "within_30_days": 3,
        "without_session": 3,  # jon (only no-shows), mia, nia
    }
    assert figures[biz.engagement_a.pk] == {
        "enrollments": 7, "with_session": 0, "average_days": None, "within_7_days": 0,
        "within_14_days": 0, "within_30_days": 0, "without_session": 7,
    }


# -- No-shows ------------------------------------------------------------------------------

def no_shows(start=None, end=None):
    figures = metrics.no_shows_by_coach(
        GroupSession.objects.all(), CoachingSession.objects.all(), start, end
    )
    return {coach_id: (row["attended"], row["no_shows"], row["rate"])
            for coach_id, row in figures.items()}


def test_no_shows_by_coach(biz):
    assert no_shows() == {
        # 1:1: hal held, ivy no-show. Circle 3 (hal attended) was cancelled: not counted;
        # hal's cancelled 1:1 and the booked one neither.
        biz.cora.pk: (1, 1, 50.0),
        # Circle 1: ivy attended, jon no-show (kim never marked); Circle 2: leo attended,
        # jon no-show; 1:1: kim held twice. 2 / (4 + 2) = 33.3 %
        biz.dex.pk: (4, 2, 33.3),
        # Finn: Circle 4's attendance was never taken: left out.
    }


def test_no_shows_in_a_period(biz):
    assert no_shows(at(3, 1, 0), at(4, 1, 0)) == {
        biz.cora.pk: (1, 1, 50.0),
        biz.dex.pk: (3, 1, 25.0),  # Circle 1 (1, 1) and kim's two 1:1s; 1 / 4
    }
    assert no_shows(start=at(4, 1, 0)) == {
        biz.dex.pk: (1, 1, 50.0),  # Circle 2; Cora's 1:1 of 16 Apr is not held yet
    }
    assert no_shows(end=at(3, 9, 9)) == {biz.cora.pk: (0, 1, 100.0)}  # ivy, 4 Mar
    assert no_shows(at(5, 1), at(6, 1)) == {}


def test_no_shows_by_session(biz):
    sessions = metrics.no_shows_by_session(GroupSession.objects.all()).order_by("starts_at")
    assert [(s.title, s.attended, s.no_shows, s.marked) for s in sessions] == [
        ("Circle 1", 1, 1, 2),  # kim registered but never marked
        ("Circle 2", 1, 1, 2),
        # Circle 3: cancelled; Circle 4: attendance not taken; Circles 5 to 7 are ahead
    ]


def test_rate():
    assert metrics.rate(0, 0) is None
    assert metrics.rate(0, 4) == 0.0
    assert metrics.rate(1, 3) == 33.3
    assert metrics.rate(2, 3) == 66.7


# -- Coach load ---------------------------------------------------------------------------

def test_coach_load(biz):
    rows = metrics.coach_load(CoachProfile.objects.all(), NOW)
    assert [
        (r["coach"], r["clients"], r["capacity"], r["utilisation"], r["free"], r["at_risk"],
         r["sessions_next_7_days"])
        for r in rows
    ] == [
        # Cora: ann A, ben, ann B (handed over from Dex), hal, ivy; not fay (completed) nor
        # gus (paused). At risk: ben. Next 7 days: hal's 1:1 on 16 Apr and Circle 5 on
        # 18 Apr (ivy's 1:1 and Circle 6 cancelled, Circle 7 exactly 7 days ahead).
        (biz.cora, 5, 6, 83.3, 1, 1, 2),
        # Dex: cat, jon, kim; not dan (access ended), not ann B (assignment ended). At risk:
        # cat and jon (two missed in a row each). Next 7 days: kim's 1:1 on 20 Apr.
        (biz.dex, 3, 5, 60.0, 2, 2, 1),
        # Finn: nia's enrollment was cancelled.
        (biz.finn, 0, 3, 0.0, 3, 0, 0),
    ]


# -- Satisfaction and outcomes --------------------------------------------------------------

def everyone(biz):
    return enrollments_of(biz.engagement_a, biz.engagement_b, biz.engagement_s,
                          biz.engagement_r)


def test_satisfaction(biz):
    assert metrics.satisfaction(everyone(biz)) == {
        biz.engagement_a.pk: {"answers": 1, "average": 5.0, "satisfied": 1, "csat": 100.0},
        # ola 5, pia 4, quin 3, sue 2: average 14 / 4; satisfied (4 or more) 2 of 4
        biz.engagement_r.pk: {"answers": 4, "average": 3.5, "satisfied": 2, "csat": 50.0},
    }


def test_satisfaction_threshold_is_a_setting(biz, settings):
    settings.WAGTAIL_COACHING = {"CSAT_SATISFIED_FROM": 3}
    figures = metrics.satisfaction(everyone(biz))
    # 5, 4 and 3 of 5, 4, 3, 2
    assert figures[biz.engagement_r.pk] == {
        "answers": 4, "average": 3.5, "satisfied": 3, "csat": 75.0,
    }


def test_satisfaction_in_a_period(biz):
    # [1 Mar, 1 Apr 10:00): fay (10 Mar) and ola (5 Mar); pia answered 28 Feb, sue at
    # 10:00 on 1 Apr (the end is excluded).
    assert metrics.satisfaction(everyone(biz), start=at(3, 1, 0), end=at(4, 1)) == {
        biz.engagement_a.pk: {"answers": 1, "average": 5.0, "satisfied": 1, "csat": 100.0},
        biz.engagement_r.pk: {"answers": 1, "average": 5.0, "satisfied": 1, "csat": 100.0},
    }
    # From 1 Apr 10:00 (included): sue 2, quin 3.
    assert metrics.satisfaction(everyone(biz), start=at(4, 1)) == {
        biz.engagement_r.pk: {"answers": 2, "average": 2.5, "satisfied": 0, "csat": 0.0},
    }


def trend(rows):
    return [(r["engagement_id"], r["checkin"], r["month"], r["answers"], r["average"])
            for r in rows]


def test_outcome_trend(biz):
    a, r = biz.engagement_a.pk, biz.engagement_r.pk
    assert trend(metrics.outcome_trend(everyone(biz), UTC)) == [
        (a, "Mood", date(2026, 2, 1), 1, 9.0),  # fay
        (r, "Energy", date(2026, 4, 1), 1, 6.0),  # rex
        (r, "Mood", date(2026, 1, 1), 1, 8.0),  # pia, 31 Jan 23:30
        (r, "Mood", date(2026, 3, 1), 1, 6.0),  # ola
        (r, "Mood", date(2026, 4, 1), 2, 5.5),  # quin 4, sue 7: 11 / 2
    ]
    assert trend(metrics.outcome_trend(everyone(biz), BERLIN)) == [
        (a, "Mood", date(2026, 2, 1), 1, 9.0),
        (r, "Energy", date(2026, 4, 1), 1, 6.0),
        (r, "Mood", date(2026, 2, 1), 1, 8.0),  # pia: 00:30 on 1 Feb in Berlin
        (r, "Mood", date(2026, 3, 1), 1, 6.0),
        (r, "Mood", date(2026, 4, 1), 2, 5.5),
    ]
    assert trend(metrics.outcome_trend(everyone(biz), UTC, start=at(3, 1, 0),
                                       end=at(4, 2))) == [
        (r, "Mood", date(2026, 3, 1), 1, 6.0),
        (r, "Mood", date(2026, 4, 1), 1, 7.0),  # sue; quin's 2 Apr 10:00 is the end
    ]


# -- Sales ---------------------------------------------------------------------------------

FIGURES = ("orders", "paid", "free", "refunded", "sold", "refunds", "net")


def sales(by, **period):
    keys = (*metrics.SALES_GROUPS[by], "currency")
    return {
        tuple(row[k] for k in keys): tuple(row[f] for f in FIGURES)
        for row in metrics.sales(Order.objects.all(), by=by, **period)
    }


def money(*values):
    return tuple(Decimal(v) for v in values)


def test_sales_by_offer(biz):
    x, y = biz.offer_x.pk, biz.offer_y.pk
    assert sales("offer") == {
        # o1-o6, o8. Paid: o1, o2 (refunded), o3, o4, o8; free: o5; pending o6 not paid.
        # Refunded: o2 (all), o3 (100 of it).
        # Sold: 490 x 3 (o1-o3) + 170 x 3 (o4's installments) + 0 + 100 (o8)
        # = 1470 + 510 + 100 = 2080. Refunds: 490 + 100 = 590; net 2080 - 590 = 1490.
        (x, "eur"): (7, 5, 1, 2, *money("2080", "590", "1490")),
        (x, "usd"): (1, 1, 0, 0, *money("520", "0", "520")),  # o10
        (y, "usd"): (2, 2, 0, 0, *money("600", "0", "600")),  # o7, o9: 300 + 300
    }
    rows = metrics.sales(Order.objects.all(), by="offer")
    assert [(r["offer_id"], r["currency"]) for r in rows] == [
        (x, "eur"), (x, "usd"), (y, "usd"),
    ]


def test_sales_by_price(biz):
    x, y = biz.offer_x.pk, biz.offer_y.pk
    assert sales("price") == {
        # o1, o2, o3, o6: 490 x 3 paid = 1470, less 490 + 100
        (x, "Pay once", "eur"): (4, 3, 0, 2, *money("1470", "590", "880")),
        (x, "Three payments", "eur"): (1, 1, 0, 0, *money("510", "0", "510")),  # 170 x 3
        (x, "Taster", "eur"): (1, 0, 1, 0, *money("0", "0", "0")),
        (x, "Manual grant", "eur"): (1, 1, 0, 0, *money("100", "0", "100")),
        (x, "Pay once (USD)", "usd"): (1, 1, 0, 0, *money("520", "0", "520")),
        (y, "Pay once", "usd"): (2, 2, 0, 0, *money("600", "0", "600")),
    }


def test_sales_by_sales_manager(biz):
    sam = biz.sam.pk
    assert sales("sales_manager") == {
        # o1, o2, o4, o6: 490 + 490 + 510 sold, 490 refunded
        (sam, "eur"): (4, 3, 0, 1, *money("1490", "490", "1000")),
        (sam, "usd"): (1, 1, 0, 0, *money("300", "0", "300")),  # o7
        # o3, o5, o8: 490 + 0 + 100 sold, 100 refunded
        (None, "eur"): (3, 2, 1, 1, *money("590", "100", "490")),
        (None, "usd"): (2, 2, 0, 0, *money("820", "0", "820")),  # o9 300, o10 520
    }


def test_sales_in_a_period(biz):
    x, y = biz.offer_x.pk, biz.offer_y.pk
    # March: o1-o7 and o10 (o8 on 2 Apr and o9 on 20 Feb are outside).
    assert sales("offer", start=at(3, 1, 0), end=at(4, 1, 0)) == {
        # 490 x 3 + 510 = 1980 sold, 590 refunded
        (x, "eur"): (6, 4, 1, 2, *money("1980", "590", "1390")),
        (x, "usd"): (1, 1, 0, 0, *money("520", "0", "520")),
        (y, "usd"): (1, 1, 0, 0, *money("300", "0", "300")),
    }
    # The start is included, the end excluded: o1 alone (3 Mar 10:00).
    assert sales("offer", start=at(3, 3), end=at(3, 5)) == {
        (x, "eur"): (1, 1, 0, 0, *money("490", "0", "490")),
    }


# -- Monthly activity ------------------------------------------------------------------------

def monthly(rows):
    return [(r["month"], r["active_clients"], r["completions"], r["enrollments"])
            for r in rows]


def test_monthly_activity_in_utc(biz):
    rows = metrics.monthly_activity(enrollments_of(biz.engagement_r), UTC, NOW)
    assert monthly(rows) == [
        (date(2025, 11, 1), 0, 0, 0),
        (date(2025, 12, 1), 0, 0, 0),
        (date(2026, 1, 1), 3, 0, 3),  # active ola, pia, quin; enrolled the same three
        (date(2026, 2, 1), 3, 1, 1),  # active ola, pia, rex; pia completed; rex enrolled
        (date(2026, 3, 1), 3, 0, 1),  # active ola, quin, sue; sue enrolled
        (date(2026, 4, 1), 4, 1, 0),  # active pia, quin, rex, sue; sue completed
    ]


def test_monthly_activity_in_berlin(biz):
    rows = metrics.monthly_activity(enrollments_of(biz.engagement_r), BERLIN, NOW)
    assert monthly(rows) == [
        (date(2025, 11, 1), 0, 0, 0),
        (date(2025, 12, 1), 0, 0, 0),
        (date(2026, 1, 1), 2, 0, 2),  # pia, quin (ola's 23:30 UTC is 1 Feb here)
        (date(2026, 2, 1), 3, 0, 2),  # ola, pia (Mood 00:30 1 Feb), rex; ola, rex enrolled
        (date(2026, 3, 1), 4, 1, 1),  # ola, pia (00:30 1 Mar), quin, sue; pia completed
        (date(2026, 4, 1), 4, 1, 0),
    ]


def test_monthly_activity_window(biz):
    rows = metrics.monthly_activity(enrollments_of(biz.engagement_r), UTC, NOW, months=3)
    assert monthly(rows) == [
        (date(2026, 2, 1), 3, 1, 1),
        (date(2026, 3, 1), 3, 0, 1),
        (date(2026, 4, 1), 4, 1, 0),
    ]


# -- Fixed query counts ----------------------------------------------------------------------

CALLS = {
    "headline": (2, lambda: metrics.headline(Enrollment.objects.all(), NOW)),
    "by_engagement": (1, lambda: metrics.by_engagement(Enrollment.objects.all(), NOW)),
    "stage_progress": (1, lambda: metrics.stage_progress(Enrollment.objects.all(), NOW)),
    "retention": (3, lambda: metrics.retention(Enrollment.objects.all(), BERLIN, NOW)),
    "time_to_first_session": (
        1, lambda: metrics.time_to_first_session(Enrollment.objects.all())),
    "no_shows_by_coach": (2, lambda: metrics.no_shows_by_coach(
        GroupSession.objects.all(), CoachingSession.objects.all())),
    "no_shows_by_session": (
        1, lambda: list(metrics.no_shows_by_session(GroupSession.objects.all()))),
    "coach_load": (4, lambda: metrics.coach_load(CoachProfile.objects.all(), NOW)),
    "satisfaction": (1, lambda: metrics.satisfaction(Enrollment.objects.all())),
    "outcome_trend": (1, lambda: metrics.outcome_trend(Enrollment.objects.all(), BERLIN)),
    "sales": (1, lambda: metrics.sales(Order.objects.all(), by="price")),
    "monthly_activity": (
        3, lambda: metrics.monthly_activity(Enrollment.objects.all(), BERLIN, NOW)),
}


def counts():
    found = {}
    for name, (_expected, call) in CALLS.items():
        with CaptureQueriesContext(connection) as queries:
            result = call()
        found[name] = (len(queries), bool(result))
    return found


def test_query_counts_do_not_grow_with_the_data(biz):
    small = counts()
    build("2")
    build("3")
    large = counts()
    expected = {name: (n, True) for name, (n, _call) in CALLS.items()}
    assert small == expected
    assert large == expected
