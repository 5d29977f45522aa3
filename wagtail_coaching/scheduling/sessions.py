"""Group sessions: create one or a series, edit one or all future ones, cancel, change the
coach. Every change attendees' calendars must know about raises the session's SEQUENCE and
puts the matching calendar emails in the outbox, in the same transaction."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..calendars.entries import mirror_sessions
from ..models import (
    CALENDAR_STATUSES,
    Audience,
    GroupSession,
    Recurrence,
    Registration,
    RegistrationStatus,
    SessionSeries,
    SessionStatus,
)
from ..notifications.outbox import queue_notifications
from . import messages as msg
from .errors import InvalidSchedule, SessionNotOpen
from .seats import fill_seats, holds_seat, seats_taken_by_session
from .series import (
    calendar_series,
    coach_messages,
    raise_sequence,
    send_series_invitations_later,
    series_changed,
    series_sessions,
)

# Fields whose change attendees' calendars must pick up.
CALENDAR_FIELDS = (
    "title", "description", "starts_at", "ends_at", "time_zone", "video_link", "location",
)
EDITABLE_FIELDS = (*CALENDAR_FIELDS, "capacity", "team")
MAX_SERIES = 104
# How far a change reaches: this session, or it and the later sessions of its series.
ONE, FUTURE = "one", "future"


@dataclass
class SessionPlan:
    """What a new session (or each session of a series) looks like."""

    title: str
    coach: object
    starts_at: datetime
    duration: timedelta
    time_zone: str = "UTC"
    description: str = ""
    team: object = None
    capacity: int | None = None
    video_link: str = ""
    location: str = ""
    audience: str = Audience.LIST
    company: object = None
    cohort: object = None
    engagement: object = None
    activity_block_id: str = ""
    co_coaches: list = field(default_factory=list)
    invitees: list = field(default_factory=list)


def _zone(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(_("Unknown time zone: %(zone)s") % {"zone": name}) from exc


def series_starts(first_start, recurrence, *, count=None, dates=(), time_zone="UTC"):
    """The start of every session of a series, at the same local time in ``time_zone``
    (a weekly 18:00 stays 18:00 across a daylight-saving change)."""
    tz = _zone(time_zone)
    local = first_start.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if recurrence == Recurrence.DATES:
        days = sorted(set(dates))
        if not days:
            raise InvalidSchedule(_("Give at least one date."))
    elif recurrence in (Recurrence.WEEKLY, Recurrence.FORTNIGHTLY):
        if not count or count < 1:
            raise InvalidSchedule(_("Give how many sessions the series has."))
        step = 7 if recurrence == Recurrence.WEEKLY else 14
        days = [local.date() + timedelta(days=step * i) for i in range(count)]
    else:
        raise InvalidSchedule(_("Unknown recurrence."))
    if len(days) > MAX_SERIES:
        raise InvalidSchedule(
            _("A series can have at most %(n)d sessions.") % {"n": MAX_SERIES}
        )
    return [_at(day, wall, tz) for day in days]


def _at(day: date, wall: time, tz):
    return datetime.combine(day, wall, tzinfo=tz).astimezone(ZoneInfo("UTC"))


def _check_plan(plan, now):
    _zone(plan.time_zone)
    if plan.duration <= timedelta(0):
        raise InvalidSchedule(_("A session must end after it starts."))
    if plan.capacity is not None and plan.capacity < 1:
        raise InvalidSchedule(_("A session needs at least one seat (or no limit)."))
    needs = {
        Audience.COMPANY: ("company", _("Choose the company.")),
        Audience.COHORT: ("cohort", _("Choose the cohort.")),
        Audience.ENGAGEMENT: ("engagement", _("Choose the engagement.")),
    }
    if plan.audience in needs:
        attr, message = needs[plan.audience]
        if getattr(plan, attr) is None:
            raise InvalidSchedule(message)
    elif plan.audience not in Audience.values:
        raise InvalidSchedule(_("Unknown audience."))


def create_sessions(plan, starts, *, recurrence=None, actor=None, invite=True, now=None):
    """Create one session per start (a series when there are several, or when
    ``recurrence`` is given) and, with ``invite``, send the invitations in the background.
    Returns the sessions."""
    now = now or timezone.now()
    _check_plan(plan, now)
    starts = sorted(starts)
    if not starts:
        raise InvalidSchedule(_("Give at least one date."))
    if starts[0] <= now:
        raise InvalidSchedule(_("Sessions must start in the future."))
    engagement = plan.engagement or (plan.cohort.engagement if plan.cohort else None)
    team = plan.team if plan.team is not None else getattr(engagement, "team", None)
    with transaction.atomic():
        series = None
        if recurrence or len(starts) > 1:
            series = SessionSeries.objects.create(
                title=plan.title, recurrence=recurrence or Recurrence.DATES, created_by=actor
            )
        sessions = GroupSession.objects.bulk_create([
            GroupSession(
                series=series, title=plan.title, description=plan.description, team=team,
                coach=plan.coach, starts_at=start, ends_at=start + plan.duration,
                time_zone=plan.time_zone, capacity=plan.capacity, video_link=plan.video_link,
                location=plan.location, audience=plan.audience, company=plan.company,
                cohort=plan.cohort, engagement=engagement,
                activity_block_id=plan.activity_block_id, created_by=actor,
            )
            for start in starts
        ])
        _set_people(sessions, "co_coaches", plan.co_coaches)
        _set_people(sessions, "invitees", plan.invitees if plan.audience == Audience.LIST else [])
        mirror_sessions(group=[s.pk for s in sessions])
        if invite and series is not None:
            # One invitation per person for the whole series.
            send_series_invitations_later(series)
        elif invite:
            for session in sessions:
                send_invitations_later(session)
    return sessions


def _set_people(sessions, name, users):
    through = getattr(GroupSession, name).through
    through.objects.filter(groupsession_id__in=[s.pk for s in sessions]).delete()
    through.objects.bulk_create([
        through(groupsession_id=s.pk, user_id=getattr(u, "pk", u))
        for s in sessions for u in dict.fromkeys(users)
    ])


def send_invitations_later(session):
    """Invite the session's audience in the background (a session of a series invited as
    one: with one email per person for the whole series)."""
    from ..tasks import enqueue, send_session_invitations

    series = calendar_series(session)
    if series is not None:
        send_series_invitations_later(series, [session.pk])
        return
    enqueue(send_session_invitations, session.pk)


def sessions_reached(session, scope):
    """The session alone, or it and the later sessions of its series (``scope=FUTURE``)."""
    if scope == FUTURE and session.series_id:
        return GroupSession.objects.filter(
            series_id=session.series_id, starts_at__gte=session.starts_at
        )
    return GroupSession.objects.filter(pk=session.pk)


def later_in_series(session):
    """How many scheduled sessions of the series come after this one (what "this and all
    later sessions" would also reach)."""
    if not session.series_id:
        return 0
    return GroupSession.objects.filter(
        series_id=session.series_id, starts_at__gt=session.starts_at,
        status=SessionStatus.SCHEDULED,
    ).count()


def session_coaches(session):
    """The coach and co-coaches of a session, coach first."""
    people = [session.coach, *session.co_coaches.exclude(pk=session.coach_id)]
    return [p for p in people if p.is_active]


def update_sessions(session, changes, *, scope=ONE, actor=None, now=None):
    """Change one session, or it and all later ones of its series (``scope="future"``).

    A new start moves each session by the same amount (all future sessions of a weekly
    series keep their rhythm). A change attendees' calendars show raises SEQUENCE and sends
    everyone holding the session an updated invitation; more seats promote the waitlist;
    fewer seats than are taken is refused. Returns the sessions changed.
    """
    now = now or timezone.now()
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidSchedule(_("These cannot be changed here: %s") % ", ".join(sorted(unknown)))
    if "time_zone" in changes:
        _zone(changes["time_zone"])
    changed, shown = [], []
    series = calendar_series(session)
    with transaction.atomic():
        if series is not None:
            series = SessionSeries.objects.select_for_update().get(pk=series.pk)
        sessions = list(sessions_reached(session, scope).select_for_update().order_by("starts_at"))
        base = next(s for s in sessions if s.pk == session.pk)
        shift = changes["starts_at"] - base.starts_at if "starts_at" in changes else None
        length = base.ends_at - base.starts_at  # a new start alone keeps the length
        if "ends_at" in changes:
            length = changes["ends_at"] - changes.get("starts_at", base.starts_at)
        if length <= timedelta(0):
            raise InvalidSchedule(_("A session must end after it starts."))
        taken = seats_taken_by_session(sessions)
        for s in sessions:
            if s.is_cancelled:
                continue
            if s.starts_at <= now:
                raise SessionNotOpen(_("A session that has started cannot be changed."))
            new = dict(changes)
            if shift is not None or "ends_at" in changes:
                new["starts_at"] = s.starts_at + (shift or timedelta(0))
                new["ends_at"] = new["starts_at"] + length
                if new["starts_at"] <= now:
                    raise InvalidSchedule(_("Sessions must start in the future."))
            if "capacity" in new and new["capacity"] is not None:
                if new["capacity"] < 1:
                    raise InvalidSchedule(_("A session needs at least one seat (or no limit)."))
                if new["capacity"] < taken.get(s.pk, 0):
                    raise InvalidSchedule(
                        _("%(n)d people already hold seats in “%(title)s” on %(day)s.") % {
                            "n": taken[s.pk], "title": s.title,
                            "day": s.starts_at.date().isoformat(),
                        }
                    )
            diff = {k: v for k, v in new.items() if getattr(s, k) != v}
            if not diff:
                continue
            for key, value in diff.items():
                setattr(s, key, value)
            visible_change = bool(set(diff) & set(CALENDAR_FIELDS))
            if visible_change:
                s.sequence += 1
            s.save(update_fields=[*diff, "sequence", "updated_at"])
            changed.append(s)
            if visible_change and series is not None:
                shown.append(s)
            elif visible_change:
                queue_notifications(_everyone(s, "session_updated", "REQUEST"))
            if "capacity" in diff:
                fill_seats(s, now=now)
        # A series held as one event: one email per person for the whole change.
        if series is not None:
            series_changed(series, shown, kind="session_updated",
                           coach_kind="coach_session_updated", now=now)
        mirror_sessions(group=[s.pk for s in changed])
    return changed


def _holders(session):
    return [
        r for r in session.registrations.filter(status__in=CALENDAR_STATUSES)
        .select_related("user").order_by("pk")
    ]


def _everyone(session, kind, method):
    """``kind`` to everyone holding the session in their calendar and ``coach_<kind>`` to
    its coaches, each at their own SEQUENCE. The video link is only in the copies of
    people with a seat (and the coaches')."""
    event = msg.group_event(session)
    without_link = msg.group_event(session, with_link=False)
    key = f"group:{session.pk}"
    out = [
        msg.calendar_message(r.user, kind, key,
                             event if holds_seat(r) else without_link,
                             method=method, sequence=session.sequence + r.revision)
        for r in _holders(session)
    ]
    out += [
        msg.calendar_message(c, f"coach_{kind}", f"{key}:coach", event, method=method,
                             sequence=session.sequence)
        for c in session_coaches(session)
    ]
    return out


def cancel_sessions(session, *, scope=ONE, actor=None, now=None):
    """Cancel one session, or it and all later ones of its series. Everyone who holds it in
    their calendar gets a cancellation (METHOD:CANCEL, STATUS:CANCELLED); the waitlist is
    told by email. Returns the sessions cancelled."""
    now = now or timezone.now()
    done = []
    series = calendar_series(session)
    with transaction.atomic():
        if series is not None:
            series = SessionSeries.objects.select_for_update().get(pk=series.pk)
        for s in sessions_reached(session, scope).select_for_update().order_by("starts_at"):
            if s.is_cancelled:
                continue
            if s.ends_at <= now:
                if s.pk == session.pk:
                    raise SessionNotOpen(_("A session that is over cannot be cancelled."))
                continue
            s.status = SessionStatus.CANCELLED
            s.sequence += 1
            s.save(update_fields=["status", "sequence", "updated_at"])
            done.append(s)
            if series is not None:
                continue
            # The waitlist never had it in their calendar: an email is enough.
            waitlist = [
                msg.plain_message(r.user, "session_cancelled", f"group:{s.pk}:{r.user_id}:"
                                  "waitlist", msg.group_event(s))
                for r in s.registrations.filter(
                    status=RegistrationStatus.WAITLISTED
                ).select_related("user")
            ]
            queue_notifications([*_everyone(s, "session_cancelled", "CANCEL"), *waitlist])
        if series is not None and done:
            # One email per person: the series without these dates (EXDATE), or one
            # CANCEL of the whole series for whoever has no date left in it.
            series_changed(series, done, kind="session_cancelled",
                           coach_kind="coach_session_cancelled",
                           cancel_kind="session_cancelled", now=now)
            _tell_series_waitlist(series, done)
        mirror_sessions(group=[s.pk for s in done])
    return done


def _tell_series_waitlist(series, cancelled):
    """One plain email per person waiting for any of the ``cancelled`` sessions."""
    waiting = {}
    for r in (
        Registration.objects.filter(session__in=cancelled, status=RegistrationStatus.WAITLISTED)
        .select_related("user", "session").order_by("session__starts_at", "pk")
    ):
        waiting.setdefault(r.user_id, r)
    queue_notifications([
        msg.plain_message(r.user, "session_cancelled",
                          f"series:{series.pk}:{r.user_id}:waitlist:{series.sequence}",
                          msg.group_event(r.session, with_link=False))
        for r in waiting.values()
    ])


def change_coach(session, coach, *, actor=None, now=None, notify=True):
    """Give the session another coach: it shows in their dashboard and calendar; the
    previous coach's calendar copy is cancelled (in a series held as one event: the
    series is updated for both, each with the occurrences they lead). ``notify=False``:
    the caller tells the coaches of a series (``coaches_changed``) once for many
    sessions."""
    now = now or timezone.now()
    with transaction.atomic():
        s = GroupSession.objects.select_for_update().select_related("coach").get(pk=session.pk)
        if s.is_cancelled or s.ends_at <= now:
            raise SessionNotOpen(_("This session is cancelled or over."))
        if s.coach_id == coach.pk:
            return s
        previous = s.coach
        s.coach = coach
        s.sequence += 1
        s.save(update_fields=["coach", "sequence", "updated_at"])
        s.co_coaches.remove(coach)
        mirror_sessions(group=[s.pk])
        series = calendar_series(s)
        if series is not None:
            if notify:
                coaches_changed(series, {coach.pk, previous.pk})
            return s
        event = msg.group_event(s)
        key = f"group:{s.pk}:coach"
        queue_notifications([
            msg.calendar_message(coach, "coach_session_assigned", key, event, method="REQUEST",
                                 sequence=s.sequence),
            msg.calendar_message(previous, "coach_session_unassigned", key, event,
                                 method="CANCEL", sequence=s.sequence),
        ])
    return s

def coaches_changed(series, coach_ids):
    """Who leads the sessions of ``series`` changed: each of ``coach_ids`` gets the series
    with the occurrences they lead now (or a cancellation when they lead none)."""
    if not coach_ids:
        return 0
    raise_sequence(series)
    return queue_notifications(coach_messages(
        series, coach_ids, "coach_session_assigned", cancel_kind="coach_session_unassigned",
        sessions=series_sessions(series),
    ))


def change_co_coaches(session_ids, co_coaches, *, now=None, notify=True):
    """Set the co-coaches of these sessions. Those added get the session in their calendar,
    those removed a cancellation; SEQUENCE rises so the new copy supersedes the old one.
    In a series held as one event, each coach concerned gets the series once. Returns
    ``(series, coach ids)`` for each such series (what ``notify=False`` leaves to the
    caller).
    """
    now = now or timezone.now()
    concerned = {}
    with transaction.atomic():
        sessions = GroupSession.objects.select_for_update().filter(pk__in=session_ids)
        for s in sessions.prefetch_related("co_coaches"):
            if s.is_cancelled or s.ends_at <= now:
                raise SessionNotOpen(_("This session is cancelled or over."))
            wanted = {c.pk: c for c in co_coaches if c.pk != s.coach_id}
            current = {c.pk: c for c in s.co_coaches.all()}
            added = [c for pk, c in wanted.items() if pk not in current]
            removed = [c for pk, c in current.items() if pk not in wanted]
            if not added and not removed:
                continue
            s.co_coaches.set(list(wanted.values()))
            s.sequence += 1
            s.save(update_fields=["sequence", "updated_at"])
            mirror_sessions(group=[s.pk])
            series = calendar_series(s)
            if series is not None:
                concerned.setdefault(series.pk, (series, set()))[1].update(
                    c.pk for c in (*added, *removed))
                continue
            event = msg.group_event(s)
            key = f"group:{s.pk}:coach"
            queue_notifications([
                *(msg.calendar_message(c, "coach_session_assigned", key, event,
                                       method="REQUEST", sequence=s.sequence)
                  for c in added if c.is_active),
                *(msg.calendar_message(c, "coach_session_unassigned", key, event,
                                       method="CANCEL", sequence=s.sequence)
                  for c in removed),
            ])
        if notify:
            for series, coach_ids in concerned.values():
                coaches_changed(series, coach_ids)
    return list(concerned.values())
