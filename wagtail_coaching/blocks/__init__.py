from .activities import (
    ACTIVITY_BLOCKS,
    ActivityStreamBlock,
    CheckInBlock,
    FeedbackBlock,
    FormBlock,
    GroupSessionStepBlock,
    LessonBlock,
    OneToOneSessionsBlock,
    PracticeBlock,
    QuestionBlock,
)
from .program import ProgramBlock, StageBlock
from .unlock import UnlockRule, UnlockRuleBlock

__all__ = [
    "ACTIVITY_BLOCKS",
    "ActivityStreamBlock",
    "CheckInBlock",
    "FeedbackBlock",
    "FormBlock",
    "GroupSessionStepBlock",
    "LessonBlock",
    "OneToOneSessionsBlock",
    "PracticeBlock",
    "ProgramBlock",
    "QuestionBlock",
    "StageBlock",
    "UnlockRule",
    "UnlockRuleBlock",
]
