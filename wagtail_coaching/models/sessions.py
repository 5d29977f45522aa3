"""Sessions: group sessions (one by one or as a series) with their seats and invitations,
1:1 sessions booked from a client's allotment, coaches' availability, and calendar feeds."""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def new_token():
    return secrets.token_urlsafe(24)


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    CANCELLED = "cancelled", _("Cancelled")


class Audience(models.TextChoices):
    COMPANY = "company", _("A company's clients")
    COHORT = "cohort", _("A cohort")
    ENGAGEMENT = "engagement", _("An engagement's clients")
    LIST = "list", _("Hand-picked clients")
    OPEN = "open", _("Any client (invite link)")


class Recurrence(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    FORTNIGHTLY = "fortnightly", _("Every two weeks")
    DATES = "dates", _("A list of dates")


class SessionSeries(models.Model):
    """Sessions created together. Editing or cancelling "all future sessions" acts on the
    series' sessions that have not started yet.

    With ``one_invitation`` each person's calendar holds the series as one recurring event
    (UID ``uid``) listing the occurrences they are in; ``sequence`` is its calendar
    SEQUENCE, raised on every change to any occurrence (a person's own copy adds their
    registrations, see ``scheduling.series``). Series created before calendars held them as
    one event keep one invitation per session.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    recurrence = models.CharField(_("repeats"), max_length=16, choices=Recurrence.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    one_invitation = models.BooleanField(default=True, editable=False)
    sequence = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("session series")
        verbose_name_plural = _("session series")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.title

    @property
    def uid(self):
        return f"series-{self.public_id}@wagtail-coaching"


class GroupSession(models.Model):
    """One group session. Times are stored in UTC; ``time_zone`` is the zone it is shown in
    (calendar files carry it as a VTIMEZONE).

    ``sequence`` is the calendar SEQUENCE: it rises on every change that attendees' calendars
    must pick up (time, place, link, status, coach). ``invite_token`` is the secret of the
    shareable invite link.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    series = models.ForeignKey(
        SessionSeries, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="sessions", verbose_name=_("series"),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    team = models.ForeignKey(
        "wagtail_coaching.Team", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="group_sessions", verbose_name=_("team"),
        help_text=_("The team that runs it: its coaches can see and edit it."),
    )
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_group_sessions",
        verbose_name=_("coach"),
    )
    co_coaches = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="co_led_group_sessions",
        verbose_name=_("co-coaches"),
    )
    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    capacity = models.PositiveIntegerField(
        _("seats"), null=True, blank=True, help_text=_("Empty for no limit.")
    )
    video_link = models.URLField(_("video link"), blank=True)
    location = models.CharField(_("location"), max_length=255, blank=True)
    summary = models.TextField(
        _("summary"), blank=True, help_text=_("Shared with the attendees after the session.")
    )

    audience = models.CharField(
        _("audience"), max_length=16, choices=Audience.choices, default=Audience.LIST
    )
    company = models.ForeignKey(
        "wagtail_coaching.Company", null=True, blank=True, on_delete=models.PROTECT,
        related_name="group_sessions", verbose_name=_("company"),
    )
    cohort = models.ForeignKey(
        "wagtail_coaching.Cohort", null=True, blank=True, on_delete=models.PROTECT,
        related_name="group_sessions", verbose_name=_("cohort"),
    )
    engagement = models.ForeignKey(
        "wagtail_coaching.EngagementPage", null=True, blank=True, on_delete=models.PROTECT,
        related_name="group_sessions", verbose_name=_("engagement"),
        help_text=_("Attending completes this engagement's group-session step."),
    )
    # The program's group-session block this session fulfils; empty: the attendee's next one.
    activity_block_id = models.CharField(max_length=64, blank=True)
    invitees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+",
        verbose_name=_("hand-picked clients"),
    )

    status = models.CharField(
        _("status"), max_length=16, choices=SessionStatus.choices,
        default=SessionStatus.SCHEDULED,
    )
    sequence = models.PositiveIntegerField(default=0, editable=False)
    invite_token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    # Set once attendance has been taken (payouts count sessions delivered).
    attendance_taken_at = models.DateTimeField(_("attendance taken"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("group session")
        verbose_name_plural = _("group sessions")
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="coaching_session_ends_after"
            )
        ]

    def __str__(self):
        return self.title

    @property
    def uid(self):
        return f"group-{self.public_id}@wagtail-coaching"

    @property
    def is_cancelled(self):
        return self.status == SessionStatus.CANCELLED

    @property
    def outcome_label(self):
        """What happened to the session, for people: cancelled, held (attendance was
        taken), or still scheduled. ``status`` alone stays "scheduled" once it is held."""
        if self.is_cancelled:
            return SessionStatus.CANCELLED.label
        if self.attendance_taken_at is not None:
            return _("Held")
        return SessionStatus.SCHEDULED.label


class RegistrationStatus(models.TextChoices):
    INVITED = "invited", _("Invited")
    REGISTERED = "registered", _("Registered")
    WAITLISTED = "waitlisted", _("On the waitlist")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("No-show")


# Statuses that hold a seat.
SEAT_STATUSES = (
    RegistrationStatus.REGISTERED, RegistrationStatus.ATTENDED, RegistrationStatus.NO_SHOW
)
# Statuses whose calendars hold the session (they get updates and cancellations).
CALENDAR_STATUSES = (RegistrationStatus.INVITED, RegistrationStatus.REGISTERED)


class Registration(models.Model):
    """One person's place in a group session: invited, registered, on the waitlist, and
    finally attended or no-show.

    ``revision`` rises on every change that concerns this attendee alone (their cancel, a
    new registration after it); their calendar SEQUENCE is the session's plus this.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        GroupSession, on_delete=models.CASCADE, related_name="registrations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
        related_name="coaching_registrations", verbose_name=_("client"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=RegistrationStatus.choices,
        default=RegistrationStatus.INVITED,
    )
    revision = models.PositiveIntegerField(default=0, editable=False)
    invited_at = models.DateTimeField(_("invited"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered"), null=True, blank=True)
    # Waitlist order: earliest first.
    waitlisted_at = models.DateTimeField(_("waitlisted"), null=True, blank=True)
    attendance_marked_at = models.DateTimeField(null=True, blank=True)
    attendance_marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"], name="coaching_one_registration_per_person"
            )
        ]
        indexes = [models.Index(fields=["session", "status"])]

    def __str__(self):
        return f"{self.user} – {self.session_id} ({self.status})"


class AvailabilitySlot(models.Model):
    """A time a coach offers for 1:1 sessions. A booked slot holds one session."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_slots",
        verbose_name=_("coach"),
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("availability slot")
        verbose_name_plural = _("availability")
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["coach", "starts_at"], name="coaching_one_slot_per_coach_and_time"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="coaching_slot_ends_after"
            ),
        ]
        indexes = [models.Index(fields=["starts_at", "coach"])]

    def __str__(self):
        return f"{self.coach} {self.starts_at:%Y-%m-%d %H:%M}"


class CoachingSessionStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    COMPLETED = "completed", _("Held")
    NO_SHOW = "no_show", _("No-show")
    CANCELLED = "cancelled", _("Cancelled")
    LATE_CANCELLED = "late_cancelled", _("Cancelled late")


# Statuses that use up a session of the allotment.
USED_STATUSES = (
    CoachingSessionStatus.BOOKED,
    CoachingSessionStatus.COMPLETED,
    CoachingSessionStatus.NO_SHOW,
    CoachingSessionStatus.LATE_CANCELLED,
)


class CoachingSession(models.Model):
    """A 1:1 session booked from the allotment (a ``one_to_one`` activity) of an enrollment."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.ForeignKey(
        "wagtail_coaching.Enrollment", on_delete=models.CASCADE,
        related_name="coaching_sessions", verbose_name=_("enrollment"),
    )
    activity = models.ForeignKey(
        "wagtail_coaching.ClientActivity", on_delete=models.CASCADE,
        related_name="coaching_sessions", verbose_name=_("allotment"),
    )
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coached_sessions",
        verbose_name=_("coach"),
    )
    slot = models.ForeignKey(
        AvailabilitySlot, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="sessions",
    )
    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    status = models.CharField(
        _("status"), max_length=16, choices=CoachingSessionStatus.choices,
        default=CoachingSessionStatus.BOOKED,
    )
    video_link = models.URLField(_("video link"), blank=True)
    summary = models.TextField(
        _("summary"), blank=True, help_text=_("Shared with the client after the session.")
    )
    sequence = models.PositiveIntegerField(default=0, editable=False)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    booked_at = models.DateTimeField(_("booked"))
    outside_availability = models.BooleanField(
        _("outside availability"), default=False, editable=False,
        help_text=_("Booked by staff at a time the coach had not offered."),
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("1:1 session")
        verbose_name_plural = _("1:1 sessions")
        ordering = ["starts_at", "id"]
        constraints = [
            # A slot holds at most one booked session: two clients racing for it cannot
            # both win.
            models.UniqueConstraint(
                fields=["slot"], condition=Q(status="booked"), name="coaching_one_booking_per_slot"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="coaching_coaching_session_ends_after",
            ),
        ]

    def __str__(self):
        return f"1:1 {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def uid(self):
        return f"one-to-one-{self.public_id}@wagtail-coaching"


class FollowUpPractice(models.Model):
    """A practice a coach gave one client after a held session (1:1 or group): an extra
    activity of the client's journey, linked to the session it came from so that the
    client sees it beside the session's summary and the coach's brief can say whether it
    was done."""

    activity = models.OneToOneField(
        "wagtail_coaching.ClientActivity", on_delete=models.CASCADE, related_name="follow_up",
        verbose_name=_("practice"),
    )
    coaching_session = models.ForeignKey(
        CoachingSession, null=True, blank=True, on_delete=models.CASCADE,
        related_name="follow_ups", verbose_name=_("1:1 session"),
    )
    group_session = models.ForeignKey(
        GroupSession, null=True, blank=True, on_delete=models.CASCADE,
        related_name="follow_ups", verbose_name=_("group session"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("follow-up practice")
        verbose_name_plural = _("follow-up practices")
        ordering = ["created_at", "id"]
        constraints = [
            # From exactly one session.
            models.CheckConstraint(
                condition=(
                    Q(coaching_session__isnull=False, group_session__isnull=True)
                    | Q(coaching_session__isnull=True, group_session__isnull=False)
                ),
                name="coaching_follow_up_from_one_session",
            )
        ]

    def __str__(self):
        return f"Follow-up {self.activity_id}"


class CalendarFeed(models.Model):
    """The secret of a person's calendar feed URL. Resetting it replaces the token, so the
    old URL stops working."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_calendar"
    )
    token = models.CharField(max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self):
        return f"Calendar of {self.user}"
