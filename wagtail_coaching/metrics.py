"""Shared definitions, written once: reports, dashboard panels and automation use these.

- **Client activity**: something the client did — enrolled, completed a step, registered
  for, booked or attended a session (``CLIENT_ACTIVITY_KINDS`` on the journey timeline).
- **At risk**: an active enrollment whose client has done nothing for
  ``AT_RISK_INACTIVE_DAYS`` days, or who missed their last ``AT_RISK_MISSED_IN_A_ROW``
  sessions in a row (no attended session in between).
"""

from datetime import UTC, datetime, timedelta

from django.db.models import Count, DateTimeField, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .conf import coaching_settings
from .models import Enrollment, EnrollmentStatus, EventKind, JourneyEvent

CLIENT_ACTIVITY_KINDS = (
    EventKind.ENROLLED, EventKind.COMPLETED, EventKind.SESSION_REGISTERED,
    EventKind.SESSION_BOOKED, EventKind.SESSION_RESCHEDULED, EventKind.SESSION_ATTENDED,
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def last_activity_at(ref="pk"):
    """When the enrollment's client last did something (a subquery on an enrollment)."""
    return Subquery(
        JourneyEvent.objects.filter(enrollment=OuterRef(ref), kind__in=CLIENT_ACTIVITY_KINDS)
        .order_by("-at").values("at")[:1],
        output_field=DateTimeField(),
    )


def missed_in_a_row(ref="pk"):
    """How many sessions the client missed since they last attended one (a subquery)."""
    last_attended = Subquery(
        JourneyEvent.objects.filter(enrollment=OuterRef(OuterRef(ref)),
                                    kind=EventKind.SESSION_ATTENDED)
        .order_by("-at").values("at")[:1],
        output_field=DateTimeField(),
    )
    missed = (
        JourneyEvent.objects.filter(enrollment=OuterRef(ref), kind=EventKind.SESSION_MISSED)
        .filter(at__gt=Coalesce(last_attended, Value(EPOCH)))
        .order_by().values("enrollment").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(missed, output_field=IntegerField()), Value(0))


def with_risk_signals(queryset):
    return queryset.annotate(last_active_at=last_activity_at(), missed_row=missed_in_a_row())


def at_risk_q(now=None):
    """The at-risk condition, on a queryset annotated by ``with_risk_signals``."""
    now = now or timezone.now()
    quiet_since = now - timedelta(days=coaching_settings.AT_RISK_INACTIVE_DAYS)
    return Q(status=EnrollmentStatus.ACTIVE) & (
        Q(last_active_at__lt=quiet_since)
        | Q(last_active_at__isnull=True, starts_at__lt=quiet_since)
        | Q(missed_row__gte=coaching_settings.AT_RISK_MISSED_IN_A_ROW)
    )


def at_risk(now=None, queryset=None):
    """Enrollments at risk now."""
    queryset = Enrollment.objects.all() if queryset is None else queryset
    return with_risk_signals(queryset).filter(at_risk_q(now))


def is_at_risk(enrollment, now=None):
    return at_risk(now, Enrollment.objects.filter(pk=enrollment.pk)).exists()


def risk_reasons(enrollment_ids, now=None):
    """{enrollment id: why it is at risk, in words} for those at risk (one query)."""
    now = now or timezone.now()
    rows = with_risk_signals(Enrollment.objects.filter(
        pk__in=enrollment_ids, status=EnrollmentStatus.ACTIVE
    )).values("pk", "last_active_at", "missed_row", "starts_at")
    reasons = {}
    for row in rows:
        why = describe_risk(row["last_active_at"] or row["starts_at"], row["missed_row"], now)
        if why:
            reasons[row["pk"]] = why
    return reasons


def describe_risk(last_active_at, missed_row, now):
    from django.utils.translation import gettext as _

    if missed_row >= coaching_settings.AT_RISK_MISSED_IN_A_ROW:
        return _("Missed %(n)d sessions in a row") % {"n": missed_row}
    if last_active_at < now - timedelta(days=coaching_settings.AT_RISK_INACTIVE_DAYS):
        return _("No activity for %(n)d days") % {"n": (now - last_active_at).days}
    return None
