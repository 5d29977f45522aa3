"""Companies and cohorts (B2B)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Cohort(models.Model):
    name = models.CharField(_("name"), max_length=200)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cohorts",
    )
    engagement = models.ForeignKey(
        "wagtail_coaching.EngagementPage",
        verbose_name=_("engagement"),
        on_delete=models.PROTECT,
        related_name="cohorts",
    )
    start_date = models.DateField(_("start date"))

    class Meta:
        verbose_name = _("cohort")
        verbose_name_plural = _("cohorts")
        ordering = ["-start_date", "name"]

    def __str__(self):
        return self.name
