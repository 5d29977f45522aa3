"""Companies and cohorts (B2B)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    hr_partners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="hr_companies",
        verbose_name=_("HR partners"),
    )
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
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="coaching_cohorts",
        verbose_name=_("members"),
    )

    class Meta:
        verbose_name = _("cohort")
        verbose_name_plural = _("cohorts")
        ordering = ["-start_date", "name"]

    def __str__(self):
        return self.name
