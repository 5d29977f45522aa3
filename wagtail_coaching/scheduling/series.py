"""A series in people's calendars: one recurring event per person instead of one per session.

A series created as one (``SessionSeries.one_invitation``) is invited once: each person
gets one email whose calendar file holds the series under the series' UID, listing the
occurrences *they* are in. Every later change (an occurrence moved, retitled or cancelled,
a person registering for or leaving one occurrence, a seat freed up, another coach) sends
each person it concerns one email with the whole series as it is now (``METHOD:REQUEST``,
same UID, higher SEQUENCE), and a person left with no occurrence (the whole series
cancelled, or they left the last one they were in) gets one ``METHOD:CANCEL``.

Why the whole series each time rather than a ``CANCEL`` of one instance with its
RECURRENCE-ID: a REQUEST carrying the master with its EXDATEs and overrides is the state,
not a step, so a calendar that missed an earlier email, or gets two out of order, still ends
right (the higher SEQUENCE wins). Calendar clients handle a full update of a recurring
event; a per-instance CANCEL depends on the client matching the RECURRENCE-ID exactly, and
that is where they disagree.

Which occurrences a person's copy holds: those they are invited to, registered for, or
attended (the registrations of each session decide, one per session as before). An
occurrence they left, declined or wait for, and a cancelled one, is an EXDATE. The video
link is in the occurrences where they hold a seat, never in the others.

A person's SEQUENCE is the series' plus, for each of their registrations in it, one and its
revision: it rises with every change to the series and with every change of their own
(a new registration, registering after an invitation, leaving), so each email supersedes
the previous one and the dedup key (series, person, SEQUENCE, method) never repeats for
a different content, while a retry of the same change never sends twice.
"""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from ..models import (
    GroupSession,
    Recurrence,
    Registration,
    RegistrationStatus,
    SessionSeries,
    SessionStatus,
)
from ..notifications.outbox import queue_notifications
from . import messages as msg
from .seats import calendar_keepers, holds_seat, kept_in_calendar

# The rhythm of a regular series, in days (the calendar's RRULE); a list of dates has none.
INTERVAL_DAYS = {Recurrence.WEEKLY: 7, Recurrence.FORTNIGHTLY: 14}


def calendar_series(session):
    """The series whose calendars hold ``session`` as one event, or None (a session on its
    own, or a series from before series were invited as one)."""
    if not session.series_id:
        return None
    series = session.series
    return series if series.one_invitation else None


def raise_sequence(series):
    """Raise the series' SEQUENCE (a change every copy must supersede); returns it."""
    SessionSeries.objects.filter(pk=series.pk).update(sequence=F("sequence") + 1)
    series.sequence = SessionSeries.objects.values_list("sequence", flat=True).get(pk=series.pk)
    return series.sequence


def series_sessions(series):
    """Every session of the series, in order, with their co-coaches (two queries)."""
    return list(
        GroupSession.objects.filter(series=series).prefetch_related("co_coaches")
        .order_by("starts_at", "pk")
    )


def _key(series, coach=False):
    return f"series:{series.pk}:coach" if coach else f"series:{series.pk}"


def _spec(series, occurrences):
    return {
        "uid": series.uid,
        "time_zone": occurrences[0]["time_zone"],
        "interval_days": INTERVAL_DAYS.get(series.recurrence),
        "occurrences": occurrences,
    }


def _occurrence(session, *, with_link, cancelled=False, registration=None, now=None):
    event = msg.group_event(session, with_link=with_link)
    event["cancelled"] = cancelled or session.is_cancelled
    event["called_off"] = session.is_cancelled
    event["seat"] = registration is not None and holds_seat(registration)
    if (
        registration is not None and registration.status == RegistrationStatus.INVITED
        and not event["cancelled"] and session.starts_at > now
    ):
        from .invites import ACCEPT, DECLINE, rsvp_token

        event["accept_path"] = reverse(
            "wagtail_coaching:rsvp", args=[rsvp_token(registration, ACCEPT)])
        event["decline_path"] = reverse(
            "wagtail_coaching:rsvp", args=[rsvp_token(registration, DECLINE)])
    return event


def client_messages(series, user_ids, kind, *, cancel_kind=None, sessions=None, now=None):
    """One message per person of ``user_ids`` with the series as their calendar holds it
    now: ``kind`` as an update (``METHOD:REQUEST``), or ``cancel_kind`` as a
    ``METHOD:CANCEL`` for someone left with no occurrence (nobody is written to when it is
    None). ``kind`` may be a function of the person's registrations. A fixed number of
    queries, however many people and occurrences."""
    now = now or timezone.now()
    sessions = sessions if sessions is not None else series_sessions(series)
    by_id = {s.pk: s for s in sessions}
    registrations = defaultdict(list)
    users = {}
    for r in (
        Registration.objects.filter(session_id__in=list(by_id), user_id__in=list(user_ids))
        .select_related("user").order_by("user_id", "pk")
    ):
        registrations[r.user_id].append(r)
        users[r.user_id] = r.user
    out = []
    for user_id, regs in registrations.items():
        user = users[user_id]
        if not user.is_active:
            continue
        sequence = series.sequence + sum(r.revision + 1 for r in regs)
        occurrences = [
            _occurrence(by_id[r.session_id], with_link=holds_seat(r),
                        cancelled=not kept_in_calendar(r), registration=r, now=now)
            for r in sorted(regs, key=lambda r: (by_id[r.session_id].starts_at, r.pk))
        ]
        live = any(not o["cancelled"] for o in occurrences)
        if live:
            method, chosen = "REQUEST", kind(regs) if callable(kind) else kind
        elif cancel_kind:
            method, chosen = "CANCEL", cancel_kind
        else:
            continue
        out.append(msg.series_message(user, chosen, _key(series), _spec(series, occurrences),
                                      method=method, sequence=sequence))
    return out


def coach_messages(series, coach_ids, kind, *, cancel_kind, sessions=None):
    """One message per coach of ``coach_ids`` with the occurrences they lead (as coach or
    co-coach), or ``cancel_kind`` as a ``METHOD:CANCEL`` for one who leads none any more."""
    sessions = sessions if sessions is not None else series_sessions(series)
    led = defaultdict(list)
    for s in sessions:
        for person in {s.coach_id, *(c.pk for c in s.co_coaches.all())}:
            led[person].append(s)
    users = get_user_model().objects.filter(pk__in=list(coach_ids), is_active=True)
    out = []
    for coach in users.order_by("pk"):
        mine = led.get(coach.pk, [])
        if mine and any(not s.is_cancelled for s in mine):
            method, chosen = "REQUEST", kind
            occurrences = [_occurrence(s, with_link=True) for s in mine]
        else:
            # Nothing left to lead: cancel the copy, whose occurrences were the series'.
            method, chosen = "CANCEL", cancel_kind
            occurrences = [_occurrence(s, with_link=False, cancelled=True)
                           for s in (mine or sessions)]
        out.append(msg.series_message(coach, chosen, _key(series, coach=True),
                                      _spec(series, occurrences), method=method,
                                      sequence=series.sequence))
    return out


def coaches_of(sessions):
    """The coaches and co-coaches of ``sessions`` (their co-coaches prefetched), by id."""
    return {p for s in sessions for p in (s.coach_id, *(c.pk for c in s.co_coaches.all()))}


def holders_of(sessions):
    """The people holding any of ``sessions`` in their calendar (invited or with a seat)."""
    return set(
        calendar_keepers(Registration.objects.filter(session__in=list(sessions)))
        .values_list("user_id", flat=True)
    )


def series_changed(series, changed, *, kind, coach_kind, cancel_kind=None,
                   coach_cancel_kind=None, now=None):
    """After ``changed`` (sessions of ``series``) changed in a way calendars show: raise the
    series' SEQUENCE once and send each person holding any of them, and each of their
    coaches, one email with the series as it is now. Call it inside the change's
    transaction."""
    if not changed:
        return 0
    raise_sequence(series)
    sessions = series_sessions(series)
    changed_ids = {s.pk for s in changed}
    touched = [s for s in sessions if s.pk in changed_ids]
    return queue_notifications([
        *client_messages(series, holders_of(touched), kind, cancel_kind=cancel_kind,
                         sessions=sessions, now=now),
        *coach_messages(series, coaches_of(touched), coach_kind,
                        cancel_kind=coach_cancel_kind or coach_kind, sessions=sessions),
    ])


def person_changed(series, user, kind, *, cancel_kind=None, now=None):
    """After one person's registration in the series changed: their one email."""
    return client_messages(series, [user.pk], kind, cancel_kind=cancel_kind, now=now)


def _invitation_kind(registrations):
    invited = any(r.status == RegistrationStatus.INVITED for r in registrations)
    return "session_invitation" if invited else "session_confirmed"


def send_series_invitations(series_id, session_ids=None, *, batch_size=None, now=None):
    """Invite the audience to the open sessions of a series (or to ``session_ids`` of it)
    and send each person, and each coach, one email with the series as one event.

    The sessions of a series share their audience (they are created from one plan and the
    audience is not edited afterwards), so it is read once. Safe to run any number of
    times: registrations are inserted with conflicts ignored, and a second run finds the
    same SEQUENCE for everyone, so their dedup keys are taken and nothing is sent twice.
    A fixed number of queries per batch of people, however many occurrences.
    """
    from ..conf import coaching_settings
    from .invites import audience_members

    now = now or timezone.now()
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    series = SessionSeries.objects.filter(pk=series_id, one_invitation=True).first()
    if series is None:
        return 0
    sessions = series_sessions(series)
    targets = [
        s for s in sessions
        if s.status == SessionStatus.SCHEDULED and s.starts_at > now
        and (session_ids is None or s.pk in set(session_ids))
    ]
    if not targets:
        return 0
    queued = queue_notifications(coach_messages(
        series, coaches_of(targets), "coach_session_assigned",
        cancel_kind="coach_session_unassigned", sessions=sessions,
    ))
    member_ids = list(audience_members(targets[0]).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(member_ids), batch_size):
        chunk = member_ids[start:start + batch_size]
        with transaction.atomic():
            Registration.objects.bulk_create(
                [Registration(session=s, user_id=user_id, invited_at=now)
                 for s in targets for user_id in chunk],
                ignore_conflicts=True,
            )
            queued += queue_notifications(client_messages(
                series, chunk, _invitation_kind, sessions=sessions, now=now
            ))
    return queued


def send_series_invitations_later(series, session_ids=None):
    from ..tasks import enqueue
    from ..tasks import send_series_invitations as job

    enqueue(job, series.pk, list(session_ids) if session_ids is not None else None)
