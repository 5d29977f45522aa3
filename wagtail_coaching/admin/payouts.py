"""Payouts: the sessions each coach delivered over a period, on a page and as CSV.

The figures are ``scheduling.payouts.delivered()``'s; the rows are limited to the coaches
whose profile the viewer may see under ``view_payouts`` (an admin: every coach; a coach:
themselves).
"""

import csv
from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem
from wagtail.admin.widgets import AdminDateInput

from ..models import CoachProfile
from ..permissions import visible
from ..scheduling import delivered
from .card import CoachingAdminView
from .display import in_viewer_zone, person
from .permission import forbidden, may

# Leading characters that make a spreadsheet treat a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def last_month(today):
    """The first and last day of the calendar month before ``today``'s."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def sees_every_coach(user):
    """Admins choose among the coaches; a coach's payouts are their own."""
    return may(user, "view_payouts", CoachProfile())


class PayoutsForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=AdminDateInput)
    end = forms.DateField(
        label=gettext_lazy("To"), widget=AdminDateInput,
        help_text=gettext_lazy("Included."),
    )
    coach = forms.ModelChoiceField(
        label=gettext_lazy("Coach"), required=False, queryset=None,
        empty_label=gettext_lazy("Every coach"),
    )

    def __init__(self, data, *, user, **kwargs):
        # An empty field means last calendar month, shown as such in the form.
        data = data.copy()
        first, last = last_month(timezone.localdate())
        for name, default in (("start", first), ("end", last)):
            if not data.get(name):
                data[name] = default.isoformat()
        super().__init__(data, **kwargs)
        self.user = user
        if sees_every_coach(user):
            self.fields["coach"].queryset = get_user_model().objects.filter(
                pk__in=self.profiles().values("user_id")
            ).order_by("first_name", "last_name", "username")
            self.fields["coach"].label_from_instance = person
        else:
            del self.fields["coach"]

    def profiles(self):
        return visible(self.user, "view_payouts")

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data

    def period(self):
        """[start, end) as aware datetimes: from the first day's midnight to the midnight
        after the last day, in the viewer's zone."""
        zone = timezone.get_current_timezone()
        data = self.cleaned_data
        return (
            datetime.combine(data["start"], time.min, tzinfo=zone),
            datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=zone),
        )

    def coach_ids(self):
        coach = self.cleaned_data.get("coach")
        if coach is not None:
            return [coach.pk]
        return list(self.profiles().values_list("user_id", flat=True))


def payout_rows(form):
    start, end = form.period()
    return delivered(start, end, form.coach_ids())


def spreadsheet_text(value):
    """A name like "=HYPERLINK(...)" stays text in the spreadsheet."""
    value = str(value)
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


COLUMNS = (
    (gettext_lazy("Coach"), lambda r: spreadsheet_text(person(r.coach))),
    (gettext_lazy("Email"), lambda r: spreadsheet_text(r.coach.email)),
    (gettext_lazy("Group sessions"), lambda r: r.group_sessions),
    (gettext_lazy("Group hours"), lambda r: r.group_hours),
    (gettext_lazy("1:1 sessions"), lambda r: r.one_to_one_sessions),
    (gettext_lazy("1:1 hours"), lambda r: r.one_to_one_hours),
    (gettext_lazy("Late cancellations"), lambda r: r.late_cancellations),
    (gettext_lazy("Total hours"), lambda r: r.hours),
)


def csv_response(rows, start, end):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="payouts-{start:%Y-%m-%d}-{end:%Y-%m-%d}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow([str(label) for label, _value in COLUMNS])
    for row in rows:
        writer.writerow([value(row) for _label, value in COLUMNS])
    return response


class PayoutsView(CoachingAdminView):
    """``?start=&end=&coach=`` (dates included; last calendar month by default);
    ``&format=csv`` for the same rows as a CSV file."""

    http_method_names = ["get", "head"]

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def get(self, request):
        if not may(request.user, "view_payouts"):
            return forbidden(request)
        form = PayoutsForm(request.GET, user=request.user)
        if not form.is_valid():
            return self.render(request, form, [], status=400)
        rows = payout_rows(form)
        if request.GET.get("format") == "csv":
            return csv_response(rows, form.cleaned_data["start"], form.cleaned_data["end"])
        return self.render(request, form, rows)

    def render(self, request, form, rows, status=200):
        data = getattr(form, "cleaned_data", {})
        query = request.GET.copy()
        query["format"] = "csv"
        return TemplateResponse(request, "wagtail_coaching/admin/one_to_one/payouts.html", {
            "form": form,
            "rows": rows,
            "start": data.get("start"),
            "end": data.get("end"),
            "totals": {
                "group_sessions": sum(r.group_sessions for r in rows),
                "one_to_one_sessions": sum(r.one_to_one_sessions for r in rows),
                "late_cancellations": sum(r.late_cancellations for r in rows),
                "hours": round(sum(r.hours for r in rows), 2),
            },
            "csv_url": f"{request.path}?{query.urlencode()}",
            "header_title": _("Payouts"),
            "page_title": _("Payouts"),
            "header_icon": "table",
        }, status=status)


class PayoutsMenuItem(MenuItem):
    def is_shown(self, request):
        return may(request.user, "view_payouts")


def payouts_menu_item(order=100):
    return PayoutsMenuItem(
        gettext_lazy("Payouts"), reverse_lazy("wagtail_coaching_admin:payouts"),
        name="coaching-payouts", icon_name="table", order=order,
    )


urlpatterns = [path("payouts/", PayoutsView.as_view(), name="payouts")]
