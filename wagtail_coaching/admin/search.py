"""The "Clients" area of the Wagtail admin search: it opens the clients list with the query."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.search import SearchArea

from ..models import Enrollment
from .permission import EnrollmentPermissionHelper


class ClientsSearchArea(SearchArea):
    permission_helper = EnrollmentPermissionHelper(Enrollment)

    def is_shown(self, request):
        return self.permission_helper.user_can_list(request.user)


def clients_search_area():
    """``register_admin_search_area`` hook."""
    return ClientsSearchArea(
        _("Clients"), reverse("coaching_clients_modeladmin_index"),
        name="coaching-clients", icon_name="user", order=250,
    )
