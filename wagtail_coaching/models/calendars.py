"""A coach's own calendar, connected over CalDAV: the connection (its password encrypted at
rest), the busy times last read from it, and the entries written into it (the outbox of
calendar writes)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class CalendarConnection(models.Model):
    """One person's CalDAV account. ``secret`` holds the app password encrypted
    (``calendars.secrets``); it is never shown again and never leaves the server except
    towards the CalDAV server itself."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
        related_name="coaching_calendar_connection",
    )
    url = models.URLField(_("CalDAV address"), max_length=500)
    username = models.CharField(_("user name"), max_length=255)
    secret = models.TextField(editable=False)
    # The calendars found on the server: [{"url": ..., "name": ...}].
    calendars = models.JSONField(default=list, blank=True, editable=False)
    # Those whose events make the person busy (URLs among ``calendars``).
    busy_calendars = models.JSONField(default=list, blank=True)
    # The one that receives the sessions the person leads ("" : none).
    write_calendar = models.CharField(max_length=500, blank=True)
    # The last time the busy times were read successfully.
    synced_at = models.DateTimeField(null=True, blank=True)
    # Failing: since when, how many times in a row, and what went wrong (for people).
    failing_since = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # When the periodic job reads the busy times next (later after failures: backoff).
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("calendar connection")
        verbose_name_plural = _("calendar connections")

    def __str__(self):
        return f"Calendar connection of {self.user}"


class CalendarBusyTime(models.Model):
    """A time the person is busy in one of their chosen calendars, as last read (UTC).
    Replaced as a whole at every successful read."""

    connection = models.ForeignKey(
        CalendarConnection, on_delete=models.CASCADE, related_name="busy_times"
    )
    # The connection's user, kept here so that the busy rule needs no join.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        verbose_name = _("calendar busy time")
        verbose_name_plural = _("calendar busy times")
        indexes = [models.Index(fields=["user", "starts_at"], name="coaching_busy_user_start")]

    def __str__(self):
        return f"{self.user_id} busy {self.starts_at:%Y-%m-%d %H:%M}"


class CalendarEntry(models.Model):
    """A session as it should be in one person's calendar, keyed by its calendar UID (the
    invitations' UID). A change to the session raises ``version``; the writer puts the
    session as it is then (or removes it) and records ``written_version``: an entry is
    pending while ``version > written_version``. Written in the transaction of the change,
    so nothing is lost; written by UID, so nothing is written twice."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    uid = models.CharField(max_length=255)
    coaching_session = models.ForeignKey(
        "wagtail_coaching.CoachingSession", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    group_session = models.ForeignKey(
        "wagtail_coaching.GroupSession", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    series = models.ForeignKey(
        "wagtail_coaching.SessionSeries", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    version = models.PositiveIntegerField(default=1)
    written_version = models.PositiveIntegerField(default=0)
    # The calendar (URL) that holds the entry now: "" when it is in none.
    written_to = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("calendar entry")
        verbose_name_plural = _("calendar entries")
        constraints = [
            models.UniqueConstraint(fields=["user", "uid"], name="coaching_calendar_entry_once")
        ]
        indexes = [
            models.Index(
                fields=["next_try_at"], condition=Q(version__gt=F("written_version")),
                name="coaching_pending_entries",
            )
        ]

    def __str__(self):
        return f"{self.uid} in the calendar of {self.user_id}"
