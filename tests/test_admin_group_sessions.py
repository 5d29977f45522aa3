"""The group sessions admin: the week-by-week list and its filters, creating a series,
editing one or all later sessions, cancelling, invitations and attendance."""

import html
import re
import zoneinfo
from datetime import timedelta

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wagtail_coaching.admin.display import person
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import (
    ActivityState,
    Audience,
    Cohort,
    GroupSession,
    Notification,
    Registration,
    RegistrationStatus,
    SessionStatus,
)
from wagtail_coaching.scheduling import SessionPlan, create_sessions, register
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.jobs import drain, run_jobs
from wagtail_coaching.utils.urls import site_base_url

from .test_admin_clients import as_user, message_texts
from .world import build_world
from .world_sessions import add_sessions, in_days

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
INDEX = "coaching_sessions_modeladmin_index"
CREATE = "coaching_sessions_modeladmin_create"


def build_shared_world():
    return add_sessions(build_world())


@pytest.fixture
def w(shared):
    return shared


def index_url(**params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse(INDEX) + (f"?{query}" if query else "")


def inspect_url(session):
    return reverse("coaching_sessions_modeladmin_inspect", args=[session.pk])


def edit_url(session):
    return reverse("coaching_sessions_modeladmin_edit", args=[session.pk])


def action_url(name, session):
    return reverse(f"wagtail_coaching_admin:{name}", args=[session.public_id])


def listed_titles(response):
    """Titles of the sessions in the list (each links to the session's page)."""
    body = response.content.decode()
    return set(re.findall(
        r'<td class="field-title[^"]*"><div class="title-wrapper"><a [^>]*>([^<]+)</a>', body
    ))


def last_message(response):
    return message_texts(response)[-1]


def series_form(coach, **extra):
    start = timezone.localdate() + timedelta(days=7)
    data = {
        "title": "Weekly circle", "description": "Bring a question.",
        "coach": coach.pk, "start_date": start.isoformat(), "start_time": "18:00",
        "duration_minutes": "60", "time_zone": "Europe/Paris", "repeats": "weekly",
        "count": "4", "dates": "", "capacity": "8", "video_link": "https://meet.example.com/c",
        "location": "", "audience": "list", "invite": "on",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def weekly(w, count=4, coach=None, invite=True, **plan):
    coach = coach or w.coach_a
    start = in_days(3, 17)
    fields = {
        "title": "Team A weekly", "coach": coach, "team": w.team_a, "starts_at": start,
        "duration": timedelta(hours=1), "capacity": 10, "audience": Audience.ENGAGEMENT,
        "engagement": w.engagement_a, **plan,
    }
    starts = [start + timedelta(days=7 * i) for i in range(count)]
    with run_jobs():
        sessions = create_sessions(
            SessionPlan(**fields), starts, recurrence="weekly", invite=invite
        )
    return sessions


# -- Creating ----------------------------------------------------------------------------------

def test_an_admin_creates_a_weekly_series_and_invitations_go_out(client, w):
    as_user(client, w.admin)
    data = series_form(w.coach_a, team=w.team_a.pk, audience="engagement",
                       engagement=w.engagement_a.pk, co_coaches=[w.coach_a2.pk])
    with run_jobs():
        response = client.post(reverse(CREATE), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    sessions = list(GroupSession.objects.filter(title="Weekly circle").order_by("starts_at"))
    assert len(sessions) == 4
    assert response["Location"] == inspect_url(sessions[0])
    assert len({s.series_id for s in sessions}) == 1 and sessions[0].series_id
    for i, s in enumerate(sessions):
        local = s.starts_at.astimezone(PARIS)
        assert (local.hour, local.minute) == (18, 0)
        assert local.date() == timezone.localdate() + timedelta(days=7 * (i + 1))
        assert s.ends_at - s.starts_at == timedelta(hours=1)
        assert (s.coach, s.team, s.capacity, s.time_zone) == (
            w.coach_a, w.team_a, 8, "Europe/Paris"
        )
        assert list(s.co_coaches.all()) == [w.coach_a2]
    # The engagement's clients are invited to every session, by email with the calendar file.
    invited = Registration.objects.filter(session__in=sessions, status="invited")
    assert {r.user for r in invited} == {w.client_a1, w.client_a2}
    assert invited.count() == 8
    # One invitation per client for the whole series.
    assert Notification.objects.filter(kind="session_invitation").count() == 2
    assert "4 sessions of “Weekly circle” created." in " ".join(message_texts(response))


def test_invitations_can_wait(client, w):
    as_user(client, w.admin)
    data = series_form(w.coach_a, repeats="once", count="", invite=None,
                       audience="list", invitees=[w.client_a1.pk])
    with run_jobs():
        response = client.post(reverse(CREATE), data)
    assert response.status_code == 302
    session = GroupSession.objects.get(title="Weekly circle")
    assert session.series_id is None
    assert list(session.invitees.all()) == [w.client_a1]
    assert not Registration.objects.filter(session=session).exists()


def test_a_list_of_dates(client, w):
    as_user(client, w.admin)
    first = timezone.localdate() + timedelta(days=5)
    others = [first + timedelta(days=9), first + timedelta(days=20)]
    data = series_form(w.coach_a, repeats="dates", count="", start_date=first.isoformat(),
                       dates="\n".join(d.isoformat() for d in others) + "\n")
    response = client.post(reverse(CREATE), data)
    assert response.status_code == 302
    days = [s.starts_at.astimezone(PARIS).date()
            for s in GroupSession.objects.filter(title="Weekly circle").order_by("starts_at")]
    assert days == [first, *others]


def test_a_coach_creates_sessions_they_lead_for_their_team(client, w):
    as_user(client, w.coach_a)
    page = client.get(reverse(CREATE))
    assert page.status_code == 200
    form = page.context["form"]
    assert list(form.fields["coach"].queryset) == [w.coach_a]
    assert list(form.fields["team"].queryset) == [w.team_a]
    assert w.client_b1 not in form.fields["invitees"].queryset
    response = client.post(reverse(CREATE), series_form(w.coach_a, team=w.team_a.pk))
    assert response.status_code == 302
    assert GroupSession.objects.filter(title="Weekly circle", coach=w.coach_a).count() == 4


@pytest.mark.parametrize("field", ["coach", "team"])
def test_a_coach_cannot_create_for_another_coach_or_team(client, w, field):
    as_user(client, w.coach_a)
    data = series_form(w.coach_a2) if field == "coach" else series_form(
        w.coach_a, team=w.team_b.pk
    )
    response = client.post(reverse(CREATE), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert not GroupSession.objects.filter(title="Weekly circle").exists()


def test_only_those_who_may_create_see_the_form(client, w):
    for user in (w.hr_acme, w.sales):
        as_user(client, user)
        assert client.get(reverse(CREATE)).status_code == 403
        assert client.post(reverse(CREATE), series_form(w.coach_a)).status_code == 403
    assert not GroupSession.objects.filter(title="Weekly circle").exists()


@pytest.mark.parametrize("extra, message", [
    ({"repeats": "weekly", "count": ""}, "Give how many sessions the series has."),
    ({"repeats": "dates", "dates": "2030-13-01"}, "YYYY-MM-DD"),
    ({"start_date": "2001-01-01", "repeats": "once"}, "Sessions must start in the future."),
    ({"audience": "cohort"}, "Choose the cohort."),
    ({"count": "500"}, "less than or equal to 104"),
    ({"time_zone": "Mars/Olympus"}, "Select a valid choice"),
])
def test_bad_input_says_why_and_creates_nothing(client, w, extra, message):
    as_user(client, w.admin)
    before = GroupSession.objects.count()
    response = client.post(reverse(CREATE), series_form(w.coach_a, **extra))
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert GroupSession.objects.count() == before


def test_the_step_must_belong_to_the_engagement(client, w):
    circle = programs.activity("group_session", "Circle", rule="immediately")
    other = make_engagement(program=[programs.stage("Only", [circle])], title="Circles",
                            slug="circles", team=w.team_a)
    as_user(client, w.admin)
    response = client.post(reverse(CREATE), series_form(
        w.coach_a, audience="engagement", engagement=w.engagement_a.pk,
        activity_block_id=circle["id"],
    ))
    assert response.status_code == 400
    assert "activity_block_id" in response.context["form"].errors
    response = client.post(reverse(CREATE), series_form(
        w.coach_a, audience="engagement", engagement=other.pk, activity_block_id=circle["id"],
        repeats="once",
    ))
    assert response.status_code == 302
    assert GroupSession.objects.get(title="Weekly circle").activity_block_id == circle["id"]


# -- The list ----------------------------------------------------------------------------------

def test_the_list_shows_upcoming_sessions_week_by_week(client, w):
    weekly(w, count=3, invite=False)
    past = weekly(w, count=1, invite=False, title="Old circle")[0]
    GroupSession.objects.filter(pk=past.pk).update(
        starts_at=timezone.now() - timedelta(days=8), ends_at=timezone.now() - timedelta(days=8)
        + timedelta(hours=1),
    )
    as_user(client, w.admin)
    response = client.get(index_url())
    assert response.status_code == 200
    assert listed_titles(response) == {"Team A weekly", "Team A circle", "Globex circle"}
    body = response.content.decode()
    assert "Week of" in body
    assert "1 / 10" in body  # seats taken / capacity of session_a (client_a1 registered)
    assert listed_titles(client.get(index_url(when="past"))) == {"Old circle"}
    assert "Old circle" in listed_titles(client.get(index_url(when="all")))


def test_the_filters(client, w):
    spring = Cohort.objects.get(name="Acme spring")
    create_sessions(
        SessionPlan(title="Spring circle", coach=w.coach_a2, starts_at=in_days(4),
                    duration=timedelta(hours=1), audience=Audience.COHORT, cohort=spring),
        [in_days(4)], invite=False,
    )
    cancelled = weekly(w, count=1, invite=False, title="Cancelled circle")[0]
    GroupSession.objects.filter(pk=cancelled.pk).update(status=SessionStatus.CANCELLED)
    as_user(client, w.admin)
    assert listed_titles(client.get(index_url(coach=w.coach_b.pk))) == {"Globex circle"}
    assert listed_titles(client.get(index_url(coach=w.coach_a2.pk))) == {"Spring circle"}
    assert listed_titles(client.get(index_url(company=w.globex.pk))) == {"Globex circle"}
    # A company's sessions include those of its cohorts.
    assert listed_titles(client.get(index_url(company=w.acme.pk))) == {"Spring circle"}
    assert listed_titles(client.get(index_url(cohort=spring.pk))) == {"Spring circle"}
    assert listed_titles(client.get(index_url(status="cancelled"))) == {"Cancelled circle"}
    assert listed_titles(client.get(index_url(coach="nonsense"))) == set()


def test_a_coach_lists_and_filters_only_their_teams_sessions(client, w):
    as_user(client, w.coach_a)
    response = client.get(index_url())
    assert listed_titles(response) == {"Team A circle"}
    body = response.content.decode()
    assert person(w.coach_b) not in body
    assert "Globex" not in body
    # An HR partner sees their company's sessions, read-only.
    as_user(client, w.hr_globex)
    response = client.get(index_url())
    assert listed_titles(response) == {"Globex circle"}
    assert edit_url(w.session_b) not in response.content.decode()
    as_user(client, w.client_a1)
    assert client.get(index_url()).status_code == 302  # clients never reach the admin


def add_sessions_with_people(w, n):
    clients = [UserFactory() for _ in range(3)]
    for _ in range(n):
        (session,) = create_sessions(
            SessionPlan(title="Load", coach=w.coach_a, team=w.team_a, starts_at=in_days(5),
                        duration=timedelta(hours=1), capacity=2, audience=Audience.OPEN,
                        co_coaches=[w.coach_a2]),
            [in_days(5)], invite=False,
        )
        for c in clients:
            register(session, c, check_eligible=False)


@pytest.mark.parametrize("viewer", ["admin", "coach_a"])
def test_the_list_costs_the_same_for_5_or_30_sessions(
    client, w, viewer, django_assert_max_num_queries
):
    user = getattr(w, viewer)
    as_user(client, user)
    add_sessions_with_people(w, 5)
    client.get(index_url())  # warm up (content types, the user's profile)
    with CaptureQueriesContext(connection) as few:
        response = client.get(index_url())
    assert response.content.decode().count("Load") >= 5
    add_sessions_with_people(w, 25)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(index_url())
    assert response.content.decode().count("2 / 2") == 30
    assert ">1<" in response.content.decode()  # one person waiting in each


# -- The session page --------------------------------------------------------------------------

def test_the_session_page_shows_the_invite_link_seats_and_waitlist(client, w):
    (session,) = create_sessions(
        SessionPlan(title="Small circle", coach=w.coach_a, team=w.team_a, starts_at=in_days(4),
                    duration=timedelta(hours=1), capacity=1, audience=Audience.ENGAGEMENT,
                    engagement=w.engagement_a),
        [in_days(4)], invite=False,
    )
    register(session, w.client_a1)
    register(session, w.client_a2)
    late = UserFactory(first_name="Lou", last_name="Late")
    enroll(late, w.engagement_a)
    register(session, late)
    as_user(client, w.coach_a2)  # a teammate: the team runs it
    response = client.get(inspect_url(session))
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    link = site_base_url() + reverse(
        "wagtail_coaching:join", args=[session.invite_token]
    )
    assert link in body
    assert "data-coaching-copy" in body
    assert "1 / 1" in body
    waitlist = body[body.index("Waitlist"):]
    assert waitlist.index(person(w.client_a2)) < waitlist.index("Lou Late")
    assert "Send invitations" in body and "Cancel this session" in body
    # An HR partner of the company sees the session, not the people nor the link.
    session.company = w.acme
    session.save()
    as_user(client, w.hr_acme)
    body = client.get(inspect_url(session)).content.decode()
    assert "Small circle" in body
    assert session.invite_token not in body
    assert person(w.client_a1) not in body
    assert "Send invitations" not in body


def test_times_show_in_the_viewers_time_zone(client, w):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(w.admin)
    profile.current_time_zone = "Asia/Tokyo"
    profile.save()
    as_user(client, w.admin)
    local = w.session_a.starts_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    body = client.get(inspect_url(w.session_a)).content.decode()
    assert local.strftime("%H:%M") in body and "Asia/Tokyo" in body
    assert local.strftime("%H:%M") in client.get(index_url()).content.decode()


def test_a_coach_of_another_team_finds_nothing(client, w):
    as_user(client, w.coach_b)
    assert client.get(inspect_url(w.session_a)).status_code == 404
    assert client.get(edit_url(w.session_a)).status_code == 404
    for name in ("session_invite", "session_cancel", "session_attendance"):
        assert client.post(action_url(name, w.session_a), {"scope": "one"}).status_code == 404
    w.session_a.refresh_from_db()
    assert w.session_a.status == SessionStatus.SCHEDULED


def test_an_hr_partner_may_not_act(client, w):
    as_user(client, w.hr_globex)
    assert client.get(inspect_url(w.session_b)).status_code == 200
    assert client.get(edit_url(w.session_b)).status_code == 403
    assert client.post(action_url("session_cancel", w.session_b), {"scope": "one"}
                       ).status_code == 403
    w.session_b.refresh_from_db()
    assert w.session_b.status == SessionStatus.SCHEDULED


# -- Editing -----------------------------------------------------------------------------------

def edit_form(session, **extra):
    start = session.starts_at.astimezone(zoneinfo.ZoneInfo(session.time_zone))
    data = {
        "scope": "one", "title": session.title, "description": session.description,
        "start_date": start.date().isoformat(), "start_time": start.strftime("%H:%M"),
        "duration_minutes": int((session.ends_at - session.starts_at).total_seconds() // 60),
        "time_zone": session.time_zone, "capacity": session.capacity or "",
        "video_link": session.video_link, "location": session.location,
        "coach": session.coach_id, "co_coaches": [c.pk for c in session.co_coaches.all()],
    }
    data.update(extra)
    return data


def test_edit_this_and_all_later_sessions_moves_them_and_tells_everyone(client, w):
    sessions = weekly(w)
    before = {s.pk: (s.starts_at, s.sequence) for s in GroupSession.objects.filter(
        pk__in=[s.pk for s in sessions])}
    second = sessions[1]
    start = second.starts_at.astimezone(zoneinfo.ZoneInfo(second.time_zone)) + timedelta(hours=1)
    as_user(client, w.admin)
    with run_jobs():
        response = client.post(edit_url(second), edit_form(
            second, scope="future", start_time=start.strftime("%H:%M"),
        ))
    assert response.status_code == 302, response.content.decode()[:2000]
    for i, s in enumerate(GroupSession.objects.filter(pk__in=before).order_by("starts_at")):
        old_start, old_sequence = before[s.pk]
        if i == 0:
            assert (s.starts_at, s.sequence) == (old_start, old_sequence)
        else:
            assert s.starts_at == old_start + timedelta(hours=1)
            assert s.ends_at == s.starts_at + timedelta(hours=1)
            assert s.sequence == old_sequence + 1
    updates = Notification.objects.filter(kind="session_updated")
    assert {n.recipient for n in updates} == {w.client_a1, w.client_a2}
    # One update of the series per person for the change, however many sessions it moved.
    assert updates.count() == 2


def test_edit_one_session_only(client, w):
    sessions = weekly(w, invite=False)
    as_user(client, w.coach_a)
    response = client.post(edit_url(sessions[0]), edit_form(sessions[0], title="Special"))
    assert response.status_code == 302
    titles = list(GroupSession.objects.filter(pk__in=[s.pk for s in sessions])
                  .order_by("starts_at").values_list("title", flat=True))
    assert titles == ["Special", "Team A weekly", "Team A weekly", "Team A weekly"]


def test_edit_changes_the_coach_and_co_coaches(client, w):
    sessions = weekly(w, count=2, invite=False)
    as_user(client, w.admin)
    response = client.post(edit_url(sessions[0]), edit_form(
        sessions[0], scope="future", coach=w.coach_a2.pk, co_coaches=[w.coach_a.pk],
    ))
    assert response.status_code == 302, response.content.decode()[:2000]
    for s in GroupSession.objects.filter(pk__in=[s.pk for s in sessions]):
        assert s.coach == w.coach_a2
        assert list(s.co_coaches.all()) == [w.coach_a]
    # One series invitation for the new coach, however many sessions.
    assert Notification.objects.filter(kind="coach_session_assigned",
                                       recipient=w.coach_a2).count() == 1


def test_a_coach_cannot_hand_a_session_outside_their_reach(client, w):
    as_user(client, w.coach_a)
    response = client.post(edit_url(w.session_a), edit_form(w.session_a, coach=w.coach_b.pk))
    assert response.status_code == 400
    assert "coach" in response.context["form"].errors
    w.session_a.refresh_from_db()
    assert w.session_a.coach == w.coach_a


def test_bad_edits_change_nothing(client, w):
    sessions = weekly(w, count=2, invite=False)
    register(sessions[1], w.client_a1)
    register(sessions[1], w.client_a2)
    as_user(client, w.admin)
    # Fewer seats than people holding one, on a later session of the series.
    response = client.post(edit_url(sessions[0]), edit_form(
        sessions[0], scope="future", capacity="1", title="Renamed",
    ))
    assert response.status_code == 400
    assert "already hold seats" in html.unescape(response.content.decode())
    assert not GroupSession.objects.filter(title="Renamed").exists()
    # A start in the past.
    response = client.post(edit_url(sessions[0]), edit_form(sessions[0], start_date="2001-01-01"))
    assert response.status_code == 400
    assert "Sessions must start in the future." in html.unescape(response.content.decode())
    sessions[0].refresh_from_db()
    assert sessions[0].sequence == 0


# -- Cancelling and inviting ---------------------------------------------------------------------

def test_cancel_one_then_all_later_sessions(client, w):
    sessions = weekly(w)
    as_user(client, w.coach_a)
    assert client.get(action_url("session_cancel", sessions[1]) + "?scope=future"
                      ).status_code == 200
    response = client.post(action_url("session_cancel", sessions[0]), {"scope": "one"})
    assert response.status_code == 302
    assert response["Location"] == inspect_url(sessions[0])
    statuses = lambda: list(  # noqa: E731
        GroupSession.objects.filter(pk__in=[s.pk for s in sessions])
        .order_by("starts_at").values_list("status", flat=True)
    )
    assert statuses() == ["cancelled", "scheduled", "scheduled", "scheduled"]
    response = client.post(action_url("session_cancel", sessions[1]), {"scope": "future"})
    assert last_message(response).startswith("3 sessions cancelled")
    assert statuses() == ["cancelled"] * 4
    # Each client: the series without the first date, then one cancellation of the series.
    cancels = Notification.objects.filter(kind="session_cancelled")
    assert cancels.count() == 2 * 2
    assert sorted(n.payload["calendar"]["method"] for n in cancels) == ["CANCEL"] * 2 + [
        "REQUEST"] * 2
    # Cancelling again is refused with a message.
    response = client.post(action_url("session_cancel", sessions[0]), {"scope": "one"})
    assert last_message(response) == "This session was already cancelled."


def test_the_invite_button_queues_the_invitations(client, w, broker):
    (session,) = weekly(w, count=1, invite=False)
    as_user(client, w.coach_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(action_url("session_invite", session))
    assert response.status_code == 302
    assert "on their way" in " ".join(message_texts(response))
    assert not Registration.objects.filter(session=session).exists()
    ran = drain()
    # A session of a series: its people get the series as one invitation.
    assert any(m.actor_name == "send_series_invitations" for m in ran)
    assert {r.user for r in Registration.objects.filter(session=session)} == {
        w.client_a1, w.client_a2
    }
    assert Notification.objects.filter(kind="session_invitation").count() == 2


# -- Attendance --------------------------------------------------------------------------------

@pytest.fixture
def circle(w):
    """An engagement whose program has a group-session step, a client enrolled in it, and a
    session for it (with that step) the client registered for, now started."""
    step = programs.activity("group_session", "Join a circle", rule="immediately")
    engagement = make_engagement(
        program=[programs.stage("Together", [step])], title="Circles", slug="circles",
        team=w.team_a,
    )
    member = UserFactory(first_name="Cy", last_name="Circle")
    enrollment = enroll(member, engagement)
    (session,) = create_sessions(
        SessionPlan(title="The circle", coach=w.coach_a, team=w.team_a, starts_at=in_days(1),
                    duration=timedelta(hours=1), audience=Audience.ENGAGEMENT,
                    engagement=engagement, activity_block_id=step["id"]),
        [in_days(1)], invite=False,
    )
    register(session, member)
    return session, member, enrollment


def started(session):
    now = timezone.now()
    GroupSession.objects.filter(pk=session.pk).update(
        starts_at=now - timedelta(minutes=30), ends_at=now + timedelta(minutes=30)
    )


def test_attendance_completes_the_group_session_step(client, w, circle):
    session, member, enrollment = circle
    as_user(client, w.coach_a)
    # Not before the session starts.
    response = client.post(action_url("session_attendance", session),
                           {f"attendance-{member.pk}": "attended"})
    assert last_message(response) == "Attendance can be taken once the session has started."
    started(session)
    body = client.get(inspect_url(session)).content.decode()
    assert f'name="attendance-{member.pk}"' in body
    response = client.post(action_url("session_attendance", session),
                           {f"attendance-{member.pk}": "attended"})
    assert response.status_code == 302
    assert last_message(response) == "Attendance saved (1 change)."
    assert Registration.objects.get(session=session, user=member).status == "attended"
    step = enrollment.activities.get(kind="group_session")
    assert step.state == ActivityState.COMPLETED


def test_mark_everyone_attended(client, w, circle):
    session, member, enrollment = circle
    other = UserFactory()
    enroll(other, session.engagement)
    register(session, other)
    started(session)
    as_user(client, w.admin)
    response = client.post(action_url("session_attendance", session), {"everyone": "attended"})
    assert last_message(response) == "Attendance saved (2 changes)."
    assert set(Registration.objects.filter(session=session).values_list("status", flat=True)) \
        == {RegistrationStatus.ATTENDED}
    session.refresh_from_db()
    assert session.attendance_taken_at is not None


@pytest.mark.parametrize("data", [
    {"attendance-{member}": "maybe"},
    {"attendance-abc": "attended"},
    {"attendance-999999": "attended"},
    {},
])
def test_bad_attendance_says_why_and_changes_nothing(client, w, circle, data):
    session, member, enrollment = circle
    started(session)
    as_user(client, w.coach_a)
    data = {k.format(member=member.pk): v for k, v in data.items()}
    response = client.post(action_url("session_attendance", session), data)
    assert response.status_code == 302
    texts = message_texts(response)
    assert len(texts) == 1 and "Attendance saved" not in texts[0]
    assert Registration.objects.get(session=session, user=member).status == "registered"
    assert enrollment.activities.get(kind="group_session").state != ActivityState.COMPLETED


# -- Cohort and company pages --------------------------------------------------------------------

def test_cohort_and_company_pages_show_their_sessions(client, w):
    spring = Cohort.objects.get(name="Acme spring")
    create_sessions(
        SessionPlan(title="Spring circle", coach=w.coach_a, team=w.team_a, starts_at=in_days(4),
                    duration=timedelta(hours=1), audience=Audience.COHORT, cohort=spring),
        [in_days(4)], invite=False,
    )
    as_user(client, w.admin)
    cohort_page = client.get(reverse("coaching_cohorts_modeladmin_inspect", args=[spring.pk]))
    assert "Spring circle" in cohort_page.content.decode()
    company_page = client.get(reverse("coaching_companies_modeladmin_inspect",
                                      args=[w.acme.pk])).content.decode()
    assert "Spring circle" in company_page
    assert "Globex circle" not in company_page
    as_user(client, w.hr_acme)
    company_page = client.get(reverse("coaching_companies_modeladmin_inspect",
                                      args=[w.acme.pk])).content.decode()
    assert "Spring circle" in company_page


# -- What happened to a session -------------------------------------------------------------------

def listed_statuses(response):
    """{title: status} of the sessions in the list."""
    body = response.content.decode()
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    found = {}
    for row in rows:
        title = re.search(r'<td class="field-title[^"]*">.*?<a [^>]*>([^<]+)</a>', row, re.S)
        outcome = re.search(r'<td class="field-outcome[^"]*">\s*([^<]*?)\s*</td>', row, re.S)
        if title and outcome:
            found[title.group(1)] = outcome.group(1)
    return found


def test_a_held_session_says_held(client, w, circle):
    session, member, enrollment = circle
    cancelled = weekly(w, count=1, invite=False, title="Cancelled circle")[0]
    GroupSession.objects.filter(pk=cancelled.pk).update(status=SessionStatus.CANCELLED)
    started(session)
    as_user(client, w.coach_a)
    assert listed_statuses(client.get(index_url(when="all")))["The circle"] == "Scheduled"
    client.post(action_url("session_attendance", session), {f"attendance-{member.pk}": "attended"})

    as_user(client, w.admin)
    statuses = listed_statuses(client.get(index_url(when="all")))
    assert (statuses["The circle"], statuses["Cancelled circle"],
            statuses["Team A circle"]) == ("Held", "Cancelled", "Scheduled")
    # The status filter follows what the list says.
    assert listed_titles(client.get(index_url(when="all", status="held"))) == {"The circle"}
    assert "The circle" not in listed_titles(
        client.get(index_url(when="all", status="scheduled"))
    )
    assert listed_titles(client.get(index_url(when="all", status="cancelled"))) == {
        "Cancelled circle"
    }
    # The session's own page.
    body = client.get(inspect_url(session)).content.decode()
    status = body.split(">Status</dt>")[1].split("</dd>")[0]
    assert status.strip().endswith("Held") and "Scheduled" not in status
    # The company's page lists it the same way.
    GroupSession.objects.filter(pk=w.session_b.pk).update(attendance_taken_at=timezone.now())
    page = client.get(reverse("coaching_companies_modeladmin_inspect", args=[w.globex.pk]))
    row = page.content.decode().split("Globex circle</a>")[1].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", row)[-1] == "Held"
