"""Engagements whose clients get no coach, said where someone can act on it: a warning when
such an engagement is published, and a home page panel for the people who assign coaches."""

from django.contrib import messages
from django.template.loader import render_to_string
from django.urls import reverse
from wagtail.admin.ui.components import Component

from ..journeys.staffing import engagements_waiting_for_coaches, staffing_problems
from ..models import EngagementPageMixin
from ..permissions import visible
from .permission import may

PANEL_LENGTH = 10


def warn_on_publish(request, page):
    """``after_publish_page`` hook: publishing an engagement whose clients would get no
    coach says so (the page is published all the same)."""
    if isinstance(page, EngagementPageMixin):
        for problem in staffing_problems(page):
            messages.warning(request, problem)


class WaitingForCoachesPanel(Component):
    """Engagements with active clients and no coach, for those who assign coaches
    (``reassign_enrollment``), over the clients they may assign. Two queries."""

    name = "coaching_waiting_for_coaches"
    order = 38
    template_name = "wagtail_coaching/admin/panels/waiting_for_coaches.html"

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context=None):
        rows = engagements_waiting_for_coaches(
            visible(self.request.user, "reassign_enrollment"), PANEL_LENGTH
        )
        clients_url = reverse("coaching_clients_modeladmin_index")
        for row in rows:
            row["url"] = f"{clients_url}?engagement={row['engagement_id']}"
        return {"rows": rows, "request": self.request}

    def render_html(self, parent_context=None):
        # No panel at all when every client has a coach.
        context = self.get_context_data(parent_context)
        if not context["rows"]:
            return ""
        return render_to_string(self.template_name, context)


def add_waiting_for_coaches_panel(request, panels):
    """``construct_homepage_panels`` hook."""
    if may(request.user, "reassign_enrollment"):
        panels.append(WaitingForCoachesPanel(request))
