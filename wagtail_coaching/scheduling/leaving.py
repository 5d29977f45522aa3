"""A client who leaves (their data erased): their places in sessions still to come are
given up, through the same services as any cancellation.

Group sessions: each registration (invited, registered or on the waitlist) is cancelled with
``seats.cancel_registration``, so a seat they held goes to the waitlist. 1:1 sessions: each
booked session is cancelled with ``booking.cancel_session`` by the staff member acting (never
"late"), so the coach's calendar gets its cancellation and the slot is free again.
"""

from django.utils import timezone

from ..models import (
    CoachingSession,
    CoachingSessionStatus,
    GroupSession,
    Registration,
    RegistrationStatus,
    SessionStatus,
)
from .booking import cancel_session
from .seats import cancel_registration

# Registrations that still hold (or wait for, or were offered) a place.
HOLDING = (
    RegistrationStatus.INVITED, RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED,
)


def upcoming_registrations(user, now):
    return Registration.objects.filter(
        user=user, status__in=HOLDING,
        session__status=SessionStatus.SCHEDULED, session__starts_at__gt=now,
    )


def upcoming_one_to_ones(user, now):
    return CoachingSession.objects.filter(
        enrollment__client=user, status=CoachingSessionStatus.BOOKED, starts_at__gt=now,
    )


def cancel_upcoming(user, *, actor=None, now=None):
    """Give up ``user``'s places in every session still to come. Returns how many
    (group registrations and 1:1 sessions) were cancelled; a second call finds none."""
    now = now or timezone.now()
    cancelled = 0
    session_ids = list(upcoming_registrations(user, now).values_list("session_id", flat=True))
    for session in GroupSession.objects.filter(pk__in=session_ids).order_by("starts_at", "pk"):
        cancel_registration(session, user, actor=actor, now=now)
        cancelled += 1
    for booking in upcoming_one_to_ones(user, now).order_by("starts_at", "pk"):
        cancel_session(booking, actor=actor, now=now)
        cancelled += 1
    return cancelled
