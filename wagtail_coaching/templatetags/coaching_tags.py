"""Template helpers for the client pages: labels, hints and the viewer's time zone.

Everything here works on rows already loaded by the views (no queries of its own), so the
dashboard keeps a fixed number of queries however long a journey is.
"""

from datetime import datetime

from django import template
from django.conf import settings
from django.shortcuts import resolve_url
from django.template.defaultfilters import date as date_filter
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..blocks import ACTIVITY_BLOCKS, UnlockRule
from ..models import ActivityState
from ..utils import people, time_zones
from ..utils.dates import before_full_stop as _before_full_stop
from ..utils.money import format_amount
from ..utils.urls import with_next

register = template.Library()

# Short labels for the client's eyes (the block labels are written for editors).
KIND_LABELS = {
    "lesson": _("Lesson"),
    "form": _("Questionnaire"),
    "practice": _("Practice"),
    "check_in": _("Check-in"),
    "feedback": _("Feedback"),
    "one_to_one": _("1:1 sessions"),
    "group_session": _("Group session"),
}

STATE_LABELS = {
    ActivityState.AVAILABLE: _("Open"),
    ActivityState.COMPLETED: _("Done"),
    ActivityState.SKIPPED: _("Skipped"),
    ActivityState.LOCKED: _("Not open yet"),
    ActivityState.REMOVED: _("Removed"),
}

CADENCE_LABELS = {
    "once": _("Do this once."),
    "daily": _("Do this every day."),
    "weekly": _("Do this every week."),
}


@register.filter
def kind_label(kind):
    """A client-facing name for an activity type ("lesson" → "Lesson")."""
    if kind in KIND_LABELS:
        return KIND_LABELS[kind]
    block = ACTIVITY_BLOCKS.get(kind)
    return block.meta.label if block is not None else kind


@register.filter
def state_label(state):
    return STATE_LABELS.get(state, state)


@register.filter
def cadence_label(cadence):
    return CADENCE_LABELS.get(cadence, "")


@register.filter
def unlock_rule_label(rule):
    """The editor's wording of an unlock rule, for program previews."""
    try:
        return UnlockRule(rule).label
    except ValueError:
        return rule


@register.filter
def waiting_on_coach(journey):
    """Locked steps of a journey that a coach opens by hand (at most three)."""
    rows = [
        row
        for stage in journey.stages
        for row in stage.activities
        if row.state == ActivityState.LOCKED and row.unlock_rule == UnlockRule.MANUAL
    ]
    return rows[:3]


@register.filter
def contains_step(stage, step):
    """Whether ``step`` is one of ``stage``'s activities (to open that stage by default)."""
    if step is None:
        return False
    return any(row.pk == step.pk for row in stage.activities)


@register.simple_tag
def stage_titles(page):
    """Titles of an engagement's stages, read from the stored program without loading any
    activity content: all a visitor is shown of the program."""
    program = getattr(page, "program", None)
    if program is None:
        return []
    return [
        (stage.get("value") or {}).get("title") or ""
        for stage in program.raw_data
        if stage.get("type") == "stage"
    ]


@register.filter
def display_name(user):
    """A person's name as people read it (``utils.people.display_name``)."""
    return people.display_name(user)


@register.simple_tag
def user_time_zone(user):
    """The zone to show times in for ``user`` (their Wagtail profile, else the default)."""
    return time_zones.user_time_zone(user)


@register.filter
def file_extension(document):
    try:
        return document.file_extension.upper()
    except (AttributeError, ValueError):
        return ""


@register.filter
def one_to_one_steps(journey):
    """The 1:1 steps of a journey, each with its ``allotment`` (set by the dashboard's read
    model, ``journeys.queries.client_dashboard``)."""
    return [
        row
        for stage in journey.stages
        for row in stage.activities
        if row.kind == "one_to_one" and getattr(row, "allotment", None) is not None
    ]


@register.filter
def open_practices(journey):
    """The open steps of a journey that are practices with a cadence, each with its
    ``practice`` status (set by the read models, ``journeys.queries``)."""
    return [
        row
        for stage in journey.stages
        for row in stage.activities
        if row.state == ActivityState.AVAILABLE and getattr(row, "practice", None) is not None
    ]


# -- Account links for any site's header ---------------------------------------------------
# Logout URL names to try, in order: django-allauth's, then django.contrib.auth's.
LOGOUT_URL_NAMES = ("account_logout", "logout")


def _reverse_or_none(name):
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@register.inclusion_tag("wagtail_coaching/includes/account_links.html", takes_context=True)
def coaching_account_links(context):
    """"My coaching", "Profile" (with the package's accounts URLs) and "Sign out" for a
    signed-in visitor, "Sign in" for anyone else, for
    the package's header or a host's own (``{% coaching_account_links %}``). A link whose URL
    does not resolve is left out: sign-out posts to allauth's ``account_logout``, else
    ``logout``; sign-in goes to ``settings.LOGIN_URL``, back to the page it was asked from."""
    request = context.get("request")
    user = getattr(request, "user", None)
    path = getattr(request, "path", "")
    login_url = resolve_url(settings.LOGIN_URL) if settings.LOGIN_URL else ""
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "signed_in": bool(user is not None and user.is_authenticated),
        "dashboard_url": _reverse_or_none("wagtail_coaching:dashboard"),
        # The client's profile, where the package's accounts URLs are installed.
        "profile_url": _reverse_or_none("account_profile"),
        "logout_url": next(filter(None, map(_reverse_or_none, LOGOUT_URL_NAMES)), None),
        # No "Sign in" on the sign-in page itself.
        "login_url": with_next(login_url, path) if login_url and login_url != path else "",
        "current_path": path,
    }


# -- Session times in emails ---------------------------------------------------------------
# Emails are not rendered in anyone's "current" zone: a session's times are shown in the
# session's own zone, named, so every reader can place them.

def _in_zone(value, zone_name):
    """An aware datetime (or ISO 8601 string) in the zone ``zone_name`` (UTC if unknown)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    return value.astimezone(time_zones.known_zone(zone_name) or time_zones.UTC)


def _day_and_time(local):
    return gettext("%(weekday)s, %(day)s, %(time)s") % {
        "weekday": date_filter(local, "l"),
        "day": date_filter(local, "DATE_FORMAT"),
        "time": date_filter(local, "TIME_FORMAT"),
    }


@register.filter
def before_full_stop(value):
    """``{{ when|before_full_stop }}.``: a formatted date or time that a sentence's full
    stop follows, without its own ("10 a.m." and not "10 a.m..")."""
    return _before_full_stop(value)


@register.filter
def session_time(value, zone_name):
    """``"2030-03-04T16:00:00+00:00"|session_time:"Europe/Paris"`` → "Monday, March 4,
    2030, 5 p.m. (Europe/Paris)": the day and time in the session's zone, named."""
    local = _in_zone(value, zone_name)
    if local is None:
        return ""
    return f"{_day_and_time(local)} ({local.tzinfo.key})"


@register.simple_tag
def session_when(starts_at, ends_at, zone_name):
    """Start and end of a session in its zone: "Monday, March 4, 2030, 5 p.m.–6 p.m.
    (Europe/Paris)" (the end's date too when it falls on another day)."""
    start = _in_zone(starts_at, zone_name)
    if start is None:
        return ""
    end = _in_zone(ends_at, zone_name)
    if end is None:
        return f"{_day_and_time(start)} ({start.tzinfo.key})"
    end_text = (
        date_filter(end, "TIME_FORMAT") if end.date() == start.date() else _day_and_time(end)
    )
    return f"{_day_and_time(start)}–{end_text} ({start.tzinfo.key})"


@register.filter
def iso_date(value):
    """``"2030-03-04"|iso_date`` → a date, for ``|date`` (a date written into a message's
    payload as text); anything else → None."""
    from datetime import date

    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@register.filter
def money(amount, currency):
    """``amount`` (major units) in ``currency`` as the active language writes it: €49.00."""
    if amount is None or not currency:
        return ""
    return format_amount(amount, currency)
