"""The unlock rule every activity carries."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError


class UnlockRule(models.TextChoices):
    IMMEDIATELY = "immediately", _("Immediately")
    AFTER_PREVIOUS = "after_previous", _("After the previous activity is completed")
    DAYS_AFTER_ENROLLMENT = "days_after_enrollment", _("N days after enrollment")
    DAYS_AFTER_COHORT_START = "days_after_cohort_start", _("N days after the cohort starts")
    ON_DATE = "on_date", _("On a date")
    MANUAL = "manual", _("Manually, by a coach")


DAY_RULES = {UnlockRule.DAYS_AFTER_ENROLLMENT, UnlockRule.DAYS_AFTER_COHORT_START}


class UnlockRuleBlock(blocks.StructBlock):
    rule = blocks.ChoiceBlock(
        choices=UnlockRule.choices, default=UnlockRule.AFTER_PREVIOUS, label=_("Unlocks")
    )
    days = blocks.IntegerBlock(
        required=False,
        min_value=0,
        max_value=3650,
        label=_("Days"),
        help_text=_("For the 'N days after' rules."),
    )
    date = blocks.DateBlock(
        required=False, label=_("Date"), help_text=_("For the 'on a date' rule.")
    )

    class Meta:
        label = _("Unlock rule")
        form_classname = "coaching-unlock-rule"

    def clean(self, value):
        value = super().clean(value)
        rule = value.get("rule")
        errors = {}
        if rule in DAY_RULES and value.get("days") is None:
            errors["days"] = ValidationError(_("Enter the number of days for this rule."))
        if rule == UnlockRule.ON_DATE and not value.get("date"):
            errors["date"] = ValidationError(_("Choose the date this activity unlocks."))
        if errors:
            raise StructBlockValidationError(block_errors=errors)
        return value
