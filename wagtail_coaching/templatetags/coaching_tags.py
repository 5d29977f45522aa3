"""Template helpers for the client pages: labels, hints and the viewer's time zone.

Everything here works on rows already loaded by the views (no queries of its own), so the
dashboard keeps a fixed number of queries however long a journey is.
"""

from django import template
from django.utils.translation import gettext_lazy as _

from ..blocks import ACTIVITY_BLOCKS, UnlockRule
from ..models import ActivityState

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


@register.simple_tag
def user_time_zone(user):
    """The zone to show times in for ``user`` (their Wagtail profile, else the default)."""
    from ..views.client import user_time_zone as zone_for

    return zone_for(user)


@register.filter
def file_extension(document):
    try:
        return document.file_extension.upper()
    except (AttributeError, ValueError):
        return ""
