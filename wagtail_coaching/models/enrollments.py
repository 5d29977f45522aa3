"""A client inside an engagement: the enrollment, its activities and its timeline."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase

from ..blocks.unlock import UnlockRule


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    # The client's data was erased (``portability.erase_client``): the journey ended there.
    # The row stays so that what happened before (completions, sessions, payments) still
    # counts; nothing acts on it any more.
    ERASED = "erased", _("Ended (data erased)")


# Statuses in which a client holds "the" enrollment of an engagement (at most one).
OPEN_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


class EnrollmentSource(models.TextChoices):
    ADMIN = "admin", _("Added by the team")
    OFFER = "offer", _("Offer")
    COHORT = "cohort", _("Cohort")
    IMPORT = "import", _("Import")


class Enrollment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="coaching_enrollments",
    )
    engagement = models.ForeignKey(
        "wagtail_coaching.EngagementPage",
        verbose_name=_("engagement"),
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
    )
    source = models.CharField(
        _("source"), max_length=20, choices=EnrollmentSource.choices,
        default=EnrollmentSource.ADMIN,
    )
    company = models.ForeignKey(
        "wagtail_coaching.Company", verbose_name=_("company"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="enrollments",
    )
    cohort = models.ForeignKey(
        "wagtail_coaching.Cohort", verbose_name=_("cohort"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="enrollments",
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("access ends"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # The page revision whose program the client's rows were last synced with.
    program_revision_id = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    # Set by automation (``metrics.at_risk``) or by a coach; cleared when the client is back.
    at_risk_since = models.DateTimeField(_("at risk since"), null=True, blank=True)
    at_risk_reason = models.CharField(_("why at risk"), max_length=200, blank=True)
    tags = TaggableManager(
        through="wagtail_coaching.TaggedEnrollment", blank=True, verbose_name=_("tags"),
        help_text=_("Labels automation rules can select clients by."),
    )

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "engagement"],
                condition=Q(status__in=OPEN_STATUSES),
                name="coaching_one_open_enrollment_per_client",
            )
        ]
        indexes = [models.Index(fields=["engagement", "status"])]

    def __str__(self):
        return f"{self.client} – {self.engagement_id}"

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def is_at_risk(self):
        return self.at_risk_since is not None


class TaggedEnrollment(TaggedItemBase):
    content_object = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="tagged_items"
    )


class ActivityState(models.TextChoices):
    LOCKED = "locked", _("Locked")
    AVAILABLE = "available", _("Available")
    COMPLETED = "completed", _("Completed")
    SKIPPED = "skipped", _("Skipped")
    REMOVED = "removed", _("Removed")


# States after which an "after the previous activity" rule lets the next one open.
DONE_STATES = (ActivityState.COMPLETED, ActivityState.SKIPPED)
# States in which the client may open an activity (a locked one shows only its title).
OPEN_TO_CLIENT_STATES = (ActivityState.AVAILABLE, *DONE_STATES)


class ActivitySource(models.TextChoices):
    PROGRAM = "program", _("Program")
    EXTRA = "extra", _("Extra for this client")


class ClientActivity(models.Model):
    """One activity of one client's journey.

    Program rows point at the engagement's StreamField block by ``block_id`` and take their
    content from the published page; extra rows carry their own block ``value``.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="activities",
        verbose_name=_("enrollment"),
    )
    source = models.CharField(
        max_length=10, choices=ActivitySource.choices, default=ActivitySource.PROGRAM
    )
    block_id = models.CharField(max_length=64)
    kind = models.CharField(_("type"), max_length=32)
    title = models.CharField(_("title"), max_length=255)
    stage_block_id = models.CharField(max_length=64, blank=True)
    stage_title = models.CharField(_("stage"), max_length=255, blank=True)
    stage_position = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)
    unlock_rule = models.CharField(
        max_length=32, choices=UnlockRule.choices, default=UnlockRule.IMMEDIATELY
    )
    unlock_days = models.PositiveIntegerField(null=True, blank=True)
    unlock_date = models.DateField(null=True, blank=True)
    # Raw block value of an extra activity (program rows read the page instead).
    value = models.JSONField(null=True, blank=True)

    state = models.CharField(
        _("state"), max_length=16, choices=ActivityState.choices, default=ActivityState.LOCKED
    )
    unlock_at = models.DateTimeField(_("unlocks at"), null=True, blank=True)
    unlocked_at = models.DateTimeField(_("unlocked"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    response = models.JSONField(_("response"), null=True, blank=True)
    score = models.SmallIntegerField(_("score"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("client activity")
        verbose_name_plural = _("client activities")
        ordering = ["stage_position", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "block_id"], name="coaching_one_row_per_block"
            )
        ]
        indexes = [
            # In the unlock job's order: a batch reads its rows off the index, even when a
            # whole cohort shares one unlock time (by unlock_at alone, every batch sorted
            # all the rows of that time again).
            models.Index(
                fields=["unlock_at", "id"],
                condition=Q(state="locked", unlock_at__isnull=False),
                name="coaching_due_unlocks",
            ),
            models.Index(fields=["enrollment", "stage_position", "position"]),
        ]

    def __str__(self):
        return self.title

    @property
    def is_open_to_client(self):
        return self.state in OPEN_TO_CLIENT_STATES


class EventKind(models.TextChoices):
    ENROLLED = "enrolled", _("Enrolled")
    UNLOCKED = "unlocked", _("Step opened")
    COMPLETED = "completed", _("Step completed")
    PRACTISED = "practised", _("Practice logged")
    SKIPPED = "skipped", _("Step skipped")
    EXTRA_ADDED = "extra_added", _("Extra activity added")
    PROGRAM_UPDATED = "program_updated", _("Program updated")
    ENROLLMENT_COMPLETED = "enrollment_completed", _("Engagement completed")
    STATUS_CHANGED = "status_changed", _("Status changed")
    COACH_ASSIGNED = "coach_assigned", _("Coach assigned")
    COACH_HANDOFF = "coach_handoff", _("Handed over to another coach")
    CO_COACH_ADDED = "co_coach_added", _("Co-coach added")
    CO_COACH_REMOVED = "co_coach_removed", _("Co-coach removed")
    STAGE_NEEDS_COACH = "stage_needs_coach", _("A stage needs a coach")
    NOTE_ADDED = "note_added", _("Note added")
    CONSENT_CHANGED = "consent_changed", _("Consent changed")
    PAID = "paid", _("Payment received")
    REFUNDED = "refunded", _("Payment refunded")
    DISPUTED = "disputed", _("Payment disputed")
    ACCESS_PAUSED = "access_paused", _("Access paused")
    ACCESS_RESUMED = "access_resumed", _("Access resumed")
    ACCESS_CHANGED = "access_changed", _("Access period changed")
    ACCESS_ENDED = "access_ended", _("Access ended")
    SESSION_REGISTERED = "session_registered", _("Registered for a group session")
    SESSION_ATTENDED = "session_attended", _("Attended a session")
    SESSION_MISSED = "session_missed", _("Missed a session")
    SESSION_BOOKED = "session_booked", _("Booked a 1:1 session")
    SESSION_RESCHEDULED = "session_rescheduled", _("Rescheduled a 1:1 session")
    SESSION_CANCELLED = "session_cancelled", _("Cancelled a session")
    SESSION_COACH_CHANGED = "session_coach_changed", _("1:1 session moved to the new coach")
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    RULE_FIRED = "rule_fired", _("Automation rule applied")
    AT_RISK = "at_risk", _("Flagged as at risk")
    BACK_ON_TRACK = "back_on_track", _("No longer at risk")
    ERASED = "erased", _("Client data anonymised")


# Timeline events the automation rules react to (see ``automation.dispatch``).
RULE_EVENT_KINDS = (
    EventKind.ENROLLED, EventKind.COMPLETED, EventKind.SESSION_ATTENDED,
    EventKind.SESSION_MISSED, EventKind.PAYMENT_FAILED,
)

# Timeline events that are the staff's business: the client's own timeline leaves them out
# (an automation's bookkeeping, risk flags, that a note was written).
STAFF_ONLY_EVENT_KINDS = (
    EventKind.RULE_FIRED, EventKind.AT_RISK, EventKind.BACK_ON_TRACK, EventKind.NOTE_ADDED,
    EventKind.ERASED, EventKind.STAGE_NEEDS_COACH,
)


class JourneyEvent(models.Model):
    """Append-only timeline of an enrollment."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="events"
    )
    activity = models.ForeignKey(
        ClientActivity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(db_index=True)
    data = models.JSONField(default=dict, blank=True)
    # Whether the automation rules have seen this event (bookkeeping, not history: the
    # dispatcher marks events it has handled, in batches, with SKIP LOCKED).
    rules_done = models.BooleanField(default=False, editable=False)

    class Meta:
        verbose_name = _("journey event")
        verbose_name_plural = _("journey events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["enrollment", "-at"]),
            models.Index(
                fields=["id"], name="coaching_events_for_rules",
                condition=Q(rules_done=False, kind__in=[
                    "enrolled", "completed", "session_attended", "session_missed",
                    "payment_failed",
                ]),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Journey events are append-only.")
        super().save(*args, **kwargs)
