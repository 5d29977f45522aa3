"""Session notes and client consent."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NoteVisibility(models.TextChoices):
    COACH = "coach", _("Only me")
    TEAM = "team", _("The coaching team")
    CLIENT = "client", _("Shared with the client")


class SessionNote(models.Model):
    """A note about a client's work. Never shown to sales managers or HR partners."""

    enrollment = models.ForeignKey(
        "wagtail_coaching.Enrollment", on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The 1:1 session the note is about, if any.
    coaching_session = models.ForeignKey(
        "wagtail_coaching.CoachingSession", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="notes",
    )
    # Or the group session it is about (a note written for each attendee's journey).
    group_session = models.ForeignKey(
        "wagtail_coaching.GroupSession", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="notes",
    )
    body = models.TextField(_("note"))
    visibility = models.CharField(
        _("visible to"), max_length=10, choices=NoteVisibility.choices,
        default=NoteVisibility.COACH,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("session note")
        verbose_name_plural = _("session notes")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Note {self.pk}"


class ConsentPurpose(models.TextChoices):
    SHARE_PROGRESS = "share_progress", _("Share my attendance and progress with my employer")


class Consent(models.Model):
    """A client's consent for one purpose, as it stands now (changes are in the timeline)."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_consents"
    )
    purpose = models.CharField(max_length=32, choices=ConsentPurpose.choices)
    granted = models.BooleanField()
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "purpose"], name="coaching_one_consent")
        ]
