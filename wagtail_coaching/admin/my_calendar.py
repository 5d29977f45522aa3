"""My calendar: a staff member's personal calendar feed (the secret URL to subscribe to,
and resetting it), their own calendar connected over CalDAV (``calendar_connection``) and
the sessions they run next.

Open to anyone who works in the coaching admin: the feed holds whatever sessions the person
has (none for someone who runs none), so there is nothing to refuse.
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem

from ..scheduling import feed_of, reset_feed
from .calendar_connection import connection_context
from .calendar_connection import urlpatterns as connection_urlpatterns
from .card import CoachingAdminView
from .display import in_viewer_zone
from .panels import upcoming_sessions
from .permission import may

# Sessions listed on the page.
CALENDAR_LENGTH = 50


def feed_url(request, feed):
    return request.build_absolute_uri(
        reverse("wagtail_coaching:calendar_feed", args=[feed.token])
    )


class MyCalendarView(CoachingAdminView):
    http_method_names = ["get", "head"]

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def get(self, request):
        return calendar_page(request)


def calendar_page(request, **forms):
    """The page, with the forms of the own-calendar section as given (bound, with their
    errors) or fresh."""
    url = feed_url(request, feed_of(request.user))
    return TemplateResponse(request, "wagtail_coaching/admin/one_to_one/my_calendar.html", {
        "feed_url": url,
        "webcal_url": "webcal://" + url.split("://", 1)[1],
        "rows": upcoming_sessions(request.user, limit=CALENDAR_LENGTH),
        "header_title": _("My calendar"),
        "page_title": _("My calendar"),
        "header_icon": "date",
        **connection_context(request, **forms),
    })


class MyCalendarResetView(CoachingAdminView):
    http_method_names = ["post"]

    def post(self, request):
        reset_feed(request.user)
        messages.success(request, _(
            "Your calendar has a new address. The old one no longer works: subscribe again "
            "with the new one."
        ))
        return redirect("wagtail_coaching_admin:my_calendar")


class MyCalendarMenuItem(MenuItem):
    """In the menu of those who run sessions (coaches and admins); the page itself is open
    to all staff."""

    def is_shown(self, request):
        return may(request.user, "view_coachingsession")


def my_calendar_menu_item(order=101):
    return MyCalendarMenuItem(
        gettext_lazy("My calendar"), reverse_lazy("wagtail_coaching_admin:my_calendar"),
        name="coaching-my-calendar", icon_name="date", order=order,
    )


urlpatterns = [
    path("calendar/", MyCalendarView.as_view(), name="my_calendar"),
    path("calendar/reset/", MyCalendarResetView.as_view(), name="my_calendar_reset"),
    *connection_urlpatterns,
]
