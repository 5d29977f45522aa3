"""Practices that are practised: the rules (target, streak, adherence), logging once a day
in the client's zone, completing at the target, and where clients and coaches see it."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.users.models import UserProfile

from wagtail_coaching.blocks import PracticeBlock
from wagtail_coaching.journeys import (
    ActivityNotAvailable,
    InvalidActivity,
    add_extra_activity,
    adherence,
    enroll,
    log_practice,
    pause_enrollment,
    resume_enrollment,
)
from wagtail_coaching.journeys.practices import (
    PracticePlan,
    practice_plan,
    practice_status,
)
from wagtail_coaching.models import (
    ActivityState,
    ClientActivity,
    EventKind,
    JourneyEvent,
    PracticeLog,
)
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.programs import activity, stage

from .test_admin_clients import as_user
from .world import build_world, staff

UTC = datetime.UTC
# A Wednesday; the week shown runs Monday 4 to Sunday 10 March 2024.
WEDNESDAY = datetime.date(2024, 3, 6)


def before(n):
    return WEDNESDAY - datetime.timedelta(days=n)


def days_before(day, *offsets):
    return {day - datetime.timedelta(days=n) for n in offsets}


def at(day, hour=9):
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=UTC)


# -- The plan ------------------------------------------------------------------------------------

def test_a_practice_stored_before_targets_reads_as_once_a_week_for_a_week():
    old = {"title": "Breathe", "instructions": "<p>x</p>", "cadence": "weekly"}
    assert practice_plan(old) == PracticePlan("weekly", 1, 1)
    assert practice_plan(old).target == 1
    # ... and the block still takes it as it is stored: no data migration.
    block = PracticeBlock()
    old["unlock"] = {"rule": "immediately"}
    cleaned = block.clean(block.to_python(old))
    assert cleaned["weeks"] == 1 and cleaned["times_per_week"] == 1


@pytest.mark.parametrize("value, target", [
    ({"cadence": "once"}, 1),
    ({"cadence": "daily"}, 7),
    ({"cadence": "daily", "weeks": 3}, 21),
    ({"cadence": "weekly", "times_per_week": 3, "weeks": 4}, 12),
    ({"cadence": "fortnightly", "weeks": 4}, 1),  # unknown: once
    ({"cadence": "daily", "weeks": "0"}, 7),  # out of range: the default
])
def test_the_target_is_weeks_at_the_cadence_in_days_practised(value, target):
    assert practice_plan(value).target == target


# -- Streaks, ticks and adherence ------------------------------------------------------------

DAILY = PracticePlan("daily", 1, 2)
THRICE_WEEKLY = PracticePlan("weekly", 3, 4)


def test_a_daily_streak_runs_up_to_yesterday_while_today_is_open():
    days = days_before(WEDNESDAY, 1, 2, 3, 5)  # Tue, Mon, Sun, then a gap, Fri
    status = practice_status(DAILY, days, today=WEDNESDAY, opened_on=before(7))
    assert status.streak == 3
    assert not status.done_today
    status = practice_status(DAILY, days | {WEDNESDAY}, today=WEDNESDAY,
                             opened_on=before(7))
    assert status.streak == 4 and status.done_today
    # Two days without it: the streak is over.
    assert practice_status(DAILY, days, today=WEDNESDAY + datetime.timedelta(2),
                           opened_on=before(7)).streak == 0


def test_the_week_shows_a_tick_per_day_from_monday():
    days = days_before(WEDNESDAY, 2)  # Monday
    status = practice_status(DAILY, days, today=WEDNESDAY, opened_on=before(2))
    assert [t.day.isoformat() for t in status.ticks][0] == "2024-03-04"
    assert [t.state for t in status.ticks] == [
        "done", "missed", "today", "upcoming", "upcoming", "upcoming", "upcoming",
    ]
    assert status.week_days == 1


def test_daily_adherence_does_not_count_today_until_it_is_over():
    opened = WEDNESDAY - datetime.timedelta(4)  # Saturday
    days = days_before(WEDNESDAY, 4, 3, 1)  # Sat, Sun, Tue: Monday missed
    status = practice_status(DAILY, days, today=WEDNESDAY, opened_on=opened)
    assert (status.adherence.practised, status.adherence.expected) == (3, 4)
    assert status.adherence.percent == 75
    status = practice_status(DAILY, days | {WEDNESDAY}, today=WEDNESDAY, opened_on=opened)
    assert (status.adherence.practised, status.adherence.expected) == (4, 5)


def test_paused_days_are_not_asked_for_and_do_not_break_a_streak():
    opened = WEDNESDAY - datetime.timedelta(6)  # Thursday
    days = days_before(WEDNESDAY, 6, 5, 1)  # Thu, Fri ... paused Sat-Mon ... Tue
    paused = days_before(WEDNESDAY, 4, 3, 2)
    status = practice_status(DAILY, days, today=WEDNESDAY, opened_on=opened, off_days=paused)
    assert (status.adherence.practised, status.adherence.expected) == (3, 3)
    assert status.streak == 3
    assert [t.state for t in status.ticks][:2] == ["off", "done"]


def test_a_weekly_streak_counts_weeks_at_the_cadence():
    opened = datetime.date(2024, 2, 19)  # a Monday, two weeks before
    days = {
        datetime.date(2024, 2, 19), datetime.date(2024, 2, 21), datetime.date(2024, 2, 23),
        datetime.date(2024, 2, 26), datetime.date(2024, 2, 28), datetime.date(2024, 3, 1),
        datetime.date(2024, 3, 4),  # this week: one so far
    }
    status = practice_status(THRICE_WEEKLY, days, today=WEDNESDAY, opened_on=opened)
    assert status.streak == 2  # this week is still going: it neither counts nor breaks
    assert status.streak_unit == "week"
    assert status.week_days == 1
    # Two full weeks at 3, and this week asks only for what is done: 7 of 7.
    assert (status.adherence.practised, status.adherence.expected) == (7, 7)
    assert [t.state for t in status.ticks][:3] == ["done", "rest", "today"]
    # A week short of the cadence ends the streak and counts against adherence.
    thin = days - {datetime.date(2024, 2, 28)}
    later = practice_status(THRICE_WEEKLY, thin, today=WEDNESDAY, opened_on=opened)
    assert later.streak == 0
    assert (later.adherence.practised, later.adherence.expected) == (6, 7)


def test_a_practice_done_once_has_no_streak_nor_adherence():
    status = practice_status(PracticePlan(), {WEDNESDAY}, today=WEDNESDAY, opened_on=WEDNESDAY)
    assert status.streak == 0 and status.adherence.percent is None and status.target_met


# -- Logging ---------------------------------------------------------------------------------

def practice_program(**practice):
    return [stage("Habits", [
        activity("lesson", "Welcome", rule="immediately"),
        activity("practice", "Breathe", rule="immediately", cadence="daily", weeks=1,
                 **practice),
        activity("lesson", "After the practice", rule="after_previous"),
        activity("practice", "Locked practice", rule="manual", cadence="daily"),
    ])]


@pytest.fixture
def journey(db, client_user):
    engagement = make_engagement(program=practice_program(), title="Habits", slug="habits")
    enrollment = enroll(client_user, engagement)
    return enrollment, enrollment.activities.get(title="Breathe")


def test_a_tap_logs_the_practice_once_a_day(journey, client_user):
    enrollment, breathe = journey
    first = log_practice(breathe, actor=client_user, now=at(WEDNESDAY, 9))
    again = log_practice(breathe, actor=client_user, now=at(WEDNESDAY, 9))
    later = log_practice(breathe, actor=client_user, now=at(WEDNESDAY, 18))
    assert first.logged and not again.logged and not later.logged
    assert (first.days, first.target) == (1, 7)
    assert PracticeLog.objects.filter(activity=breathe).count() == 1
    assert JourneyEvent.objects.filter(enrollment=enrollment, kind=EventKind.PRACTISED).count() == 1
    tomorrow = log_practice(breathe, actor=client_user, now=at(WEDNESDAY + datetime.timedelta(1)))
    assert tomorrow.logged and tomorrow.days == 2
    breathe.refresh_from_db()
    assert breathe.state == ActivityState.AVAILABLE  # not finished by one click


def test_days_are_the_clients_own(journey, client_user):
    _enrollment, breathe = journey
    UserProfile.objects.update_or_create(
        user=client_user, defaults={"current_time_zone": "Pacific/Auckland"}
    )
    client_user.refresh_from_db()
    # 20:00 UTC on Wednesday is Thursday morning in Auckland.
    logged = log_practice(breathe, actor=client_user, now=at(WEDNESDAY, 20))
    assert logged.day == WEDNESDAY + datetime.timedelta(1)
    # 10:00 UTC on Thursday is still Thursday there: the same day, not logged twice.
    assert not log_practice(breathe, actor=client_user,
                            now=at(WEDNESDAY + datetime.timedelta(1), 10)).logged


def test_the_target_completes_the_step_through_the_completion_path(journey, client_user):
    enrollment, breathe = journey
    for n in range(6):
        assert not log_practice(breathe, actor=client_user,
                                now=at(WEDNESDAY + datetime.timedelta(n))).completed
    done = log_practice(breathe, actor=client_user, now=at(WEDNESDAY + datetime.timedelta(6)))
    assert done.completed and done.days == 7
    breathe.refresh_from_db()
    assert breathe.state == ActivityState.COMPLETED
    assert JourneyEvent.objects.filter(activity=breathe, kind=EventKind.COMPLETED).exists()
    # The step waiting for it ("after the previous one") opened.
    assert enrollment.activities.get(title="After the practice").state == ActivityState.AVAILABLE
    with pytest.raises(ActivityNotAvailable):
        log_practice(breathe, actor=client_user, now=at(WEDNESDAY + datetime.timedelta(7)))
    assert PracticeLog.objects.filter(activity=breathe).count() == 7


def test_a_practice_done_once_completes_at_its_first_log(db, client_user):
    engagement = make_engagement(program=[stage("S", [
        activity("practice", "Once", rule="immediately", cadence="once"),
    ])], title="Once", slug="once")
    row = enroll(client_user, engagement).activities.get()
    assert log_practice(row, actor=client_user).completed


def test_what_cannot_be_logged_changes_nothing(journey, client_user):
    enrollment, breathe = journey
    with pytest.raises(InvalidActivity):
        log_practice(enrollment.activities.get(title="Welcome"), actor=client_user)
    with pytest.raises(ActivityNotAvailable):
        log_practice(enrollment.activities.get(title="Locked practice"), actor=client_user)
    pause_enrollment(enrollment)
    with pytest.raises(ActivityNotAvailable):
        log_practice(breathe, actor=client_user)
    assert not PracticeLog.objects.exists()
    assert not JourneyEvent.objects.filter(kind=EventKind.PRACTISED).exists()


def test_an_extra_practice_a_coach_adds_behaves_the_same(journey, client_user):
    enrollment, _breathe = journey
    extra = add_extra_activity(enrollment, "practice", {
        "title": "Walk", "instructions": "<p>Walk</p>", "cadence": "weekly",
        "times_per_week": 2, "weeks": 1,
    })
    assert extra.state == ActivityState.AVAILABLE
    assert not log_practice(extra, actor=client_user, now=at(WEDNESDAY)).completed
    assert log_practice(extra, actor=client_user, now=at(WEDNESDAY, 23)).logged is False
    assert log_practice(extra, actor=client_user,
                        now=at(WEDNESDAY + datetime.timedelta(1))).completed


# -- Adherence for a set of enrollments ------------------------------------------------------

def test_adherence_is_plain_data_per_enrollment(journey, client_user):
    enrollment, breathe = journey
    ClientActivity.objects.filter(pk=breathe.pk).update(unlocked_at=at(before(3)))
    for n in (3, 2):  # Sunday and Monday, not Tuesday
        log_practice(breathe, actor=client_user, now=at(before(n)))
    figures = adherence([enrollment.pk], now=at(WEDNESDAY, 8))
    mine = figures[enrollment.pk]
    assert (mine.adherence.practised, mine.adherence.expected) == (2, 3)
    assert mine.percent == 67
    [status] = mine.practices
    assert (status.title, status.days, status.target, status.streak) == ("Breathe", 2, 7, 0)


def test_paused_days_are_left_out_of_adherence(journey, client_user):
    enrollment, breathe = journey
    ClientActivity.objects.filter(pk=breathe.pk).update(unlocked_at=at(before(6)))
    log_practice(breathe, actor=client_user, now=at(before(6)))
    pause_enrollment(enrollment, now=at(before(5)))
    resume_enrollment(enrollment, now=at(before(1)))
    log_practice(breathe, actor=client_user, now=at(before(1)))
    figures = adherence([enrollment.pk], now=at(WEDNESDAY, 8))[enrollment.pk]
    assert (figures.adherence.practised, figures.adherence.expected) == (2, 2)


def test_adherence_reads_many_enrollments_in_constant_queries(
    db, client_user, django_assert_max_num_queries
):
    engagement = make_engagement(program=practice_program(), title="Habits", slug="habits")
    first = enroll(client_user, engagement)
    log_practice(first.activities.get(title="Breathe"), actor=client_user)
    with CaptureQueriesContext(connection) as one:
        adherence([first.pk])
    ids = [first.pk]
    for n in range(8):
        user = UserFactory(username=f"many{n}")
        enrollment = enroll(user, engagement)
        add_extra_activity(enrollment, "practice", {
            "title": "Extra", "instructions": "<p>x</p>", "cadence": "daily", "weeks": 2,
        })
        log_practice(enrollment.activities.get(title="Breathe"), actor=user)
        ids.append(enrollment.pk)
    assert len(one) <= 4
    with django_assert_max_num_queries(len(one)):
        figures = adherence(ids)
    assert all(len(figures[pk].practices) == 2 for pk in ids[1:])


# -- The client's pages ------------------------------------------------------------------------

def step_url(row):
    return reverse("wagtail_coaching:activity", args=[row.public_id])


def test_the_client_logs_from_the_step_and_sees_the_week(client, journey, client_user):
    _enrollment, breathe = journey
    client.force_login(client_user)
    page = client.get(step_url(breathe)).content.decode()
    assert "I practised today" in page and "coaching-practice__week" in page
    response = client.post(step_url(breathe))
    assert response.status_code == 302 and response["Location"] == step_url(breathe)
    page = client.get(step_url(breathe)).content.decode()
    assert "Logged for today" in page
    assert "1 of 7 days practised" in page
    assert "1-day streak" in page
    # A double submit: the second changes nothing and says so.
    response = client.post(step_url(breathe), follow=True)
    assert "already logged" in response.content.decode()
    assert PracticeLog.objects.filter(activity=breathe).count() == 1


def test_the_client_logs_from_the_dashboard(client, journey, client_user):
    _enrollment, breathe = journey
    client.force_login(client_user)
    dashboard = reverse("wagtail_coaching:dashboard")
    page = client.get(dashboard).content.decode()
    assert f'id="practice-{breathe.public_id}"' in page
    form = page.split(f'id="practice-{breathe.public_id}"', 1)[1].split("</form>", 1)[0]
    assert 'name="csrfmiddlewaretoken"' in form and 'value="dashboard"' in form
    response = client.post(step_url(breathe), {"return_to": "dashboard"})
    assert response["Location"] == f"{dashboard}#practice-{breathe.public_id}"
    page = client.get(dashboard).content.decode()
    assert "Logged for today." in page
    assert "You practised “Breathe”" in page  # the recent activity
    # Any other value of return_to is ignored: back to the step.
    response = client.post(step_url(breathe), {"return_to": "https://evil.example"})
    assert response["Location"] == step_url(breathe)


def test_nobody_else_can_log_a_clients_practice(client, journey, other_client):
    _enrollment, breathe = journey
    coach = staff("practice_coach", "coach")
    for user in (other_client, coach):
        client.force_login(user)
        assert client.post(step_url(breathe)).status_code == 404
    client.logout()
    response = client.post(step_url(breathe))
    assert response.status_code == 302 and "login" in response["Location"]
    assert not PracticeLog.objects.exists()


def test_a_paused_engagement_refuses_the_tap_and_logs_nothing(client, journey, client_user):
    enrollment, breathe = journey
    pause_enrollment(enrollment)
    client.force_login(client_user)
    response = client.post(step_url(breathe), {"return_to": "dashboard"})
    assert response.status_code == 409
    assert "paused" in response.content.decode()
    assert not PracticeLog.objects.exists()


def test_the_dashboard_query_count_does_not_grow_with_practices(client, db):
    def dashboard_queries(user):
        client.force_login(user)
        client.get(reverse("wagtail_coaching:dashboard"))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("wagtail_coaching:dashboard"))
        assert response.status_code == 200
        return len(queries)

    small, large = UserFactory(username="small"), UserFactory(username="large")
    for n in range(3):
        engagement = make_engagement(program=practice_program(), title=f"E{n}", slug=f"e{n}")
        for user in ([small, large] if n == 0 else [large]):
            row = enroll(user, engagement).activities.get(title="Breathe")
            log_practice(row, actor=user)
    assert dashboard_queries(large) <= dashboard_queries(small)


# -- The coach's side ------------------------------------------------------------------------------

def test_the_card_shows_adherence_to_coaches_and_not_to_hr_partners(client, db):
    world = build_world()
    row = world.enrollment_a1.activities.get(title="Later")
    add_extra = add_extra_activity(world.enrollment_a1, "practice", {
        "title": "Journal", "instructions": "<p>x</p>", "cadence": "daily", "weeks": 2,
    })
    assert row.kind == "practice"
    log_practice(add_extra, actor=world.client_a1)
    url = reverse("wagtail_coaching_admin:client_card", args=[world.enrollment_a1.public_id])
    html = as_user(client, world.coach_a).get(url).content.decode()
    assert "Practice adherence" in html and "1 of 14 days practised" in html
    html = as_user(client, world.hr_acme).get(url).content.decode()
    assert "Practice adherence" not in html and "days practised" not in html


def test_the_progress_report_gives_practice_adherence_per_engagement(client, db):
    world = build_world()
    practice = add_extra_activity(world.enrollment_a1, "practice", {
        "title": "Journal", "instructions": "<p>x</p>", "cadence": "daily", "weeks": 2,
    })
    log_practice(practice, actor=world.client_a1)
    html = as_user(client, world.admin).get(
        reverse("wagtail_coaching_admin:report_progress")
    ).content.decode()
    assert "Practice adherence (%)" in html
    assert "100%" in html


def test_a_coach_adds_a_daily_practice_from_the_card(client, db):
    world = build_world()
    url = reverse("wagtail_coaching_admin:add_extra_activity",
                  args=[world.enrollment_a1.public_id])
    as_user(client, world.coach_a).post(url, {
        "kind": "practice", "title": "Gratitude", "text": "Three good things.", "stage": "",
        "cadence": "daily", "weeks": "2",
    })
    row = world.enrollment_a1.activities.get(title="Gratitude")
    assert practice_plan(row.value) == PracticePlan("daily", 1, 2)
    # Bad input is refused and adds nothing.
    response = as_user(client, world.coach_a).post(url, {
        "kind": "practice", "title": "Too long", "text": "x", "cadence": "daily",
        "weeks": "99",
    })
    assert response.status_code == 302
    assert not world.enrollment_a1.activities.filter(title="Too long").exists()
