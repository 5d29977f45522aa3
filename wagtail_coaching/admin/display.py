"""How the coaching admin names people and links to the client card."""

from django.urls import reverse
from django.utils.html import format_html


def person(user):
    return user.get_full_name() or user.get_username()


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
