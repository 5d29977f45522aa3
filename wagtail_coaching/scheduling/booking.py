"""1:1 sessions: coaches publish availability; a client books from their allotment, then
reschedules or cancels; after the session the coach records it. Staff (the client's
coaches, coaching admins) book, move and cancel on a client's behalf through the same
functions, with the staff member as ``actor``; with ``override`` they may choose a time
outside the coach's availability.

A slot is claimed under its row lock, and the database allows one booked session per slot,
so two clients racing for the same time cannot both get it. Every booking and move also
locks the coach and the client (in id order) and checks that neither has another session
at that time, so a time booked outside availability and a slot booked by the client at
the same moment cannot both win.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..calendars.entries import mirror_sessions
from ..calendars.sync import refresh_before_booking
from ..conf import coaching_settings
from ..journeys.assignment import MAIN_ROLE, _lock_cursor, _pick, assign_coach, available_coaches
from ..journeys.errors import ActivityNotAvailable, EnrollmentNotOpen
from ..journeys.progress import complete_activity, lock_enrollment
from ..models import (
    ActivityState,
    AssignmentMethod,
    AvailabilitySlot,
    ClientActivity,
    CoachAssignment,
    CoachingSession,
    CoachingSessionStatus,
    CoachProfile,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    NoteVisibility,
    SessionNote,
)
from ..notifications.outbox import queue_notifications
from ..utils.people import display_name
from ..utils.time_zones import coach_time_zone, coaching_time_zone
from . import messages as msg
from .allotment_notices import allotment_low_messages
from .allotments import (  # the allotment rule, also imported from here by callers
    ONE_TO_ONE,
    Allotment,  # noqa: F401
    allotment,
    allotments,  # noqa: F401
    allotments_left,  # noqa: F401
    open_allotments,  # noqa: F401
    open_steps,  # noqa: F401
    uses_allotment,  # noqa: F401
)
from .busy import (
    booked_slot_ids,
    busy_reason,
    coach_calendar_busy,
    coach_group_sessions,
    coach_sessions,
)
from .errors import AllotmentUsedUp, InvalidSchedule, SessionNotOpen, SlotTaken, TooLate

MAX_SLOTS = 500
# How far ahead staff may book outside availability (the booking horizon still bounds the
# times offered from availability).
OVERRIDE_HORIZON = timedelta(days=366)
DELIVERED = (
    CoachingSessionStatus.COMPLETED, CoachingSessionStatus.NO_SHOW,
    CoachingSessionStatus.LATE_CANCELLED,
)


# -- Availability ------------------------------------------------------------------------------

def publish_availability(coach, *, start, end, slot_minutes, weeks=1, time_zone=None):
    """Offer ``start``–``end`` cut into slots of ``slot_minutes``, on the same weekday and
    local time for ``weeks`` weeks. Refuses times that overlap slots already offered.
    Returns the new slots."""
    tz = ZoneInfo(time_zone) if time_zone else coaching_time_zone()
    if end <= start:
        raise InvalidSchedule(_("The end must be after the start."))
    if slot_minutes < 15:
        raise InvalidSchedule(_("Slots are at least 15 minutes long."))
    if not 1 <= weeks <= 52:
        raise InvalidSchedule(_("Repeat for 1 to 52 weeks."))
    if start <= timezone.now():
        raise InvalidSchedule(_("Availability must be in the future."))
    step = timedelta(minutes=slot_minutes)
    per_day = int((end - start) / step)
    if per_day < 1:
        raise InvalidSchedule(_("The time given is shorter than one slot."))
    if per_day * weeks > MAX_SLOTS:
        raise InvalidSchedule(_("That is more than %(n)d slots at once.") % {"n": MAX_SLOTS})
    local_start = start.astimezone(tz)
    slots = []
    for week in range(weeks):
        day = (local_start + timedelta(days=7 * week)).replace(tzinfo=None)
        first = day.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))
        slots += [
            AvailabilitySlot(coach=coach, starts_at=first + i * step,
                             ends_at=first + (i + 1) * step)
            for i in range(per_day)
        ]
    overlap = Q()
    for slot in slots:
        overlap |= Q(starts_at__lt=slot.ends_at, ends_at__gt=slot.starts_at)
    with transaction.atomic():
        if AvailabilitySlot.objects.filter(overlap, coach=coach).exists():
            raise InvalidSchedule(_("Some of these times overlap availability you already offer."))
        return AvailabilitySlot.objects.bulk_create(slots)


def remove_slot(slot):
    """Withdraw a slot nobody has booked."""
    with transaction.atomic():
        slot = AvailabilitySlot.objects.select_for_update().get(pk=slot.pk)
        if slot.sessions.filter(status=CoachingSessionStatus.BOOKED).exists():
            raise SlotTaken(_("This slot is booked: reschedule or cancel the session first."))
        slot.delete()


# -- The allotment -----------------------------------------------------------------------------

def current_coach_id(enrollment):
    return (
        CoachAssignment.objects.filter(enrollment=enrollment, role=MAIN_ROLE, ended_at__isnull=True)
        .values_list("coach_id", flat=True)
        .first()
    )


def booking_window(now):
    """The first and last start time a client can book now (notice and horizon)."""
    return (
        now + timedelta(hours=coaching_settings.BOOKING_NOTICE_HOURS),
        now + timedelta(days=coaching_settings.BOOKING_HORIZON_DAYS),
    )


def _free_slots(coach_ids, minutes, now):
    earliest, latest = booking_window(now)
    booked = booked_slot_ids()
    slots = (
        AvailabilitySlot.objects.filter(
            coach_id__in=coach_ids, starts_at__gte=earliest, starts_at__lte=latest
        )
        .exclude(pk__in=booked)
        .exclude(Exists(coach_sessions(OuterRef("coach_id"), OuterRef("starts_at"),
                                        OuterRef("ends_at"))))
        .exclude(Exists(coach_group_sessions(OuterRef("coach_id"), OuterRef("starts_at"),
                                              OuterRef("ends_at"))))
        .exclude(Exists(coach_calendar_busy(OuterRef("coach_id"), OuterRef("starts_at"),
                                             OuterRef("ends_at"))))
        .order_by("starts_at", "coach_id")
    )
    need = timedelta(minutes=minutes)
    return [s for s in slots if s.ends_at - s.starts_at >= need]


def _lock_people(*user_ids):
    """Serialise bookings per coach and per client: their user rows are the locks, taken in
    id order and after every other lock of a booking or a move except the slot's, so no two
    of them wait on each other (NO KEY UPDATE leaves rows that refer to them insertable)."""
    list(
        get_user_model().objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(set(user_ids))).order_by("pk").values_list("pk", flat=True)
    )


def _require_free(coach_id, client_id, starts_at, ends_at, exclude=None):
    reason = busy_reason(coach_id, client_id, starts_at, ends_at, exclude=exclude)
    if reason:
        raise SlotTaken(reason)


def _require_override_time(starts_at, now):
    if not now < starts_at <= now + OVERRIDE_HORIZON:
        raise InvalidSchedule(_("Choose a time in the future, at most a year ahead."))


def reschedule_times(session, now=None):
    """The start times a booked session can move to: its coach's free slots long enough for
    it, inside the booking window."""
    now = now or timezone.now()
    minutes = int((session.ends_at - session.starts_at).total_seconds() // 60)
    return sorted({
        slot.starts_at for slot in _free_slots([session.coach_id], minutes, now)
        if slot.starts_at != session.starts_at
    })


def bookable_times(activity, now=None):
    """The start times the client can book now: their coach's free slots, or (without a
    coach) any time at which a coach of the engagement's team with room is free."""
    now = now or timezone.now()
    enrollment = activity.enrollment
    coach_id = current_coach_id(enrollment)
    coaches = [coach_id] if coach_id else available_coaches(enrollment.engagement)
    minutes = allotment(activity).minutes
    return sorted({s.starts_at for s in _free_slots(coaches, minutes, now)})


def _require_bookable(activity, enrollment):
    if activity.kind != ONE_TO_ONE:
        raise ActivityNotAvailable(_("Sessions are booked from a 1:1 sessions step."))
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise EnrollmentNotOpen(_("This engagement is not active at the moment."))
    if activity.state != ActivityState.AVAILABLE:
        raise ActivityNotAvailable(_("This step is not open."))


def book_session(activity, starts_at, *, actor=None, override=False, now=None):
    """Book a 1:1 session at ``starts_at`` from ``activity``'s allotment.

    With a coach assigned, it is that coach's slot; without one, the engagement's policy
    picks among the coaches free at that time (round-robin, or the least loaded) and the
    client keeps that coach. ``actor`` is who books: the client, or staff booking for them.
    With ``override`` (staff only: the views check the matrix's ``book_for_client``) the
    time need not be one the coach offers: any future time the coach and the client are
    both free, recorded as outside availability. Never more sessions than the allotment
    grants. Raises AllotmentUsedUp, SlotTaken, InvalidSchedule, or a journey error.

    The coaches' own calendars are read again first if their busy times are not fresh
    (outside the transaction: a slow calendar server never holds a lock).
    """
    now = now or timezone.now()
    refresh_before_booking(_coaches_at(activity.enrollment, starts_at))
    with transaction.atomic():
        enrollment = lock_enrollment(activity.enrollment_id)
        activity = ClientActivity.objects.select_for_update().get(pk=activity.pk)
        activity.enrollment = enrollment
        _require_bookable(activity, enrollment)
        allot = allotment(activity)
        if allot.left < 1:
            raise AllotmentUsedUp(_("All sessions of this package are used."))
        coach_id = current_coach_id(enrollment)
        if override:
            _require_override_time(starts_at, now)
            if coach_id is None:
                raise InvalidSchedule(_(
                    "This client has no coach yet: assign one before booking a time "
                    "outside availability."
                ))
        else:
            earliest, latest = booking_window(now)
            if not earliest <= starts_at <= latest:
                raise SlotTaken(_("This time can no longer be booked. Please choose another."))
            if coach_id is None:
                coach_id = _pick_free_coach(enrollment, starts_at, allot.minutes, now, actor)
        ends_at = starts_at + timedelta(minutes=allot.minutes)
        _lock_people(coach_id, enrollment.client_id)
        slot = _offered_slot(coach_id, starts_at, allot.minutes)
        if slot is None and not override:
            raise SlotTaken(_("This time was just taken. Please choose another."))
        _require_free(coach_id, enrollment.client_id, starts_at, ends_at)
        session = _create(enrollment, activity, coach_id, slot, starts_at, allot.minutes,
                          actor, now)
    return session


def _coaches_at(enrollment, starts_at):
    """The coaches a booking at ``starts_at`` may go to: the client's coach, else those
    with a slot starting then (a subquery)."""
    coach_id = current_coach_id(enrollment)
    if coach_id:
        return [coach_id]
    return AvailabilitySlot.objects.filter(starts_at=starts_at).values("coach_id")


def _pick_free_coach(enrollment, starts_at, minutes, now, actor):
    engagement = enrollment.engagement
    if engagement.assignment_policy == AssignmentMethod.CLIENT_CHOICE:
        raise SlotTaken(_("Choose your coach first; then book a time with them."))
    cursor = _lock_cursor(engagement, MAIN_ROLE)
    free = {s.coach_id for s in _free_slots(available_coaches(engagement), minutes, now)
            if s.starts_at == starts_at}
    if not free:
        raise SlotTaken(_("This time was just taken. Please choose another."))
    policy = engagement.assignment_policy
    if policy not in (AssignmentMethod.ROUND_ROBIN, AssignmentMethod.LEAST_LOADED):
        policy = AssignmentMethod.ROUND_ROBIN
    chosen = _pick(policy, sorted(free), cursor)
    assign_coach(enrollment, coach=chosen, method=policy, actor=actor, now=now)
    return chosen


def _offered_slot(coach_id, starts_at, minutes):
    """The coach's slot at ``starts_at``, locked, if it is free and long enough; else None."""
    slot = (
        AvailabilitySlot.objects.select_for_update()
        .filter(coach_id=coach_id, starts_at=starts_at)
        .first()
    )
    if (
        slot is None
        or slot.ends_at - slot.starts_at < timedelta(minutes=minutes)
        or slot.sessions.filter(status=CoachingSessionStatus.BOOKED).exists()
    ):
        return None
    return slot


def _create(enrollment, activity, coach_id, slot, starts_at, minutes, actor, now):
    profile = CoachProfile.objects.filter(user_id=coach_id).first()
    outside = slot is None
    try:
        with transaction.atomic():
            session = CoachingSession.objects.create(
                enrollment=enrollment, activity=activity, coach_id=coach_id, slot=slot,
                starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
                time_zone=coach_time_zone(profile).key,
                video_link=profile.video_link if profile else "",
                booked_by=actor, booked_at=now, outside_availability=outside,
            )
    except IntegrityError as exc:
        raise SlotTaken(_("This time was just taken. Please choose another.")) from exc
    JourneyEvent.objects.create(
        enrollment=enrollment, activity=activity, kind=EventKind.SESSION_BOOKED, actor=actor,
        at=now,
        data={"session": str(session.public_id), "starts_at": session.starts_at.isoformat(),
              **_on_behalf(actor, enrollment, outside)},
    )
    queue_notifications(_calendar_messages(session, "one_to_one_booked", "REQUEST"))
    queue_notifications(allotment_low_messages(activity, allotment(activity), coach_id))
    mirror_sessions(one_to_one=[session.pk])
    return session


def _on_behalf(actor, enrollment, outside=None):
    """What a journey event adds when staff acted for the client: that they did, and (for
    a booking or a move) whether the time was outside the coach's availability."""
    if actor is None or actor.pk == enrollment.client_id:
        return {}
    return {"for_client": True} if outside is None else {"for_client": True, "override": outside}


def _calendar_messages(session, kind, method):
    session = CoachingSession.objects.select_related(
        "enrollment__client", "enrollment__engagement", "coach"
    ).get(pk=session.pk)
    client, coach = session.enrollment.client, session.coach
    event = msg.one_to_one_event(session, session.enrollment.engagement.title, client, coach)
    key = f"one-to-one:{session.pk}"
    payload = {"coach_name": display_name(coach), "client_name": display_name(client)}
    return [
        msg.calendar_message(person, kind, key, event, method=method,
                             sequence=session.sequence, payload={**payload, "role": role})
        for person, role in ((client, "client"), (coach, "coach"))
    ]


def _lock_session(session):
    return CoachingSession.objects.select_for_update().select_related("enrollment").get(
        pk=session.pk
    )


def _is_client(actor, session):
    return actor is not None and actor.pk == session.enrollment.client_id


# -- The late-cancel rule ----------------------------------------------------------------------

def late_cancel_hours():
    """How many hours before its start a 1:1 session can still be moved or cancelled
    freely (pages say it; ``is_late`` applies it)."""
    return coaching_settings.LATE_CANCEL_HOURS


def is_late(session, now=None):
    """Whether ``session`` is inside the late-cancel window now: cancelled by its client
    it counts as used, and its client can no longer move it."""
    now = now or timezone.now()
    return session.starts_at - now < timedelta(hours=late_cancel_hours())


def cancels_late(session, actor, now=None):
    """Whether ``actor`` moving or cancelling ``session`` now is late: only its client can
    be late (staff cancelling never is)."""
    return _is_client(actor, session) and is_late(session, now)


def reschedule_session(session, starts_at, *, actor=None, override=False, now=None):
    """Move a booked session to another free time of the same coach (same calendar UID,
    SEQUENCE + 1). A client cannot reschedule inside the late-cancel window. With
    ``override`` (staff only) the new time may be outside the coach's availability, as
    long as the coach and the client are free then."""
    now = now or timezone.now()
    refresh_before_booking([session.coach_id])
    with transaction.atomic():
        session = _lock_session(session)
        if session.status != CoachingSessionStatus.BOOKED or session.starts_at <= now:
            raise SessionNotOpen(_("Only an upcoming booked session can be moved."))
        if cancels_late(session, actor, now):
            raise TooLate(_(
                "It is too late to move this session. You can still cancel it, but it "
                "will count as used."
            ))
        if override:
            _require_override_time(starts_at, now)
        else:
            earliest, latest = booking_window(now)
            if not earliest <= starts_at <= latest:
                raise SlotTaken(_("This time can no longer be booked. Please choose another."))
        minutes = int((session.ends_at - session.starts_at).total_seconds() // 60)
        client_id = session.enrollment.client_id
        _lock_people(session.coach_id, client_id)
        slot = _offered_slot(session.coach_id, starts_at, minutes)
        if slot is None and not override:
            raise SlotTaken(_("This time was just taken. Please choose another."))
        ends_at = starts_at + timedelta(minutes=minutes)
        _require_free(session.coach_id, client_id, starts_at, ends_at, exclude=session)
        previous = session.starts_at
        session.slot = slot
        session.outside_availability = slot is None
        session.starts_at = starts_at
        session.ends_at = ends_at
        session.sequence += 1
        try:
            with transaction.atomic():
                session.save()
        except IntegrityError as exc:
            raise SlotTaken(_("This time was just taken. Please choose another.")) from exc
        JourneyEvent.objects.create(
            enrollment=session.enrollment, activity_id=session.activity_id,
            kind=EventKind.SESSION_RESCHEDULED, actor=actor, at=now,
            data={"session": str(session.public_id), "from": previous.isoformat(),
                  "to": session.starts_at.isoformat(),
                  **_on_behalf(actor, session.enrollment, slot is None)},
        )
        queue_notifications(_calendar_messages(session, "one_to_one_rescheduled", "REQUEST"))
        mirror_sessions(one_to_one=[session.pk])
    return session


def cancel_session(session, *, actor=None, count_as_used=False, now=None):
    """Cancel a booked session. A client cancelling inside the late-cancel window uses the
    session up; otherwise it goes back to the allotment. Staff cancelling never uses it up,
    unless they say so (``count_as_used``: the client asked too late, or did not warn).
    Both calendars get a CANCEL."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _lock_session(session)
        if session.status != CoachingSessionStatus.BOOKED or session.starts_at <= now:
            raise SessionNotOpen(_("Only an upcoming booked session can be cancelled."))
        late = cancels_late(session, actor, now) or (
            count_as_used and not _is_client(actor, session)
        )
        session.status = (
            CoachingSessionStatus.LATE_CANCELLED if late else CoachingSessionStatus.CANCELLED
        )
        session.cancelled_at = now
        session.sequence += 1
        session.save(update_fields=["status", "cancelled_at", "sequence", "updated_at"])
        JourneyEvent.objects.create(
            enrollment=session.enrollment, activity_id=session.activity_id,
            kind=EventKind.SESSION_CANCELLED, actor=actor, at=now,
            data={"session": str(session.public_id), "late": late,
                  **_on_behalf(actor, session.enrollment)},
        )
        queue_notifications(_calendar_messages(session, "one_to_one_cancelled", "CANCEL"))
        mirror_sessions(one_to_one=[session.pk])
    return session


def record_session(session, *, outcome, summary="", private_note="", actor=None, now=None):
    """After the session: held or no-show, the summary the client sees, and a private note.

    When every session of the allotment has been delivered, the 1:1 step is completed. The
    client hears about the summary through ``continuity.follow_up`` (one message with the
    summary and the session's practices), which is what the admin calls.
    """
    now = now or timezone.now()
    if outcome not in (CoachingSessionStatus.COMPLETED, CoachingSessionStatus.NO_SHOW):
        raise InvalidSchedule(_("A session is either held or a no-show."))
    with transaction.atomic():
        session = _lock_session(session)
        if session.status not in (
            CoachingSessionStatus.BOOKED, *DELIVERED[:2]
        ) or session.starts_at > now:
            raise SessionNotOpen(_("A session can be recorded once it has started."))
        new_summary = summary.strip()
        status_changed = session.status != outcome
        session.status = outcome
        session.summary = new_summary or session.summary
        session.save(update_fields=["status", "summary", "updated_at"])
        enrollment = session.enrollment
        if status_changed:
            kind = (EventKind.SESSION_ATTENDED if outcome == CoachingSessionStatus.COMPLETED
                    else EventKind.SESSION_MISSED)
            JourneyEvent.objects.create(
                enrollment=enrollment, activity_id=session.activity_id, kind=kind, actor=actor,
                at=now, data={"session": str(session.public_id), "one_to_one": True},
            )
        if private_note.strip():
            SessionNote.objects.create(
                enrollment=enrollment, author=actor, body=private_note.strip(),
                visibility=NoteVisibility.COACH, coaching_session=session,
            )
        _complete_if_delivered(session.activity_id, actor, now)
    return session


def _complete_if_delivered(activity_id, actor, now):
    activity = ClientActivity.objects.select_related("enrollment__engagement").get(pk=activity_id)
    if activity.state != ActivityState.AVAILABLE:
        return
    allot = allotment(activity)
    delivered = CoachingSession.objects.filter(activity=activity, status__in=DELIVERED).count()
    if allot.total and delivered >= allot.total:
        try:
            complete_activity(activity, actor=actor, now=now)
        except (ActivityNotAvailable, EnrollmentNotOpen):
            pass


def parse_start(value):
    """A start time from a form or URL (ISO 8601, aware) or None."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None
