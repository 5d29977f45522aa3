"""What an automation rule does, as StreamField blocks (one block per action, run in order)."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from ..notifications.kinds import rule_messages
from .activities import ActivityStreamBlock
from .roles import coaching_role_choices

RECIPIENTS = [
    ("client", _("The client")),
    ("coach", _("The client's coach")),
    ("admins", _("The coaching admins")),
]
CHANNELS = [
    ("email", _("Email")),
    ("in_app", _("In the app")),
    ("both", _("Email and in the app")),
]


def message_template_choices():
    return list(rule_messages().items())


class UnlockActivityBlock(blocks.StructBlock):
    activity_block_id = blocks.CharBlock(
        max_length=64, label=_("Activity"),
        help_text=_("The step of the engagement's published program to open."),
    )

    class Meta:
        icon = "lock-open"
        label = _("Open an activity")


class UnlockNextBlock(blocks.StructBlock):
    kind = blocks.ChoiceBlock(
        choices=[("", _("Any"))] + [
            (name, block.label) for name, block in ActivityStreamBlock.base_blocks.items()
        ],
        required=False, label=_("Of type"),
    )

    class Meta:
        icon = "lock-open"
        label = _("Open the next locked activity")


class AddActivityBlock(blocks.StructBlock):
    activity = ActivityStreamBlock(min_num=1, max_num=1, label=_("Activity"))
    stage_block_id = blocks.CharBlock(
        max_length=64, required=False, label=_("In stage"),
        help_text=_("A stage of the engagement's published program; empty: at the end of "
                    "the journey."),
    )

    class Meta:
        icon = "plus"
        label = _("Add an extra activity")


class AssignCoachBlock(blocks.StructBlock):
    role = blocks.ChoiceBlock(choices=coaching_role_choices, required=False, label=_("Role"))
    hand_off = blocks.BooleanBlock(
        required=False, label=_("Hand off"),
        help_text=_("Tell the client's coach that a colleague in this role takes over."),
    )

    class Meta:
        icon = "user"
        label = _("Assign a coach (engagement's policy)")


class NotifyBlock(blocks.StructBlock):
    recipient = blocks.ChoiceBlock(choices=RECIPIENTS, default="client", label=_("To"))
    channel = blocks.ChoiceBlock(choices=CHANNELS, default="email", label=_("How"))
    template = blocks.ChoiceBlock(
        choices=message_template_choices, default="custom", label=_("Message"),
    )
    subject = blocks.CharBlock(
        max_length=200, required=False, label=_("Subject"),
        help_text=_("For a custom message. {{ client_name }}, {{ engagement_title }}, "
                    "{{ coach_name }} are replaced."),
    )
    body = blocks.TextBlock(required=False, label=_("Text"))

    class Meta:
        icon = "mail"
        label = _("Send a notification")


class FlagAtRiskBlock(blocks.StructBlock):
    reason = blocks.CharBlock(max_length=200, required=False, label=_("Reason"))

    class Meta:
        icon = "warning"
        label = _("Flag as at risk")


class ClearAtRiskBlock(blocks.StaticBlock):
    class Meta:
        icon = "tick"
        label = _("Clear the at-risk flag")
        admin_text = _("Clears the flag.")


class EnrollBlock(blocks.StructBlock):
    engagement = blocks.PageChooserBlock(
        page_type="wagtail_coaching.EngagementPage", label=_("Engagement")
    )

    class Meta:
        icon = "plus-inverse"
        label = _("Enroll in a follow-up engagement")


class RuleActionsBlock(blocks.StreamBlock):
    unlock_activity = UnlockActivityBlock()
    unlock_next = UnlockNextBlock()
    add_activity = AddActivityBlock()
    assign_coach = AssignCoachBlock()
    notify = NotifyBlock()
    flag_at_risk = FlagAtRiskBlock()
    clear_at_risk = ClearAtRiskBlock()
    enroll = EnrollBlock()

    class Meta:
        label = _("Actions")
