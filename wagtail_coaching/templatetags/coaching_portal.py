"""The portal header: the client's places (My coaching, Sessions, Messages, Notifications,
My orders, Account) on every client page, with the current one marked.

``{% load coaching_portal %}{% coaching_portal_nav %}`` renders
``wagtail_coaching/includes/portal_nav.html``; the package's base template uses it, and a
host's own header can too. It runs a fixed number of queries whatever the page: the client's
conversation with its unread messages (one) and their unread notifications (one, none on a
page that counted them).
"""

from dataclasses import dataclass

from django import template
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ..conversations.queries import client_messages
from ..notifications.in_app import unread_count
from ..utils.urls import with_next
from . import coaching_tags

register = template.Library()

# The URL names of each place's pages (namespace "wagtail_coaching" unless written with
# one): the place is marked current on all of them, and as the page itself on its own URL.
SECTIONS = {
    "dashboard": {"dashboard", "activity", "choose_coach", "book", "reschedule",
                  "cancel_booking", "ask_for_time"},
    "sessions": {"sessions", "group_session", "register", "leave", "join", "rsvp",
                 "calendar_reset"},
    "messages": {"conversation"},
    "notifications": {"notifications", "notification_open"},
    "orders": {"orders", "order_receipt", "checkout_done"},
    "account": {"privacy", "my_data", "notification_settings", ":account_profile",
                ":password_change", ":password_change_done"},
}


@dataclass
class Place:
    """One link of the portal header."""

    key: str
    label: str
    url: str
    # "page" on the place's own URL, "true" elsewhere in its section, "" otherwise.
    current: str = ""
    # How many new things wait there (unread messages, unread notifications).
    count: int = 0


# The URL of a name, or None where the site has no such URL (a sub-app left out).
reverse_or_none = coaching_tags._reverse_or_none


def _section_of(request):
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    name = match.url_name if match.namespace == "wagtail_coaching" else f":{match.url_name}"
    return next((key for key, names in SECTIONS.items() if name in names), None)


def portal_places(request, unread_notifications=None):
    """The places of the signed-in client, in order, the current one marked
    (``unread_notifications``: the count, when the page has it already)."""
    user = request.user
    conversation, unread_messages = client_messages(user)
    places = [
        Place("dashboard", _("My coaching"), reverse("wagtail_coaching:dashboard")),
        Place("sessions", _("Sessions"), reverse("wagtail_coaching:sessions")),
    ]
    if conversation is not None:
        places.append(Place(
            "messages", _("Messages"),
            reverse("wagtail_coaching:conversation", args=[conversation]),
            count=unread_messages,
        ))
    places.append(Place(
        "notifications", _("Notifications"), reverse("wagtail_coaching:notifications"),
        count=unread_count(user) if unread_notifications is None else unread_notifications,
    ))
    orders_url = reverse_or_none("wagtail_coaching:orders")
    if orders_url:
        places.append(Place("orders", _("My orders"), orders_url))
    # The accounts sub-app's profile, or (a host with accounts of its own) the settings
    # of the messages one receives.
    account_url = reverse_or_none("account_profile") or reverse(
        "wagtail_coaching:notification_settings"
    )
    places.append(Place("account", _("Account"), account_url))
    section = _section_of(request)
    for place in places:
        if place.key == section:
            place.current = "page" if request.path == place.url else "true"
    return places


@register.inclusion_tag("wagtail_coaching/includes/portal_nav.html", takes_context=True)
def coaching_portal_nav(context):
    """The portal's places and "Sign out" for a signed-in visitor, "Sign in" for anyone
    else. A link whose URL does not resolve is left out."""
    request = context.get("request")
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    path = getattr(request, "path", "")
    login_url = resolve_url(settings.LOGIN_URL) if settings.LOGIN_URL else ""
    # The dashboard has counted the unread notifications already.
    places = (
        portal_places(request, context.get("unread_notifications")) if signed_in else []
    )
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "signed_in": signed_in,
        "places": places,
        "waiting": sum(p.count for p in places),
        "logout_url": next(
            filter(None, map(reverse_or_none, coaching_tags.LOGOUT_URL_NAMES)), None
        ),
        # No "Sign in" on the sign-in page itself.
        "login_url": with_next(login_url, path) if login_url and login_url != path else "",
    }
