"""Landing-page blocks of an offer: hero, text, image, testimonials, FAQ, the pricing table
and the paywall.

The pricing table renders the offer's own prices (never prices typed into the block), and the
paywall block shows its content only to people with access to the offer: buyers, and editors
of the page. Everyone else, the search index and the API get the teaser.
"""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.embeds.blocks import EmbedBlock
from wagtail.images.blocks import ImageBlock, ImageChooserBlock

TEMPLATES = "wagtail_coaching/offers/blocks/"


class HeroBlock(blocks.StructBlock):
    heading = blocks.CharBlock(max_length=160, label=_("Heading"))
    subheading = blocks.TextBlock(required=False, label=_("Subheading"))
    image = ImageChooserBlock(required=False, label=_("Background image"))
    call_to_action = blocks.CharBlock(
        required=False, max_length=60, label=_("Button label"),
        help_text=_("A button that takes visitors to the prices. Leave empty for none."),
    )

    class Meta:
        icon = "pick"
        label = _("Hero")
        template = TEMPLATES + "hero.html"


class CaptionedImageBlock(blocks.StructBlock):
    image = ImageBlock(label=_("Image"))
    caption = blocks.CharBlock(required=False, max_length=255, label=_("Caption"))

    class Meta:
        icon = "image"
        label = _("Image")
        template = TEMPLATES + "image.html"


class TestimonialBlock(blocks.StructBlock):
    quote = blocks.TextBlock(label=_("Quote"))
    name = blocks.CharBlock(max_length=100, label=_("Name"))
    role = blocks.CharBlock(required=False, max_length=150, label=_("Role or company"))
    photo = ImageChooserBlock(required=False, label=_("Photo"))

    class Meta:
        icon = "openquote"
        label = _("Testimonial")


class TestimonialsBlock(blocks.StructBlock):
    heading = blocks.CharBlock(required=False, max_length=160, label=_("Heading"))
    testimonials = blocks.ListBlock(TestimonialBlock(), min_num=1, label=_("Testimonials"))

    class Meta:
        icon = "group"
        label = _("Testimonials")
        template = TEMPLATES + "testimonials.html"


class QuestionAnswerBlock(blocks.StructBlock):
    question = blocks.CharBlock(max_length=255, label=_("Question"))
    answer = blocks.RichTextBlock(label=_("Answer"))

    class Meta:
        icon = "help"
        label = _("Question")


class FAQBlock(blocks.StructBlock):
    heading = blocks.CharBlock(
        required=False, max_length=160, default=_("Frequently asked questions"),
        label=_("Heading"),
    )
    questions = blocks.ListBlock(QuestionAnswerBlock(), min_num=1, label=_("Questions"))

    class Meta:
        icon = "help"
        label = _("FAQ")
        template = TEMPLATES + "faq.html"


class PricingTableBlock(blocks.StructBlock):
    """Shows the offer's active prices, each with its buy button."""

    heading = blocks.CharBlock(
        required=False, max_length=160, default=_("Choose your plan"), label=_("Heading")
    )
    intro = blocks.TextBlock(required=False, label=_("Introduction"))

    class Meta:
        icon = "list-ul"
        label = _("Pricing table")
        template = TEMPLATES + "pricing_table.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        if "pricing" not in context:
            from ..payments.access import offer_view_state

            request, page = _request_and_page(parent_context)
            context.update(offer_view_state(request, page))
        return context


class PaywallContentBlock(blocks.StreamBlock):
    text = blocks.RichTextBlock(label=_("Text"))
    image = CaptionedImageBlock()
    video = EmbedBlock(label=_("Video"))
    document = DocumentChooserBlock(label=_("Document"))

    class Meta:
        label = _("Content for buyers")


class PaywallBlock(blocks.StructBlock):
    teaser = blocks.RichTextBlock(
        required=False, label=_("Teaser"),
        help_text=_("Shown to visitors who have not bought the offer."),
    )
    content = PaywallContentBlock()

    class Meta:
        icon = "lock"
        label = _("Paywall (buyers only)")
        template = TEMPLATES + "paywall.html"

    def is_open(self, context):
        from ..payments.access import paywall_open

        request, page = _request_and_page(context)
        return paywall_open(request, page)

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        context["unlocked"] = self.is_open(parent_context)
        return context

    def get_searchable_content(self, value):
        # Only the teaser is public; the index must never learn the paid content.
        return self.child_blocks["teaser"].get_searchable_content(value.get("teaser"))

    def get_api_representation(self, value, context=None):
        teaser = self.child_blocks["teaser"].get_api_representation(
            value.get("teaser"), context=context
        )
        if not self.is_open(context):
            return {"locked": True, "teaser": teaser}
        return {
            "locked": False,
            "teaser": teaser,
            "content": self.child_blocks["content"].get_api_representation(
                value.get("content"), context=context
            ),
        }


class OfferBodyBlock(blocks.StreamBlock):
    hero = HeroBlock()
    text = blocks.RichTextBlock(label=_("Text"), icon="pilcrow")
    image = CaptionedImageBlock()
    testimonials = TestimonialsBlock()
    faq = FAQBlock()
    pricing = PricingTableBlock()
    paywall = PaywallBlock()

    class Meta:
        label = _("Page content")


def _request_and_page(context):
    context = context or {}
    return context.get("request"), context.get("page")
