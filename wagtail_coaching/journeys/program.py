"""Reading an engagement's program: the flat list of activities, and one activity's block."""

import datetime
from dataclasses import dataclass

from ..blocks import ACTIVITY_BLOCKS, UnlockRule
from ..models import EngagementPage

# Set by ``read_as_live`` on a page its caller has just read from the database.
_READ_LIVE = "_coaching_read_live"


def live_engagement(engagement):
    """The engagement (a page or its id) as published, re-read from the database, or None.

    The instance in hand is never trusted: it may hold a draft program (``save_revision``
    without publishing) or be stale after an unpublish, and neither may reach a client.
    The one exception is a page ``read_as_live`` vouches for: read from the database in
    the caller's transaction a moment ago, so not read twice.
    """
    if getattr(engagement, _READ_LIVE, False):
        return engagement
    pk = getattr(engagement, "pk", engagement)
    return EngagementPage.objects.filter(pk=pk, live=True).first()


def read_as_live(engagement):
    """``engagement``, a page its caller has just read from the database (its row holds the
    published program: drafts live in revisions), as ``live_engagement`` returns it; None
    when it is not published. Only for an instance fresh from a query, never one kept."""
    if not engagement.live:
        return None
    setattr(engagement, _READ_LIVE, True)
    return engagement


@dataclass(frozen=True)
class ActivitySpec:
    """One activity of a program, as copied into each client's rows."""

    block_id: str
    kind: str
    title: str
    stage_block_id: str
    stage_title: str
    stage_position: int
    position: int
    unlock_rule: str
    unlock_days: int | None
    unlock_date: datetime.date | None

    def row_fields(self):
        return {
            "kind": self.kind,
            "title": self.title,
            "stage_block_id": self.stage_block_id,
            "stage_title": self.stage_title,
            "stage_position": self.stage_position,
            "position": self.position,
            "unlock_rule": self.unlock_rule,
            "unlock_days": self.unlock_days,
            "unlock_date": self.unlock_date,
        }


def _parse_date(value):
    if not value:
        return None
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(value)


def _unlock_fields(raw_value):
    unlock = (raw_value or {}).get("unlock") or {}
    rule = unlock.get("rule") or UnlockRule.IMMEDIATELY
    if rule not in UnlockRule.values:
        rule = UnlockRule.MANUAL
    days = unlock.get("days")
    return rule, (int(days) if days not in (None, "") else None), _parse_date(unlock.get("date"))


def flatten_program(program):
    """The program's activities in journey order, read from the stored JSON.

    Reads ``raw_data`` so that no block's ``to_python`` runs: no document or image queries,
    however large the program.
    """
    specs = []
    for stage_position, stage in enumerate(program.raw_data):
        if stage.get("type") != "stage":
            continue
        stage_value = stage.get("value") or {}
        for position, activity in enumerate(stage_value.get("activities") or []):
            if activity.get("type") not in ACTIVITY_BLOCKS:
                continue
            value = activity.get("value") or {}
            rule, days, date = _unlock_fields(value)
            specs.append(
                ActivitySpec(
                    block_id=activity["id"],
                    kind=activity["type"],
                    title=(value.get("title") or "")[:255],
                    stage_block_id=stage.get("id") or "",
                    stage_title=(stage_value.get("title") or "")[:255],
                    stage_position=stage_position,
                    position=position,
                    unlock_rule=rule,
                    unlock_days=days,
                    unlock_date=date,
                )
            )
    return specs


@dataclass(frozen=True)
class StageSpec:
    block_id: str
    title: str
    position: int


def program_stages(program):
    """The program's stages by block id, for placing extra activities."""
    return {
        stage.get("id"): StageSpec(
            block_id=stage.get("id"),
            title=((stage.get("value") or {}).get("title") or "")[:255],
            position=index,
        )
        for index, stage in enumerate(program.raw_data)
        if stage.get("type") == "stage"
    }


def stage_lead_roles(program):
    """Map of stage block id to the role leading it, for stages led by a specific role."""
    return {
        stage.get("id"): (stage.get("value") or {}).get("lead_role")
        for stage in program.raw_data
        if stage.get("type") == "stage" and (stage.get("value") or {}).get("lead_role")
    }


def activity_values(program, kind):
    """{block id: stored value} of the program's activities of type ``kind``, read from the
    stored JSON (no block's ``to_python`` runs)."""
    values = {}
    for stage in program.raw_data:
        if stage.get("type") != "stage":
            continue
        for activity in (stage.get("value") or {}).get("activities") or []:
            if activity.get("type") == kind and activity.get("id"):
                values[activity["id"]] = activity.get("value") or {}
    return values


def activity_block(activity):
    """(block, value) for a client's activity: from the live program, or the row's own value.

    Returns ``(None, None)`` when a program activity is no longer in the published program.
    """
    kind_block = ACTIVITY_BLOCKS.get(activity.kind)
    if kind_block is None:
        return None, None
    if activity.value is not None:
        return kind_block, kind_block.to_python(activity.value)
    program = activity.enrollment.engagement.program
    for stage in program:
        if stage.block_type != "stage":
            continue
        for child in stage.value["activities"]:
            if child.id == activity.block_id:
                return child.block, child.value
    return None, None
