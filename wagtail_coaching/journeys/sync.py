"""Re-sync every open enrollment of an engagement with its published program."""

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from ..conf import coaching_settings
from ..models import (
    OPEN_STATUSES,
    ActivitySource,
    ActivityState,
    ClientActivity,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
)
from ..notifications.outbox import queue_notifications, queue_selected
from . import notices
from .bulk import update_rows
from .engine import TIME_RULES, journey_order, open_due, unlock_time
from .program import flatten_program, live_engagement, program_stages, stage_lead_roles
from .progress import hand_off_opened
from .set_based import apply_sync_plan, lock_rows, set_based, sync_plan

SYNCED_FIELDS = [
    "block_id", "kind", "title", "stage_block_id", "stage_title", "stage_position", "position",
    "unlock_rule", "unlock_days", "unlock_date", "state", "unlock_at", "unlocked_at",
    "updated_at",
]
RULE_FIELDS = ("unlock_rule", "unlock_days", "unlock_date")


def sync_engagement(engagement, now=None, batch_size=None):
    """Bring every open enrollment of ``engagement`` in line with its live program.

    New activities appear (locked or open by their rule); activities removed from the
    program disappear unless completed; renamed, re-ordered or re-ruled ones keep their
    progress (rows are keyed by the block id, and a block moved to another stage is
    recognised by its type and title). Extra activities are kept. Completed and cancelled
    enrollments are history and are left as they were.

    Works in batches of enrollments with a constant number of statements per batch. Each
    batch locks its enrollments (in id order, as the journey services do) and their rows, so
    a client completing a step meanwhile is never overwritten. Returns the number of
    enrollments that changed.
    """
    engagement = live_engagement(engagement)  # the published program, never a draft
    if engagement is None:
        return 0
    now = now or timezone.now()
    # A batch of the set-based sync costs a few statements whatever its size.
    batch_size = batch_size or max(
        1, coaching_settings.BATCH_SIZE // (1 if set_based() else 10)
    )
    specs = flatten_program(engagement.program)
    stages = program_stages(engagement.program)
    revision_id = engagement.live_revision_id

    if set_based():
        return _sync_in_sql(engagement, specs, stages, revision_id, now, batch_size)
    changed = 0
    last_id = 0
    while True:
        with transaction.atomic():
            batch = list(
                Enrollment.objects.select_for_update(of=("self",), no_key=True)
                .filter(engagement=engagement, status__in=OPEN_STATUSES, id__gt=last_id)
                .select_related("cohort")
                .order_by("id")[:batch_size]
            )
            if not batch:
                return changed
            last_id = batch[-1].id
            changed += _sync_batch(batch, engagement, specs, stages, revision_id, now)


def _sync_in_sql(engagement, specs, stages, revision_id, now, batch_size):
    """``sync_engagement`` as set-based SQL, batch by batch, with the same locks. A journey
    where an activity may have moved to another stage (a row no longer in the program with
    the type and title of one the journey lacks) takes the Python engine, which recognises
    the move."""
    wanted = {s.block_id for s in specs}
    moved_keys = {(s.kind, s.title.strip().lower()) for s in specs}
    changed = 0
    last_id = 0
    while True:
        with transaction.atomic():
            ids = list(
                Enrollment.objects.select_for_update(of=("self",), no_key=True)
                .filter(engagement=engagement, status__in=OPEN_STATUSES, id__gt=last_id)
                .order_by("id").values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                return changed
            last_id = ids[-1]
            orphans = lock_rows(ids, wanted)
            by_python = sorted({
                enrollment_id for enrollment_id, kind, title in orphans
                if (kind, title.strip().lower()) in moved_keys
            })
            if by_python:
                changed += _sync_batch(
                    list(Enrollment.objects.filter(id__in=by_python).select_related("cohort")
                         .order_by("id")),
                    engagement, specs, stages, revision_id, now,
                )
                by_python = set(by_python)
                ids = [pk for pk in ids if pk not in by_python]
            if ids:
                sync_plan(ids, specs, stages, now)
                batch_changed, opened_ids = apply_sync_plan(ids, revision_id, now)
                changed += batch_changed
                if opened_ids:
                    queue_selected(*notices.step_open_select(opened_ids))
                    _hand_off_in_sql(engagement, opened_ids, now)


def _hand_off_in_sql(engagement, opened_ids, now):
    if engagement.team_id is None or not stage_lead_roles(engagement.program):
        return
    rows = list(
        ClientActivity.objects.filter(id__in=opened_ids)
        .only("id", "enrollment_id", "stage_block_id")
    )
    enrollments = Enrollment.objects.in_bulk({row.enrollment_id for row in rows})
    _hand_off(engagement, [(row, enrollments[row.enrollment_id]) for row in rows], now)


def _sync_batch(enrollments, engagement, specs, stages, revision_id, now):
    rows_by_enrollment = defaultdict(list)
    for row in ClientActivity.objects.select_for_update().filter(
        enrollment_id__in=[e.id for e in enrollments]
    ):
        rows_by_enrollment[row.enrollment_id].append(row)

    to_create, to_update, events, opened_rows = [], [], [], []
    for enrollment in enrollments:
        new_rows, updated, summary = _plan(
            enrollment, rows_by_enrollment[enrollment.id], specs, stages, now
        )
        all_rows = journey_order(rows_by_enrollment[enrollment.id] + new_rows)
        opened = open_due(all_rows, now, enrollment.status == EnrollmentStatus.ACTIVE)
        updated.update(id(r) for r in opened if r.pk)
        to_create.extend(new_rows)
        for row in rows_by_enrollment[enrollment.id]:
            if id(row) in updated:
                row.updated_at = now  # bulk_update does not apply auto_now
                to_update.append(row)
        if new_rows or updated:
            events.append(
                JourneyEvent(
                    enrollment=enrollment, kind=EventKind.PROGRAM_UPDATED, at=now,
                    data={**summary, "revision": revision_id},
                )
            )
        for row in opened:
            opened_rows.append((row, enrollment))
            events.append(
                JourneyEvent(enrollment=enrollment, activity=row, kind=EventKind.UNLOCKED, at=now)
            )
    ClientActivity.objects.bulk_create(to_create, batch_size=5000)
    update_rows(to_update, SYNCED_FIELDS)
    # Rows created above now have primary keys, which the events and messages refer to.
    JourneyEvent.objects.bulk_create(events)
    queue_notifications(
        notices.step_open(row, engagement.title, enrollment.client_id)
        for row, enrollment in opened_rows
    )
    Enrollment.objects.filter(id__in=[e.id for e in enrollments]).update(
        program_revision_id=revision_id
    )
    _hand_off(engagement, opened_rows, now)
    return sum(1 for e in events if e.kind == EventKind.PROGRAM_UPDATED)


def _hand_off(engagement, opened_rows, now):
    """A program update that opens a stage led by another role hands it off, as any other
    way of reaching the stage does."""
    if engagement.team_id is None or not opened_rows:
        return
    by_enrollment, enrollments = defaultdict(list), {}
    for row, enrollment in opened_rows:
        enrollment.engagement = engagement
        by_enrollment[enrollment.pk].append(row)
        enrollments[enrollment.pk] = enrollment
    hand_off_opened(by_enrollment, list(enrollments.values()), now=now)


def _plan(enrollment, rows, specs, stages, now):
    """Work out one enrollment's changes in memory. Returns (new rows, ids of changed rows,
    summary)."""
    cohort_start = enrollment.cohort.start_date if enrollment.cohort_id else None
    program_rows = {r.block_id: r for r in rows if r.source == ActivitySource.PROGRAM}
    wanted = {s.block_id for s in specs}
    orphans = [
        r for r in program_rows.values()
        if r.block_id not in wanted and r.state != ActivityState.REMOVED
    ]
    orphans += [
        r for r in program_rows.values()
        if r.block_id not in wanted and r.state == ActivityState.REMOVED
    ]
    updated = set()
    new_rows = []
    added = removed = 0

    for spec in specs:
        row = program_rows.get(spec.block_id)
        if row is None:
            row = _take_moved(orphans, spec)
            if row is not None:
                row.block_id = spec.block_id
                updated.add(id(row))
        if row is None:
            row = ClientActivity(
                enrollment=enrollment, block_id=spec.block_id, state=ActivityState.LOCKED,
                **spec.row_fields(),
            )
            row.unlock_at = unlock_time(
                spec.unlock_rule, spec.unlock_days, spec.unlock_date, enrollment, cohort_start
            )
            new_rows.append(row)
            added += 1
            continue
        fields = spec.row_fields()
        rule_changed = any(getattr(row, f) != fields[f] for f in RULE_FIELDS)
        for name, value in fields.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                updated.add(id(row))
        if row.state == ActivityState.REMOVED:
            # Back in the program: a step the client already had open stays open (a coach's
            # manual unlock is not lost); otherwise its rule decides again.
            row.state = (
                ActivityState.AVAILABLE if row.unlocked_at is not None else ActivityState.LOCKED
            )
            updated.add(id(row))
            rule_changed = True
        if rule_changed and row.state == ActivityState.LOCKED:
            row.unlock_at = (
                unlock_time(
                    row.unlock_rule, row.unlock_days, row.unlock_date, enrollment, cohort_start
                )
                if row.unlock_rule in TIME_RULES
                else None
            )
            updated.add(id(row))

    for row in orphans:
        if row.block_id in wanted:
            continue  # re-used for a moved block
        if row.state not in (ActivityState.COMPLETED, ActivityState.REMOVED):
            row.state = ActivityState.REMOVED
            updated.add(id(row))
            removed += 1

    for row in rows:
        if row.source == ActivitySource.EXTRA:
            # Extras follow their stage (a stage that is gone sends them to the end).
            stage = stages.get(row.stage_block_id)
            position = stage.position if stage else len(stages)
            title = stage.title if stage else row.stage_title
            if (row.stage_position, row.stage_title) != (position, title):
                row.stage_position, row.stage_title = position, title
                updated.add(id(row))
    return new_rows, updated, {"added": added, "removed": removed}


def _take_moved(orphans, spec):
    """An orphaned row that is evidently the same activity moved elsewhere (same type and
    title, and only one such), or None."""
    matches = [
        r for r in orphans
        if r.kind == spec.kind and r.title.strip().lower() == spec.title.strip().lower()
    ]
    if len(matches) != 1:
        return None
    orphans.remove(matches[0])
    return matches[0]
