"""Template helpers for the admin pages the package adjusts (Wagtail's dashboard)."""

from dataclasses import dataclass

from django import template
from django.utils.translation import gettext as _
from wagtail.admin.forms.search import SearchForm
from wagtail.admin.search import admin_search_areas

register = template.Library()

# The name of Wagtail's own page search area: whoever sees it may search pages.
PAGES_AREA = "pages"


@dataclass
class DashboardSearch:
    """Where the dashboard's search box sends a query: Wagtail's page search (``pages``), or
    ``url`` with ``form``, or nowhere (both None)."""

    pages: bool = False
    url: str | None = None
    form: object = None


@register.simple_tag(takes_context=True)
def coaching_dashboard_search(context):
    """The dashboard's search box for this user, decided as the sidebar's search is.

    Wagtail's box searches pages, which only people with page permissions may do; anyone else
    (a coach, an HR partner, a coaching admin who edits no pages) was sent to a "no
    permission" page. Those who may search pages keep Wagtail's box; the others get the first
    search area they may use (the one the sidebar's search uses: the clients list for
    coaches, HR partners and coaching admins), or no box at all (a sales manager).
    """
    request = context.get("request")
    areas = admin_search_areas.search_items_for_request(request) if request else []
    if any(area.name == PAGES_AREA for area in areas):
        return DashboardSearch(pages=True)
    if not areas:
        return DashboardSearch()
    area = areas[0]
    placeholder = getattr(area, "placeholder", None) or _("Search %(area)s…") % {
        "area": area.label
    }
    return DashboardSearch(url=area.url, form=SearchForm(placeholder=placeholder))
