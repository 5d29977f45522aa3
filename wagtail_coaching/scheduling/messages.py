"""Session emails with their calendar files, as outbox messages.

A message carries a snapshot of the event as it was when the change happened (times, title,
SEQUENCE), so the calendar file the sender builds later says exactly what was decided then,
even if the session changes again before the email goes out. The dedup key is the session,
the person, the SEQUENCE and the method: however often a job runs, each is sent once.
"""

from datetime import datetime

from django.urls import NoReverseMatch, reverse

from ..conf import coaching_settings
from ..notifications.outbox import Message
from ..utils.people import display_name as person_name
from .calendar import CalendarEvent, build_ics, invite_email_part


def _path(name, *args):
    try:
        return reverse(f"wagtail_coaching:{name}", args=args)
    except NoReverseMatch:
        return ""


def group_event(session):
    """The calendar fields of a group session (without attendees or SEQUENCE)."""
    details = [session.description] if session.description else []
    if session.video_link:
        details.append(f"Join: {session.video_link}")
    return {
        "uid": session.uid,
        "start": session.starts_at.isoformat(),
        "end": session.ends_at.isoformat(),
        "summary": session.title,
        "description": "\n\n".join(details),
        "location": session.location or session.video_link,
        "url": session.video_link,
        "time_zone": session.time_zone,
        "status": "CANCELLED" if session.is_cancelled else "CONFIRMED",
    }


def one_to_one_event(session, engagement_title, client, coach):
    details = [f"{person_name(client)} & {person_name(coach)}"]
    if session.video_link:
        details.append(f"Join: {session.video_link}")
    return {
        "uid": session.uid,
        "start": session.starts_at.isoformat(),
        "end": session.ends_at.isoformat(),
        "summary": f"1:1 · {engagement_title}",
        "description": "\n\n".join(details),
        "location": session.video_link,
        "url": session.video_link,
        "time_zone": session.time_zone,
        "status": "CONFIRMED" if session.status == "booked" else "CANCELLED",
    }


def calendar_message(user, kind, key, event, *, method, sequence, payload=None):
    """An email to ``user`` with ``event`` as an iTIP ``method`` at ``sequence``.

    ``key`` names the session (``group:12``); the dedup key adds the person, the SEQUENCE
    and the method.
    """
    event = {**event, "sequence": sequence, "attendees": [[user.email, person_name(user)]]}
    return Message(
        recipient_id=user.pk,
        kind=kind,
        dedup_key=f"{key}:{user.pk}:{sequence}:{method}",
        payload={
            "title": event["summary"],
            "starts_at": event["start"],
            "ends_at": event["end"],
            "time_zone": event["time_zone"],
            "video_link": event["url"],
            "location": event["location"],
            "recipient_name": person_name(user),
            "sessions_path": _path("sessions"),
            **(payload or {}),
            "calendar": {"method": method, "event": event},
        },
    )


def plain_message(user, kind, dedup_key, event, payload=None):
    """A session email without a calendar file (waitlist news, summaries)."""
    return Message(
        recipient_id=user.pk,
        kind=kind,
        dedup_key=dedup_key,
        payload={
            "title": event["summary"],
            "starts_at": event["start"],
            "ends_at": event["end"],
            "time_zone": event["time_zone"],
            "recipient_name": person_name(user),
            "sessions_path": _path("sessions"),
            **(payload or {}),
        },
    )


def calendar_attachment(payload):
    """The ``text/calendar`` part for a message's payload, or None when it has none."""
    spec = payload.get("calendar")
    if not spec:
        return None
    event = spec["event"]
    ics = build_ics(
        CalendarEvent(
            uid=event["uid"],
            sequence=event["sequence"],
            start=datetime.fromisoformat(event["start"]),
            end=datetime.fromisoformat(event["end"]),
            summary=event["summary"],
            description=event.get("description", ""),
            location=event.get("location", ""),
            url=event.get("url", ""),
            organizer_email=coaching_settings.from_email,
            organizer_name=coaching_settings.ORGANIZER_NAME,
            attendees=[tuple(a) for a in event.get("attendees", [])],
            status=event.get("status", "CONFIRMED"),
            time_zone=event.get("time_zone", "UTC"),
        ),
        spec["method"],
    )
    return invite_email_part(ics, spec["method"])
