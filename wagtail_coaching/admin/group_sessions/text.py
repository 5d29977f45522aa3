"""How a group session reads in the admin: its time, audience, seats, invite link and the
program step it completes."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ...journeys.program import flatten_program
from ...models import Audience
from ...utils.urls import absolute_url


def invite_url(session):
    """The shareable invite link, absolute (it goes into emails and chats)."""
    return absolute_url(reverse("wagtail_coaching:join", args=[session.invite_token]))


def when_text(session, zone=None):
    """"Tue 4 Mar 2025, 18:00–19:00" in ``zone`` (default: the active time zone)."""
    start = timezone.localtime(session.starts_at, zone)
    end = timezone.localtime(session.ends_at, zone)
    end_format = "H:i" if end.date() == start.date() else "D j M Y, H:i"
    return f"{date_format(start, 'D j M Y, H:i')}–{date_format(end, end_format)}"


def week_start(session, zone=None):
    day = timezone.localtime(session.starts_at, zone).date()
    return day - timedelta(days=day.weekday())


def week_label(monday):
    return _("Week of %(day)s") % {"day": date_format(monday, "j M Y")}


def audience_text(session):
    label = session.get_audience_display()
    target = {
        Audience.COMPANY: session.company,
        Audience.COHORT: session.cohort,
        Audience.ENGAGEMENT: session.engagement,
    }.get(session.audience)
    if target is None:
        return label
    return f"{label}: {getattr(target, 'title', None) or target}"


def seats_text(taken, capacity):
    if capacity is None:
        return _("%(taken)d / no limit") % {"taken": taken}
    return f"{taken} / {capacity}"


def group_session_steps(engagement):
    """The group-session steps of an engagement's program: {block id: title}."""
    return {
        spec.block_id: f"{spec.stage_title} · {spec.title}" if spec.stage_title else spec.title
        for spec in flatten_program(engagement.program)
        if spec.kind == "group_session"
    }
