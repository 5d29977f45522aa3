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
from .calendar import (
    CalendarEvent,
    Occurrence,
    SeriesEvent,
    build_ics,
    build_series_ics,
    invite_email_part,
)


def _path(name, *args):
    try:
        return reverse(f"wagtail_coaching:{name}", args=args)
    except NoReverseMatch:
        return ""


def group_event(session, *, with_link=True):
    """The calendar fields of a group session (without attendees or SEQUENCE).

    ``with_link=False`` leaves the video link out of every field (description, location,
    URL): it is only for people with a seat and the coaches (``seats.holds_seat``).
    """
    link = session.video_link if with_link else ""
    details = [session.description] if session.description else []
    if link:
        details.append(f"Join: {link}")
    return {
        "uid": session.uid,
        "start": session.starts_at.isoformat(),
        "end": session.ends_at.isoformat(),
        "summary": session.title,
        "description": "\n\n".join(details),
        "location": session.location or link,
        "url": link,
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
        # Booked or held (or missed) it took place in the calendar; only a cancelled one is
        # taken out of it.
        "status": "CANCELLED" if session.status in ("cancelled", "late_cancelled")
        else "CONFIRMED",
    }


def calendar_message(user, kind, key, event, *, method, sequence, payload=None):
    """An email to ``user`` with ``event`` as an iTIP ``method`` at ``sequence``.

    ``key`` names the session (``group:12``); the dedup key adds the person, the SEQUENCE
    and the method.
    """
    event = {**event, "sequence": sequence, "attendees": [[user.email, person_name(user)]]}
    return _calendar_email(user, kind, key, method, sequence, {
        "title": event["summary"],
        "starts_at": event["start"],
        "ends_at": event["end"],
        "time_zone": event["time_zone"],
        "video_link": event["url"],
        "location": event["location"],
        **(payload or {}),
        "calendar": {"method": method, "event": event},
    })


def _calendar_email(user, kind, key, method, sequence, payload):
    """The email carrying a calendar file: one per person, SEQUENCE and method, so a retry
    or a second run of the same change never sends it twice."""
    return Message(
        recipient_id=user.pk,
        kind=kind,
        dedup_key=f"{key}:{user.pk}:{sequence}:{method}",
        payload={
            "recipient_name": person_name(user),
            "sessions_path": _path("sessions"),
            **payload,
        },
    )


def series_message(user, kind, key, series, *, method, sequence, payload=None):
    """An email to ``user`` with a whole series as one recurring event.

    ``series``: ``uid``, ``time_zone``, ``interval_days`` and ``occurrences``
    (``group_event`` fields of each occurrence in the person's calendar, plus
    ``cancelled``: not in their calendar, an EXDATE; and, for the email's text,
    ``called_off``: the session is cancelled, ``seat``: they hold one, ``accept_path`` and
    ``decline_path``).
    ``key`` names the series (``series:3``); the dedup key adds the person, the SEQUENCE
    and the method, as for one session.
    """
    occurrences = series["occurrences"]
    live = [o for o in occurrences if not o["cancelled"]] or occurrences
    first = live[0]
    event = {
        "uid": series["uid"],
        "sequence": sequence,
        "time_zone": series["time_zone"],
        "interval_days": series.get("interval_days"),
        "attendees": [[user.email, person_name(user)]],
        "occurrences": [
            {name: o.get(name, "") for name in (
                "start", "end", "summary", "description", "location", "url")}
            | {"cancelled": bool(o["cancelled"])}
            for o in occurrences
        ],
    }
    return _calendar_email(user, kind, key, method, sequence, {
        "title": first["summary"],
        "starts_at": first["start"],
        "ends_at": first["end"],
        "time_zone": series["time_zone"],
        "video_link": "",
        "location": first.get("location", "") if first.get("location") != first.get(
            "url") else "",
        "occurrences": [
            {
                "starts_at": o["start"], "ends_at": o["end"], "title": o["summary"],
                "video_link": o.get("url", ""), "cancelled": bool(o["cancelled"]),
                "called_off": bool(o.get("called_off")), "seat": bool(o.get("seat")),
                "accept_path": o.get("accept_path", ""),
                "decline_path": o.get("decline_path", ""),
            }
            for o in occurrences
        ],
        **(payload or {}),
        "calendar": {"method": method, "series": event},
    })


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
    if "series" in spec:
        return invite_email_part(build_series_ics(series_event(spec["series"]),
                                                  spec["method"]), spec["method"])
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


def series_event(spec):
    """The :class:`SeriesEvent` a series message's payload describes."""
    return SeriesEvent(
        uid=spec["uid"],
        sequence=spec["sequence"],
        occurrences=[
            Occurrence(
                start=datetime.fromisoformat(o["start"]),
                end=datetime.fromisoformat(o["end"]),
                summary=o["summary"],
                description=o.get("description", ""),
                location=o.get("location", ""),
                url=o.get("url", ""),
                cancelled=o.get("cancelled", False),
            )
            for o in spec["occurrences"]
        ],
        organizer_email=coaching_settings.from_email,
        organizer_name=coaching_settings.ORGANIZER_NAME,
        attendees=[tuple(a) for a in spec.get("attendees", [])],
        time_zone=spec.get("time_zone", "UTC"),
        interval_days=spec.get("interval_days"),
    )
