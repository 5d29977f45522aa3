"""Personal calendar feeds: one secret URL per person with all their sessions."""

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
from .calendar import CalendarEvent, build_feed
from .messages import group_event, one_to_one_event
from .seats import seat_holders

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


def feed_events(user, now=None):
    """Calendar events of every session of ``user``: group sessions they hold a seat in or
    run, and 1:1 sessions as client or coach. Cancelled ones stay in, marked cancelled, so
    subscribed calendars drop them. A fixed number of queries."""
    now = now or timezone.now()
    since = now - FEED_PAST
    seats = seat_holders(Registration.objects.filter(user=user)).values("session_id")
    co_led = GroupSession.co_coaches.through.objects.filter(user=user).values("groupsession_id")
    groups = GroupSession.objects.filter(
        Q(pk__in=seats) | Q(coach=user) | Q(pk__in=co_led), ends_at__gte=since
    ).order_by("starts_at")
    ones = (
        CoachingSession.objects.filter(
            Q(enrollment__client=user) | Q(coach=user), ends_at__gte=since
        )
        .select_related("enrollment__client", "enrollment__engagement", "coach")
        .order_by("starts_at")
    )
    events = [_event(group_event(s), s.sequence) for s in groups]
    events += [
        _event(
            one_to_one_event(s, s.enrollment.engagement.title, s.enrollment.client, s.coach),
            s.sequence,
            cancelled=s.status in (CoachingSessionStatus.CANCELLED,
                                   CoachingSessionStatus.LATE_CANCELLED),
        )
        for s in ones
    ]
    return events


def _event(fields, sequence, cancelled=False):
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


def feed_calendar(user, now=None):
    """The feed as iCalendar bytes."""
    return build_feed(feed_events(user, now), f"Coaching · {display_name(user)}")
