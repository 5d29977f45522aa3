"""The program of an engagement: stages holding activities."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from .activities import ActivityStreamBlock
from .roles import coaching_role_choices


class StageBlock(blocks.StructBlock):
    title = blocks.CharBlock(max_length=200, label=_("Stage title"))
    description = blocks.TextBlock(required=False, label=_("Description"))
    lead_role = blocks.ChoiceBlock(
        choices=coaching_role_choices, required=False, label=_("Led by"),
        help_text=_("A stage led by another role hands the client over to a coach in it."),
    )
    activities = ActivityStreamBlock(min_num=1)

    class Meta:
        icon = "list-ol"
        label = _("Stage")


class ProgramBlock(blocks.StreamBlock):
    stage = StageBlock()

    class Meta:
        label = _("Program")
