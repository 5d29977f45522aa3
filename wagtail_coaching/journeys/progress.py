"""Moving through a journey: complete, skip, unlock, add an extra activity, and the
time-based unlock job."""

import json
import uuid

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Field, Func, Max
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext as _

from ..blocks import ACTIVITY_BLOCKS, UnlockRule
from ..conf import coaching_settings
from ..models import (
    DONE_STATES,
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
from .assignment import hand_off_for_stages
from .engine import journey_order, open_due, unlock_time
from .errors import ActivityNotAvailable, EnrollmentNotOpen, InvalidActivity
from .program import program_stages, stage_lead_roles
from .set_based import set_based, unlock_batch


def lock_enrollment(enrollment_id):
    """Re-read an enrollment and lock it until the transaction ends.

    Everything that changes an enrollment's rows takes this lock first (the program sync
    takes it for a whole batch, in id order), so a completion and a program sync never
    overwrite each other's changes. NO KEY UPDATE leaves inserts that refer to the enrollment
    (journey events) unblocked, so the unlock job never waits on it.
    """
    return (
        Enrollment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("engagement", "cohort")
        .get(pk=enrollment_id)
    )


def lock_activity(activity):
    """Re-read the activity and its enrollment under row locks, the enrollment first."""
    enrollment = lock_enrollment(activity.enrollment_id)
    activity = ClientActivity.objects.select_for_update().get(pk=activity.pk)
    activity.enrollment = enrollment
    return activity


def _require_active(enrollment):
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise EnrollmentNotOpen(_("This engagement is not active at the moment."))


def _require_open(enrollment):
    """Active or paused: a coach may still adapt the journey; a closed one is history."""
    if not enrollment.is_open:
        raise EnrollmentNotOpen(_("This engagement is not active at the moment."))


def complete_activity(
    activity, *, actor=None, response=None, score=None, now=None, even_if_locked=False
):
    """Mark an open activity completed with the client's response and score, then open what
    depends on it. Raises ActivityNotAvailable for a locked, removed or finished activity
    (``even_if_locked``: a fact such as attending a session completes a locked step too)."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = lock_activity(activity)
        _require_active(activity.enrollment)
        allowed_states = (ActivityState.AVAILABLE, ActivityState.LOCKED) if even_if_locked \
            else (ActivityState.AVAILABLE,)
        if activity.state not in allowed_states:
            raise ActivityNotAvailable(_("This step is not open."))
        if activity.state == ActivityState.LOCKED:
            activity.unlocked_at = now
        activity.state = ActivityState.COMPLETED
        activity.completed_at = now
        activity.response = response
        activity.score = score
        activity.save(update_fields=[
            "state", "unlocked_at", "completed_at", "response", "score", "updated_at"
        ])
        data = {"score": score} if score is not None else {}
        JourneyEvent.objects.create(
            enrollment=activity.enrollment, activity=activity, kind=EventKind.COMPLETED,
            actor=actor, at=now, data=data,
        )
        _advance(activity.enrollment, actor, now)
    return activity


def skip_activity(activity, *, actor=None, now=None):
    """A coach skips a locked or open activity; what follows it may then open."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = lock_activity(activity)
        _require_open(activity.enrollment)
        if activity.state not in (ActivityState.LOCKED, ActivityState.AVAILABLE):
            raise ActivityNotAvailable(_("Only a locked or open step can be skipped."))
        activity.state = ActivityState.SKIPPED
        activity.save(update_fields=["state", "updated_at"])
        JourneyEvent.objects.create(
            enrollment=activity.enrollment, activity=activity, kind=EventKind.SKIPPED,
            actor=actor, at=now,
        )
        _advance(activity.enrollment, actor, now)
    return activity


def unlock_activity(activity, *, actor=None, now=None):
    """A coach opens a locked activity now, whatever its rule."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = lock_activity(activity)
        _require_open(activity.enrollment)
        if activity.state != ActivityState.LOCKED:
            raise ActivityNotAvailable(_("This step is not locked."))
        activity.state = ActivityState.AVAILABLE
        activity.unlocked_at = now
        activity.save(update_fields=["state", "unlocked_at", "updated_at"])
        enrollment = activity.enrollment
        JourneyEvent.objects.create(
            enrollment=enrollment, activity=activity, kind=EventKind.UNLOCKED, actor=actor,
            at=now, data={"manual": True},
        )
        queue_notifications(
            [notices.step_open(activity, enrollment.engagement.title, enrollment.client_id)]
        )
        # Opening a step by hand reaches its stage as surely as any rule does.
        hand_off_opened({enrollment.pk: [activity]}, [enrollment], actor=actor, now=now)
    return activity


def advance(enrollment, *, actor=None, now=None):
    """Open whatever the enrollment's rules allow now, and complete the enrollment when
    nothing is left to do. Returns the rows opened."""
    now = now or timezone.now()
    with transaction.atomic():
        return _advance(lock_enrollment(enrollment.pk), actor, now)


def _advance(enrollment, actor, now, quiet=()):
    """advance() for a caller that holds the enrollment's lock. Rows whose pk is in
    ``quiet`` open without a "step open" message (their caller tells the client itself)."""
    # Locking the rows makes the unlock job (which claims rows, not enrollments) wait or skip.
    rows = journey_order(enrollment.activities.select_for_update())
    opened = open_due(rows, now, enrollment.status == EnrollmentStatus.ACTIVE)
    if opened:
        for row in opened:
            row.updated_at = now  # bulk_update does not apply auto_now
        ClientActivity.objects.bulk_update(opened, ["state", "unlocked_at", "updated_at"])
        JourneyEvent.objects.bulk_create(
            JourneyEvent(enrollment=enrollment, activity=row, kind=EventKind.UNLOCKED, at=now)
            for row in opened
        )
        # The client sees what opens after their own action at once; tell them only about
        # what opens because of someone else.
        if actor is None or actor.pk != enrollment.client_id:
            queue_notifications(
                notices.step_open(row, enrollment.engagement.title, enrollment.client_id)
                for row in opened if row.pk not in quiet
            )
        hand_off_opened({enrollment.pk: opened}, [enrollment], actor=actor, now=now)
    remaining = [r for r in rows if r.state not in DONE_STATES + (ActivityState.REMOVED,)]
    if rows and not remaining and enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.status = EnrollmentStatus.COMPLETED
        enrollment.completed_at = now
        enrollment.save(update_fields=["status", "completed_at"])
        JourneyEvent.objects.create(
            enrollment=enrollment, kind=EventKind.ENROLLMENT_COMPLETED, actor=actor, at=now
        )
    return opened


def add_extra_activity(
    enrollment, kind, value, *, actor=None, stage_block_id="", unlock=None, now=None,
    announce=True,
):
    """Add an activity to one client's journey, at the end of a stage (or of the journey).

    ``value`` is the raw value of the activity block of type ``kind``; it is validated by the
    block itself and InvalidActivity carries the errors. The row survives every program sync.
    ``announce=False``: if it opens now, the caller tells the client about it in its own
    message (no "step open" message); opening later, on its date, is announced as usual.
    """
    now = now or timezone.now()
    block = ACTIVITY_BLOCKS.get(kind)
    if block is None:
        raise InvalidActivity(_("Unknown activity type: %(kind)s") % {"kind": kind})
    value = dict(value)
    value.setdefault("unlock", unlock or {"rule": UnlockRule.IMMEDIATELY})
    try:
        cleaned = block.clean(block.to_python(value))
    except ValidationError as exc:
        raise InvalidActivity(_("The activity is not valid."), exc) from exc
    # As a StreamField stores it: dates (an "on a date" rule) become ISO strings.
    raw = json.loads(json.dumps(block.get_prep_value(cleaned), cls=DjangoJSONEncoder))
    unlock = cleaned["unlock"]

    with transaction.atomic():
        enrollment = lock_enrollment(enrollment.pk)
        _require_open(enrollment)
        stages = program_stages(enrollment.engagement.program)
        if stage_block_id and stage_block_id not in stages:
            raise InvalidActivity(_("That stage is not part of the program."))
        stage = stages.get(stage_block_id)
        stage_position = stage.position if stage else len(stages)
        last = enrollment.activities.filter(stage_position=stage_position).aggregate(
            m=Max("position")
        )["m"]
        row = ClientActivity(
            enrollment=enrollment,
            source=ActivitySource.EXTRA,
            block_id=f"extra-{uuid.uuid4()}",
            kind=kind,
            title=cleaned["title"],
            stage_block_id=stage_block_id,
            stage_title=stage.title if stage else "",
            stage_position=stage_position,
            position=(last + 1) if last is not None else 0,
            unlock_rule=unlock["rule"],
            unlock_days=unlock.get("days"),
            unlock_date=unlock.get("date"),
            value=raw,
            state=ActivityState.LOCKED,
        )
        row.unlock_at = unlock_time(
            row.unlock_rule, row.unlock_days, row.unlock_date, enrollment,
            enrollment.cohort.start_date if enrollment.cohort_id else None,
        )
        row.save()
        JourneyEvent.objects.create(
            enrollment=enrollment, activity=row, kind=EventKind.EXTRA_ADDED, actor=actor, at=now,
            data={"kind": kind, "title": row.title},
        )
        _advance(enrollment, actor, now, quiet=() if announce else (row.pk,))
    row.refresh_from_db()
    return row


def hand_off_opened(opened_by_enrollment, enrollments, *, actor=None, now=None):
    """Hand clients over when what just opened starts a stage led by another role.

    Only engagements with a team and stages with a lead role do any work; the program of
    each engagement is read once.
    """
    roles_by_engagement = {}
    for enrollment in enrollments:
        engagement = enrollment.engagement
        if engagement.team_id is None:
            continue
        if engagement.pk not in roles_by_engagement:
            roles_by_engagement[engagement.pk] = stage_lead_roles(engagement.program)
        stage_roles = roles_by_engagement[engagement.pk]
        if stage_roles:
            hand_off_for_stages(
                enrollment, stage_roles, opened_by_enrollment.get(enrollment.pk, []),
                actor=actor, now=now,
            )


def unlock_due_activities(now=None, batch_size=None):
    """Open every locked activity whose time-based rule has come due, in batches.

    Each batch is one transaction with a constant number of statements; rows are claimed
    with ``SKIP LOCKED`` where the database has it, so concurrent runs share the work and a
    second run finds nothing left. Returns the number of activities opened.

    A batch takes the earliest due rows (a quarter of ``batch_size``), then every due row of
    their enrollments, enrollment by enrollment, up to ``batch_size``. A cohort enrolled
    together has its steps due at the same times: taken by time alone, each batch would
    touch one row of a thousand journeys, and every page of the tables and indexes once per
    step; taken by journey, a batch touches a few pages, and a backlog costs the same per
    row however many journeys there are.

    Each batch looks for due rows after the last one a batch finished with (by
    ``(unlock_at, id)``), not from the start: the rows opened before it stay in the index
    until vacuum, and stepping over them in every batch would make a backlog cost more per
    row the larger it is. Once nothing is left after that point, one more look from the
    start catches what it passed over (rows another run held, rows added meanwhile).
    """
    now = now or timezone.now()
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    due_rows = ClientActivity.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        state=ActivityState.LOCKED,
        unlock_at__isnull=False,
        unlock_at__lte=now,
        enrollment__status=EnrollmentStatus.ACTIVE,
    )
    total = 0
    after = None  # (unlock_at, id) of the last earliest-due row whose journey is done
    while True:
        with transaction.atomic():
            # Locked here too: a concurrent run takes other journeys.
            heads = due_rows if after is None else due_rows.filter(
                GreaterThan(Row("unlock_at", "id"), Row(*after))
            )
            heads = list(
                heads.order_by("unlock_at", "id")
                .values_list("enrollment_id", "unlock_at", "id")[: max(1, batch_size // 4)]
            )
            if not heads:
                if after is None:
                    return total
                after = None
                continue
            if set_based():
                claimed, last_enrollment_id = _open_batch_in_sql(heads, now, batch_size)
            else:
                claimed, last_enrollment_id = _open_batch(heads, due_rows, now, batch_size)
            if not claimed:  # cannot happen: the heads are due, and locked by this run
                return total
            after = _last_done(heads, claimed, last_enrollment_id, batch_size, after)
            total += claimed


def _open_batch(heads, due_rows, now, batch_size):
    """Open the due rows of the heads' journeys (the Python engine). Returns the number of
    rows claimed and the last journey they belong to."""
    due = list(
        due_rows.filter(enrollment_id__in={h[0] for h in heads})
        # Just what the events and messages need: loading each row's engagement
        # page would cost more than the rest of the batch.
        .annotate(
            client_id=F("enrollment__client_id"),
            engagement_title=F("enrollment__engagement__title"),
            team_id=F("enrollment__engagement__team_id"),
        )
        .only("id", "public_id", "enrollment_id", "title", "unlock_rule", "stage_block_id")
        .order_by("enrollment_id", "unlock_at", "id")[:batch_size]
    )
    if not due:
        return 0, None
    ClientActivity.objects.filter(
        id__in=[r.id for r in due], state=ActivityState.LOCKED
    ).update(state=ActivityState.AVAILABLE, unlocked_at=now, updated_at=now)
    JourneyEvent.objects.bulk_create(
        JourneyEvent(
            enrollment_id=r.enrollment_id, activity_id=r.id, kind=EventKind.UNLOCKED,
            at=now, data={"rule": r.unlock_rule},
        )
        for r in due
    )
    queue_notifications(notices.step_open(r, r.engagement_title, r.client_id) for r in due)
    _hand_off_due([r for r in due if r.team_id is not None], now)
    return len(due), due[-1].enrollment_id


def _open_batch_in_sql(heads, now, batch_size):
    """``_open_batch`` as set-based SQL: one statement claims, opens and records the rows,
    one more queues their messages."""
    opened, claimed, last_enrollment_id = unlock_batch({h[0] for h in heads}, now, batch_size)
    if opened:
        queue_selected(*notices.step_open_select([row[0] for row in opened]))
    _hand_off_due(
        [
            ClientActivity(id=pk, enrollment_id=enrollment_id, stage_block_id=stage)
            for pk, enrollment_id, stage, team_id in opened if team_id is not None
        ],
        now,
    )
    return claimed, last_enrollment_id


def _hand_off_due(rows, now):
    """Hand-offs concern only engagements run by a team: one query for those."""
    by_enrollment = {}
    for r in rows:
        by_enrollment.setdefault(r.enrollment_id, []).append(r)
    if by_enrollment:
        hand_off_opened(
            by_enrollment,
            Enrollment.objects.filter(pk__in=by_enrollment).select_related("engagement"),
            now=now,
        )


class Row(Func):
    """A row value, ``(a, b)``: compared column by column, it is served by an index on
    ``(a, b)`` as a range."""

    function = ""
    output_field = Field()


def _last_done(heads, claimed, last_enrollment_id, batch_size, after):
    """The last of ``heads`` (in due order) up to which every journey has all its due rows
    in the batch (``claimed`` rows, the last of journey ``last_enrollment_id``); ``after``
    if the first head's journey did not fit in the batch."""
    if claimed < batch_size:
        done = {h[0] for h in heads}
    else:  # the batch may have stopped inside its last journey, and before later ones
        done = {h[0] for h in heads if h[0] < last_enrollment_id}
    for enrollment_id, unlock_at, row_id in heads:
        if enrollment_id not in done:
            break
        after = (unlock_at, row_id)
    return after
