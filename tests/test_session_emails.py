"""Session emails: every kind renders through the real send path (outbox → email backend),
shows times in the session's own zone, and carries its calendar file."""

from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from django.core import mail
from django.template.loader import get_template

from wagtail_coaching.continuity.follow_up import FollowUp, record_one_to_one
from wagtail_coaching.models import Audience, Notification
from wagtail_coaching.notifications.outbox import queue_notifications, send_notification
from wagtail_coaching.scheduling import (
    SessionPlan,
    book_session,
    cancel_registration,
    cancel_session,
    cancel_sessions,
    change_coach,
    create_sessions,
    publish_availability,
    register,
    reschedule_session,
    send_invitations,
    update_sessions,
)
from wagtail_coaching.scheduling import messages as msg
from wagtail_coaching.scheduling.invites import invitation
from wagtail_coaching.testing.factories import UserFactory
from wagtail_coaching.testing.jobs import run_jobs
from wagtail_coaching.utils.urls import site_base_url

from .world import build_world
from .world_sessions import add_sessions, in_days

# 16:00 UTC on Monday 4 March 2030 is 17:00 in Paris.
START = datetime(2030, 3, 4, 16, 0, tzinfo=UTC)
PARIS_TIME = "Monday, March 4, 2030, 5 p.m.–6 p.m. (Europe/Paris)"
TITLE = "Q&A <circle>"

GROUP_CALENDAR = {
    "session_invitation": "REQUEST",
    "session_confirmed": "REQUEST",
    "session_promoted": "REQUEST",
    "session_updated": "REQUEST",
    "session_cancelled": "CANCEL",
    "session_attendee_cancelled": "CANCEL",
    "coach_session_assigned": "REQUEST",
    "coach_session_unassigned": "CANCEL",
    "coach_session_updated": "REQUEST",
    "coach_session_cancelled": "CANCEL",
}
GROUP_PLAIN = ["session_waitlisted", "session_cancelled"]
ONE_TO_ONE_CALENDAR = {
    "one_to_one_booked": "REQUEST",
    "one_to_one_rescheduled": "REQUEST",
    "one_to_one_cancelled": "CANCEL",
}
ALL_KINDS = sorted({*GROUP_CALENDAR, *GROUP_PLAIN, *ONE_TO_ONE_CALENDAR, "after_session"})


def build_shared_world():
    return add_sessions(build_world())


@pytest.fixture
def w(shared):
    return shared


@pytest.fixture
def paris_session(w):
    (session,) = create_sessions(
        SessionPlan(title=TITLE, coach=w.coach_a, team=w.team_a, starts_at=START,
                    duration=timedelta(hours=1), time_zone="Europe/Paris", capacity=5,
                    audience=Audience.LIST, invitees=[w.client_a1],
                    video_link="https://video.example/room?a=1&b=2", location="Room 3"),
        [START], invite=False,
    )
    return session


def send(message):
    """Queue one message and send it the way the job does; return the email."""
    queue_notifications([message])
    notification = Notification.objects.get(dedup_key=message.dedup_key)
    before = len(mail.outbox)
    assert send_notification(notification.pk), Notification.objects.get(
        pk=notification.pk
    ).last_error
    assert len(mail.outbox) == before + 1
    return mail.outbox[-1]


def calendar_methods(email):
    return [
        part.get_param("method")
        for part in email.attachments
        if hasattr(part, "get_content_type") and part.get_content_type() == "text/calendar"
    ]


def sent_calendar_methods(email):
    """The iTIP methods of the ``text/calendar`` parts of the message as it goes out."""
    parsed = message_from_bytes(email.message().as_bytes())
    return [
        part.get_param("method") for part in parsed.walk()
        if part.get_content_type() == "text/calendar"
    ]


def assert_clean(email):
    for text in (email.subject, email.body):
        assert "{{" not in text and "{%" not in text
        assert "&amp;" not in text and "&lt;" not in text and "&#x27;" not in text
    assert "\n" not in email.subject


def test_every_kind_has_both_templates():
    for kind in ALL_KINDS:
        get_template(f"wagtail_coaching/emails/{kind}_subject.txt")
        get_template(f"wagtail_coaching/emails/{kind}.txt")


@pytest.mark.parametrize("kind", sorted(GROUP_CALENDAR))
def test_group_calendar_emails(w, paris_session, kind):
    method = GROUP_CALENDAR[kind]
    recipient = w.coach_a if kind.startswith("coach_") else w.client_a1
    message = msg.calendar_message(
        recipient, kind, f"group:{paris_session.pk}", msg.group_event(paris_session),
        method=method, sequence=0,
    )
    if kind == "session_invitation":
        send_invitations(paris_session.pk)  # creates the invited registration
        registration = paris_session.registrations.get(user=w.client_a1)
        message = invitation(paris_session, registration)
        Notification.objects.filter(dedup_key=message.dedup_key).delete()
    email = send(message)
    assert_clean(email)
    assert email.to == [recipient.email]
    assert TITLE in email.subject
    assert TITLE in email.body
    assert PARIS_TIME in email.body
    assert email.body.startswith(f"Hello {recipient.first_name or recipient.username},")
    assert "Where: Room 3" in email.body
    assert calendar_methods(email) == [method]
    assert sent_calendar_methods(email) == [method]
    if method == "REQUEST" and kind != "session_invitation":
        assert "https://video.example/room?a=1&b=2" in email.body
    if kind.startswith("session_"):
        assert f"{site_base_url()}/coaching/sessions/" in email.body
    if kind == "session_invitation":
        base = site_base_url()
        assert f"Take a seat: {base}/coaching/sessions/reply/" in email.body
        assert f"Decline: {base}/coaching/sessions/reply/" in email.body


@pytest.mark.parametrize("kind", GROUP_PLAIN)
def test_group_emails_without_a_calendar(w, paris_session, kind):
    email = send(msg.plain_message(
        w.client_a1, kind, f"plain:{kind}", msg.group_event(paris_session)
    ))
    assert_clean(email)
    assert TITLE in email.subject
    assert PARIS_TIME in email.body
    assert calendar_methods(email) == []
    # Someone without a seat does not get the video link.
    assert "video.example" not in email.body


@pytest.mark.parametrize("kind", sorted(ONE_TO_ONE_CALENDAR))
@pytest.mark.parametrize("who", ["client", "coach"])
def test_one_to_one_emails(w, kind, who):
    session = w.booking_a1
    session.time_zone = "America/New_York"
    event = msg.one_to_one_event(session, "Engagement A", w.client_a1, w.coach_a)
    person = w.client_a1 if who == "client" else w.coach_a
    method = ONE_TO_ONE_CALENDAR[kind]
    email = send(msg.calendar_message(
        person, kind, f"test-one-to-one:{session.pk}", event, method=method, sequence=0,
        payload={"coach_name": msg.person_name(w.coach_a),
                 "client_name": msg.person_name(w.client_a1), "role": who},
    ))
    assert_clean(email)
    assert calendar_methods(email) == [method]
    assert "(America/New_York)" in email.body
    if who == "client":
        assert msg.person_name(w.coach_a) in email.subject
        assert "/coaching/sessions/" in email.body
    else:
        assert "Ada Acme" in email.subject
        assert "/coaching/sessions/" not in email.body


def test_the_summary_email_points_to_the_sessions_page(w):
    session = w.booking_a1
    event = msg.one_to_one_event(session, "Engagement A", w.client_a1, w.coach_a)
    email = send(msg.plain_message(w.client_a1, "one_to_one_summary", "summary:1", event,
                                   {"coach_name": "Coach A"}))
    assert_clean(email)
    assert email.subject == "Your session summary from Coach A"
    assert "/coaching/sessions/" in email.body
    assert calendar_methods(email) == []


def test_every_kind_the_services_send_is_delivered(w):
    """The services themselves, run through the jobs: every email they queue renders."""
    waiting = UserFactory(username="waiting", first_name="Wait")
    first_new = (Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    with run_jobs():
        (session,) = create_sessions(
            SessionPlan(title=TITLE, coach=w.coach_a, team=w.team_a, starts_at=in_days(9, 17),
                        duration=timedelta(hours=1), capacity=1, audience=Audience.LIST,
                        invitees=[w.client_a1, w.client_a2, waiting]),
            [in_days(9, 17)],
        )
    with run_jobs():
        register(session, w.client_a1)
        register(session, waiting, check_eligible=False)  # full: the waitlist
        cancel_registration(session, w.client_a1)  # the seat goes to the waitlist
        update_sessions(session, {"location": "Room 4"})
        change_coach(session, w.coach_a2)
        cancel_sessions(session)
        activity = w.one_to_one[w.enrollment_a1.pk]
        publish_availability(w.coach_a, start=in_days(6), end=in_days(6, 12), slot_minutes=60)
        booking = book_session(activity, in_days(6), actor=w.client_a1)
        booking = reschedule_session(booking, in_days(6, 11), actor=w.client_a1)
        cancel_session(booking, actor=w.client_a1)
        record_one_to_one(w.booking_a1, outcome="completed",
                          follow_up=FollowUp(summary="Well done."), actor=w.coach_a,
                          now=w.booking_a1.starts_at + timedelta(hours=1))
    new = Notification.objects.filter(pk__gte=first_new)
    kinds = set(new.values_list("kind", flat=True))
    assert set(ALL_KINDS) <= kinds, set(ALL_KINDS) - kinds
    failed = new.filter(sent_at__isnull=True)
    assert not failed.exists(), list(failed.values_list("kind", "last_error"))
    for email in mail.outbox:
        assert_clean(email)
