"""An engagement's program as an automation rule names it: its published activities and
stages by block id (the id stays when a step is renamed or moved), their titles, the
editor's choices (steps grouped by stage), and what a rule shows for an id the published
program no longer has."""

import json

from django.utils.translation import gettext as _

from ...journeys.program import flatten_program, live_engagement, program_stages
from ...templatetags.coaching_tags import kind_label

# Block ids listed in an error message, at most.
CHOICES_SHOWN = 12
# Revisions searched, newest first, for the last title of a step that was removed.
REVISIONS_SEARCHED = 50


class Program:
    """An engagement's published program as the rules refer to it: activities and stages by
    block id. A draft never shows here: an engagement that was never published (or was
    unpublished) has no activities and no stages to choose from."""

    def __init__(self, engagement):
        self.engagement = engagement
        self.activities = {}
        self.stages = {}
        self._removed = None
        live = live_engagement(engagement) if engagement is not None else None
        self.published = live is not None
        if live is not None:
            self.activities = {s.block_id: s for s in flatten_program(live.program)}
            self.stages = program_stages(live.program)

    # Titles ----------------------------------------------------------------------------------

    def activity_title(self, block_id):
        spec = self.activities.get(block_id)
        return f"“{spec.title}”" if spec else self.removed_label(block_id)

    def stage_title(self, block_id):
        stage = self.stages.get(block_id)
        return f"“{stage.title}”" if stage else self.removed_label(block_id)

    def removed_label(self, block_id):
        """How a rule shows an id the published program does not have (any more)."""
        return _("(removed step: %(title)s)") % {
            "title": self.last_known_titles().get(block_id) or block_id}

    def last_known_titles(self):
        """{block id: title} of every stage and step found in the engagement's revisions
        (newest title wins), read once and only when an id is missing."""
        if self._removed is None:
            self._removed = _titles_in_revisions(self.engagement)
        return self._removed

    # Choices ---------------------------------------------------------------------------------

    def activity_groups(self):
        """[(stage title, [(block id, title, kind), ...]), ...] in journey order."""
        groups = {}
        for spec in self.activities.values():
            stage = groups.setdefault(spec.stage_block_id, (spec.stage_title, []))
            stage[1].append((spec.block_id, spec.title, spec.kind))
        return list(groups.values())

    def stage_options(self):
        return [(s.block_id, s.title) for s in self.stages.values()]

    def as_json(self):
        """The choices as the rule editor's script reads them."""
        return {
            "engagement": self.engagement.pk if self.engagement is not None else None,
            "published": self.published,
            "stages": [{"id": i, "title": t} for i, t in self.stage_options()],
            "activities": [
                {"stage": stage, "steps": [
                    {"id": i, "title": t, "kind": k, "kind_label": str(kind_label(k))}
                    for i, t, k in steps
                ]}
                for stage, steps in self.activity_groups()
            ],
        }

    # Error messages --------------------------------------------------------------------------

    def activity_choices(self, kind=None):
        return _choices_text([
            s.title for s in self.activities.values() if kind is None or s.kind == kind
        ])

    def stage_choices(self):
        return _choices_text([s.title for s in self.stages.values()])


def _choices_text(items):
    if not items:
        return _("none")
    text = ", ".join(f"“{item}”" for item in items[:CHOICES_SHOWN])
    return text + (", …" if len(items) > CHOICES_SHOWN else "")


def _titles_in_revisions(engagement):
    if engagement is None or not getattr(engagement, "pk", None):
        return {}
    from wagtail.models import Revision

    titles = {}
    revisions = Revision.page_revisions.filter(object_id=str(engagement.pk)).order_by(
        "-created_at", "-id"
    ).values_list("content", flat=True)[:REVISIONS_SEARCHED]
    for content in revisions:
        program = (content or {}).get("program") or []
        if isinstance(program, str):
            try:
                program = json.loads(program)
            except ValueError:
                continue
        for stage in program if isinstance(program, list) else []:
            if not isinstance(stage, dict) or stage.get("type") != "stage":
                continue
            value = stage.get("value") or {}
            titles.setdefault(stage.get("id"), value.get("title") or "")
            for activity in value.get("activities") or []:
                if isinstance(activity, dict):
                    titles.setdefault(
                        activity.get("id"), (activity.get("value") or {}).get("title") or ""
                    )
    return {block_id: title for block_id, title in titles.items() if block_id and title}
