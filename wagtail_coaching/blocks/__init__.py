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
from .landing import (
    FAQBlock,
    HeroBlock,
    OfferBodyBlock,
    PaywallBlock,
    PricingTableBlock,
    TestimonialsBlock,
)
from .program import ProgramBlock, StageBlock
from .unlock import UnlockRule, UnlockRuleBlock

__all__ = [
    "ACTIVITY_BLOCKS",
    "ActivityStreamBlock",
    "CheckInBlock",
    "FAQBlock",
    "FeedbackBlock",
    "FormBlock",
    "GroupSessionStepBlock",
    "HeroBlock",
    "LessonBlock",
    "OfferBodyBlock",
    "OneToOneSessionsBlock",
    "PaywallBlock",
    "PracticeBlock",
    "PricingTableBlock",
    "ProgramBlock",
    "QuestionBlock",
    "StageBlock",
    "TestimonialsBlock",
    "UnlockRule",
    "UnlockRuleBlock",
]
