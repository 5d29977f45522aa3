"""Pages a site makes from the package's pages by multi-table inheritance.

Each is an ``EngagementPage`` (or ``OfferPage``) to the package: enrolled in, sold, synced,
listed and reported like the package's own, with a field and, for two of them, a template
of the site's own.
"""

from django.db import models
from wagtail.admin.panels import FieldPanel

from wagtail_coaching.models import EngagementPage, OfferPage


class LeadershipProgramPage(EngagementPage):
    """An engagement with a field and a template of its own."""

    executive_sponsor = models.CharField(max_length=100, blank=True)

    content_panels = EngagementPage.content_panels + [FieldPanel("executive_sponsor")]
    template = "extending_app/leadership_program_page.html"
    # Only engagements of the same kind below it (a follow-up), none elsewhere.
    subpage_types = ["extending_app.LeadershipProgramPage"]

    class Meta:
        verbose_name = "leadership program"


class RetreatPage(EngagementPage):
    """An engagement with a field and no template: it is shown with the package's."""

    venue = models.CharField(max_length=100, blank=True)

    content_panels = EngagementPage.content_panels + [FieldPanel("venue")]


class CorporateOfferPage(OfferPage):
    """An offer with a field and a template of its own."""

    partner_company = models.CharField(max_length=100, blank=True)

    content_panels = OfferPage.content_panels + [FieldPanel("partner_company")]
    template = "extending_app/corporate_offer_page.html"


class WorkshopOfferPage(OfferPage):
    """An offer with no template of its own: it is shown with the package's."""

    seats_note = models.CharField(max_length=100, blank=True)
