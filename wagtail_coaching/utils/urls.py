"""The site's public address, for links that leave the site: emails, invite links.

Emails are rendered by workers, outside any request, so there is no host to read; the address
comes from the settings, else from Wagtail's default site.
"""

from django.conf import settings
from wagtail.models import Site

from ..conf import coaching_settings

# Only when nothing says otherwise: the development server's address.
LAST_RESORT_BASE_URL = "http://127.0.0.1:8000"


def site_base_url():
    """The absolute base URL of the site, without a trailing slash.

    In order: ``WAGTAIL_COACHING["BASE_URL"]``, Wagtail's ``WAGTAILADMIN_BASE_URL``, the root
    URL of Wagtail's default ``Site``, else ``http://127.0.0.1:8000``.
    """
    configured = coaching_settings.BASE_URL or getattr(settings, "WAGTAILADMIN_BASE_URL", None)
    if configured:
        return configured.rstrip("/")
    site = Site.objects.filter(is_default_site=True).only("hostname", "port").first()
    if site is not None:
        return site.root_url.rstrip("/")
    return LAST_RESORT_BASE_URL


def absolute_url(path):
    """``path`` (from ``reverse()`` or a page's URL) on the site's base URL."""
    return site_base_url() + path
