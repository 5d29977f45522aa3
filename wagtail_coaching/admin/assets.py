"""The script and style sheets every admin page loads: they open client cards in a slide-out
panel wherever a client is named, and style the charts of panels, cards and reports."""

from django.templatetags.static import static
from django.utils.html import format_html


def global_admin_js():
    """``insert_global_admin_js`` hook."""
    return format_html(
        '<script src="{}" defer></script>', static("wagtail_coaching/admin/client-card.js")
    )


def global_admin_css():
    """``insert_global_admin_css`` hook."""
    return format_html(
        '<link rel="stylesheet" href="{}"><link rel="stylesheet" href="{}">',
        static("wagtail_coaching/admin/coaching.css"), static("wagtail_coaching/charts.css"),
    )
