"""Book for a client, from the 1:1 sessions list: the clients the viewer may book for
(``visible(user, "book_for_client")``) who have a 1:1 step open with sessions left
(``scheduling.open_steps`` and ``allotments_left``), one row per step, each leading to the
booking page of that step (``booking.BookForClientView``, which asks the same matrix
action of the one enrollment).

Only ``q`` (a client's name or email) reaches the database; the page number is read by the
paginator. A fixed number of queries, however many rows.
"""

from django.core.paginator import Paginator
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from ...journeys.assignment import MAIN_ROLE, coaches_of
from ...permissions import visible
from ...scheduling import allotments_left, open_steps
from ..card import CoachingAdminView
from ..display import card_url, in_viewer_zone, person
from ..permission import forbidden, may
from .booking import book_url

# Rows (open 1:1 steps) per page.
PER_PAGE = 50
# Words of the search that are used; a name and an email need no more.
MAX_TERMS = 5


def bookable_clients_url():
    return reverse("wagtail_coaching_admin:one_to_one_book_for_client")


def search(query):
    """Enrollments whose client's name or email holds every word of ``query``."""
    condition = Q()
    for term in query.split()[:MAX_TERMS]:
        condition &= (
            Q(client__first_name__icontains=term)
            | Q(client__last_name__icontains=term)
            | Q(client__email__icontains=term)
        )
    return condition


def bookable_steps(user, query=""):
    """``[(step, Allotment)]``: the open 1:1 steps with sessions left of the clients
    ``user`` may book for, matching ``query``, by client name."""
    enrollments = visible(user, "book_for_client").filter(search(query))
    steps = (
        open_steps(enrollments)
        .select_related("enrollment__client")
        .order_by(
            "enrollment__client__last_name", "enrollment__client__first_name",
            "enrollment__client_id", "enrollment_id", "stage_position", "position", "pk",
        )
    )
    return allotments_left(steps)


def main_coaches(enrollment_ids):
    """{enrollment id: the coach a booking goes to} (as ``current_coach_id``), one query."""
    return {
        enrollment_id: assignment.coach
        for enrollment_id, assignments in coaches_of(enrollment_ids).items()
        for assignment in assignments
        if assignment.role == MAIN_ROLE
    }


class BookableClientsView(CoachingAdminView):
    http_method_names = ["get", "head"]
    template_name = "wagtail_coaching/admin/one_to_one/bookable_clients.html"

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def get(self, request):
        if not may(request.user, "book_for_client"):
            return forbidden(request)
        query = request.GET.get("q", "").strip()
        page = Paginator(bookable_steps(request.user, query), PER_PAGE).get_page(
            request.GET.get("page")
        )
        coaches = main_coaches({step.enrollment_id for step, _allot in page.object_list})
        rows = []
        for step, allot in page.object_list:
            enrollment = step.enrollment
            coach = coaches.get(enrollment.pk)
            rows.append({
                "client_name": person(enrollment.client),
                "email": enrollment.client.email,
                "card_url": card_url(enrollment),
                "engagement": enrollment.engagement.title,
                "step": step.title,
                "coach_name": person(coach) if coach else "",
                "allotment": allot,
                "book_url": book_url(enrollment, step),
            })
        sessions_url = reverse("coaching_one_to_one_modeladmin_index")
        return TemplateResponse(request, self.template_name, {
            "rows": rows,
            "page_obj": page,
            "query": query,
            "sessions_url": sessions_url,
            "header_title": _("Book for a client"),
            "header_icon": "date",
            "breadcrumbs_items": [
                {"url": reverse("wagtailadmin_home"), "label": _("Home")},
                {"url": sessions_url, "label": _("1:1 sessions")},
                {"label": _("Book for a client")},
            ],
        })


urlpatterns = [
    path("one-to-one/book/", BookableClientsView.as_view(), name="one_to_one_book_for_client"),
]
