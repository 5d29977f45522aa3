"""Automation rules (the team's "when this happens, do that", as data), their firings, and
the bookkeeping of background work: jobs waiting to be sent and jobs that failed for good."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField

from ..blocks.automation import RuleActionsBlock


class Trigger(models.TextChoices):
    # Something happened (read from the journey timeline).
    ENROLLED = "enrolled", _("A client enrolls")
    ACTIVITY_COMPLETED = "activity_completed", _("An activity is completed")
    FORM_ANSWER = "form_answer", _("A form is answered with a given value")
    CHECK_IN_ABOVE = "check_in_above", _("A check-in score is above a threshold")
    CHECK_IN_BELOW = "check_in_below", _("A check-in score is below a threshold")
    SESSION_ATTENDED = "session_attended", _("A session is attended")
    SESSION_MISSED = "session_missed", _("A session is missed")
    PAYMENT_FAILED = "payment_failed", _("A payment fails")
    # Time passed (checked by the periodic job).
    NO_ACTIVITY = "no_activity", _("No activity for N days")
    ENROLLMENT_DAYS = "enrollment_days", _("N days after the enrollment starts")
    COHORT_DAYS = "cohort_days", _("N days after the cohort starts")
    ACCESS_END_DAYS = "access_end_days", _("N days before the access ends")
    SESSION_UPCOMING = "session_upcoming", _("N hours before a session")
    AT_RISK = "at_risk", _("The client becomes at risk")


EVENT_TRIGGERS = (
    Trigger.ENROLLED, Trigger.ACTIVITY_COMPLETED, Trigger.FORM_ANSWER, Trigger.CHECK_IN_ABOVE,
    Trigger.CHECK_IN_BELOW, Trigger.SESSION_ATTENDED, Trigger.SESSION_MISSED,
    Trigger.PAYMENT_FAILED,
)
TIMED_TRIGGERS = (
    Trigger.NO_ACTIVITY, Trigger.ENROLLMENT_DAYS, Trigger.COHORT_DAYS, Trigger.ACCESS_END_DAYS,
    Trigger.SESSION_UPCOMING, Trigger.AT_RISK,
)


class AutomationRule(models.Model):
    """When ``trigger`` happens to an enrollment that meets the conditions, run ``actions``.

    A rule fires at most once per enrollment and trigger occurrence (``RuleFiring``). Built-in
    rules carry a ``key``; they ship enabled and can be edited or paused like any other.
    """

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    key = models.SlugField(max_length=64, unique=True, null=True, blank=True, editable=False)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("A paused rule does nothing.")
    )
    engagement = models.ForeignKey(
        "wagtail_coaching.EngagementPage", null=True, blank=True, on_delete=models.CASCADE,
        related_name="automation_rules", verbose_name=_("engagement"),
        help_text=_("Empty: every engagement."),
    )
    trigger = models.CharField(_("when"), max_length=32, choices=Trigger.choices)
    # Trigger details; which ones apply depends on the trigger.
    days = models.IntegerField(_("days"), null=True, blank=True)
    hours = models.PositiveIntegerField(_("hours"), null=True, blank=True)
    activity_block_id = models.CharField(
        _("activity"), max_length=64, blank=True,
        help_text=_("A step of the engagement's program (stored by its block id, which "
                    "renaming or moving the step keeps); empty: any."),
    )
    question = models.CharField(_("question"), max_length=255, blank=True)
    value = models.CharField(_("answer"), max_length=255, blank=True)
    threshold = models.SmallIntegerField(_("threshold"), null=True, blank=True)
    # Conditions.
    stage_block_id = models.CharField(
        _("only in stage"), max_length=64, blank=True,
        help_text=_("The stage of the engagement's program (stored by its block id) the "
                    "client's current step is in; empty: any."),
    )
    company = models.ForeignKey(
        "wagtail_coaching.Company", null=True, blank=True, on_delete=models.CASCADE,
        related_name="+", verbose_name=_("only for company"),
    )
    tag = models.CharField(_("only with tag"), max_length=100, blank=True)
    actions = StreamField(RuleActionsBlock(), verbose_name=_("then"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Time-based rules only act on what comes due after this moment (a new rule does not
    # fire for everything that came due in the past).
    active_since = models.DateTimeField(_("active since"), null=True, blank=True)

    class Meta:
        verbose_name = _("automation rule")
        verbose_name_plural = _("automation rules")
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def is_timed(self):
        return self.trigger in TIMED_TRIGGERS


class RuleFiring(models.Model):
    """One firing of a rule for one enrollment and trigger occurrence (at most one)."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="firings")
    enrollment = models.ForeignKey(
        "wagtail_coaching.Enrollment", on_delete=models.CASCADE, related_name="rule_firings"
    )
    occurrence = models.CharField(max_length=200)
    fired_at = models.DateTimeField(db_index=True)
    # Which run inserted the row: lets a batch insert with conflicts ignored and then read
    # back exactly the firings it won.
    batch = models.UUIDField(default=uuid.uuid4, db_index=True)

    class Meta:
        verbose_name = _("rule firing")
        verbose_name_plural = _("rule firings")
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "enrollment", "occurrence"], name="coaching_rule_fires_once"
            )
        ]


class NotificationPreference(models.Model):
    """A kind of message a person has switched off (rows exist only for those)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
        related_name="coaching_notification_preferences",
    )
    kind = models.CharField(max_length=64)
    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="coaching_one_preference")
        ]


class PendingJob(models.Model):
    """A job written in the same transaction as the change that needs it, so that it is
    never lost: sent after commit, and re-sent by the sweeper if sending failed (the broker
    was down)."""

    actor_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("pending job")
        verbose_name_plural = _("pending jobs")
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(sent_at__isnull=True),
                name="coaching_unsent_jobs",
            )
        ]


class FailedJob(models.Model):
    """A job that failed and used up its retries, with its error, for the admin to retry."""

    message_id = models.CharField(max_length=64, unique=True)
    actor_name = models.CharField(_("job"), max_length=200)
    queue_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    options = models.JSONField(default=dict)
    error = models.TextField(_("error"))
    traceback = models.TextField(blank=True)
    failed_at = models.DateTimeField(_("failed"), db_index=True)
    retried_at = models.DateTimeField(_("retried"), null=True, blank=True)
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("failed job")
        verbose_name_plural = _("failed jobs")
        ordering = ["-failed_at", "-id"]

    def __str__(self):
        return f"{self.actor_name} ({self.failed_at:%Y-%m-%d %H:%M})"
