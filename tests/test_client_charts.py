"""Charts of one client: on their journey (the engagement page, as its enrolled client sees it;
the dashboard links there) and on the client card in the admin.

The check-in trend has one line per check-in title; x is the days the check-ins were
answered, in the viewer's time zone; y runs from 0 to 10 (y = 270 - 24 * score). The
progress chart sets the steps done beside all the steps of each stage.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.users.models import UserProfile

from wagtail_coaching.admin.card import client_card
from wagtail_coaching.journeys import complete_activity, enroll
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.programs import activity, stage

from .test_admin_clients import admin_world, as_user, card_url
from .test_charts import parse, table
from .text import mentions

DASHBOARD = reverse("wagtail_coaching:dashboard")
UTC = datetime.UTC


def at(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def program():
    return [
        stage("Start", [
            activity("lesson", "Welcome", rule="immediately"),
            activity("check_in", "Mood", rule="after_previous"),
            activity("check_in", "Energy", rule="after_previous"),
        ]),
        stage("Later", [
            activity("check_in", "Mood", rule="after_previous"),
            activity("practice", "Practise", rule="manual"),
        ]),
    ]


def answer(enrollment, title, score, when, nth=0):
    step = enrollment.activities.filter(title=title).order_by("stage_position", "position")[nth]
    complete_activity(step, actor=enrollment.client, score=score, now=when)


def answered(client_user, title="Resilience"):
    """Welcome 1 Mar; Mood 4 on 2 Mar 10:00; Energy 6 on 5 Mar 23:30 (6 March in Tokyo);
    Mood again 7 on 9 Mar."""
    enrollment = enroll(client_user, make_engagement(program=program(), title=title))
    answer(enrollment, "Welcome", None, at(2026, 3, 1, 9))
    answer(enrollment, "Mood", 4, at(2026, 3, 2, 10))
    answer(enrollment, "Energy", 6, at(2026, 3, 5, 23, 30))
    answer(enrollment, "Mood", 7, at(2026, 3, 9, 10), nth=1)
    return enrollment


def charts_by_title(html):
    found = {}
    for fig in parse(html):
        found.setdefault(fig["title"], []).append(fig)
    return found


def journey_page(client, user, enrollment, **params):
    """The engagement page as its enrolled client sees it: their journey, with its charts."""
    client.force_login(user)
    response = client.get(enrollment.engagement.url, params)
    assert response.status_code == 200
    return response.content.decode()


# -- The client's journey (the engagement page) ----------------------------------------------

@pytest.mark.django_db
def test_the_journey_draws_the_check_in_trend(client, client_user):
    enrollment = answered(client_user)
    html = journey_page(client, client_user, enrollment)
    (trend,) = charts_by_title(html)["Check-in scores"]
    assert [text for _x, text in trend["labels"]] == ["2 Mar 2026", "5 Mar 2026", "9 Mar 2026"]
    # Three days: bands of 173.3, centres 146.7, 320 and 493.3.
    mood, energy = trend["series"][0], trend["series"][1]
    assert trend["legend"] == ["Mood", "Energy"]
    # Mood was not answered on 5 March: its line goes on from 4 to 7 across that day.
    assert mood["lines"] == ["146.7,174 493.3,102"]
    assert mood["points"] == [("146.7", "174"), ("493.3", "102")]
    assert energy["lines"] == [] and energy["points"] == [("320", "126")]
    assert [text for _y, text in trend["ticks"]] == ["0", "2", "4", "6", "8", "10"]
    assert table(trend) == {
        "2 Mar 2026": ["4", "–no data"],
        "5 Mar 2026": ["–no data", "6"],
        "9 Mar 2026": ["7", "–no data"],
    }
    assert "charts.css" in html


@pytest.mark.django_db
def test_check_in_days_are_the_clients_days(client, client_user):
    enrollment = answered(client_user)
    profile, _ = UserProfile.objects.get_or_create(user=client_user)
    profile.current_time_zone = "Asia/Tokyo"
    profile.save()
    (trend,) = charts_by_title(journey_page(client, client_user, enrollment))["Check-in scores"]
    # 23:30 UTC on 5 March is 08:30 on 6 March in Tokyo.
    assert list(table(trend)) == ["2 Mar 2026", "6 Mar 2026", "9 Mar 2026"]


@pytest.mark.django_db
def test_the_journey_draws_progress_by_stage(client, client_user):
    enrollment = answered(client_user)
    (progress,) = charts_by_title(journey_page(client, client_user, enrollment))[
        "Progress by stage"
    ]
    assert progress["head"] == ["Stage", "Done", "All steps"]
    assert table(progress) == {"Start": ["3", "3"], "Later": ["1", "2"]}
    # Axis 0..3: y = 270 - 80 * steps. Bands of 260, bars 104 wide.
    assert progress["series"][0]["bars"] == [
        ("86", "30", "104", "240"), ("346", "190", "104", "80"),
    ]
    assert progress["series"][1]["bars"] == [
        ("190", "30", "104", "240"), ("450", "110", "104", "160"),
    ]


@pytest.mark.django_db
def test_a_journey_without_answers_says_so_and_one_without_check_ins_has_no_trend(
    client, client_user
):
    fresh = enroll(client_user, make_engagement(program=program(), title="Fresh"))
    plain = [stage("Only", [activity("lesson", "Read", rule="immediately")])]
    plain = enroll(client_user, make_engagement(program=plain, title="Plain"))
    charts = charts_by_title(journey_page(client, client_user, fresh))
    (trend,) = charts["Check-in scores"]
    assert trend["empty"] == "No check-ins answered yet."
    assert len(charts["Progress by stage"]) == 1
    charts = charts_by_title(journey_page(client, client_user, plain))
    assert "Check-in scores" not in charts
    assert len(charts["Progress by stage"]) == 1


@pytest.mark.django_db
def test_each_journey_has_its_own_trend(client, client_user, other_client):
    first = answered(client_user, "First")
    second = enroll(client_user, make_engagement(program=program(), title="Second"))
    answer(second, "Welcome", None, at(2026, 4, 1, 9))
    answer(second, "Mood", 2, at(2026, 4, 2, 9))
    answered(other_client, "Theirs")  # another client's scores never show
    (trend,) = charts_by_title(journey_page(client, client_user, second))["Check-in scores"]
    assert table(trend) == {"2 Apr 2026": ["2"]}
    (trend,) = charts_by_title(journey_page(client, client_user, first))["Check-in scores"]
    assert len(table(trend)) == 3


@pytest.mark.django_db
def test_visitors_and_other_clients_see_no_charts(client, client_user, other_client):
    enrollment = answered(client_user)
    client.logout()
    html = client.get(enrollment.engagement.url).content.decode()
    assert parse(html) == [] and "charts.css" not in html
    client.force_login(other_client)
    html = client.get(enrollment.engagement.url).content.decode()
    assert parse(html) == [] and not mentions(html, "Mood")


@pytest.mark.django_db
def test_the_dashboard_sums_up_stages_and_links_to_the_journey(client, client_user):
    """The dashboard shows what comes next; the charts are one link away."""
    enrollment = answered(client_user)
    client.force_login(client_user)
    html = client.get(DASHBOARD).content.decode()
    assert parse(html) == [] and "charts.css" not in html
    assert f'href="{enrollment.engagement.url}#my-journey-title"' in html


def _queries(client, user, enrollment):
    client.force_login(user)
    client.get(enrollment.engagement.url)  # warm the per-process caches
    with CaptureQueriesContext(connection) as queries:
        client.get(enrollment.engagement.url)
    return len(queries)


@pytest.mark.django_db
def test_the_trend_costs_one_query_however_many_answers(client):
    small = UserFactory(username="small")
    small_enrollment = answered(small, "Small")
    large = UserFactory(username="large")
    for index in range(4):
        large_enrollment = answered(large, f"Large {index}")
    without = UserFactory(username="without")
    without_enrollment = enroll(without, make_engagement(
        program=[stage("Only", [activity("lesson", "Read", rule="immediately")])],
        title="No check-ins",
    ))
    small_count = _queries(client, small, small_enrollment)
    large_count = _queries(client, large, large_enrollment)
    assert small_count == large_count, (small_count, large_count)
    # Without a check-in step there is nothing to ask.
    assert _queries(client, without, without_enrollment) == small_count - 1


# -- The client card -------------------------------------------------------------------------

@pytest.fixture
def world(db):
    return admin_world()


def card(client, user, enrollment, **params):
    response = as_user(client, user).get(card_url(enrollment), params)
    assert response.status_code == 200
    return response.content.decode()


def answer_world(world):
    e = world.enrollment_a1
    answer(e, "Welcome", None, at(2026, 3, 1, 9))
    answer(e, "How are you?", 7, at(2026, 3, 2, 10))
    return e


def test_the_card_draws_the_trend_and_progress(client, world):
    e = answer_world(world)
    for params in ({}, {"panel": "1"}):
        html = card(client, world.coach_a, e, **params)
        charts = charts_by_title(html)
        (trend,) = charts["Check-in scores"]
        # One day, one band of 520: the point sits at x=320, y = 270 - 24 * 7.
        assert trend["series"][0]["points"] == [("320", "102")]
        assert trend["legend"] == ["How are you?"]
        assert table(trend) == {"2 Mar 2026": ["7"]}
        (progress,) = charts["Progress by stage"]
        assert table(progress) == {"Start": ["2", "3"]}
        assert "charts.css" in html


def test_hr_partners_see_progress_but_no_check_in_scores(client, world):
    e = answer_world(world)
    html = card(client, world.hr_acme, e)
    charts = charts_by_title(html)
    assert "Check-in scores" not in charts
    assert "How are you?" not in html.split("Progress by stage")[1].split("</figure>")[0]
    (progress,) = charts["Progress by stage"]
    assert table(progress) == {"Start": ["2", "3"]}
    assert not mentions(html, "Score") and "out of 10" not in html
    # Not drawn, and not even read: the scores never reach the template.
    (hr_card,) = client_card(world.hr_acme, e)["cards"]
    assert hr_card.outline.checkin_chart is None
    assert hr_card.outline.progress_chart is not None
    (coach_card,) = client_card(world.coach_a, e)["cards"]
    assert coach_card.outline.checkin_chart.series[0].values == [7]


def test_each_enrollment_on_the_card_has_its_own_trend(client, world):
    e = answer_world(world)
    other = enroll(world.client_a1, world.engagement_b, company=world.acme)
    answer(other, "Welcome", None, at(2026, 4, 1, 9))
    answer(other, "How are you?", 3, at(2026, 4, 2, 10))
    trends = charts_by_title(card(client, world.admin, e))["Check-in scores"]
    assert [table(t) for t in trends] == [{"2 Mar 2026": ["7"]}, {"2 Apr 2026": ["3"]}]
    # Coach A sees only engagement A (team A): its trend, not the other's.
    (trend,) = charts_by_title(card(client, world.coach_a, e))["Check-in scores"]
    assert table(trend) == {"2 Mar 2026": ["7"]}
