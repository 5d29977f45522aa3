"""An engagement's program as an automation rule names it: its activities and stages by
block id, their titles, and the choices an error message lists."""

from django.utils.translation import gettext as _

from ...journeys.program import flatten_program, program_stages

# Block ids listed in an error message, at most.
CHOICES_SHOWN = 12


class Program:
    """An engagement's program as the rules refer to it: activities and stages by block id."""

    def __init__(self, engagement):
        self.engagement = engagement
        self.activities = {}
        self.stages = {}
        if engagement is not None:
            self.activities = {s.block_id: s for s in flatten_program(engagement.program)}
            self.stages = program_stages(engagement.program)

    def activity_title(self, block_id):
        spec = self.activities.get(block_id)
        return f"“{spec.title}”" if spec else block_id

    def stage_title(self, block_id):
        stage = self.stages.get(block_id)
        return f"“{stage.title}”" if stage else block_id

    def activity_choices(self, kind=None):
        return _choices_text([
            f"{s.title} ({s.block_id})" for s in self.activities.values()
            if kind is None or s.kind == kind
        ])

    def stage_choices(self):
        return _choices_text([f"{s.title} ({s.block_id})" for s in self.stages.values()])


def _choices_text(items):
    if not items:
        return _("none")
    text = ", ".join(items[:CHOICES_SHOWN])
    return text + (", …" if len(items) > CHOICES_SHOWN else "")
