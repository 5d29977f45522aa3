"""Activity blocks: the things a client does inside a stage.

Every activity has a title, an optional lead role and an unlock rule. The block type name is
stored on the client's copy (``ClientActivity.kind``) and picks the template and the form used
on the client site.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.embeds.blocks import EmbedBlock

from .roles import coaching_role_choices
from .unlock import UnlockRuleBlock


class BaseActivityBlock(blocks.StructBlock):
    title = blocks.CharBlock(max_length=200, label=_("Title"))
    unlock = UnlockRuleBlock()
    lead_role = blocks.ChoiceBlock(
        choices=coaching_role_choices, required=False, label=_("Led by")
    )

    # Whether the client can finish it on the site, or a coach marks it done.
    client_completes = True

    class Meta:
        abstract = True


class LessonBlock(BaseActivityBlock):
    body = blocks.RichTextBlock(label=_("Content"))
    video = EmbedBlock(required=False, label=_("Video"))
    document = DocumentChooserBlock(required=False, label=_("Document"))

    class Meta:
        icon = "doc-full"
        label = _("Lesson")


QUESTION_KINDS = [
    ("short_text", _("Short answer")),
    ("long_text", _("Paragraph")),
    ("number", _("Number")),
    ("choice", _("One choice")),
    ("multiple_choice", _("Several choices")),
    ("yes_no", _("Yes / no")),
    ("date", _("Date")),
]
CHOICE_KINDS = {"choice", "multiple_choice"}


class QuestionBlock(blocks.StructBlock):
    label = blocks.CharBlock(max_length=255, label=_("Question"))
    kind = blocks.ChoiceBlock(choices=QUESTION_KINDS, default="short_text", label=_("Type"))
    choices = blocks.TextBlock(
        required=False, label=_("Choices"), help_text=_("One per line, for choice questions.")
    )
    required = blocks.BooleanBlock(required=False, default=True, label=_("Required"))
    help_text = blocks.CharBlock(required=False, max_length=255, label=_("Help text"))

    class Meta:
        icon = "help"
        label = _("Question")

    def clean(self, value):
        value = super().clean(value)
        if value.get("kind") in CHOICE_KINDS:
            options = [c for c in (value.get("choices") or "").splitlines() if c.strip()]
            if len(options) < 2:
                raise StructBlockValidationError(
                    block_errors={"choices": ValidationError(_("Give at least two choices."))}
                )
        return value


class FormBlock(BaseActivityBlock):
    intro = blocks.RichTextBlock(required=False, label=_("Introduction"))
    questions = blocks.ListBlock(QuestionBlock(), min_num=1, label=_("Questions"))
    consent_text = blocks.CharBlock(
        required=False,
        max_length=500,
        label=_("Consent question"),
        help_text=_("If set, the client must tick this before submitting."),
    )

    class Meta:
        icon = "form"
        label = _("Form / intake")


# How often a practice is done, and the defaults of a practice stored before it had a target.
PRACTICE_CADENCES = [("once", _("Once")), ("daily", _("Daily")), ("weekly", _("Weekly"))]
DEFAULT_TIMES_PER_WEEK = 1
DEFAULT_PRACTICE_WEEKS = 1


class PracticeBlock(BaseActivityBlock):
    """Something the client does, once or again and again.

    A daily or weekly practice is logged each time the client does it, and the step is done
    when its target is met: ``weeks`` weeks at its cadence (daily for 2 weeks: 14 days
    practised; 3 times a week for 4 weeks: 12). ``journeys.practices`` reads these fields;
    a practice stored without them counts as once a week, for one week.
    """

    instructions = blocks.RichTextBlock(label=_("Instructions"))
    cadence = blocks.ChoiceBlock(
        choices=PRACTICE_CADENCES,
        default="once",
        label=_("Cadence"),
    )
    times_per_week = blocks.IntegerBlock(
        required=False,
        min_value=1,
        max_value=6,
        default=DEFAULT_TIMES_PER_WEEK,
        label=_("Days a week"),
        help_text=_("For a weekly practice: on how many days of each week (e.g. 3)."),
    )
    weeks = blocks.IntegerBlock(
        required=False,
        min_value=1,
        max_value=52,
        default=DEFAULT_PRACTICE_WEEKS,
        label=_("For how many weeks"),
        help_text=_(
            "A daily or weekly practice is done once the client has kept it up this many "
            "weeks' worth: daily for 2 weeks is 14 days practised."
        ),
    )

    class Meta:
        icon = "repeat"
        label = _("Practice")


class CheckInBlock(BaseActivityBlock):
    metric = blocks.CharBlock(
        max_length=100, label=_("What is measured"), help_text=_('e.g. "Stress today"')
    )
    low_label = blocks.CharBlock(max_length=50, required=False, label=_("Label for 0"))
    high_label = blocks.CharBlock(max_length=50, required=False, label=_("Label for 10"))

    class Meta:
        icon = "pick"
        label = _("Check-in (0-10)")


class FeedbackBlock(BaseActivityBlock):
    question = blocks.CharBlock(
        max_length=255,
        default=_("How satisfied are you so far?"),
        label=_("Satisfaction question"),
    )

    class Meta:
        icon = "openquote"
        label = _("Feedback (1-5)")


class OneToOneSessionsBlock(BaseActivityBlock):
    sessions = blocks.IntegerBlock(min_value=1, max_value=100, default=1, label=_("Sessions"))
    duration_minutes = blocks.IntegerBlock(
        min_value=15, max_value=480, default=60, label=_("Minutes per session")
    )
    description = blocks.RichTextBlock(required=False, label=_("Description"))

    client_completes = False

    class Meta:
        icon = "user"
        label = _("1:1 sessions")


class GroupSessionStepBlock(BaseActivityBlock):
    description = blocks.RichTextBlock(required=False, label=_("Description"))

    client_completes = False

    class Meta:
        icon = "group"
        label = _("Group session")


class ActivityStreamBlock(blocks.StreamBlock):
    lesson = LessonBlock()
    form = FormBlock()
    practice = PracticeBlock()
    check_in = CheckInBlock()
    feedback = FeedbackBlock()
    one_to_one = OneToOneSessionsBlock()
    group_session = GroupSessionStepBlock()

    class Meta:
        label = _("Activities")


ACTIVITY_BLOCKS = dict(ActivityStreamBlock.base_blocks)
