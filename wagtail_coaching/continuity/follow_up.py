"""After a held session: the summary shared with the client, a note in the existing tiers,
one or two follow-up practices added to the client's journey, and one message that carries
the summary and the practices.

``record_one_to_one`` (a 1:1 session, held or no-show) and ``record_group_session`` (a
group session's attendance) take what the coach wrote in one form, change everything in one
transaction and tell each client once: the message's dedup key is the session and the
client, so recording the session again never sends a second one. A practice given after
that message went out is announced as any step that opens.

A group session's summary goes to every attendee, and its practices to every attendee with
a journey in the session's engagement: a coach sets one piece of work for the group (a
client's own extra can still be added from their card).
"""

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import linebreaks
from django.utils.translation import gettext as _

from ..blocks import UnlockRule
from ..journeys.care import add_note
from ..journeys.progress import add_extra_activity
from ..models import (
    ActivityState,
    CoachingSession,
    CoachingSessionStatus,
    Enrollment,
    FollowUpPractice,
    GroupSession,
    NoteVisibility,
    Notification,
    NotificationChannel,
    Registration,
    RegistrationStatus,
)
from ..notifications.outbox import Message, queue_notifications
from ..scheduling.attendance import mark_attendance
from ..scheduling.booking import record_session
from ..scheduling.errors import InvalidSchedule
from ..scheduling.seats import seat_holders
from ..utils.people import display_name

# Practices one session gives one client.
MAX_PRACTICES = 2
CADENCES = ("once", "daily", "weekly")
KIND = "after_session"


@dataclass(frozen=True)
class PracticePlan:
    """A practice to add to the client's journey: open at once, or on ``opens_on``."""

    title: str
    instructions: str
    cadence: str = "once"
    opens_on: date | None = None


@dataclass(frozen=True)
class FollowUp:
    """What the coach records after a session (each part optional)."""

    summary: str = ""
    note: str = ""
    note_visibility: str = NoteVisibility.COACH
    practices: tuple = field(default_factory=tuple)


def _path(name, *args):
    try:
        return reverse(f"wagtail_coaching:{name}", args=args)
    except NoReverseMatch:
        return ""


def check_follow_up(follow_up, today=None):
    """Refuse a follow-up that cannot be recorded (nothing changes): too many practices, a
    practice without a title or instructions, an unknown cadence, a date already past."""
    today = today or timezone.localdate()
    if len(follow_up.practices) > MAX_PRACTICES:
        raise InvalidSchedule(_("Give at most two practices after a session."))
    for plan in follow_up.practices:
        if not plan.title.strip() or not plan.instructions.strip():
            raise InvalidSchedule(_("A practice needs a title and instructions."))
        if plan.cadence not in CADENCES:
            raise InvalidSchedule(_("Choose how often the practice is done."))
        if plan.opens_on is not None and plan.opens_on < today:
            raise InvalidSchedule(_("A practice cannot open on a date that has passed."))
    if follow_up.note.strip() and follow_up.note_visibility not in NoteVisibility.values:
        raise InvalidSchedule(_("Choose who can see the note."))


def practice_value(plan):
    """The raw block value of a follow-up practice (instructions as paragraphs)."""
    return {
        "title": plan.title.strip(),
        "lead_role": "",
        "instructions": linebreaks(plan.instructions.strip(), autoescape=True),
        "cadence": plan.cadence,
    }


def _unlock(plan):
    if plan.opens_on is None:
        return {"rule": UnlockRule.IMMEDIATELY}
    return {"rule": UnlockRule.ON_DATE, "date": plan.opens_on}


def _dedup_key(prefix, session_pk, user_id, channel):
    return f"after-session:{prefix}:{session_pk}:{user_id}:{channel}"


def _already_told(prefix, session_pk, user_ids):
    """The clients who already had the message about this session."""
    keys = [_dedup_key(prefix, session_pk, uid, NotificationChannel.EMAIL) for uid in user_ids]
    return set(
        Notification.objects.filter(dedup_key__in=keys).values_list("recipient_id", flat=True)
    )


def _give_practices(enrollment, plans, actor, now, announce, **session):
    """Add ``plans`` to ``enrollment``'s journey (at its end, so that they hold up no step
    of the program), linked to the session. Returns the new rows."""
    existing = FollowUpPractice.objects.filter(
        activity__enrollment=enrollment, **session
    ).count()
    if existing + len(plans) > MAX_PRACTICES:
        raise InvalidSchedule(_("This session already gave its practices (two at most)."))
    rows = []
    for plan in plans:
        row = add_extra_activity(
            enrollment, "practice", practice_value(plan), actor=actor, unlock=_unlock(plan),
            now=now, announce=announce,
        )
        FollowUpPractice.objects.create(activity=row, created_by=actor, **session)
        rows.append(row)
    return rows


def _practice_items(rows):
    return [
        {
            "title": row.title,
            "path": _path("activity", row.public_id),
            "open": row.state == ActivityState.AVAILABLE,
            "opens_on": row.unlock_date.isoformat() if row.unlock_date else "",
            "cadence": (row.value or {}).get("cadence", "once"),
        }
        for row in rows
    ]


def after_session_messages(user, prefix, session_pk, payload, practices):
    """The one message about a session to ``user``: by email and in the app. It opens the
    first practice open now, else the sessions page where the summary is."""
    items = _practice_items(practices)
    first_open = next((item["path"] for item in items if item["open"] and item["path"]), "")
    payload = {
        **payload,
        "practices": items,
        "recipient_name": display_name(user),
        "sessions_path": _path("sessions"),
        "activity_path": first_open,
    }
    return [
        Message(
            recipient_id=user.pk, kind=KIND, payload=payload, channel=channel,
            dedup_key=_dedup_key(prefix, session_pk, user.pk, channel),
        )
        for channel in (NotificationChannel.EMAIL, NotificationChannel.IN_APP)
    ]


def _session_payload(title, coach, session):
    return {
        "title": title,
        "coach_name": display_name(coach),
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "time_zone": session.time_zone,
        "summary": session.summary,
    }


# -- 1:1 sessions ------------------------------------------------------------------------------

def record_one_to_one(session, *, outcome, follow_up=FollowUp(), actor=None, now=None):
    """Record a 1:1 session as held or no-show with what the coach wrote after it.

    Practices are for a held session. When the session is held and has a summary or
    practices, the client gets the one message about it (once). Returns the session.
    """
    now = now or timezone.now()
    check_follow_up(follow_up, timezone.localdate(now))
    held = outcome == CoachingSessionStatus.COMPLETED
    if follow_up.practices and not held:
        raise InvalidSchedule(_("Practices follow a session that was held."))
    enrollment = session.enrollment
    client = enrollment.client
    with transaction.atomic():
        # The session first, then the journey: the order ``record_session`` takes them in.
        CoachingSession.objects.select_for_update().only("pk").get(pk=session.pk)
        told = _already_told("one-to-one", session.pk, [client.pk])
        # The practices come first: completing the 1:1 step may complete the journey,
        # which then takes no new step.
        if held:
            _give_practices(
                enrollment, follow_up.practices, actor, now, announce=bool(told),
                coaching_session=session,
            )
        session = record_session(
            session, outcome=outcome, summary=follow_up.summary, actor=actor, now=now,
        )
        if follow_up.note.strip():
            add_note(
                enrollment, author=actor, body=follow_up.note,
                visibility=follow_up.note_visibility, now=now, coaching_session=session,
            )
        if held and not told:
            given = [f.activity for f in FollowUpPractice.objects.filter(
                coaching_session=session
            ).select_related("activity").order_by("pk")]
            if session.summary or given:
                payload = {
                    **_session_payload(enrollment.engagement.title, session.coach, session),
                    "engagement_title": enrollment.engagement.title,
                    "one_to_one": True,
                }
                queue_notifications(
                    after_session_messages(client, "one-to-one", session.pk, payload, given)
                )
    return session


# -- Group sessions ----------------------------------------------------------------------------

def _attendees_after(session, marks):
    """Who will have attended once ``marks`` are applied (user ids)."""
    attended = set(
        Registration.objects.filter(session=session, status=RegistrationStatus.ATTENDED)
        .values_list("user_id", flat=True)
    )
    for user_id, outcome in marks.items():
        if outcome == RegistrationStatus.ATTENDED:
            attended.add(user_id)
        else:
            attended.discard(user_id)
    return attended


def journey_enrollments(session, user_ids):
    """{user id: the enrollment the session belongs to} for attendees who have one (as
    ``scheduling.seats.journey_enrollment``, for many attendees in one query)."""
    engagement_id = session.engagement_id or (
        session.cohort.engagement_id if session.cohort_id else None
    )
    if engagement_id is None or not user_ids:
        return {}
    found = {}
    for enrollment in (
        Enrollment.objects.filter(client_id__in=user_ids, engagement_id=engagement_id)
        .exclude(status="cancelled").select_related("engagement", "client")
        .order_by("-created_at", "-pk")
    ):
        found.setdefault(enrollment.client_id, enrollment)
    return found


def everyone_attended(session):
    """Marks for "everyone attended": each person holding a seat."""
    user_ids = seat_holders(
        Registration.objects.filter(session=session)
    ).values_list("user_id", flat=True)
    return dict.fromkeys(user_ids, RegistrationStatus.ATTENDED)


def record_group_session(session, marks, *, follow_up=FollowUp(), actor=None, now=None):
    """Take a group session's attendance (``marks``: user id -> attended / no-show) with
    what the coach wrote after it: the summary (for every attendee), a note and practices
    (in each attendee's journey). Each attendee gets the one message about the session once,
    when it has a summary or gave them practices. Returns the registrations whose outcome
    changed."""
    now = now or timezone.now()
    check_follow_up(follow_up, timezone.localdate(now))
    with transaction.atomic():
        # The session first, then the journeys: the order ``mark_attendance`` takes them in.
        GroupSession.objects.select_for_update().only("pk").get(pk=session.pk)
        attendees = sorted(_attendees_after(session, marks))
        told = _already_told("group", session.pk, attendees)
        enrollments = journey_enrollments(session, attendees)
        summary = follow_up.summary.strip()
        if summary and summary != session.summary:
            session.summary = summary
            session.save(update_fields=["summary", "updated_at"])
        for user_id in attendees:
            enrollment = enrollments.get(user_id)
            if enrollment is None:
                continue
            if follow_up.practices and enrollment.is_open:
                _give_practices(
                    enrollment, follow_up.practices, actor, now,
                    announce=user_id in told, group_session=session,
                )
            if follow_up.note.strip():
                add_note(
                    enrollment, author=actor, body=follow_up.note,
                    visibility=follow_up.note_visibility, now=now, group_session=session,
                )
        # Attendance is taken last: the step it completes may complete the journey.
        changed = mark_attendance(session, marks, actor=actor, now=now)
        _tell_attendees(session, attendees, told, enrollments)
    return changed


def _tell_attendees(session, attendees, told, enrollments):
    waiting = [uid for uid in attendees if uid not in told]
    if not waiting:
        return
    given = {}
    for f in FollowUpPractice.objects.filter(
        group_session=session, activity__enrollment__client_id__in=waiting
    ).select_related("activity__enrollment").order_by("pk"):
        given.setdefault(f.activity.enrollment.client_id, []).append(f.activity)
    users = {
        r.user_id: r.user
        for r in Registration.objects.filter(session=session, user_id__in=waiting)
        .select_related("user")
    }
    messages = []
    for user_id in waiting:
        practices = given.get(user_id, [])
        if not (session.summary or practices):
            continue
        enrollment = enrollments.get(user_id)
        payload = {
            **_session_payload(session.title, session.coach, session),
            "engagement_title": enrollment.engagement.title if enrollment else "",
            "one_to_one": False,
        }
        messages += after_session_messages(
            users[user_id], "group", session.pk, payload, practices
        )
    queue_notifications(messages)


__all__ = [
    "FollowUp",
    "MAX_PRACTICES",
    "PracticePlan",
    "check_follow_up",
    "everyone_attended",
    "record_group_session",
    "record_one_to_one",
]
