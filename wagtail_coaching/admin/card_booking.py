"""The client card's 1:1 block: each open 1:1 step with the sessions left and "Book a
session" (for those who may book for the client), and the upcoming booked sessions with
"Move" and "Cancel session" (for those who may move them); and how the timeline says that
staff acted for the client ("Booked by <staff> for <client>").

A fixed number of queries for the whole card, whatever the number of sessions.
"""

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import CoachingSession, CoachingSessionStatus, EnrollmentStatus, EventKind
from ..permissions import allowed, visible
from ..scheduling import allotments, open_allotments
from ..utils.people import display_name

# Upcoming sessions shown per enrollment in the block.
UPCOMING_LENGTH = 10


@dataclass
class BookingBlock:
    can_book: bool = False
    steps: list = field(default_factory=list)  # (activity, Allotment, "Book a session" URL)
    upcoming: list = field(default_factory=list)  # sessions, each with ``move_url``


def add_booking(user, cards, now=None):
    """Give each card (``admin.card.EnrollmentCard``) its ``booking`` block, where the
    viewer may book for the client or move one of their upcoming sessions."""
    now = now or timezone.now()
    bookable = {
        card.enrollment.pk for card in cards
        if card.enrollment.status == EnrollmentStatus.ACTIVE
        and allowed(user, "book_for_client", card.enrollment)
    }
    steps = open_allotments(bookable) if bookable else []
    used = allotments(steps, CoachingSession.objects.filter(activity__in=steps)) if steps else {}
    upcoming = list(
        visible(user, "reschedule_coachingsession")
        .filter(enrollment_id__in=[card.enrollment.pk for card in cards],
                status=CoachingSessionStatus.BOOKED, starts_at__gt=now)
        .select_related("coach", "activity")
        .order_by("starts_at", "pk")
    )
    for card in cards:
        e = card.enrollment
        block = BookingBlock(can_book=e.pk in bookable)
        for step in steps:
            if step.enrollment_id == e.pk:
                url = reverse("wagtail_coaching_admin:book_for_client", args=[e.public_id])
                block.steps.append((step, used[step.pk], f"{url}?activity={step.public_id}"))
        for session in upcoming:
            if session.enrollment_id == e.pk and len(block.upcoming) < UPCOMING_LENGTH:
                session.move_url = reverse(
                    "wagtail_coaching_admin:one_to_one_move", args=[session.public_id]
                ) + "?back=card"
                block.upcoming.append(session)
        if block.can_book or block.upcoming:
            card.booking = block


ON_BEHALF = {
    EventKind.SESSION_BOOKED: gettext_lazy("Booked by %(staff)s for %(client)s"),
    EventKind.SESSION_RESCHEDULED: gettext_lazy("Moved by %(staff)s for %(client)s"),
    EventKind.SESSION_CANCELLED: gettext_lazy("Cancelled by %(staff)s for %(client)s"),
}


def on_behalf_text(event, client_name):
    """What the timeline says of a 1:1 session staff booked, moved or cancelled for the
    client; None for anything else."""
    data = event.data or {}
    if event.kind not in ON_BEHALF or not data.get("for_client") or event.actor is None:
        return None
    text = ON_BEHALF[event.kind] % {"staff": display_name(event.actor), "client": client_name}
    if event.activity is not None:
        text = f"{text}: {event.activity.title}"
    if data.get("override"):
        text += " " + _("(outside the coach's availability)")
    if data.get("late"):
        text += " " + _("(counted as used)")
    return text
