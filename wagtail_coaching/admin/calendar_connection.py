"""A person's own calendar, connected over CalDAV, on the "My calendar" page: connect it
(tested on save), choose the calendars that make them busy and the one that receives their
sessions, check it now, disconnect. Coaching admins see every connection's status (never a
password) and a home panel warns of calendars that fail.

Each view asks the matrix: ``connect_calendar`` to manage one's own connection (there is no
URL to anyone else's), ``view_calendarconnection`` for the status list.
"""

from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.ui.components import Component

from ..calendars.client import CalendarError
from ..calendars.connections import (
    choose_calendars,
    connect,
    connection_of,
    disconnect,
    refresh_now,
)
from ..calendars.sync import health
from ..models import CalendarConnection
from ..permissions import visible
from ..utils.people import display_name
from .card import CoachingAdminView
from .display import in_viewer_zone
from .permission import may

# Connections listed on the status page and warned of on the home page.
LIST_LENGTH = 200
PANEL_LENGTH = 10


class ConnectForm(forms.Form):
    url = forms.URLField(
        label=gettext_lazy("CalDAV address"), max_length=500, assume_scheme="https",
        help_text=gettext_lazy("The address your calendar service gives for CalDAV."),
    )
    username = forms.CharField(label=gettext_lazy("User name"), max_length=255)
    password = forms.CharField(
        label=gettext_lazy("App password"), max_length=500, strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy(
            "An app password made for this site in your calendar account's security "
            "settings, not your usual password. It is stored encrypted and never shown again."
        ),
    )


class ChooseForm(forms.Form):
    busy = forms.MultipleChoiceField(
        label=gettext_lazy("Calendars that make me busy"), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Times taken in these calendars cannot be booked with you."),
    )
    write = forms.ChoiceField(
        label=gettext_lazy("Calendar that receives my sessions"), required=False,
        widget=forms.RadioSelect,
    )

    def __init__(self, connection, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(c["url"], c["name"]) for c in connection.calendars]
        self.fields["busy"].choices = choices
        self.fields["write"].choices = [("", _("None"))] + choices
        self.initial.setdefault("busy", connection.busy_calendars)
        self.initial.setdefault("write", connection.write_calendar)


def _calendar_names(connection, urls):
    names = {c["url"]: c["name"] for c in connection.calendars}
    return [names.get(url, url) for url in urls]


def connection_context(request, connect_form=None, choose_form=None):
    """What the "My calendar" page shows of the person's own calendar connection."""
    if not may(request.user, "connect_calendar"):
        return {}
    connection = connection_of(request.user)
    context = {"may_connect": True, "connection": connection}
    if may(request.user, "view_calendarconnection"):
        context["connections_url"] = reverse("wagtail_coaching_admin:calendar_connections")
    if connection is None:
        context["connect_form"] = connect_form or ConnectForm()
        return context
    context.update(
        connect_form=connect_form or ConnectForm(initial={
            "url": connection.url, "username": connection.username,
        }),
        choose_form=choose_form or ChooseForm(connection),
        health=health(connection),
        server=urlsplit(connection.url).hostname or connection.url,
        busy_names=_calendar_names(connection, connection.busy_calendars),
        write_name=(_calendar_names(connection, [connection.write_calendar])[0]
                    if connection.write_calendar else ""),
    )
    return context


def _own_connection(request):
    if not may(request.user, "connect_calendar"):
        raise PermissionDenied
    connection = connection_of(request.user)
    if connection is not None and not may(request.user, "connect_calendar", connection):
        raise PermissionDenied
    return connection


def _back():
    return redirect(reverse("wagtail_coaching_admin:my_calendar") + "#coaching-own-calendar")


class ConnectCalendarView(CoachingAdminView):
    """Connect (or reconnect) one's calendar: tested before anything is stored."""

    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def post(self, request):
        _own_connection(request)
        form = ConnectForm(request.POST)
        if form.is_valid():
            try:
                connect(request.user, **form.cleaned_data)
            except CalendarError as exc:
                form.add_error(None, _("Could not connect: %(reason)s") % {"reason": exc})
            else:
                messages.success(request, _(
                    "Your calendar is connected. Choose the calendars that make you busy "
                    "and the one that receives your sessions."
                ))
                return _back()
        from .my_calendar import calendar_page

        return calendar_page(request, connect_form=form)


class ChooseCalendarsView(CoachingAdminView):
    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def post(self, request):
        connection = _own_connection(request)
        if connection is None:
            messages.info(request, _("Connect a calendar first."))
            return _back()
        form = ChooseForm(connection, request.POST)
        if form.is_valid():
            try:
                choose_calendars(connection, busy=form.cleaned_data["busy"],
                                 write=form.cleaned_data["write"])
            except CalendarError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Your choice of calendars is saved."))
                return _back()
        from .my_calendar import calendar_page

        return calendar_page(request, choose_form=form)


class CheckCalendarView(CoachingAdminView):
    """Read the busy times and write the pending sessions now."""

    http_method_names = ["post"]

    def post(self, request):
        connection = _own_connection(request)
        if connection is None:
            messages.info(request, _("Connect a calendar first."))
        elif refresh_now(connection):
            messages.success(request, _("Your calendar was read just now."))
        else:
            connection.refresh_from_db()
            messages.warning(request, health(connection).message)
        return _back()


class DisconnectCalendarView(CoachingAdminView):
    http_method_names = ["post"]

    def post(self, request):
        connection = _own_connection(request)
        if connection is None:
            messages.info(request, _("No calendar was connected."))
        else:
            disconnect(request.user)
            messages.success(request, _(
                "Your calendar is disconnected and its password deleted. Sessions already "
                "written into it stay there."
            ))
        return _back()


def connection_rows(user, limit=LIST_LENGTH, *, failing_only=False):
    """The connections ``user`` may see, with their status in words. Two queries."""
    connections = visible(user, "view_calendarconnection").select_related("user")
    if failing_only:
        connections = connections.exclude(last_error="")
    rows = []
    for connection in connections.order_by("user__last_name", "user__first_name", "pk")[:limit]:
        rows.append({
            "person": display_name(connection.user),
            "server": urlsplit(connection.url).hostname or "",
            "busy_count": len(connection.busy_calendars),
            "writes": bool(connection.write_calendar),
            "synced_at": connection.synced_at,
            "health": health(connection),
        })
    return rows


class CalendarConnectionsView(CoachingAdminView):
    """Every connected calendar the viewer may see and whether it works."""

    http_method_names = ["get", "head"]

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def get(self, request):
        if not may(request.user, "view_calendarconnection"):
            raise PermissionDenied
        return TemplateResponse(
            request, "wagtail_coaching/admin/one_to_one/calendar_connections.html", {
                "rows": connection_rows(request.user),
                "header_title": _("Connected calendars"),
                "page_title": _("Connected calendars"),
                "header_icon": "date",
            })


class CalendarWarningPanel(Component):
    """On the home page: the viewer's own calendar failing, and (for those who see other
    people's connections) theirs. Nothing when every calendar works. Two queries."""

    name = "coaching_calendar_warnings"
    order = 36
    template_name = "wagtail_coaching/admin/panels/calendar_warnings.html"

    def __init__(self, request):
        self.request = request

    def render_html(self, parent_context=None):
        rows = connection_rows(self.request.user, PANEL_LENGTH, failing_only=True)
        rows = [r for r in rows if r["health"].warning]
        if not rows:
            return ""
        return render_to_string(self.template_name, {
            "rows": rows,
            "own_url": reverse("wagtail_coaching_admin:my_calendar"),
            "list_url": reverse("wagtail_coaching_admin:calendar_connections"),
            "request": self.request,
        })


def add_calendar_panel(request, panels):
    """``construct_homepage_panels`` hook."""
    if may(request.user, "view_calendarconnection") and CalendarConnection.objects.filter(
        pk__in=visible(request.user, "view_calendarconnection").values("pk")
    ).exclude(last_error="").exists():
        panels.append(CalendarWarningPanel(request))


urlpatterns = [
    path("calendar/connect/", ConnectCalendarView.as_view(), name="my_calendar_connect"),
    path("calendar/choose/", ChooseCalendarsView.as_view(), name="my_calendar_choose"),
    path("calendar/check/", CheckCalendarView.as_view(), name="my_calendar_check"),
    path("calendar/disconnect/", DisconnectCalendarView.as_view(),
         name="my_calendar_disconnect"),
    path("calendar/connections/", CalendarConnectionsView.as_view(),
         name="calendar_connections"),
]
