"""Group sessions: series, edits, cancellations, coach changes, invitations and their
calendar files, attendance."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import (
    ActivityState,
    Audience,
    Cohort,
    EventKind,
    GroupSession,
    JourneyEvent,
    Notification,
    Recurrence,
    Registration,
    RegistrationStatus,
    SessionSeries,
    SessionStatus,
)
from wagtail_coaching.permissions import visible
from wagtail_coaching.scheduling import (
    CoachNotAllowed,
    InvalidSchedule,
    InvalidToken,
    SessionNotOpen,
    SessionPlan,
    audience_members,
    cancel_registration,
    cancel_sessions,
    change_coach,
    create_sessions,
    edit_session,
    mark_attendance,
    mark_everyone,
    read_rsvp_token,
    register,
    rsvp_token,
    send_invitations,
    series_starts,
    update_sessions,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.jobs import drain, run_jobs

from .world import staff
from .world_sessions import calendar_parts, in_days, only_event

HOUR = timedelta(hours=1)
pytestmark = pytest.mark.usefixtures("enqueue_at_once")


@pytest.fixture
def world(quiet_world):
    return quiet_world


def plan(world, **kw):
    values = {
        "title": "Team A circle", "coach": world.coach_a, "team": world.team_a,
        "starts_at": in_days(7, 17), "duration": HOUR, "capacity": 10,
        "audience": Audience.ENGAGEMENT, "engagement": world.engagement_a,
        "time_zone": "Europe/Paris",
    }
    values.update(kw)
    return SessionPlan(**values)


def one(world, **kw):
    (session,) = create_sessions(plan(world, **kw), [kw.get("starts_at", in_days(7, 17))],
                                 invite=False)
    return session


def send_all():
    """Run the jobs (invitations, then the sender) and return the mail sent."""
    drain()
    return mail.outbox


# -- Creating ----------------------------------------------------------------------------------

def test_a_weekly_series_keeps_its_local_time_across_daylight_saving():
    first = datetime(2027, 3, 17, 18, 0, tzinfo=ZoneInfo("Europe/Paris"))
    starts = series_starts(first, Recurrence.WEEKLY, count=3, time_zone="Europe/Paris")
    local = [s.astimezone(ZoneInfo("Europe/Paris")) for s in starts]
    assert [(d.date(), d.hour) for d in local] == [
        (date(2027, 3, 17), 18), (date(2027, 3, 24), 18), (date(2027, 3, 31), 18)
    ]
    # The UTC instants move by an hour when the clocks change (28 March 2027).
    assert [s.astimezone(UTC).hour for s in starts] == [17, 17, 16]


def test_fortnightly_and_a_list_of_dates():
    first = datetime(2030, 1, 7, 9, 30, tzinfo=UTC)
    assert [s.date() for s in series_starts(first, Recurrence.FORTNIGHTLY, count=3)] == [
        date(2030, 1, 7), date(2030, 1, 21), date(2030, 2, 4)
    ]
    dates = [date(2030, 2, 1), date(2030, 1, 15), date(2030, 2, 1)]
    assert series_starts(first, Recurrence.DATES, dates=dates) == [
        datetime(2030, 1, 15, 9, 30, tzinfo=UTC), datetime(2030, 2, 1, 9, 30, tzinfo=UTC)
    ]


@pytest.mark.parametrize("kwargs, message", [
    ({"count": 0}, "how many"),
    ({"count": 200}, "at most"),
    ({"count": 2, "time_zone": "Mars/Olympus"}, "Unknown time zone"),
])
def test_bad_series_are_refused(kwargs, message):
    with pytest.raises(InvalidSchedule, match=message):
        series_starts(datetime(2030, 1, 7, tzinfo=UTC), Recurrence.WEEKLY, **kwargs)
    with pytest.raises(InvalidSchedule):
        series_starts(datetime(2030, 1, 7, tzinfo=UTC), Recurrence.DATES, dates=[])


def test_create_a_series_and_invite_in_the_background(world):
    starts = series_starts(in_days(7, 17), Recurrence.WEEKLY, count=4, time_zone="UTC")
    with run_jobs():
        sessions = create_sessions(plan(world, co_coaches=[world.coach_a2]), starts,
                                   recurrence=Recurrence.WEEKLY, actor=world.admin)
    assert len(sessions) == 4
    series = SessionSeries.objects.get()
    assert {s.series_id for s in sessions} == {series.pk}
    assert series.recurrence == Recurrence.WEEKLY
    for session in sessions:
        assert list(session.co_coaches.all()) == [world.coach_a2]
        # Engagement A's clients are invited to each session; the coaches are not clients.
        assert set(session.registrations.values_list("user__username", "status")) == {
            ("client_a1", "invited"), ("client_a2", "invited")
        }
    # Two clients and two coaches: one email each for the whole series, all sent.
    assert Notification.objects.filter(sent_at__isnull=True).count() == 0
    assert len(mail.outbox) == 4


@pytest.mark.parametrize("kw, message", [
    ({"starts_at": timezone.now() - HOUR}, "future"),
    ({"duration": timedelta(0)}, "end after"),
    ({"capacity": 0}, "at least one seat"),
    ({"audience": Audience.COMPANY, "company": None}, "company"),
    ({"audience": Audience.COHORT, "cohort": None}, "cohort"),
    ({"time_zone": "Nowhere/Land"}, "time zone"),
])
def test_bad_sessions_are_refused_and_nothing_is_created(world, kw, message):
    with pytest.raises(InvalidSchedule, match=message):
        create_sessions(plan(world, **kw), [kw.get("starts_at", in_days(3))])
    assert not GroupSession.objects.exists()
    assert not SessionSeries.objects.exists()


# -- Audience ----------------------------------------------------------------------------------

def test_the_audience_of_each_kind(world):
    cohort = Cohort.objects.get(name="Acme spring")
    walk_in = UserFactory(username="walk_in")
    cohort.members.add(walk_in)
    company = one(world, audience=Audience.COMPANY, company=world.acme, engagement=None)
    by_cohort = one(world, audience=Audience.COHORT, cohort=cohort, engagement=None)
    by_engagement = one(world)
    listed = one(world, audience=Audience.LIST, engagement=None,
                 invitees=[world.client_b1, world.coach_a])
    open_ = one(world, audience=Audience.OPEN, engagement=None)

    def names(session):
        return sorted(audience_members(session).values_list("username", flat=True))

    # Acme's clients, and the members of Acme's cohorts.
    assert names(company) == ["client_a1", "client_a2", "walk_in"]
    assert names(by_cohort) == ["walk_in"]
    assert names(by_engagement) == ["client_a1", "client_a2"]
    # The session's own coach is never invited as a client.
    assert names(listed) == ["client_b1"]
    # An open session is shared by its link, not emailed to every client.
    assert names(open_) == []


def test_clients_see_only_sessions_they_may_join(world):
    mine = one(world)
    other = one(world, audience=Audience.COMPANY, company=world.globex, engagement=None,
                title="Globex")
    assert list(visible(world.client_a1, "view_groupsession")) == [mine]
    assert list(visible(world.client_b1, "view_groupsession")) == [other]
    # A coach sees the sessions they run or their team runs, not the other team's.
    other.team = world.team_b
    other.coach = world.coach_b
    other.save()
    assert list(visible(world.coach_a2, "view_groupsession")) == [mine]
    assert list(visible(world.coach_b, "view_groupsession")) == [other]


# -- Invitations -------------------------------------------------------------------------------

def test_invitations_carry_a_calendar_request(world):
    session = one(world, title="Resilience, focus; and <b>you</b>")
    send_invitations(session.pk)
    outbox = send_all()
    parts = calendar_parts(outbox, world.client_a2.email)
    assert len(parts) == 1
    method, calendar, message = parts[0]
    assert method == "REQUEST"
    assert str(calendar["METHOD"]) == "REQUEST"
    event = only_event(calendar)
    assert str(event["UID"]) == session.uid
    assert int(event["SEQUENCE"]) == 0
    assert str(event["SUMMARY"]) == "Resilience, focus; and you"
    attendee = event["ATTENDEE"]
    assert str(attendee) == f"mailto:{world.client_a2.email}"
    assert attendee.params["RSVP"] == "TRUE"
    assert str(event["ORGANIZER"]).startswith("mailto:")
    assert event.decoded("DTSTART") == session.starts_at
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert calendar.walk("VTIMEZONE")
    # The email itself offers accept and decline links.
    body = message.body
    assert "/coaching/sessions/reply/" in body
    assert body.count("/coaching/sessions/reply/") == 2


def test_the_invitation_job_is_idempotent(world):
    session = one(world)
    for _ in range(3):
        send_invitations(session.pk)
        drain()
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted(
        [world.client_a1.email, world.client_a2.email, world.coach_a.email]
    )
    # Through the actor too, twice.
    from wagtail_coaching.tasks import send_session_invitations

    send_session_invitations.send(session.pk)
    send_session_invitations.send(session.pk)
    drain()
    assert len(mail.outbox) == 3


def test_later_audience_members_are_invited_when_the_job_runs_again(world):
    session = one(world)
    send_invitations(session.pk)
    drain()
    newcomer = UserFactory(username="newcomer")
    enroll(newcomer, world.engagement_a)
    mail.outbox.clear()
    send_invitations(session.pk)
    drain()
    # Only the newcomer is invited; nobody else hears again.
    assert [m.to for _method, _cal, m in calendar_parts(mail.outbox)] == [[newcomer.email]]


def _many_invitees(world, n):
    User = get_user_model()
    User.objects.bulk_create([
        User(username=f"invitee{world_id}-{i}", email=f"i{world_id}-{i}@example.com")
        for world_id in [n] for i in range(n)
    ])
    session = one(world, audience=Audience.LIST, engagement=None, capacity=None)
    through = GroupSession.invitees.through
    through.objects.bulk_create([
        through(groupsession_id=session.pk, user_id=pk)
        for pk in User.objects.filter(username__startswith=f"invitee{n}-").values_list(
            "pk", flat=True
        )
    ])
    return session


def test_inviting_a_thousand_people_costs_a_fixed_number_of_queries_per_batch(world):
    small = _many_invitees(world, 200)
    large = _many_invitees(world, 1000)
    with CaptureQueriesContext(connection) as few:
        send_invitations(small.pk, batch_size=100)
    with CaptureQueriesContext(connection) as many:
        queued = send_invitations(large.pk, batch_size=100)
    assert queued == 1000 + 1  # the invitees and the coach
    assert Registration.objects.filter(session=large).count() == 1000
    per_batch = (len(many) - len(few)) / 8
    assert per_batch == int(per_batch) and per_batch <= 6, (len(few), len(many))
    assert len(many) <= 10 * 6 + 10


# -- Reply links ---------------------------------------------------------------------------

def test_reply_tokens_name_one_person_and_one_answer(world):
    session = one(world)
    send_invitations(session.pk)
    mine = Registration.objects.get(session=session, user=world.client_a1)
    theirs = Registration.objects.get(session=session, user=world.client_a2)
    token = rsvp_token(mine, "accept")
    assert read_rsvp_token(token) == (mine, "accept")
    assert read_rsvp_token(rsvp_token(theirs, "decline")) == (theirs, "decline")
    # Altered: another person's id, or another answer, in the same signature.
    other = rsvp_token(theirs, "accept")
    forged = other.split(":")[0] + ":" + ":".join(token.split(":")[1:])
    for bad in (forged, token[:-2] + "xx", token + "x", "nonsense"):
        with pytest.raises(InvalidToken):
            read_rsvp_token(bad)


def test_reply_tokens_expire(world, settings):
    session = one(world)
    send_invitations(session.pk)
    mine = Registration.objects.get(session=session, user=world.client_a1)
    token = rsvp_token(mine, "accept")
    settings.WAGTAIL_COACHING = {"RSVP_MAX_AGE": -1}
    with pytest.raises(InvalidToken, match="expired"):
        read_rsvp_token(token)


# -- Changes -------------------------------------------------------------------------------

def test_moving_a_session_sends_an_update_with_the_same_uid_and_a_higher_sequence(world):
    session = one(world)
    register(session, world.client_a1)
    send_invitations(session.pk)
    drain()
    mail.outbox.clear()
    (moved,) = update_sessions(session, {"starts_at": session.starts_at + HOUR,
                                         "ends_at": session.ends_at + HOUR})
    assert moved.sequence == 1
    drain()
    updates = calendar_parts(mail.outbox)
    assert sorted(m.to[0] for _method, _cal, m in updates) == sorted(
        [world.client_a1.email, world.client_a2.email, world.coach_a.email]
    )
    for method, calendar, _message in updates:
        event = only_event(calendar)
        assert method == "REQUEST"
        assert str(event["UID"]) == session.uid
        assert event.decoded("DTSTART") == session.starts_at + HOUR
        assert int(event["SEQUENCE"]) == 1


def test_editing_all_future_sessions_of_a_series(world):
    starts = series_starts(in_days(7, 17), Recurrence.WEEKLY, count=4)
    sessions = create_sessions(plan(world), starts, recurrence=Recurrence.WEEKLY, invite=False)
    changed = update_sessions(
        sessions[1], {"starts_at": sessions[1].starts_at + 2 * HOUR,
                      "location": "Room 4"}, scope="future",
    )
    assert [s.pk for s in changed] == [s.pk for s in sessions[1:]]
    fresh = list(GroupSession.objects.order_by("starts_at"))
    assert fresh[0].starts_at == starts[0] and fresh[0].location == ""
    for session, start in zip(fresh[1:], starts[1:], strict=True):
        assert session.starts_at == start + 2 * HOUR
        assert session.ends_at == start + 3 * HOUR
        assert session.location == "Room 4"
        assert session.sequence == 1


def test_a_change_that_calendars_do_not_show_keeps_the_sequence(world):
    session = one(world)
    update_sessions(session, {"capacity": 20})
    session.refresh_from_db()
    assert (session.capacity, session.sequence) == (20, 0)
    assert not Notification.objects.filter(kind__contains="session").exists()


def test_bad_edits_change_nothing(world):
    session = one(world, capacity=2)
    register(session, world.client_a1)
    register(session, world.client_a2)
    with pytest.raises(InvalidSchedule, match="already hold seats"):
        update_sessions(session, {"capacity": 1})
    with pytest.raises(InvalidSchedule, match="end after"):
        update_sessions(session, {"ends_at": session.starts_at})
    with pytest.raises(InvalidSchedule, match="cannot be changed"):
        update_sessions(session, {"status": "cancelled"})
    with pytest.raises(InvalidSchedule, match="future"):
        update_sessions(session, {"starts_at": timezone.now() - HOUR})
    fresh = GroupSession.objects.get(pk=session.pk)
    assert (fresh.capacity, fresh.starts_at, fresh.sequence) == (2, session.starts_at, 0)


def test_a_started_session_cannot_be_edited(world):
    session = one(world)
    with pytest.raises(SessionNotOpen):
        update_sessions(session, {"title": "Late"}, now=session.starts_at + timedelta(minutes=1))


def test_cancelling_a_session_sends_everyone_a_cancel(world):
    session = one(world, capacity=1)
    register(session, world.client_a1)
    register(session, world.client_a2)  # waitlisted
    send_invitations(session.pk)
    drain()
    mail.outbox.clear()
    (cancelled,) = cancel_sessions(session, actor=world.admin)
    assert cancelled.status == SessionStatus.CANCELLED
    drain()
    cancels = calendar_parts(mail.outbox)
    assert sorted(m.to[0] for _x, _c, m in cancels) == sorted(
        [world.client_a1.email, world.coach_a.email]
    )
    for method, calendar, _m in cancels:
        event = only_event(calendar)
        assert method == "CANCEL" and str(calendar["METHOD"]) == "CANCEL"
        assert str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == session.uid
        assert int(event["SEQUENCE"]) >= 1
    # The waitlist hears by email (they never had it in their calendar).
    waitlisted = [m for m in mail.outbox if m.to == [world.client_a2.email]]
    assert len(waitlisted) == 1 and not calendar_parts(waitlisted)
    # Cancelling twice sends nothing more.
    mail.outbox.clear()
    assert cancel_sessions(session) == []
    drain()
    assert mail.outbox == []


def test_cancelling_this_and_all_future_sessions(world):
    starts = series_starts(in_days(7, 17), Recurrence.WEEKLY, count=3)
    sessions = create_sessions(plan(world), starts, recurrence=Recurrence.WEEKLY, invite=False)
    done = cancel_sessions(sessions[1], scope="future")
    assert [s.pk for s in done] == [s.pk for s in sessions[1:]]
    assert list(GroupSession.objects.order_by("starts_at").values_list("status", flat=True)) == [
        "scheduled", "cancelled", "cancelled"
    ]


def test_editing_the_rest_of_a_series_in_one_go(world):
    starts = series_starts(in_days(7, 17), Recurrence.WEEKLY, count=3)
    sessions = create_sessions(plan(world), starts, recurrence=Recurrence.WEEKLY, invite=False)
    count = edit_session(sessions[1], {"location": "Room 4"}, coach=world.coach_a2,
                         actor=world.coach_a, scope="future")
    assert count == 2
    rows = list(GroupSession.objects.order_by("starts_at").values_list("location", "coach"))
    assert rows == [("", world.coach_a.pk), ("Room 4", world.coach_a2.pk),
                    ("Room 4", world.coach_a2.pk)]
    assert edit_session(sessions[0], {}, actor=world.coach_a) == 0


def test_a_coach_cannot_hand_a_session_outside_their_team(world):
    session = one(world, team=None, engagement=None, audience=Audience.OPEN)
    with pytest.raises(CoachNotAllowed):
        edit_session(session, {"title": "Elsewhere"}, coach=world.coach_b, actor=world.coach_a)
    session.refresh_from_db()
    assert (session.title, session.coach_id) == ("Team A circle", world.coach_a.pk)


def test_one_attendee_cancelling_cancels_only_their_copy(world):
    session = one(world, capacity=1)
    register(session, world.client_a1)
    register(session, world.client_a2)  # waitlisted
    drain()
    mail.outbox.clear()
    cancel_registration(session, world.client_a1)
    drain()
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED and session.sequence == 0
    cancels = [p for p in calendar_parts(mail.outbox) if p[0] == "CANCEL"]
    assert [m.to for _x, _c, m in cancels] == [[world.client_a1.email]]
    event = only_event(cancels[0][1])
    # The cancel names that attendee alone.
    assert str(event["ATTENDEE"]) == f"mailto:{world.client_a1.email}"
    # The freed seat went to the waitlist, with an invitation in their calendar.
    promoted = Registration.objects.get(session=session, user=world.client_a2)
    assert promoted.status == RegistrationStatus.REGISTERED
    requests = [p for p in calendar_parts(mail.outbox) if p[0] == "REQUEST"]
    assert [m.to for _x, _c, m in requests] == [[world.client_a2.email]]


def test_changing_the_coach(world):
    session = one(world)
    mail.outbox.clear()
    change_coach(session, world.coach_a2, actor=world.admin)
    drain()
    parts = {m.to[0]: method for method, _c, m in calendar_parts(mail.outbox)}
    assert parts == {world.coach_a2.email: "REQUEST", world.coach_a.email: "CANCEL"}
    session.refresh_from_db()
    assert session.coach == world.coach_a2 and session.sequence == 1
    assert session in visible(world.coach_a2, "view_groupsession")


# -- Attendance ------------------------------------------------------------------------------

@pytest.fixture
def circle(world):
    """An engagement whose second step is a group session (locked until the first is done)."""
    page = make_engagement(
        program=[programs.stage("Start", [
            programs.activity("lesson", "Read me", rule="immediately"),
            programs.activity("group_session", "Circle", rule="after_previous"),
            programs.activity("practice", "After the circle", rule="after_previous"),
        ])],
        title="Circle", slug="circle", team=world.team_a,
    )
    enrollments = [enroll(c, page) for c in (world.client_a1, world.client_a2)]
    session = one(world, engagement=page, starts_at=in_days(1))
    for client in (world.client_a1, world.client_a2):
        register(session, client)
    return page, enrollments, session


def test_attending_completes_the_group_session_step(world, circle):
    _page, (e1, e2), session = circle
    later = session.starts_at + HOUR
    changed = mark_attendance(session, {world.client_a1.pk: "attended",
                                        world.client_a2.pk: "no_show"},
                              actor=world.coach_a, now=later)
    assert len(changed) == 2
    step1 = e1.activities.get(title="Circle")
    assert step1.state == ActivityState.COMPLETED
    # What follows it opened.
    assert e1.activities.get(title="After the circle").state == ActivityState.AVAILABLE
    assert e2.activities.get(title="Circle").state == ActivityState.LOCKED
    kinds = dict(JourneyEvent.objects.filter(kind__in=[
        EventKind.SESSION_ATTENDED, EventKind.SESSION_MISSED
    ]).values_list("enrollment_id", "kind"))
    assert kinds == {e1.pk: EventKind.SESSION_ATTENDED, e2.pk: EventKind.SESSION_MISSED}
    session.refresh_from_db()
    assert session.attendance_taken_at == later
    # Marking again changes nothing; correcting a no-show completes that step too.
    assert mark_attendance(session, {world.client_a1.pk: "attended"}, now=later) == []
    mark_attendance(session, {world.client_a2.pk: "attended"}, now=later)
    assert e2.activities.get(title="Circle").state == ActivityState.COMPLETED


def test_marking_everyone_attended(world, circle):
    _page, enrollments, session = circle
    mark_everyone(session, "attended", actor=world.coach_a, now=session.starts_at + HOUR)
    assert set(session.registrations.values_list("status", flat=True)) == {"attended"}
    for enrollment in enrollments:
        assert enrollment.activities.get(title="Circle").state == ActivityState.COMPLETED


def test_bad_attendance_is_refused(world, circle):
    _page, _enrollments, session = circle
    with pytest.raises(SessionNotOpen, match="started"):
        mark_attendance(session, {world.client_a1.pk: "attended"})
    later = session.starts_at + HOUR
    with pytest.raises(InvalidSchedule):
        mark_attendance(session, {world.client_a1.pk: "present"}, now=later)
    with pytest.raises(InvalidSchedule, match="list"):
        mark_attendance(session, {world.client_b1.pk: "attended"}, now=later)
    assert not session.registrations.filter(status__in=["attended", "no_show"]).exists()


def test_a_user_without_a_coaching_role_is_not_a_session_coach(world):
    outsider = staff("outsider", "sales_manager")
    assert not visible(outsider, "view_groupsession").exists()
