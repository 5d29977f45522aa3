"""How the coaching admin names people, shows a time and links to the client card."""

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from ..utils.admin_pages import card_url
from ..utils.admin_pages import in_viewer_zone as in_viewer_zone
from ..utils.people import display_name as person  # the admin's short name for it


def card_link(enrollment, text=None):
    """A link to the client card; the admin's script opens it in the slide-out panel."""
    return format_html(
        '<a href="{}" data-coaching-card>{}</a>',
        card_url(enrollment),
        text or person(enrollment.client),
    )


def local_time(value):
    """A time in the active zone (the viewer's: see ``in_viewer_zone``), with the zone's
    abbreviation so nobody wonders which zone it is."""
    local = timezone.localtime(value)
    return f"{date_format(local, 'D j M Y, H:i')} {local.tzname()}"
