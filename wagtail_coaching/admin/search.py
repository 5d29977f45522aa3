"""The "Clients" area of the Wagtail admin search: it opens the clients list with the query.

For whoever may not search pages but may list clients (coaches, HR partners, coaching admins
who edit no pages) it is the sidebar's search and the dashboard's search box
(``templatetags.coaching_admin_tags``)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.search import SearchArea

from ..models import Enrollment
from .permission import EnrollmentPermissionHelper


class ClientsSearchArea(SearchArea):
    permission_helper = EnrollmentPermissionHelper(Enrollment)
    # What the dashboard's search box says when it searches clients.
    placeholder = _("Search clients…")

    def is_shown(self, request):
        return self.permission_helper.user_can_list(request.user)


def clients_search_area():
    """``register_admin_search_area`` hook."""
    return ClientsSearchArea(
        _("Clients"), reverse("coaching_clients_modeladmin_index"),
        name="coaching-clients", icon_name="user", order=250,
    )
