"""Time-based rules: checked by a periodic job, in batches of enrollments.

For each active time-based rule the candidates are selected in the database, a batch at a
time in id order (keyset pagination), with what has already fired for the same occurrence
left out; each batch costs a fixed number of queries whatever the number of enrollments. A
rule only acts on what comes due after it became active (``active_since``): a new "3 days
after enrollment" rule does not fire for every client enrolled last year.
"""

from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..conf import coaching_settings
from ..metrics import at_risk_q, last_activity_at, with_risk_signals
from ..models import (
    OPEN_STATUSES,
    TIMED_TRIGGERS,
    AutomationRule,
    CoachingSession,
    CoachingSessionStatus,
    Enrollment,
    EnrollmentStatus,
    Registration,
    RegistrationStatus,
    RuleFiring,
    SessionStatus,
    Trigger,
)
from ..utils.time_zones import coaching_time_zone
from .engine import Hit, fire


def _since(rule):
    return rule.active_since or rule.created_at


def _not_fired(rule, occurrence_expr):
    return ~Exists(RuleFiring.objects.filter(
        rule=rule, enrollment=OuterRef("pk"), occurrence=occurrence_expr
    ))


def _base(rule):
    enrollments = Enrollment.objects.filter(status__in=OPEN_STATUSES)
    if rule.engagement_id:
        enrollments = enrollments.filter(engagement_id=rule.engagement_id)
    if rule.company_id:
        enrollments = enrollments.filter(company_id=rule.company_id)
    return enrollments


def _batches(queryset, batch_size):
    """Rows of ``queryset`` (with a ``pk``) in id order, ``batch_size`` at a time."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk")[:batch_size])
        if not rows:
            return
        yield rows
        last = rows[-1].pk


def _enrollment_days(rule, now):
    days = timedelta(days=rule.days or 0)
    occurrence = f"days:{rule.days or 0}"
    return _base(rule).filter(
        starts_at__lte=now - days, starts_at__gte=_since(rule) - days,
    ).filter(_not_fired(rule, occurrence)).only("pk"), lambda e: Hit(e.pk, occurrence)


def _cohort_days(rule, now):
    tz = coaching_time_zone()
    days = rule.days or 0
    # Cohorts start at local midnight of their start date: compare local dates.
    today = now.astimezone(tz)
    latest = (today - timedelta(days=days)).date()
    earliest = (_since(rule).astimezone(tz) - timedelta(days=days)).date()
    occurrence = f"cohort-days:{days}"
    queryset = _base(rule).filter(
        cohort__start_date__lte=latest, cohort__start_date__gte=earliest,
    ).filter(_not_fired(rule, occurrence)).only("pk")
    return queryset, lambda e: Hit(e.pk, occurrence)


def _access_end_days(rule, now):
    days = timedelta(days=rule.days or 0)
    # Once per end date: access extended and ending again fires again.
    fired_for_this_end = RuleFiring.objects.filter(
        rule=rule, enrollment=OuterRef("pk"), fired_at__gte=OuterRef("ends_at") - days
    )
    queryset = (
        _base(rule)
        .filter(ends_at__isnull=False, ends_at__gt=now, ends_at__lte=now + days,
                ends_at__gte=_since(rule) + days)
        .filter(~Exists(fired_for_this_end))
        .only("pk", "ends_at")
    )
    return queryset, lambda e: Hit(e.pk, f"access-end:{e.ends_at.isoformat()}",
                                   {"ends_at": e.ends_at.isoformat()})


def _no_activity(rule, now):
    days = rule.days if rule.days is not None else coaching_settings.AT_RISK_INACTIVE_DAYS
    cutoff = now - timedelta(days=days)
    queryset = (
        _base(rule).filter(status=EnrollmentStatus.ACTIVE)
        .annotate(last_active_at=last_activity_at())
        .filter(Q(last_active_at__lt=cutoff) | Q(last_active_at__isnull=True,
                                                 starts_at__lt=cutoff))
        .filter(Q(last_active_at__gte=_since(rule) - (now - cutoff))
                | Q(last_active_at__isnull=True))
        .only("pk", "starts_at")
    )
    return queryset, lambda e: Hit(
        e.pk, f"quiet-since:{(e.last_active_at or e.starts_at).isoformat()}"
    )


def _at_risk(rule, now):
    queryset = (
        with_risk_signals(_base(rule).filter(at_risk_since__isnull=True))
        .filter(at_risk_q(now))
        .only("pk", "starts_at")
    )
    return queryset, lambda e: Hit(
        e.pk, f"at-risk:{(e.last_active_at or e.starts_at).isoformat()}:{e.missed_row}"
    )


CANDIDATES = {
    Trigger.ENROLLMENT_DAYS: _enrollment_days,
    Trigger.COHORT_DAYS: _cohort_days,
    Trigger.ACCESS_END_DAYS: _access_end_days,
    Trigger.NO_ACTIVITY: _no_activity,
    Trigger.AT_RISK: _at_risk,
}


def _fire_in_batches(rule, queryset, to_hit, now, batch_size):
    fired = 0
    for rows in _batches(queryset, batch_size):
        fired += len(fire(rule, [to_hit(row) for row in rows], now=now))
    return fired


def session_reminder_hits(rule, now):
    """(enrollment, attendee) hits for sessions starting within the rule's hours: seats in
    group sessions and booked 1:1 sessions. The occurrence is the session and its start,
    so a moved session is reminded again."""
    from ..scheduling.seats import journey_enrollment

    window_end = now + timedelta(hours=rule.hours or 24)
    earliest = max(now, _since(rule) + timedelta(hours=rule.hours or 24))
    hits = []
    seats = (
        Registration.objects.filter(
            status=RegistrationStatus.REGISTERED,
            session__status=SessionStatus.SCHEDULED,
            session__starts_at__gt=earliest, session__starts_at__lte=window_end,
        )
        .select_related("session__cohort")
        .order_by("pk")
    )
    for seat in seats:
        enrollment = journey_enrollment(seat.session, seat.user_id) or Enrollment.objects.filter(
            client_id=seat.user_id, status__in=OPEN_STATUSES
        ).order_by("-created_at").first()
        if enrollment is None:
            continue
        hits.append(Hit(enrollment.pk, _session_key(seat.session), _session_context(
            seat.session), recipient_id=seat.user_id))
    for booking in CoachingSession.objects.filter(
        status=CoachingSessionStatus.BOOKED, starts_at__gt=earliest, starts_at__lte=window_end,
    ).order_by("pk"):
        hits.append(Hit(booking.enrollment_id, _session_key(booking),
                        _session_context(booking)))
    return hits


def _session_key(session):
    return f"session:{session.uid}:{session.starts_at.isoformat()}"


def _session_context(session):
    return {
        "session_title": getattr(session, "title", "") or "1:1",
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "time_zone": session.time_zone,
        "video_link": session.video_link,
    }


def evaluate_timed_rules(now=None, batch_size=None):
    """Fire every active time-based rule for what is due now. Returns {rule id: fired}."""
    now = now or timezone.now()
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    results = {}
    for rule in AutomationRule.objects.filter(active=True, trigger__in=TIMED_TRIGGERS):
        if rule.trigger == Trigger.SESSION_UPCOMING:
            hits = session_reminder_hits(rule, now)
            fired = 0
            for start in range(0, len(hits), batch_size):
                fired += len(fire(rule, hits[start:start + batch_size], now=now))
            results[rule.pk] = fired
            continue
        queryset, to_hit = CANDIDATES[rule.trigger](rule, now)
        results[rule.pk] = _fire_in_batches(rule, queryset, to_hit, now, batch_size)
    return results


def due_now(rule, now=None, limit=100):
    """A dry run: the enrollments the rule would act on if it ran now (at most ``limit``),
    without firing. Event rules list the open enrollments their conditions select (those
    the next matching event would reach)."""
    from .engine import filter_hits

    now = now or timezone.now()
    if rule.trigger == Trigger.SESSION_UPCOMING:
        hits = session_reminder_hits(rule, now)
    elif rule.trigger in CANDIDATES:
        queryset, to_hit = CANDIDATES[rule.trigger](rule, now)
        hits = [to_hit(row) for row in queryset.order_by("pk")[: limit * 2]]
    else:
        hits = [Hit(pk, "dry-run") for pk in _base(rule).order_by("pk").values_list(
            "pk", flat=True)[: limit * 2]]
    hits = filter_hits(rule, hits)
    if rule.trigger == Trigger.SESSION_UPCOMING:
        fired = set(RuleFiring.objects.filter(rule=rule).values_list("enrollment_id",
                                                                     "occurrence"))
        hits = [h for h in hits if (h.enrollment_id, h.occurrence) not in fired]
    ids = list(dict.fromkeys(h.enrollment_id for h in hits))[:limit]
    order = {pk: i for i, pk in enumerate(ids)}
    return sorted(
        Enrollment.objects.filter(pk__in=ids).select_related("client", "engagement"),
        key=lambda e: order[e.pk],
    )

