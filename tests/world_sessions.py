"""Sessions added to ``build_world()``: a group session per team, availability per coach,
a 1:1 allotment per client and a booked 1:1 session per coached client.

- ``session_a``: team A, led by coach_a, for engagement A's clients (a1, a2), 10 seats;
  client_a1 is registered.
- ``session_b``: team B, led by coach_b, for Globex's clients (b1).
- slots: two per coach of each team, two and three days ahead.
- 1:1: every enrollment gets a "1:1 sessions" step (3 sessions, 60 minutes); a1 (coach_a)
  and b1 (coach_b) each have one session booked.
- calendars: coach_a and the admin have connected a calendar (no calendar chosen in it yet,
  so nothing is read from or written to a server).
"""

from datetime import timedelta

from django.utils import timezone

from wagtail_coaching.calendars.credentials import encrypt
from wagtail_coaching.journeys import add_extra_activity
from wagtail_coaching.models import Audience, CalendarConnection
from wagtail_coaching.scheduling import (
    SessionPlan,
    book_session,
    create_sessions,
    publish_availability,
    register,
)

ONE_TO_ONE = {"title": "Coaching sessions", "sessions": 3, "duration_minutes": 60}


def in_days(days, hour=10):
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return start.replace(hour=hour)


def add_sessions(world):
    w = world
    (w.session_a,) = create_sessions(
        SessionPlan(title="Team A circle", coach=w.coach_a, team=w.team_a,
                    starts_at=in_days(7, 17), duration=timedelta(hours=1), capacity=10,
                    audience=Audience.ENGAGEMENT, engagement=w.engagement_a),
        [in_days(7, 17)], invite=False,
    )
    (w.session_b,) = create_sessions(
        SessionPlan(title="Globex circle", coach=w.coach_b, team=w.team_b,
                    starts_at=in_days(7, 17), duration=timedelta(hours=1), capacity=10,
                    audience=Audience.COMPANY, company=w.globex),
        [in_days(7, 17)], invite=False,
    )
    register(w.session_a, w.client_a1)
    for coach in (w.coach_a, w.coach_a2, w.coach_b):
        publish_availability(coach, start=in_days(2), end=in_days(2, 12), slot_minutes=60)
    w.one_to_one = {}
    for enrollment in (w.enrollment_a1, w.enrollment_a2, w.enrollment_b1):
        w.one_to_one[enrollment.pk] = add_extra_activity(enrollment, "one_to_one", ONE_TO_ONE)
    w.booking_a1 = book_session(w.one_to_one[w.enrollment_a1.pk], in_days(2), actor=w.client_a1)
    w.booking_b1 = book_session(w.one_to_one[w.enrollment_b1.pk], in_days(2), actor=w.client_b1)
    for person in (w.coach_a, w.admin):
        CalendarConnection.objects.create(
            user=person, url="https://calendar.example.com/dav/", username=person.username,
            secret=encrypt("app-password"),
            calendars=[{"url": "https://calendar.example.com/dav/work/", "name": "Work"}],
        )
    return w


def calendar_parts(outbox, email=None):
    """(method, parsed calendar, message) of every calendar file in ``outbox`` (to ``email``)."""
    from icalendar import Calendar

    found = []
    for message in outbox:
        if email is not None and email not in message.to:
            continue
        for part in message.attachments:
            if hasattr(part, "get_content_type") and part.get_content_type() == "text/calendar":
                found.append((
                    part.get_param("method"),
                    Calendar.from_ical(part.get_payload(decode=True)),
                    message,
                ))
    return found


def only_event(calendar):
    (event,) = [c for c in calendar.walk("VEVENT")]
    return event
