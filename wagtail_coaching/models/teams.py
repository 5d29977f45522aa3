"""Teams, coaches and who coaches whom."""

import zoneinfo
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel

from ..conf import coaching_settings
from ..utils.people import display_name

# The longest bio a coach profile takes (it is shown to clients choosing a coach).
BIO_MAX_LENGTH = 5000


@lru_cache(maxsize=1)
def time_zone_names():
    """Every IANA time zone name this system knows, e.g. "Europe/Paris"."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value):
    """Refuse anything but an IANA time zone name (not a path, not an invented zone)."""
    if value not in time_zone_names():
        raise ValidationError(
            _("This is not a time zone. Choose one from the list, such as Europe/Paris."),
            code="invalid_time_zone",
        )


def team_role_choices():
    return list(coaching_settings.TEAM_ROLES.items())


class Team(ClusterableModel):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self):
        return self.name


class TeamMembership(models.Model):
    team = ParentalKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_memberships",
        verbose_name=_("member"),
    )
    role = models.CharField(_("role"), max_length=32, choices=team_role_choices)
    # Most clients this member takes on through this team; empty means no team limit.
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user", "role"], name="coaching_one_membership_per_role"
            )
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} ({self.team})"


class CoachProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coach_profile"
    )
    bio = models.TextField(_("bio"), max_length=BIO_MAX_LENGTH, blank=True)
    specialties = models.CharField(_("specialties"), max_length=255, blank=True)
    languages = models.CharField(_("languages"), max_length=255, blank=True)
    # Empty: the site's time zone.
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_time_zone]
    )
    video_link = models.URLField(
        _("video room"), blank=True, help_text=_("Where your 1:1 sessions take place.")
    )
    photo = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(_("taking clients"), default=True)
    max_clients = models.PositiveIntegerField(_("most clients at once"), default=20)

    class Meta:
        verbose_name = _("coach")
        verbose_name_plural = _("coaches")
        ordering = ["user__first_name", "user__last_name"]

    def __str__(self):
        return display_name(self.user)


class AssignmentMethod(models.TextChoices):
    MANUAL = "manual", _("Manual")
    CLIENT_CHOICE = "client_choice", _("Client's choice")
    ROUND_ROBIN = "round_robin", _("Round-robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")


# The role of a co-coach's assignment: a second coach working alongside the client's coaches
# (for the whole engagement or one stage), never a team role, so it never ends or replaces
# an assignment in a team role.
CO_COACH_ROLE = "co_coach"


class CoachAssignment(models.Model):
    """A coach working with one client in one engagement, for a whole engagement or a stage
    led by another role, or as a co-coach (``role`` is ``CO_COACH_ROLE``). Ended
    assignments stay as history."""

    enrollment = models.ForeignKey(
        "wagtail_coaching.Enrollment", on_delete=models.CASCADE, related_name="assignments"
    )
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coaching_assignments"
    )
    role = models.CharField(_("role"), max_length=32, default="coach")
    stage_block_id = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=20, choices=AssignmentMethod.choices)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("coach assignment")
        verbose_name_plural = _("coach assignments")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "role"],
                condition=Q(ended_at__isnull=True) & ~Q(role=CO_COACH_ROLE),
                name="coaching_one_current_coach_per_role",
            ),
            # Several co-coaches at once, each one once.
            models.UniqueConstraint(
                fields=["enrollment", "coach"],
                condition=Q(ended_at__isnull=True, role=CO_COACH_ROLE),
                name="coaching_one_current_co_coaching",
            ),
        ]
        indexes = [
            models.Index(
                fields=["coach"], condition=Q(ended_at__isnull=True), name="coaching_current_load"
            )
        ]

    def __str__(self):
        return f"{self.coach} → {self.enrollment_id}"

    @property
    def is_co_coach(self):
        return self.role == CO_COACH_ROLE


class RoundRobinCursor(models.Model):
    """Where round-robin left off, per engagement and role. Its row is also the lock that
    serialises assignments for that engagement and role."""

    engagement = models.ForeignKey(
        "wagtail_coaching.EngagementPage", on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=32)
    last_coach_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["engagement", "role"], name="coaching_one_cursor")
        ]
