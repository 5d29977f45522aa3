"""Asking the coach for a time: when none of the free times suits the client (or there are
none), they say which days and times of day would, as one message in the conversation of the
enrollment. The conversation's notices tell the coaches (in the app at once, by email
batched); the coach answers there, or publishes times, or books one for the client.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..conversations import post_message
from ..journeys.progress import lock_enrollment
from ..models import ActivityState, EnrollmentStatus, Message
from .booking import ONE_TO_ONE, allotment
from .errors import AllotmentUsedUp, InvalidSchedule, SessionNotOpen

# The days a client may name, Monday first (the keys are the form's values).
DAYS = {key: WEEKDAYS[i] for i, key in enumerate(
    ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)}
PARTS_OF_DAY = {
    "morning": format_lazy("{} ({})", gettext_lazy("mornings"), gettext_lazy("before noon")),
    "afternoon": format_lazy("{} ({})", gettext_lazy("afternoons"), gettext_lazy("noon to 5pm")),
    "evening": format_lazy("{} ({})", gettext_lazy("evenings"), gettext_lazy("after 5pm")),
}
NOTE_MAX_LENGTH = 1000
# The same ask sent again this soon (a double click, a form sent twice) is the same message.
REPEAT_WINDOW = timedelta(minutes=10)


def ask_for_time(activity, client, *, days=(), parts_of_day=(), note="", now=None):
    """Write ``client``'s request for a time for a 1:1 session of ``activity`` to their
    coaches, in the enrollment's conversation. Returns the Message.

    The step must be open to booking (an active enrollment, sessions left). ``days`` and
    ``parts_of_day`` are keys of ``DAYS`` and ``PARTS_OF_DAY``; at least one of them or a
    note is needed. Whether ``client`` may write there is the caller's question
    (``write_messages``). Raises InvalidSchedule, SessionNotOpen, AllotmentUsedUp or
    MessageRefused, and then writes nothing.
    """
    now = now or timezone.now()
    days = [d for d in DAYS if d in set(days)]
    parts = [p for p in PARTS_OF_DAY if p in set(parts_of_day)]
    note = (note or "").strip()
    if not (days or parts or note):
        raise InvalidSchedule(_("Say which days or times of day suit you, or write a note."))
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidSchedule(
            _("A note can be up to %(limit)d characters long.") % {"limit": NOTE_MAX_LENGTH}
        )
    body = request_text(activity, days, parts, note)
    with transaction.atomic():
        enrollment = lock_enrollment(activity.enrollment_id)
        if activity.kind != ONE_TO_ONE or activity.state != ActivityState.AVAILABLE:
            raise SessionNotOpen(_("Sessions are not booked from this step now."))
        if enrollment.status != EnrollmentStatus.ACTIVE:
            raise SessionNotOpen(_("This engagement is not active at the moment."))
        if allotment(activity).left < 1:
            raise AllotmentUsedUp(_("All sessions of this package are used."))
        repeat = (
            Message.objects.filter(
                conversation__enrollment=enrollment, author=client, body=body,
                created_at__gte=now - REPEAT_WINDOW,
            )
            .order_by("-pk")
            .first()
        )
        if repeat is not None:
            return repeat
        return post_message(enrollment, client, body, now=now)


def request_text(activity, days, parts, note):
    """The message the coaches read, in the client's language."""
    lines = [_(
        "I would like to book a 1:1 session (%(step)s), but none of the free times suits "
        "me. Could you offer a time?"
    ) % {"step": activity.title}]
    if days:
        lines.append(_("Days that suit me: %(days)s") % {
            "days": ", ".join(str(DAYS[d]) for d in days)})
    if parts:
        lines.append(_("Times of day that suit me: %(parts)s") % {
            "parts": ", ".join(str(PARTS_OF_DAY[p]) for p in parts)})
    if note:
        lines.append(note)
    return "\n\n".join(lines)
