"""Registers the coaching admin with Wagtail. The pieces live in ``admin/``."""

from django.urls import include, path
from wagtail import hooks
from wagtail_modeladmin.options import modeladmin_register

from .admin import assets, calendar_connection, messages, panels, search, staffing, user_listing
from .admin import urls as admin_urls
from .admin.modeladmins import CoachingAdminGroup
from .admin.orders import SalesAdminGroup
from .models import EngagementPageMixin, OfferPageMixin
from .reports import REPORTS
from .utils.input import bad_input_response, input_problem

modeladmin_register(CoachingAdminGroup)
modeladmin_register(SalesAdminGroup)

hooks.register("register_admin_search_area", search.clients_search_area)
hooks.register("construct_homepage_panels", panels.add_coaching_panels)
hooks.register("construct_homepage_panels", staffing.add_waiting_for_coaches_panel)
hooks.register("construct_homepage_panels", calendar_connection.add_calendar_panel)
hooks.register("after_publish_page", staffing.warn_on_publish)
hooks.register("insert_global_admin_js", assets.global_admin_js)
hooks.register("insert_global_admin_css", assets.global_admin_css)
hooks.register("register_admin_menu_item", messages.messages_menu_item)
hooks.register("register_user_listing_buttons", user_listing.client_card_buttons)


@hooks.register("before_serve_page")
def refuse_bad_input_on_our_pages(page, request, serve_args, serve_kwargs):
    """Engagement and offer pages refuse what the package's own views refuse."""
    if isinstance(page, EngagementPageMixin | OfferPageMixin):
        problem = input_problem(request)
        if problem:
            return bad_input_response(problem)
    return None


def _report_menu_item(report, order):
    def menu_item():
        from .reports import ReportMenuItem

        return ReportMenuItem(report, order)

    return menu_item


# The coaching reports come first in Wagtail's Reports menu (its own start at 100).
for _order, _report in enumerate(REPORTS, start=10):
    hooks.register("register_reports_menu_item", _report_menu_item(_report, _order))


@hooks.register("register_admin_urls")
def register_admin_urls():
    return [path("coaching/", include(admin_urls, namespace="wagtail_coaching_admin"))]
