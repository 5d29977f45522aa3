"""The program of an engagement: stages holding activities."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from .activities import ActivityStreamBlock


class StageBlock(blocks.StructBlock):
    title = blocks.CharBlock(max_length=200, label=_("Stage title"))
    description = blocks.TextBlock(required=False, label=_("Description"))
    activities = ActivityStreamBlock(min_num=1)

    class Meta:
        icon = "list-ol"
        label = _("Stage")


class ProgramBlock(blocks.StreamBlock):
    stage = StageBlock()

    class Meta:
        label = _("Program")
