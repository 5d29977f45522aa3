"""The post-session loop: what a coach records after a held 1:1 or group session (summary,
note, follow-up practices), the one message the client gets, where the client then finds it,
the coach's brief before a session and the client's "what we heard" after a form.

Who may open the pages at all is tests/test_admin_matrix.py's; no URL is added here.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from wagtail_coaching.continuity.brief import coach_brief, coach_briefs
from wagtail_coaching.continuity.follow_up import (
    FollowUp,
    PracticePlan,
    record_group_session,
    record_one_to_one,
)
from wagtail_coaching.journeys import assign_coach, complete_activity, enroll, log_practice
from wagtail_coaching.models import (
    ActivityState,
    ClientActivity,
    CoachingSession,
    CoachingSessionStatus,
    FollowUpPractice,
    NoteVisibility,
    Notification,
    NotificationPreference,
    SessionNote,
)
from wagtail_coaching.notifications.outbox import send_notification
from wagtail_coaching.scheduling import (
    InvalidSchedule,
    book_session,
    publish_availability,
    register,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.utils.people import display_name

from .test_admin_clients import admin_world, as_user, card_url, message_texts
from .world_sessions import add_sessions, in_days


def build_shared_world():
    w = add_sessions(admin_world())
    register(w.session_a, w.client_a2)
    w.outsider = UserFactory(username="outsider", first_name="Otto", last_name="Side")
    register(w.session_a, w.outsider, check_eligible=False)
    return w


@pytest.fixture
def w(shared):
    return shared


AFTER = timedelta(hours=2)


def practices(enrollment):
    return list(
        ClientActivity.objects.filter(enrollment=enrollment, follow_up__isnull=False)
        .order_by("pk")
    )


def sent(kind="after_session", **filters):
    return list(Notification.objects.filter(kind=kind, **filters).order_by("pk"))


def two_practices(w):
    return (
        PracticePlan("Three breaths", "Before each meeting, breathe.", "daily"),
        PracticePlan("Weekly review", "Friday: what went well.", "weekly",
                     opens_on=(in_days(10)).date()),
    )


def hold_one_to_one(w, follow_up, **kwargs):
    session = w.booking_a1
    return record_one_to_one(
        session, outcome=kwargs.pop("outcome", "completed"), follow_up=follow_up,
        actor=w.coach_a, now=session.starts_at + AFTER, **kwargs,
    )


# -- 1:1: one form, one message ----------------------------------------------------------------

def test_a_held_session_gives_practices_and_sends_one_message(w):
    before = Notification.objects.filter(kind="step_open").count()
    hold_one_to_one(w, FollowUp(
        summary="We named your three priorities.", note="Tired; ask about sleep.",
        note_visibility=NoteVisibility.COACH, practices=two_practices(w),
    ))
    now_open, on_date = practices(w.enrollment_a1)
    assert (now_open.kind, now_open.state, now_open.value["cadence"]) == (
        "practice", ActivityState.AVAILABLE, "daily")
    assert on_date.state == ActivityState.LOCKED and on_date.unlock_date == in_days(10).date()
    assert {f.coaching_session_id for f in FollowUpPractice.objects.all()} == {w.booking_a1.pk}
    # One message, by email and in the app; not a separate "step open" for the practice.
    messages = sent(recipient=w.client_a1)
    assert [m.channel for m in messages] == ["email", "in_app"]
    assert Notification.objects.filter(kind="step_open").count() == before
    payload = messages[1].payload
    assert payload["summary"] == "We named your three priorities."
    assert [p["title"] for p in payload["practices"]] == ["Three breaths", "Weekly review"]
    assert payload["activity_path"] == reverse("wagtail_coaching:activity",
                                               args=[now_open.public_id])
    note = SessionNote.objects.get(coaching_session=w.booking_a1)
    assert note.visibility == NoteVisibility.COACH and note.author == w.coach_a


def test_the_email_carries_the_summary_and_links_the_practices(w):
    hold_one_to_one(w, FollowUp(summary="We named your three priorities.",
                                practices=two_practices(w)))
    email_row = sent(recipient=w.client_a1, channel="email")[0]
    assert send_notification(email_row.pk)
    (email,) = mail.outbox
    assert email.to == [w.client_a1.email]
    assert "summary" in email.subject.lower()
    assert "We named your three priorities." in email.body
    practice = practices(w.enrollment_a1)[0]
    assert f"/coaching/activity/{practice.public_id}/" in email.body
    assert "Weekly review (opens on" in email.body


def test_recording_again_sends_nothing_more_and_a_third_practice_is_refused(w):
    hold_one_to_one(w, FollowUp(summary="First.", practices=two_practices(w)[:1]))
    hold_one_to_one(w, FollowUp(summary="First, corrected."))
    assert len(sent(recipient=w.client_a1)) == 2
    assert CoachingSession.objects.get(pk=w.booking_a1.pk).summary == "First, corrected."
    # A second practice later is announced as a step that opens.
    hold_one_to_one(w, FollowUp(practices=two_practices(w)[:1]))
    assert len(practices(w.enrollment_a1)) == 2
    assert Notification.objects.filter(kind="step_open", recipient=w.client_a1,
                                       dedup_key__contains=str(
                                           practices(w.enrollment_a1)[1].pk)).exists()
    with pytest.raises(InvalidSchedule):
        hold_one_to_one(w, FollowUp(summary="Changed", practices=two_practices(w)[:1]))
    assert len(practices(w.enrollment_a1)) == 2
    assert CoachingSession.objects.get(pk=w.booking_a1.pk).summary == "First, corrected."


@pytest.mark.parametrize("follow_up, outcome", [
    (FollowUp(practices=(PracticePlan("Walk", "Walk daily", "daily"),)), "no_show"),
    (FollowUp(practices=(PracticePlan("Walk", "", "daily"),)), "completed"),
    (FollowUp(practices=(PracticePlan("Walk", "Walk", "hourly"),)), "completed"),
    (FollowUp(practices=(PracticePlan("Walk", "Walk", "once", in_days(-3).date()),)),
     "completed"),
    (FollowUp(practices=(PracticePlan("A", "a"), PracticePlan("B", "b"), PracticePlan("C", "c"))),
     "completed"),
])
def test_bad_follow_ups_change_nothing(w, follow_up, outcome):
    with pytest.raises(InvalidSchedule):
        hold_one_to_one(w, FollowUp(summary="Kept?", practices=follow_up.practices),
                        outcome=outcome)
    session = CoachingSession.objects.get(pk=w.booking_a1.pk)
    assert (session.status, session.summary) == (CoachingSessionStatus.BOOKED, "")
    assert practices(w.enrollment_a1) == [] and sent() == []


def test_a_no_show_or_a_session_with_nothing_to_say_sends_nothing(w):
    hold_one_to_one(w, FollowUp(), outcome="no_show")
    hold_one_to_one(w, FollowUp())
    assert sent() == []


def test_a_client_who_switched_it_off_gets_no_email(w):
    NotificationPreference.objects.create(user=w.client_a1, kind="after_session", enabled=False)
    hold_one_to_one(w, FollowUp(summary="Quietly."))
    email_row = sent(channel="email")[0]
    assert not send_notification(email_row.pk)
    email_row.refresh_from_db()
    assert email_row.skipped and mail.outbox == []


# -- Group sessions ----------------------------------------------------------------------------

def test_a_group_session_summary_goes_to_each_attendee_and_practices_to_their_journeys(w):
    session = w.session_a
    marks = {w.client_a1.pk: "attended", w.client_a2.pk: "no_show", w.outsider.pk: "attended"}
    follow_up = FollowUp(summary="We practised feedback.", note="Lively group.",
                         note_visibility=NoteVisibility.TEAM, practices=two_practices(w)[:1])
    record_group_session(session, marks, follow_up=follow_up, actor=w.coach_a,
                         now=session.starts_at + AFTER)
    session.refresh_from_db()
    assert session.summary == "We practised feedback." and session.attendance_taken_at
    assert [p.title for p in practices(w.enrollment_a1)] == ["Three breaths"]
    assert practices(w.enrollment_a2) == []  # a no-show gets none
    assert SessionNote.objects.filter(group_session=session).count() == 1  # a1's journey
    # The attendee without a journey gets the summary alone; the no-show nothing.
    assert {(m.recipient_id, m.channel) for m in sent()} == {
        (w.client_a1.pk, "email"), (w.client_a1.pk, "in_app"),
        (w.outsider.pk, "email"), (w.outsider.pk, "in_app"),
    }
    outsider = sent(recipient=w.outsider, channel="email")[0]
    assert outsider.payload["practices"] == []
    # Taking attendance again (a2 came after all) tells a2 once, and nobody twice.
    record_group_session(session, {w.client_a2.pk: "attended"}, actor=w.coach_a,
                         now=session.starts_at + AFTER)
    assert len(sent()) == 6 and len(sent(recipient=w.client_a2)) == 2


# -- What the client sees ----------------------------------------------------------------------

def test_the_client_finds_the_summary_and_practices_beside_the_session(client, w):
    hold_one_to_one(w, FollowUp(
        summary="We named your three priorities.", note="Shared thought.",
        note_visibility=NoteVisibility.CLIENT, practices=two_practices(w),
    ))
    SessionNote.objects.create(enrollment=w.enrollment_a1, author=w.coach_a, body="Private!",
                               visibility=NoteVisibility.COACH, coaching_session=w.booking_a1)
    as_user(client, w.client_a1)
    practice = practices(w.enrollment_a1)[0]
    journey = client.get("/engagement-a/").content.decode()
    assert "We named your three priorities." in journey and "Shared thought." in journey
    assert f'href="/coaching/activity/{practice.public_id}/"' in journey
    assert "Private!" not in journey
    mine = client.get(reverse("wagtail_coaching:sessions")).content.decode()
    assert "We named your three priorities." in mine and "Three breaths" in mine
    assert "Private!" not in mine
    step = client.get(reverse("wagtail_coaching:activity",
                              args=[w.one_to_one[w.enrollment_a1.pk].public_id])).content
    assert b"After your sessions" in step and b"We named your three priorities." in step
    page = client.get(reverse("wagtail_coaching:activity", args=[practice.public_id])).content
    assert b"After your session on" in page and b"We named your three priorities." in page
    # Another client sees none of it.
    as_user(client, w.client_a2)
    assert b"three priorities" not in client.get(reverse("wagtail_coaching:sessions")).content


def test_the_journey_page_keeps_its_queries_flat(client, w, django_assert_max_num_queries):
    # The first session already leaves a practice, so the page reads practices from the start.
    hold_one_to_one(w, FollowUp(summary="First", practices=(
        PracticePlan("Morning pages", "Write one page.", "daily"),)))
    as_user(client, w.client_a1)
    client.get("/engagement-a/")  # warm caches (site root, user profile)
    with django_assert_max_num_queries(40) as few:
        client.get("/engagement-a/")
    second = book_session(w.one_to_one[w.enrollment_a1.pk], in_days(2, 11))
    record_one_to_one(second, outcome="completed", actor=w.coach_a, now=second.starts_at + AFTER,
                      follow_up=FollowUp(summary="Second", note="N",
                                         note_visibility=NoteVisibility.CLIENT,
                                         practices=two_practices(w)))
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get("/engagement-a/").content.decode()
    assert "First" in html and "Second" in html and "Three breaths" in html


# -- The coach's brief -------------------------------------------------------------------------

def intake_world(w):
    """A journey with an intake form, check-ins and a 1:1 allotment."""
    program = [programs.stage("Start", [
        programs.activity("form", "Intake", rule="immediately", questions=[
            programs.question("Your goal", "long_text"),
            programs.question("Your context", "short_text", required=False),
        ]),
        programs.activity("check_in", "Stress check", rule="immediately"),
        programs.activity("check_in", "Stress check again", rule="immediately"),
        programs.activity("one_to_one", "Sessions", rule="immediately", sessions=6),
        programs.activity("lesson", "Read this", rule="immediately"),
    ])]
    return make_engagement(program=program, title="Intake journey", slug="intake-journey",
                           team=w.team_a)


def answer(row, answers, score=None, at=None):
    return complete_activity(row, actor=row.enrollment.client, response=answers, score=score,
                             now=at)


def test_the_brief_says_what_the_coach_needs(w):
    engagement = intake_world(w)
    enrollment = enroll(w.client_a1, engagement)
    assign_coach(enrollment, coach=w.coach_a, actor=w.admin)
    rows = {r.title: r for r in enrollment.activities.all()}
    start = in_days(2, 11)
    answer(rows["Intake"], {"answers": [
        {"question": "Your goal", "kind": "long_text", "answer": "Lead calmly"},
        {"question": "Your context", "kind": "short_text", "answer": "New team"},
    ]}, at=start - timedelta(days=1))
    answer(rows["Stress check"], {}, score=8, at=start - timedelta(hours=3))
    session = book_session(rows["Sessions"], start)
    record_one_to_one(session, outcome="completed", actor=w.coach_a, now=start + AFTER,
                      follow_up=FollowUp(summary="Calm first.", practices=two_practices(w)))
    answer(rows["Stress check again"], {}, score=5, at=start + 3 * AFTER)
    given = practices(enrollment)[0]
    complete_activity(given, actor=w.client_a1, now=start + 4 * AFTER)
    ClientActivity.objects.filter(pk=rows["Read this"].pk).update(due_at=start - AFTER)
    brief = coach_brief(enrollment, now=start + 5 * AFTER)
    assert [(f.title, f.lines) for f in brief.answers] == [
        ("Intake", [("Your goal", "Lead calmly"), ("Your context", "New team")])]
    assert [c.score for c in brief.checkins] == [5] and brief.checkin_before.score == 8
    assert brief.checkin_change == -3
    last = brief.last_session
    assert (last.kind, last.summary, last.practices_done) == ("one_to_one", "Calm first.", 1)
    assert [(row.title, done) for row, done in last.practices] == [
        ("Three breaths", True), ("Weekly review", False)]
    assert [r.title for r in brief.overdue_steps] == ["Read this"]
    assert "Sessions" in [r.title for r in brief.open_steps]
    assert brief.last_contact_at == session.ends_at


def test_the_brief_counts_a_practice_logged_since_the_session_and_its_adherence(w):
    engagement = intake_world(w)
    enrollment = enroll(w.client_a1, engagement)
    assign_coach(enrollment, coach=w.coach_a, actor=w.admin)
    step = enrollment.activities.get(kind="one_to_one")
    start = in_days(2, 11)
    session = book_session(step, start)
    record_one_to_one(session, outcome="completed", actor=w.coach_a, now=start + AFTER,
                      follow_up=FollowUp(summary="Breathe.", practices=two_practices(w)[:1]))
    daily = practices(enrollment)[0]
    with time_machine.travel(start + 2 * AFTER, tick=False):
        log_practice(daily, actor=w.client_a1)
        brief = coach_brief(enrollment)
    (row, done, status), = brief.last_session.lines
    # Logged once: not finished (a daily practice asks for more days), but done since.
    assert (row.title, row.state, done) == ("Three breaths", "available", True)
    assert (status.days, status.target) == (1, daily.value.get("weeks", 1) * 7)
    assert [s.title for s in brief.practice_adherence.practices] == ["Three breaths"]
    assert brief.practice_adherence.adherence.practised == 1


def test_the_brief_counts_a_message_as_the_last_contact(w):
    from wagtail_coaching.conversations.messaging import post_message

    hold_one_to_one(w, FollowUp(summary="Calm first."))
    held = coach_brief(w.enrollment_a1).last_contact_at
    later = held + timedelta(days=2)
    post_message(w.enrollment_a1, w.client_a1, "A question about the practice", now=later)
    assert coach_brief(w.enrollment_a1).last_contact_at == later


def test_the_brief_runs_the_same_queries_however_many_sessions_and_steps(
    w, django_assert_max_num_queries
):
    engagement = intake_world(w)
    enrollments = [enroll(UserFactory(), engagement) for _ in range(2)]
    publish_availability(w.coach_a, start=in_days(3), end=in_days(3, 18), slot_minutes=60)

    for enrollment in enrollments:
        assign_coach(enrollment, coach=w.coach_a, actor=w.admin)

    def grow(enrollment, hours):
        step = enrollment.activities.get(kind="one_to_one")
        for i, hour in enumerate(hours):
            s = book_session(step, in_days(3, hour))
            record_one_to_one(s, outcome="completed", actor=w.coach_a,
                              now=s.starts_at + AFTER,
                              follow_up=FollowUp(summary=f"S{i}",
                                                 practices=two_practices(w)[:1]))

    grow(enrollments[0], [10])
    # Four for the journeys and sessions, one for messages, at most four for practices.
    with django_assert_max_num_queries(9) as few:
        coach_briefs(enrollments)
    grow(enrollments[1], [11, 12, 13])
    with django_assert_max_num_queries(len(few.captured_queries)):
        briefs = coach_briefs(enrollments)
    assert briefs[enrollments[1].pk].last_session.summary == "S2"


def test_the_brief_is_on_the_session_page_and_the_card_for_those_who_see_the_detail(client, w):
    hold_one_to_one(w, FollowUp(summary="Calm first."))
    page = reverse("coaching_one_to_one_modeladmin_inspect", args=[w.booking_a1.pk])
    for user in (w.coach_a, w.coach_a2, w.admin):
        html = as_user(client, user).get(page).content.decode()
        assert "Brief before the session" in html, user
    assert "Brief before the session" in as_user(client, w.coach_a).get(
        card_url(w.enrollment_a1)).content.decode()
    # An HR partner sees the client's card (consented), never the brief.
    response = as_user(client, w.hr_acme).get(card_url(w.enrollment_a1))
    assert response.status_code == 200
    assert "Brief before the session" not in response.content.decode()


# -- The admin forms ---------------------------------------------------------------------------

def test_the_session_page_records_a_summary_and_practices_in_one_form(client, w):
    session = w.booking_a1
    action = reverse("wagtail_coaching_admin:one_to_one_record", args=[session.public_id])
    as_user(client, w.coach_a)
    with time_machine.travel(session.starts_at + AFTER):
        bad = client.post(action, {"outcome": "completed", "practice_1_title": "Only a title"})
        assert message_texts(bad) == [
            "Practice 1: instructions: A practice needs a title and instructions."]
        assert practices(w.enrollment_a1) == []
        response = client.post(action, {
            "outcome": "completed", "summary": "Good start.", "note": "Shared",
            "note_visibility": "client", "practice_1_title": "Journal",
            "practice_1_instructions": "Write three lines.", "practice_1_cadence": "daily",
        })
    assert message_texts(response)[-1] == "The session is recorded."
    assert [p.title for p in practices(w.enrollment_a1)] == ["Journal"]
    assert len(sent(recipient=w.client_a1)) == 2


def test_the_group_page_takes_attendance_with_the_follow_up(client, w):
    session = w.session_a
    action = reverse("wagtail_coaching_admin:session_attendance", args=[session.public_id])
    as_user(client, w.coach_a)
    with time_machine.travel(session.starts_at + AFTER):
        page = client.get(reverse("coaching_sessions_modeladmin_inspect", args=[session.pk]))
        assert b"After the session" in page.content
        response = client.post(action, {
            "everyone": "attended", "summary": "Good circle.",
            "practice_1_title": "Listen", "practice_1_instructions": "Listen fully.",
            "practice_1_cadence": "once",
        })
    assert message_texts(response) == ["Attendance saved (3 changes)."]
    assert [p.title for p in practices(w.enrollment_a1)] == ["Listen"]
    assert [p.title for p in practices(w.enrollment_a2)] == ["Listen"]
    assert len(sent()) == 6


# -- After a form: what we heard ---------------------------------------------------------------

def test_after_the_intake_the_client_reads_what_we_heard(client, w):
    engagement = intake_world(w)
    enrollment = enroll(w.client_b1, engagement)
    assign_coach(enrollment, coach=w.coach_a, actor=w.admin)
    intake = enrollment.activities.get(title="Intake")
    as_user(client, w.client_b1)
    url = reverse("wagtail_coaching:activity", args=[intake.public_id])
    form = client.get(url).content.decode()
    names = [n for n in re.findall(r'name="([^"]+)"', form) if n != "csrfmiddlewaretoken"]
    data = {name: "Lead calmly" for name in names}
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == url
    html = client.get(url).content.decode()
    assert "What we heard" in html and "Lead calmly" in html
    assert f"Your coach: {display_name(w.coach_a)}" in html
    assert "Book your first session" in html  # nothing booked yet
    assert "Your next step:" in html
