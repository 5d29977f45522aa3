from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page


class HomePage(Page):
    intro = RichTextField(blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    def get_context(self, request, *args, **kwargs):
        from wagtail_coaching.models import EngagementPage, OfferPage

        context = super().get_context(request, *args, **kwargs)
        context["engagements"] = EngagementPage.objects.live().public().order_by("title")
        context["offers"] = OfferPage.objects.live().public().order_by("title")
        return context
