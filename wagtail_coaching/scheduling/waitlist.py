"""A registration's place on its session's waitlist, in the order ``seats.fill_seats``
promotes: the earliest to join first (then the earliest registration)."""

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from ..models import Registration
from ..models import RegistrationStatus as S


def waitlist_position_annotation():
    """A registration's place on its session's waitlist (1 = next to get a seat), in the
    order ``fill_seats`` promotes: earliest first."""
    ahead = (
        Registration.objects.filter(session=OuterRef("session"), status=S.WAITLISTED)
        .filter(
            Q(waitlisted_at__lt=OuterRef("waitlisted_at"))
            | Q(waitlisted_at=OuterRef("waitlisted_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .values("session")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(ahead), 0) + 1


def waitlist_position(registration):
    """The place of one registration on the waitlist, or None when it is not waiting."""
    if registration.status != S.WAITLISTED:
        return None
    return (
        Registration.objects.filter(pk=registration.pk)
        .annotate(position=waitlist_position_annotation())
        .values_list("position", flat=True)
        .first()
    )
