"""The "Failed jobs" admin: background jobs that failed for good, their error, a retry button.

Rows come from ``wagtail_coaching.failed_jobs.RecordFailures``. Retrying sends the job
again (same actor, same arguments) through the job outbox, once per row; who retried it and
when is kept on the row. Coaching admins only (``view_failedjob``, ``retry_failedjob`` in
the permission matrix). ``FailedJobsAdmin`` is an item of the Coaching menu group.
"""

import json

from django.contrib import messages
from django.contrib.admin import SimpleListFilter, display
from django.shortcuts import redirect
from django.urls import re_path
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail_modeladmin.helpers import ButtonHelper
from wagtail_modeladmin.views import InstanceSpecificView

from ..failed_jobs import JobRetryError, retry_failed_job
from ..models import FailedJob
from .base import ContextInspectView, MatrixModelAdmin, PlainNameURLHelper
from .display import in_viewer_zone, local_time, person
from .permission import MatrixPermissionHelper, forbidden, may

TEMPLATES = "wagtail_coaching/admin/jobs/"


class FailedJobPermissionHelper(MatrixPermissionHelper):
    """Listed and inspected, never edited; retried once."""

    view_action = "view_failedjob"
    change_action = None

    def user_can_retry(self, user, obj):
        return may(user, "retry_failedjob", obj) and obj.retried_at is None


class FailedJobButtonHelper(ButtonHelper):
    def get_buttons_for_obj(self, obj, exclude=None, classnames_add=None,
                            classnames_exclude=None):
        buttons = super().get_buttons_for_obj(obj, exclude, classnames_add, classnames_exclude)
        if self.permission_helper.user_can_retry(self.request.user, obj):
            buttons.append({
                "url": self.url_helper.get_action_url("retry", obj.pk),
                "label": _("Retry"),
                "classname": self.finalise_classname(["button-secondary"]),
                "title": _("Run this job again with the same arguments"),
            })
        return buttons


class RetryView(InstanceSpecificView):
    """GET: what will be sent again; POST: send it (once per failed job)."""

    page_title = gettext_lazy("Retry a failed job")
    template_name = TEMPLATES + "retry_confirm.html"

    def check_action_permitted(self, user):
        return may(user, "retry_failedjob", self.instance)

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(**job_context(self.instance)))

    def post(self, request, *args, **kwargs):
        try:
            retry_failed_job(self.instance.pk, request.user)
        except JobRetryError as exc:
            messages.error(request, str(exc))
            self.instance.refresh_from_db()
            return self.render_to_response(
                self.get_context_data(error=str(exc), **job_context(self.instance)), status=409
            )
        messages.success(
            request, _("%(job)s was sent again.") % {"job": self.instance.actor_name}
        )
        return redirect(self.index_url)


class RetriedFilter(SimpleListFilter):
    title = gettext_lazy("retried")
    parameter_name = "retried"

    def lookups(self, request, model_admin):
        return [("no", _("Not yet")), ("yes", _("Retried"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(retried_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(retried_at__isnull=False)
        return queryset


def _json(value):
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def job_context(job):
    return {
        "job": job,
        "args_json": _json(job.args),
        "kwargs_json": _json(job.kwargs),
        "options_json": _json(job.options),
    }


class FailedJobsAdmin(MatrixModelAdmin):
    """Jobs that used up their retries (or failed with a programming error), newest first."""

    admin_views = ("index", "inspect")
    model = FailedJob
    menu_label = gettext_lazy("Failed jobs")
    menu_icon = "warning"
    base_url_path = "coaching/failed-jobs"
    url_helper_class = PlainNameURLHelper
    permission_helper_class = FailedJobPermissionHelper
    button_helper_class = FailedJobButtonHelper
    inspect_view_enabled = True
    inspect_view_class = ContextInspectView
    inspect_view_fields = ["actor_name", "queue_name", "failed_at", "message_id"]
    inspect_template_name = TEMPLATES + "inspect.html"
    list_display = ("failed_at", "actor_name", "queue_name", "short_error", "retried")
    list_display_add_buttons = "actor_name"
    list_filter = (RetriedFilter, "actor_name", "queue_name", "failed_at")
    search_fields = ("actor_name", "error", "message_id")
    ordering = ("-failed_at", "-pk")
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("retried_by")

    def extra_context(self, request, instance):
        return {
            **job_context(instance),
            "can_retry": self.permission_helper.user_can_retry(request.user, instance),
            "retry_url": self.url_helper.get_action_url("retry", instance.pk),
        }

    @display(description=gettext_lazy("error"))
    def short_error(self, job):
        return Truncator(job.error).chars(120)

    @display(description=gettext_lazy("retried"), ordering="retried_at")
    def retried(self, job):
        if job.retried_at is None:
            return "–"
        who = person(job.retried_by) if job.retried_by_id else _("someone")
        return format_html("{} ({})", local_time(job.retried_at), who)

    def get_admin_urls_for_registration(self):
        return super().get_admin_urls_for_registration() + (
            re_path(
                self.url_helper.get_action_url_pattern("retry"),
                self.retry_view,
                name=self.url_helper.get_action_url_name("retry"),
            ),
        )

    def index_view(self, request):
        return in_viewer_zone(request, super().index_view)

    def inspect_view(self, request, instance_pk):
        return in_viewer_zone(request, super().inspect_view, instance_pk)

    def retry_view(self, request, instance_pk):
        self.get_visible_object(request, instance_pk)
        if not may(request.user, "retry_failedjob"):
            return forbidden(request)
        view = RetryView.as_view(model_admin=self, instance_pk=instance_pk)
        return in_viewer_zone(request, view)
