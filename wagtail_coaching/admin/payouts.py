"""Payouts are the "Sessions delivered" report (``reports.sessions``). What stays here: the
Coaching menu's "Payouts" item, which opens the report, and the old address
``payouts/?start=&end=&coach=&format=csv``, which sends bookmarks on to the report with the
same period, coach and export.
"""

from django.http import HttpResponseRedirect, QueryDict
from django.urls import path, reverse, reverse_lazy
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem

from .card import CoachingAdminView
from .permission import may

REPORT = "wagtail_coaching_admin:report_sessions_delivered"

# The old address's parameters and the report's names for them.
OLD_PARAMETERS = {"start": "period_from", "end": "period_to", "coach": "coach"}


def report_query(old):
    query = QueryDict(mutable=True)
    for name, new_name in OLD_PARAMETERS.items():
        if old.get(name):
            query[new_name] = old[name]
    if old.get("format") == "csv":
        query["export"] = "csv"
    return query


class PayoutsRedirectView(CoachingAdminView):
    """The report decides who may see what; this only translates the address."""

    http_method_names = ["get", "head"]

    def get(self, request):
        query = report_query(request.GET)
        url = reverse(REPORT)
        return HttpResponseRedirect(f"{url}?{query.urlencode()}" if query else url)


class PayoutsMenuItem(MenuItem):
    def is_shown(self, request):
        return may(request.user, "view_payouts")


def payouts_menu_item(order=100):
    return PayoutsMenuItem(
        gettext_lazy("Payouts"), reverse_lazy(REPORT),
        name="coaching-payouts", icon_name="table", order=order,
    )


urlpatterns = [path("payouts/", PayoutsRedirectView.as_view(), name="payouts")]
