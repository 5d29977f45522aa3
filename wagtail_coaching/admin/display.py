"""How the coaching admin names people and links to the client card."""

from django.template.response import SimpleTemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from ..utils.people import display_name as person  # the admin's short name for it
from ..utils.time_zones import user_time_zone
from .permission import refusing


def card_url(enrollment, fragment=False):
    url = reverse("wagtail_coaching_admin:client_card", args=[enrollment.public_id])
    return f"{url}?panel=1" if fragment else url


def card_link(enrollment, text=None):
    """A link to the client card; the admin's script opens it in the slide-out panel."""
    return format_html(
        '<a href="{}" data-coaching-card>{}</a>',
        card_url(enrollment),
        text or person(enrollment.client),
    )


def in_viewer_zone(request, view, *args, **kwargs):
    """Run ``view`` (a refusal becomes the 403 page) and render its page in the viewer's
    time zone: template responses render after the view returns, so render here."""
    with timezone.override(user_time_zone(request.user)):
        response = refusing(view, request, *args, **kwargs)
        if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
            response.render()
    return response
