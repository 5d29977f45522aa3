"""The signed-in person's notifications on the site: the in-app list and which kinds of
message they want.

- ``notifications/``: every in-app notification of the reader (paged, latest first); a POST
  marks them all read and goes back to ``next`` (a local URL) or to the list.
- ``notifications/<id>/``: opens one notification: marks it read and goes where it leads.
- ``notifications/settings/``: a checkbox per kind of message the reader may switch off
  (``notifications.kinds``); kinds for the coaching team show to staff only. Payment
  and session-change messages are listed as always sent, without a checkbox. A kind
  switched off is a ``NotificationPreference`` row with ``enabled=False``; switching it
  back on deletes the row. The outbox reads these rows when it sends
  (``notifications.outbox.send_notification`` records the message as skipped). The form
  lists the kinds it shows in hidden ``shown`` fields and only those change, so an empty or
  truncated POST (no ``shown``) is refused with a 400 and changes nothing: it is never read
  as "switch everything off". Switching every optional message off is its own button.

A person only ever sees and changes their own.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from ..notifications.in_app import in_app_notifications, notification_items, notification_link
from ..notifications.inbox import mark_all_read, mark_read
from ..notifications.preferences import kind_choices, save_preferences
from ..permissions import allowed
from .client import ClientViewMixin

# Notifications per page of the list.
PER_PAGE = 20


def _next_url(request, default):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class NotificationsView(ClientViewMixin, View):
    """The reader's in-app notifications; POST: mark them all read."""

    template_name = "wagtail_coaching/notifications/list.html"
    http_method_names = ["get", "post", "head"]

    def get(self, request):
        queryset = in_app_notifications(request.user)
        page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
        unread = queryset.filter(read_at__isnull=True).count()
        return TemplateResponse(request, self.template_name, {
            "page_obj": page,
            "notifications": notification_items(request.user, page.object_list),
            "unread_notifications": unread,
        })

    def post(self, request):
        count = mark_all_read(request.user.pk)
        if count:
            messages.success(request, _("All your notifications are marked as read."))
        return redirect(_next_url(request, reverse("wagtail_coaching:notifications")))


class OpenNotificationView(ClientViewMixin, View):
    """Open one of the reader's in-app notifications: it is marked read, and the reader
    goes where it leads (the conversation, the step, the sessions page; the list when it
    leads nowhere). Another person's notification does not exist here (404)."""

    http_method_names = ["get", "head"]

    def get(self, request, pk):
        notification = in_app_notifications(request.user).filter(pk=pk).first()
        if notification is None or not allowed(request.user, "open_notification", notification):
            raise Http404(_("No such notification."))
        mark_read(notification)
        target = notification_link(notification.payload or {})
        return redirect(target or reverse("wagtail_coaching:notifications"))


class NotificationSettingsView(ClientViewMixin, View):
    """Which kinds of message the reader receives."""

    template_name = "wagtail_coaching/notifications/settings.html"
    http_method_names = ["get", "post", "head"]

    def render(self, request, error=None, status=200):
        choices = kind_choices(request.user)
        return TemplateResponse(request, self.template_name, {
            "client_kinds": [c for c in choices if not c.staff],
            "staff_kinds": [c for c in choices if c.staff],
            "error": error,
        }, status=status)

    def get(self, request):
        return self.render(request)

    def post(self, request):
        optional = {c.name for c in kind_choices(request.user) if c.optional}
        # Only the kinds the page showed change; a kind it did not show, or one this reader
        # may not switch off, is ignored.
        shown = optional & set(request.POST.getlist("shown"))
        if not shown:
            return self.render(request, status=400, error=_(
                "Your settings were not saved: the form arrived incomplete. Nothing was "
                "changed; please try again."
            ))
        all_off = request.POST.get("all_off") == "1"
        enabled = () if all_off else request.POST.getlist("enabled")
        save_preferences(request.user.pk, shown, enabled)
        if all_off:
            messages.success(request, _(
                "Optional messages are switched off. Payments and changes to what you are "
                "booked on are still sent."
            ))
        else:
            messages.success(request, _("Your notification settings are saved."))
        return redirect(reverse("wagtail_coaching:notification_settings"))
