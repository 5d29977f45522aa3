""""One 1:1 session left": the client and their coach are told, once per allotment, with
the offers on sale that renew it.

``booking`` calls ``allotment_low_messages`` with the step's allotment (``booking.allotment``,
the one rule for what is left) right after a session is taken from it. Each message's dedup
key names the step, so however often the count passes one (a booking cancelled in time and
booked again), each person hears it once. Both kinds can be switched off (the outbox skips
them for whoever did).
"""

from django.urls import NoReverseMatch, reverse

from ..models import OfferPage
from ..notifications.outbox import Message
from ..utils.people import display_name

ONE_LEFT = 1


def renewing_offers(engagement):
    """The live offers that grant ``engagement`` and have a price on sale, by title."""
    offers = (
        OfferPage.objects.live().filter(engagements=engagement, prices__active=True)
        .distinct().order_by("title")
    )
    return [{"title": offer.title, "url": offer.get_url() or ""} for offer in offers]


def _dashboard_path():
    try:
        return reverse("wagtail_coaching:dashboard")
    except NoReverseMatch:
        return ""


def allotment_low_messages(activity, allot, coach_id):
    """The messages to queue when ``activity``'s allotment ``allot`` has exactly one session
    left (none otherwise): to the client, and to their coach (``coach_id``) if they have one."""
    if allot.left != ONE_LEFT:
        return []
    enrollment = activity.enrollment
    engagement = enrollment.engagement
    key = f"allotment-low:{activity.pk}"
    payload = {
        "engagement_title": engagement.title,
        "activity_title": activity.title,
        "sessions_total": allot.total,
        "client_name": display_name(enrollment.client),
        "offers": renewing_offers(engagement),
        "dashboard_path": _dashboard_path(),
    }
    messages = [Message(enrollment.client_id, "allotment_low", f"{key}:client", payload)]
    if coach_id:
        messages.append(Message(coach_id, "coach_allotment_low", f"{key}:coach", payload))
    return messages
