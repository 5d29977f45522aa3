"""Reassigning the coach carries the client's booked 1:1 sessions: the review page, moving
(where the new coach is free), keeping, cancelling, the calendar files everyone gets, a
second identical submission, bad input, and query counts that stay flat.

The world (built once): ``build_world()`` with ``world_sessions``; client a1 (coach_a) has
five 1:1 sessions booked ahead with coach_a, and coach_a2 (who takes a1 over) is:

- free at ``d2 10:00`` and ``d3 10:00`` (a free published slot each),
- busy at ``d2 11:00`` (a 1:1 session with client a2),
- busy at ``d3 11:00`` (a group session they lead, "A2 workshop"),
- without availability at ``d3 12:00``.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from wagtail.users.models import UserProfile

from wagtail_coaching.admin.display import local_time
from wagtail_coaching.journeys import add_extra_activity, assign_coach
from wagtail_coaching.models import (
    Audience,
    CoachAssignment,
    CoachingSession,
    CoachingSessionStatus,
    EventKind,
    JourneyEvent,
    Notification,
)
from wagtail_coaching.notifications.outbox import send_notification
from wagtail_coaching.scheduling import (
    SessionNotOpen,
    SessionPlan,
    book_session,
    create_sessions,
    free_slots_at,
    plan_reassignment,
    publish_availability,
    reassign_with_sessions,
)
from wagtail_coaching.scheduling.busy import BUSY, UNAVAILABLE, Clash
from wagtail_coaching.scheduling.messages import calendar_attachment
from wagtail_coaching.scheduling.reassignment import MOVE, NOT_MOVED
from wagtail_coaching.utils.people import display_name

from .test_admin_clients import admin_world, as_user, message_texts
from .world_sessions import ONE_TO_ONE, add_sessions, in_days

TOKYO = "Asia/Tokyo"


def build_shared_world():
    w = add_sessions(admin_world())
    publish_availability(w.coach_a, start=in_days(3), end=in_days(3, 14), slot_minutes=60)
    publish_availability(w.coach_a2, start=in_days(3), end=in_days(3, 12), slot_minutes=60)
    more = add_extra_activity(w.enrollment_a1, "one_to_one", {**ONE_TO_ONE, "sessions": 20})
    w.more = more
    # coach_a2 takes client a2 and has a 1:1 with them at d2 11:00.
    assign_coach(w.enrollment_a2, coach=w.coach_a2, actor=w.admin)
    book_session(w.one_to_one[w.enrollment_a2.pk], in_days(2, 11), actor=w.client_a2)
    # coach_a2 leads a group session at d3 11:00.
    create_sessions(
        SessionPlan(title="A2 workshop", coach=w.coach_a2, team=w.team_a,
                    starts_at=in_days(3, 11), duration=timedelta(hours=1), capacity=5,
                    audience=Audience.ENGAGEMENT, engagement=w.engagement_a),
        [in_days(3, 11)], invite=False,
    )
    w.free_d2 = w.booking_a1  # d2 10:00
    w.busy_one_to_one = book_session(more, in_days(2, 11), actor=w.client_a1)
    w.free_d3 = book_session(more, in_days(3, 10), actor=w.client_a1)
    w.busy_group = book_session(more, in_days(3, 11), actor=w.client_a1)
    w.unavailable = book_session(more, in_days(3, 12), actor=w.client_a1)
    UserProfile.objects.create(user=w.admin, current_time_zone=TOKYO)
    mail.outbox.clear()
    return w


@pytest.fixture
def w(shared):
    return shared


def review_url(w, **params):
    url = reverse("wagtail_coaching_admin:reassign_coach_review",
                  args=[w.enrollment_a1.public_id])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def reassign_url(w):
    return reverse("wagtail_coaching_admin:reassign_coach", args=[w.enrollment_a1.public_id])


def ahead(w):
    return [w.free_d2, w.busy_one_to_one, w.free_d3, w.busy_group, w.unavailable]


def state(w):
    """Everything a reassignment could change."""
    return (
        sorted(CoachingSession.objects.values_list("pk", "coach_id", "slot_id", "status",
                                                   "sequence")),
        sorted(CoachAssignment.objects.filter(enrollment=w.enrollment_a1)
               .values_list("coach_id", "ended_at")),
        JourneyEvent.objects.count(),
        Notification.objects.count(),
    )


def field(session):
    return f"session-{session.public_id}"


def coach_of(session):
    return CoachingSession.objects.get(pk=session.pk).coach_id


def session_notices(session):
    return Notification.objects.filter(dedup_key__startswith=f"one-to-one:{session.pk}:")


def calendar_of(notification):
    """(METHOD, the VEVENT) of the calendar file the notification's email carries."""
    part = calendar_attachment(notification.payload)
    cal = Calendar.from_ical(part.get_payload(decode=True))
    (event,) = cal.walk("VEVENT")
    return str(cal["METHOD"]), event


# -- The free-time rule -------------------------------------------------------------------------

def test_the_new_coach_is_free_busy_or_unavailable(w):
    times = {s.pk: (s.starts_at, s.ends_at) for s in ahead(w)}
    found = free_slots_at(w.coach_a2.pk, times.values())
    assert found[times[w.free_d2.pk]].coach_id == w.coach_a2.pk
    assert found[times[w.free_d3.pk]].starts_at == w.free_d3.starts_at
    assert found[times[w.busy_one_to_one.pk]] == Clash(BUSY)
    assert found[times[w.busy_group.pk]] == Clash(BUSY, group_session="A2 workshop")
    assert found[times[w.unavailable.pk]] == Clash(UNAVAILABLE)


def test_a_group_session_one_co_leads_makes_one_busy(w):
    w.session_a.co_coaches.add(w.coach_a2)
    when = (w.session_a.starts_at, w.session_a.ends_at)
    assert free_slots_at(w.coach_a2.pk, [when])[when] == Clash(
        BUSY, group_session="Team A circle")
    w.session_a.status = "cancelled"
    w.session_a.save()
    assert free_slots_at(w.coach_a2.pk, [when])[when] == Clash(UNAVAILABLE)


# -- The card and the review page --------------------------------------------------------------

def test_the_card_offers_the_choice_for_the_sessions_ahead(client, w):
    html = as_user(client, w.admin).get(
        reverse("wagtail_coaching_admin:client_card", args=[w.enrollment_a1.public_id])
    ).content.decode()
    form = html.split(review_url(w))[1].split("</form>")[0]
    assert "Booked 1:1 sessions ahead with the current coach: 5." in form
    for label in ("Move booked sessions to the new coach", "Keep with current coach",
                  "Cancel them"):
        assert label in form
    assert f'value="{w.coach_a2.pk}"' in form


def test_the_review_shows_each_outcome_in_the_admins_zone_and_changes_nothing(client, w):
    before = state(w)
    response = as_user(client, w.admin).get(review_url(w, coach=w.coach_a2.pk, booked=MOVE))
    assert response.status_code == 200
    html = response.content.decode()
    with timezone.override(ZoneInfo(TOKYO)):
        for session in ahead(w):
            assert local_time(session.starts_at) in html
    assert "JST" in html

    def row(session):
        return html.split(f'data-session="{session.public_id}"')[1].split("</tr>")[0]

    for session in (w.free_d2, w.free_d3):
        assert "Moves to the new coach." in row(session)
        assert f'name="{field(session)}" value="move" checked' in row(session)
    assert "busy then (another 1:1 session)" in row(w.busy_one_to_one)
    assert "busy then (group session “A2 workshop”)" in row(w.busy_group)
    assert "outside" in row(w.unavailable) and "availability" in row(w.unavailable)
    for session in (w.busy_one_to_one, w.busy_group, w.unavailable):
        assert "Cannot move:" in row(session)
        assert f'name="{field(session)}" value="move" disabled' in row(session)
        assert f'name="{field(session)}" value="keep" checked' in row(session)
    assert f'action="{reassign_url(w)}"' in html and "Confirm the reassignment" in html
    assert state(w) == before


def test_the_review_without_a_coach_is_the_form(client, w):
    html = as_user(client, w.admin).get(review_url(w)).content.decode()
    assert f"Booked 1:1 sessions ahead with {display_name(w.coach_a)}: 5." in html
    assert "Confirm the reassignment" not in html


# -- Doing it ------------------------------------------------------------------------------------

def test_moving_moves_what_can_move_and_says_why_the_rest_stays(client, w):
    old = {s.pk: CoachingSession.objects.get(pk=s.pk) for s in ahead(w)}
    response = as_user(client, w.admin).post(
        reassign_url(w), {"coach": w.coach_a2.pk, "booked": MOVE}
    )
    assert response.status_code == 302
    texts = message_texts(response)
    assert texts[0].endswith("now coaches this client.")
    assert any(t.startswith("Moved to") for t in texts)
    assert sum("Could not move" in t for t in texts) == 3
    assert any("A2 workshop" in t for t in texts)
    for session in (w.free_d2, w.free_d3):
        moved = CoachingSession.objects.get(pk=session.pk)
        assert moved.coach_id == w.coach_a2.pk
        assert moved.slot.coach_id == w.coach_a2.pk and moved.slot.starts_at == moved.starts_at
        assert moved.sequence == old[session.pk].sequence + 1
        assert moved.status == CoachingSessionStatus.BOOKED
        assert JourneyEvent.objects.filter(
            kind=EventKind.SESSION_COACH_CHANGED, data__session=str(session.public_id)
        ).exists()
    for session in (w.busy_one_to_one, w.busy_group, w.unavailable):
        kept = CoachingSession.objects.get(pk=session.pk)
        assert (kept.coach_id, kept.slot_id, kept.sequence) == (
            w.coach_a.pk, old[session.pk].slot_id, old[session.pk].sequence)
        assert not session_notices(session).filter(kind="one_to_one_coach_changed").exists()
    current = CoachAssignment.objects.get(enrollment=w.enrollment_a1, ended_at__isnull=True)
    assert current.coach_id == w.coach_a2.pk


def test_everyone_gets_the_calendar_file_they_need(client, w, enqueue_at_once):
    session = w.free_d2
    as_user(client, w.admin).post(reassign_url(w), {"coach": w.coach_a2.pk, "booked": MOVE})
    notices = {n.recipient_id: n for n in session_notices(session).filter(
        kind="one_to_one_coach_changed")}
    assert set(notices) == {w.client_a1.pk, w.coach_a2.pk, w.coach_a.pk}
    methods = {}
    for person, notice in notices.items():
        method, event = calendar_of(notice)
        methods[person] = method
        assert str(event["UID"]) == session.uid
        assert int(event["SEQUENCE"]) == session.sequence + 1
        assert "Ada Acme & " in str(event["DESCRIPTION"])
    assert methods == {w.client_a1.pk: "REQUEST", w.coach_a2.pk: "REQUEST",
                       w.coach_a.pk: "CANCEL"}
    # The emails go out through the real sender, each with its own words and file.
    mail.outbox.clear()
    for notice in notices.values():
        assert send_notification(notice.pk)
    emails = {m.to[0]: m for m in mail.outbox}
    assert "Your 1:1 session is now with" in emails[w.client_a1.email].subject
    assert "New 1:1 session with Ada Acme" in emails[w.coach_a2.email].subject
    assert "moved to" in emails[w.coach_a.email].subject
    for email in emails.values():
        assert "{{" not in email.body and "{%" not in email.body


def test_keeping_leaves_every_session_with_the_current_coach(client, w):
    before = {s.pk: (coach_of(s), s.sequence) for s in ahead(w)}
    response = as_user(client, w.admin).post(
        reassign_url(w), {"coach": w.coach_a2.pk, "booked": "keep"}
    )
    assert any(t.startswith("Kept with") for t in message_texts(response))
    assert {s.pk: (coach_of(s), CoachingSession.objects.get(pk=s.pk).sequence)
            for s in ahead(w)} == before
    assert not Notification.objects.filter(kind="one_to_one_coach_changed").exists()
    assert CoachAssignment.objects.get(
        enrollment=w.enrollment_a1, ended_at__isnull=True).coach_id == w.coach_a2.pk


def test_cancelling_cancels_and_tells_the_client_and_the_coach(client, w):
    response = as_user(client, w.admin).post(
        reassign_url(w), {"coach": w.coach_a2.pk, "booked": "cancel"}
    )
    assert any(t.startswith("Cancelled") for t in message_texts(response))
    for session in ahead(w):
        cancelled = CoachingSession.objects.get(pk=session.pk)
        assert cancelled.status == CoachingSessionStatus.CANCELLED  # staff: never late
        notices = session_notices(session).filter(kind="one_to_one_cancelled")
        assert {n.recipient_id for n in notices} == {w.client_a1.pk, w.coach_a.pk}
        assert {calendar_of(n)[0] for n in notices} == {"CANCEL"}


def test_each_session_can_have_its_own_choice(client, w):
    as_user(client, w.admin).post(reassign_url(w), {
        "coach": w.coach_a2.pk, "booked": MOVE,
        field(w.free_d3): "keep", field(w.busy_group): "cancel",
    })
    assert coach_of(w.free_d2) == w.coach_a2.pk
    assert coach_of(w.free_d3) == w.coach_a.pk
    assert CoachingSession.objects.get(pk=w.busy_group.pk).status == "cancelled"
    assert coach_of(w.unavailable) == w.coach_a.pk


def test_the_same_submission_twice_changes_nothing_more(client, w):
    data = {"coach": w.coach_a2.pk, "booked": MOVE, field(w.busy_group): "cancel"}
    as_user(client, w.admin).post(reassign_url(w), data)
    after_first = state(w)
    response = client.post(reassign_url(w), data)
    assert response.status_code == 302
    assert any("coach them already" in t for t in message_texts(response))
    assert state(w) == after_first
    # The service alone: the coach the client has changes nothing.
    result = reassign_with_sessions(w.enrollment_a1, coach=w.coach_a2,
                                    choices={w.free_d2.pk: "cancel"}, actor=w.admin)
    assert not result.changed and state(w) == after_first


# -- Bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [
    {"booked": "teleport"},
    {"booked": "move", "session-not-a-uuid": "move"},
    {"booked": "move", "session-00000000-0000-0000-0000-000000000000": "move"},
    "session of b1",
    "session of a2",
    "session bogus choice",
    {"coach": "nobody"},
    {"coach": ""},
])
def test_bad_input_is_a_form_error_and_changes_nothing(client, w, extra):
    data = {"coach": w.coach_a2.pk, "booked": MOVE}
    if extra == "session of b1":
        data[field(w.booking_b1)] = "move"
    elif extra == "session of a2":
        data[field(CoachingSession.objects.get(enrollment=w.enrollment_a2))] = "move"
    elif extra == "session bogus choice":
        data[field(w.free_d2)] = "teleport"
    else:
        data.update(extra)
    before = state(w)
    response = as_user(client, w.admin).post(reassign_url(w), data)
    assert response.status_code == 302
    assert message_texts(response) and all("now coaches" not in t
                                           for t in message_texts(response))
    assert state(w) == before
    review = client.get(review_url(w), data)
    assert review.status_code == 200
    html = review.content.decode()
    assert "coaching-reassign__errors" in html and "Confirm the reassignment" not in html


def test_nul_bytes_are_refused(client, w):
    before = state(w)
    as_user(client, w.admin)
    response = client.post(reassign_url(w), {"coach": w.coach_a2.pk, "booked": "mo\x00ve"})
    assert response.status_code == 400
    assert client.get(review_url(w), {"coach": "1\x00"}).status_code == 400
    assert state(w) == before


def test_the_service_refuses_another_clients_session(w):
    before = state(w)
    with pytest.raises(SessionNotOpen):
        reassign_with_sessions(w.enrollment_a1, coach=w.coach_a2,
                               choices={w.booking_b1.pk: MOVE}, actor=w.admin)
    assert state(w) == before


def test_a_plan_writes_nothing(w):
    before = state(w)
    plan = plan_reassignment(w.enrollment_a1, coach=w.coach_a2.pk, default=MOVE)
    assert {o.session.pk for o in plan.moved} == {w.free_d2.pk, w.free_d3.pk}
    assert {o.session.pk for o in plan.not_moved} == {
        w.busy_one_to_one.pk, w.busy_group.pk, w.unavailable.pk}
    assert all(o.outcome == NOT_MOVED for o in plan.not_moved)
    assert state(w) == before


# -- Who may ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("who, status", [
    ("admin", 200), ("coach_a", 403), ("coach_a2", 403), ("coach_b", 404), ("sales", 404),
    ("hr_acme", 403), ("client_a1", 302), (None, 302),
])
def test_who_may_review_and_reassign(client, w, who, status):
    user = getattr(w, who) if who else None
    before = state(w)
    as_user(client, user)
    assert client.get(review_url(w, coach=w.coach_a2.pk, booked=MOVE)).status_code == status
    response = client.post(reassign_url(w), {"coach": w.coach_a2.pk, "booked": MOVE})
    if status == 200:
        assert response.status_code == 302 and coach_of(w.free_d2) == w.coach_a2.pk
    else:
        assert response.status_code == status
        assert state(w) == before


# -- Query counts --------------------------------------------------------------------------------

def add_many(w, n):
    """``n`` more sessions ahead with coach_a, each with a free slot of coach_a2."""
    start = in_days(10, 8)
    for coach in (w.coach_a, w.coach_a2):
        publish_availability(coach, start=start, end=start + timedelta(hours=n),
                             slot_minutes=60)
    for i in range(n):
        book_session(w.more, start + timedelta(hours=i), actor=w.client_a1)


def count(call):
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code in (200, 302)
    return len(queries)


def test_queries_stay_flat_with_many_sessions(client, w):
    as_user(client, w.admin)
    data = {"coach": w.coach_a2.pk, "booked": MOVE}

    def review():
        return client.get(review_url(w, **data))

    def reassign():
        with transaction.atomic():
            response = client.post(reassign_url(w), data)
            moved = CoachingSession.objects.filter(coach=w.coach_a2, enrollment=w.enrollment_a1)
            response.moved = moved.count()
            transaction.set_rollback(True)
        return response

    few_review, few_reassign = count(review), count(reassign)
    add_many(w, 12)
    assert count(review) == few_review
    many_reassign = count(reassign)
    assert many_reassign == few_reassign, (few_reassign, many_reassign)
    assert reassign().moved == 14
