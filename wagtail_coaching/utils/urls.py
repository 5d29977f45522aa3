"""The site's public address, for links that leave the site (emails, invite links), and
where a visitor signs up.

Emails are rendered by workers, outside any request, so there is no host to read; the address
comes from the settings, else from Wagtail's default site.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from wagtail.models import Site

from ..conf import coaching_settings

# Only when nothing says otherwise: the development server's address.
LAST_RESORT_BASE_URL = "http://127.0.0.1:8000"
# The sign-up page of the package's accounts pages (wagtail_coaching.accounts.urls).
ACCOUNTS_SIGNUP = "signup"


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


def signup_url():
    """Where a visitor creates an account, or "" for no sign-up link anywhere.

    ``WAGTAIL_COACHING["SIGNUP_URL"]`` (a URL, or the name of one); left at ``None``, the
    sign-up page of the package's accounts pages where the site mounts them; ``""``, or a
    name that does not resolve, means no link.
    """
    value = coaching_settings.SIGNUP_URL
    if value is None:
        value = ACCOUNTS_SIGNUP
    if not value:
        return ""
    if "/" in value:
        return value
    try:
        return reverse(value)
    except NoReverseMatch:
        return ""


def with_next(url, next_url):
    """``url`` with ``next=next_url`` added to its query ("" stays "", no ``next`` adds none)."""
    if not url or not next_url:
        return url or ""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'next': next_url})}"
