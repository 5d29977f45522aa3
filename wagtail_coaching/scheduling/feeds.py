"""Personal calendar feeds: one secret URL per person with all their sessions."""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import (
    CalendarFeed,
    CoachingSession,
    CoachingSessionStatus,
    GroupSession,
    Registration,
)
from ..models.sessions import new_token
from ..utils.people import display_name
from .calendar import CalendarEvent, build_event_file, build_feed
from .messages import group_event, one_to_one_event, series_event
from .seats import seat_holders
from .series import INTERVAL_DAYS

# How far back a feed reaches (sessions further ahead are all included).
FEED_PAST = timedelta(days=90)


def feed_of(user):
    """The person's feed (created on first use)."""
    feed, _created = CalendarFeed.objects.get_or_create(user=user)
    return feed


def reset_feed(user):
    """Replace the feed's token: the old URL stops working at once."""
    with transaction.atomic():
        feed = feed_of(user)
        feed.token = new_token()
        feed.save(update_fields=["token", "created_at"])
    return feed


def _group_sessions(user, since):
    """The group sessions of the feed: those ``user`` holds a seat in or runs."""
    seats = seat_holders(Registration.objects.filter(user=user)).values("session_id")
    co_led = GroupSession.co_coaches.through.objects.filter(user=user).values("groupsession_id")
    return GroupSession.objects.filter(
        Q(pk__in=seats) | Q(coach=user) | Q(pk__in=co_led), ends_at__gte=since
    ).order_by("starts_at")


def _as_one_event(session):
    return session.series_id is not None and session.series.one_invitation


def feed_events(user, now=None):
    """Calendar events of every session of ``user``: group sessions they hold a seat in or
    run, and 1:1 sessions as client or coach. Cancelled ones stay in, marked cancelled, so
    subscribed calendars drop them. The sessions of a series held as one event are in
    ``feed_series`` instead. A fixed number of queries."""
    now = now or timezone.now()
    since = now - FEED_PAST
    groups = [
        s for s in _group_sessions(user, since).select_related("series")
        if not _as_one_event(s)
    ]
    ones = (
        CoachingSession.objects.filter(
            Q(enrollment__client=user) | Q(coach=user), ends_at__gte=since
        )
        .select_related("enrollment__client", "enrollment__engagement", "coach")
        .order_by("starts_at")
    )
    events = [calendar_event(group_event(s), s.sequence) for s in groups]
    events += [_one_to_one(s) for s in ones]
    return events


def _one_to_one(session):
    """A 1:1 session (with its enrollment, client, engagement and coach loaded) as the
    event its invitations carry: the same UID and SEQUENCE."""
    return calendar_event(
        one_to_one_event(session, session.enrollment.engagement.title, session.enrollment.client,
                         session.coach),
        session.sequence,
        cancelled=session.status in (CoachingSessionStatus.CANCELLED,
                                     CoachingSessionStatus.LATE_CANCELLED),
    )


def session_file(session):
    """One 1:1 session as an .ics file to add to a calendar ("add to calendar")."""
    return build_event_file(_one_to_one(session))


def calendar_event(fields, sequence, cancelled=False):
    """The :class:`CalendarEvent` of a session's calendar fields (``messages``)."""
    from ..conf import coaching_settings

    return CalendarEvent(
        uid=fields["uid"],
        sequence=sequence,
        start=datetime.fromisoformat(fields["start"]),
        end=datetime.fromisoformat(fields["end"]),
        summary=fields["summary"],
        description=fields["description"],
        location=fields["location"],
        url=fields["url"],
        organizer_email=coaching_settings.from_email,
        organizer_name=coaching_settings.ORGANIZER_NAME,
        status="CANCELLED" if cancelled else fields["status"],
        time_zone=fields["time_zone"],
    )


def feed_series(user, now=None):
    """Each series held as one event that ``user`` has a seat in or runs, as the series
    with their occurrences (the same UID as the emailed invitation, so a calendar holding
    both shows it once); a cancelled occurrence is an EXDATE, and a series with nothing
    left is dropped. A fixed number of queries."""
    now = now or timezone.now()
    by_series = defaultdict(list)
    for s in _group_sessions(user, now - FEED_PAST).select_related("series"):
        if _as_one_event(s):
            by_series[s.series_id].append(s)
    out = []
    for sessions in by_series.values():
        if all(s.is_cancelled for s in sessions):
            continue
        series = sessions[0].series
        out.append(series_event({
            "uid": series.uid,
            "sequence": series.sequence,
            "time_zone": sessions[0].time_zone,
            "interval_days": INTERVAL_DAYS.get(series.recurrence),
            "occurrences": [
                {**group_event(s), "cancelled": s.is_cancelled} for s in sessions
            ],
        }))
    return out


def feed_calendar(user, now=None):
    """The feed as iCalendar bytes."""
    return build_feed(feed_events(user, now), f"Coaching · {display_name(user)}",
                      series=feed_series(user, now))
