"""Enrolling clients: the only way into an engagement."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    OPEN_STATUSES,
    ActivityState,
    ClientActivity,
    EngagementPage,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
)
from .assignment import assign_on_enrollment
from .engine import open_due, unlock_time
from .errors import AlreadyEnrolled, EngagementFull, EngagementNotAvailable
from .program import flatten_program, live_engagement, stage_lead_roles
from .progress import hand_off_opened
from .set_based import insert_events, insert_program_rows, set_based

# What a new journey's rows take from the template made for the call.
COPIED_FIELDS = (
    "kind", "title", "stage_block_id", "stage_title", "stage_position", "position",
    "unlock_rule", "unlock_days", "unlock_date", "state", "unlock_at", "unlocked_at",
)

# Clients per insert round; with a 40-activity program that is 10,000 rows per statement.
CLIENTS_PER_ROUND = 250


def _live_engagement(engagement):
    engagement = live_engagement(engagement)
    if engagement is None:
        raise EngagementNotAvailable(_("This engagement is not published."))
    return engagement


def program_rows(enrollment, specs, now, cohort_start=None):
    """New ClientActivity rows for a program, with their initial states."""
    rows = []
    for spec in specs:
        row = ClientActivity(
            enrollment=enrollment, block_id=spec.block_id, state=ActivityState.LOCKED,
            **spec.row_fields(),
        )
        row.unlock_at = unlock_time(
            spec.unlock_rule, spec.unlock_days, spec.unlock_date, enrollment, cohort_start
        )
        rows.append(row)
    open_due(rows, now, enrollment.status == EnrollmentStatus.ACTIVE)
    return rows


def enroll_many(
    clients,
    engagement,
    *,
    source=EnrollmentSource.ADMIN,
    actor=None,
    company=None,
    cohort=None,
    starts_at=None,
    ends_at=None,
    now=None,
):
    """Enroll several clients at once; those already enrolled are left as they are.

    Returns ``(created, already_enrolled_client_ids)``. All or nothing: one transaction,
    a constant number of statements per round of clients.
    """
    engagement = _live_engagement(engagement)
    specs = flatten_program(engagement.program)
    now = now or timezone.now()
    starts_at = starts_at or now
    if company is None and cohort is not None:
        company = cohort.company
    cohort_start = cohort.start_date if cohort is not None else None
    client_ids = list(dict.fromkeys(getattr(c, "pk", c) for c in clients))
    # Every client of one call starts the same journey: same start, cohort and program.
    template = program_rows(
        Enrollment(starts_at=starts_at, status=EnrollmentStatus.ACTIVE), specs, now, cohort_start
    )

    created = []
    with transaction.atomic():
        existing = set(
            Enrollment.objects.filter(
                engagement=engagement, client_id__in=client_ids, status__in=OPEN_STATUSES
            ).values_list("client_id", flat=True)
        )
        new_ids = [cid for cid in client_ids if cid not in existing]
        _check_capacity(engagement, len(new_ids))
        for start in range(0, len(new_ids), CLIENTS_PER_ROUND):
            created.extend(
                _enroll_round(
                    new_ids[start : start + CLIENTS_PER_ROUND], engagement, template, source,
                    actor, company, cohort, starts_at, ends_at, now,
                )
            )
        if engagement.team_id is not None:
            assign_on_enrollment(created, actor=actor, now=now)
            hand_off_on_enrollment(created, engagement, actor=actor, now=now)
    return created, sorted(existing)


def hand_off_on_enrollment(enrollments, engagement, *, actor=None, now=None):
    """A program whose first open steps are in a stage led by another role hands the new
    clients off at once, as reaching that stage later would. One query when it does."""
    if not enrollments or not stage_lead_roles(engagement.program):
        return
    opened = {}
    for row in ClientActivity.objects.filter(
        enrollment__in=enrollments, state=ActivityState.AVAILABLE
    ).only("id", "enrollment_id", "stage_block_id"):
        opened.setdefault(row.enrollment_id, []).append(row)
    for enrollment in enrollments:
        enrollment.engagement = engagement
    hand_off_opened(opened, enrollments, actor=actor, now=now)


def _check_capacity(engagement, adding):
    """Refuse enrollments beyond the engagement's capacity (the page row is locked so two
    enrollments at once cannot both take the last place)."""
    if engagement.capacity is None or not adding:
        return
    EngagementPage.objects.select_for_update(of=("self",)).filter(pk=engagement.pk).first()
    taken = Enrollment.objects.filter(engagement=engagement, status__in=OPEN_STATUSES).count()
    if taken + adding > engagement.capacity:
        raise EngagementFull(
            _("This engagement is full (%(capacity)s places).") % {"capacity": engagement.capacity}
        )


def _enroll_round(
    client_ids, engagement, template, source, actor, company, cohort, starts_at, ends_at, now,
):
    enrollments = Enrollment.objects.bulk_create(
        [
            Enrollment(
                client_id=cid, engagement=engagement, source=source, company=company,
                cohort=cohort, starts_at=starts_at, ends_at=ends_at,
                program_revision_id=engagement.live_revision_id,
            )
            for cid in client_ids
        ]
    )
    event_data = {"source": source, "revision": engagement.live_revision_id}
    if set_based():
        ids = [e.pk for e in enrollments]
        insert_program_rows(ids, template, timezone.now())
        insert_events(ids, EventKind.ENROLLED, now, event_data, getattr(actor, "pk", actor))
        return enrollments
    rows = [
        ClientActivity(enrollment=enrollment, block_id=row.block_id, **{
            f: getattr(row, f) for f in COPIED_FIELDS
        })
        for enrollment in enrollments for row in template
    ]
    ClientActivity.objects.bulk_create(rows, batch_size=5000)
    JourneyEvent.objects.bulk_create(
        [
            JourneyEvent(
                enrollment=e, kind=EventKind.ENROLLED, actor=actor, at=now,
                data=event_data,
            )
            for e in enrollments
        ]
    )
    # The welcome message is the built-in "Welcome on enrollment" rule's (editable, pausable).
    return enrollments


def enroll(client, engagement, **kwargs):
    """Enroll one client. Raises AlreadyEnrolled if they already hold an open enrollment."""
    try:
        created, existing = enroll_many([client], engagement, **kwargs)
    except IntegrityError as exc:  # a concurrent enrollment won the race
        raise AlreadyEnrolled(_("This client is already enrolled.")) from exc
    if existing:
        current = Enrollment.objects.filter(
            client_id=getattr(client, "pk", client),
            engagement=engagement,
            status__in=OPEN_STATUSES,
        ).first()
        raise AlreadyEnrolled(_("This client is already enrolled."), current)
    return created[0]


def enroll_cohort(cohort, *, actor=None, now=None):
    """Enroll every member of a cohort in its engagement; members already enrolled stay as
    they are, so running it again (after adding members) enrolls only the new ones.

    Members whose account is closed (deactivated, or a client whose data was erased) are
    left out. Returns ``(created, already_enrolled_client_ids)``.
    """
    members = list(cohort.members.filter(is_active=True).values_list("pk", flat=True))
    return enroll_many(
        members, cohort.engagement_id, source=EnrollmentSource.COHORT, actor=actor,
        cohort=cohort, company=cohort.company, now=now,
    )
