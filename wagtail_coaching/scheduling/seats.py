"""Seats of a group session: registering claims one atomically or joins the waitlist;
a freed seat goes to the waitlist in order.

Every change takes the session's row lock first, so two registrations for the last seat
(or one person's double click) are decided one after the other: the database never holds
more registered people than seats, and a person holds one registration per session.
"""

from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    CALENDAR_STATUSES,
    SEAT_STATUSES,
    Enrollment,
    EventKind,
    GroupSession,
    JourneyEvent,
    Registration,
    RegistrationStatus,
)
from ..notifications.outbox import queue_notifications
from ..permissions import allowed
from . import messages as msg
from .errors import NotEligible, SessionNotOpen

S = RegistrationStatus


def lock_session(session_id):
    return GroupSession.objects.select_for_update().get(pk=session_id)


def _require_upcoming(session, now):
    if session.is_cancelled:
        raise SessionNotOpen(_("This session has been cancelled."))
    if session.starts_at <= now:
        raise SessionNotOpen(_("This session has already started."))


# -- Seats taken: registered, or already marked attended or no-show ----------------------------

def holds_seat(registration):
    """Whether ``registration`` takes one of its session's seats."""
    return registration.status in SEAT_STATUSES


def seat_holders(registrations):
    """The registrations of ``registrations`` (a queryset) that take a seat."""
    return registrations.filter(status__in=SEAT_STATUSES)


# A series held as one event keeps an occurrence in the person's calendar while they are
# invited or hold a seat (a held session stays where it was).
_KEPT_IN_CALENDAR = (*CALENDAR_STATUSES, *SEAT_STATUSES)


def kept_in_calendar(registration):
    """Whether ``registration``'s occurrence stays in the person's copy of a series."""
    return registration.status in _KEPT_IN_CALENDAR


def calendar_keepers(registrations):
    """The registrations of ``registrations`` (a queryset) that ``kept_in_calendar``."""
    return registrations.filter(status__in=_KEPT_IN_CALENDAR)


def seats_taken_annotation(session_ref="pk"):
    """Seats taken in the session ``session_ref`` points to, as a subquery (a list counts
    them in the same query), immune to the joins of the outer query."""
    taken = (
        seat_holders(Registration.objects.filter(session=OuterRef(session_ref)))
        .order_by()
        .values("session")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(taken, output_field=IntegerField()), Value(0))


def seats_taken_by_session(sessions):
    """{session id: seats taken} for ``sessions`` (those with none are left out)."""
    return dict(
        seat_holders(Registration.objects.filter(session__in=[s.pk for s in sessions]))
        .values("session").annotate(n=Count("pk")).values_list("session", "n")
    )


def seats_taken(session):
    return seat_holders(session.registrations.all()).count()


def seats_left(session, taken=None):
    """Free seats, or None for a session without a limit. ``taken``: the seats taken when
    already counted (``seats_taken_annotation``)."""
    if session.capacity is None:
        return None
    if taken is None:
        taken = seats_taken(session)
    return max(session.capacity - taken, 0)


def journey_enrollment(session, user_id):
    """The attendee's enrollment the session belongs to (its timeline gets the events)."""
    engagement_id = session.engagement_id or (
        session.cohort.engagement_id if session.cohort_id else None
    )
    if engagement_id is None:
        return None
    return (
        Enrollment.objects.filter(client_id=user_id, engagement_id=engagement_id)
        .exclude(status="cancelled")
        .order_by("-created_at")
        .first()
    )


def register(session, user, *, check_eligible=True, now=None):
    """Register ``user``: a seat if one is free, else a place at the end of the waitlist.

    Registering again is harmless (the current registration is returned). Raises
    NotEligible for someone outside the session's audience and SessionNotOpen for a
    cancelled or started session.
    """
    now = now or timezone.now()
    if check_eligible and not allowed(user, "register_groupsession", session):
        raise NotEligible(_("This session is not open to you. Ask your coach for an invitation."))
    with transaction.atomic():
        session = lock_session(session.pk)
        _require_upcoming(session, now)
        registration, created = Registration.objects.get_or_create(
            session=session, user=user, defaults={"status": S.INVITED}
        )
        if registration.status in (S.REGISTERED, S.WAITLISTED):
            return registration
        if session.capacity is None or seats_taken(session) < session.capacity:
            registration.status = S.REGISTERED
            registration.registered_at = now
        else:
            registration.status = S.WAITLISTED
            registration.waitlisted_at = now
        if not created:
            # Their calendar already holds an invitation (or its cancellation): the
            # confirmation must supersede it, so it carries a higher SEQUENCE.
            registration.revision += 1
        registration.save()
        _record(session, user.pk, EventKind.SESSION_REGISTERED, user, now,
                {"status": registration.status})
        queue_notifications([_status_message(session, registration, user)])
    return registration


def _status_message(session, registration, user):
    # Imported here: ``series`` reads this module's seat rules.
    from .series import calendar_series, person_changed

    series = calendar_series(session)
    if series is not None:
        # Their copy of the series, now with (or, waitlisted, without) this date.
        kind = "session_waitlisted" if registration.status == S.WAITLISTED else \
            "session_confirmed"
        out = person_changed(series, user, kind)
        if out:
            return out[0]
    event = msg.group_event(session, with_link=holds_seat(registration))
    if registration.status == S.WAITLISTED:
        return msg.plain_message(
            user, "session_waitlisted",
            f"group:{session.pk}:{user.pk}:waitlisted:{registration.revision}", event,
        )
    return msg.calendar_message(
        user, "session_confirmed", f"group:{session.pk}", event, method="REQUEST",
        sequence=session.sequence + registration.revision,
    )


def _record(session, user_id, kind, actor, now, data=None):
    enrollment = journey_enrollment(session, user_id)
    if enrollment is not None:
        JourneyEvent.objects.create(
            enrollment=enrollment, kind=kind, actor=actor, at=now,
            data={"session": str(session.public_id), "title": session.title, **(data or {})},
        )


def cancel_registration(session, user, *, declined=False, actor=None, now=None):
    """Take ``user`` off the session (``declined``: they turned the invitation down).

    Only their own calendar copy is cancelled (METHOD:CANCEL to them alone; in a series
    held as one event, their copy of the series without this date); the session goes on,
    and a seat they held goes to the first person on the waitlist.
    """
    from .series import calendar_series, person_changed  # (series reads this module)

    now = now or timezone.now()
    with transaction.atomic():
        session = lock_session(session.pk)
        _require_upcoming(session, now)
        registration = Registration.objects.filter(session=session, user=user).first()
        if registration is None:
            if not declined:
                raise SessionNotOpen(_("You are not registered for this session."))
            registration = Registration.objects.create(
                session=session, user=user, status=S.DECLINED
            )
            return registration
        if registration.status in (S.CANCELLED, S.DECLINED):
            return registration
        had_calendar = registration.status in CALENDAR_STATUSES
        held_seat = holds_seat(registration)
        registration.status = S.DECLINED if declined else S.CANCELLED
        registration.revision += 1
        registration.save()
        _record(session, user.pk, EventKind.SESSION_CANCELLED, actor or user, now,
                {"declined": declined})
        series = calendar_series(session)
        if had_calendar and series is not None:
            # Their copy of the series without this date, or cancelled if it was the last.
            queue_notifications(person_changed(
                series, user, "session_attendee_cancelled",
                cancel_kind="session_attendee_cancelled",
            ))
        elif had_calendar:
            queue_notifications([
                msg.calendar_message(
                    user, "session_attendee_cancelled", f"group:{session.pk}",
                    msg.group_event(session, with_link=False), method="CANCEL",
                    sequence=session.sequence + registration.revision,
                )
            ])
        if held_seat:
            fill_seats(session, now=now)
    return registration


def fill_seats(session, *, now=None):
    """Give free seats to the waitlist, first come first served, and tell each person.
    The caller holds the session's lock. Returns the registrations promoted."""
    now = now or timezone.now()
    waiting = Registration.objects.filter(session=session, status=S.WAITLISTED).order_by(
        "waitlisted_at", "pk"
    )
    if session.capacity is not None:
        free = session.capacity - seats_taken(session)
        if free <= 0:
            return []
        waiting = waiting[:free]
    promoted = list(waiting.select_related("user"))
    if not promoted:
        return []
    Registration.objects.filter(pk__in=[r.pk for r in promoted]).update(
        status=S.REGISTERED, registered_at=now, updated_at=now, revision=F("revision") + 1
    )
    for r in promoted:
        r.status = S.REGISTERED
        r.revision += 1
    from .series import calendar_series, client_messages  # (series reads this module)

    series = calendar_series(session)
    if series is not None:
        # Each their copy of the series, now with this date (one email each).
        queue_notifications(client_messages(
            series, [r.user_id for r in promoted], "session_promoted", now=now))
        return promoted
    event = msg.group_event(session)
    queue_notifications([
        msg.calendar_message(
            r.user, "session_promoted", f"group:{session.pk}", event, method="REQUEST",
            sequence=session.sequence + r.revision,
        )
        for r in promoted
    ])
    return promoted
