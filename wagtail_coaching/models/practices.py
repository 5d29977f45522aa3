"""Practice logs: each day a client did a practice of their journey."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .enrollments import ClientActivity


class PracticeLog(models.Model):
    """The client did the practice ``activity`` on ``day``.

    ``day`` is the date in the client's own time zone when they logged it, kept as they saw
    it: streaks and targets count days, and a later change of zone does not move past days.
    One log per practice and day, so a second tap (or a double submit) changes nothing.
    """

    activity = models.ForeignKey(
        ClientActivity, on_delete=models.CASCADE, related_name="practice_logs",
        verbose_name=_("practice"),
    )
    day = models.DateField(_("day"))
    done_at = models.DateTimeField(_("logged at"))

    class Meta:
        verbose_name = _("practice log")
        verbose_name_plural = _("practice logs")
        ordering = ["activity", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "day"], name="coaching_one_practice_log_per_day"
            )
        ]

    def __str__(self):
        return f"{self.activity_id} @ {self.day}"
