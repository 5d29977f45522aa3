"""The journey services' bulk work as set-based SQL, on PostgreSQL.

Enrolling, the time-based unlock job and the program sync write hundreds of thousands of
rows for a large engagement. The Python engine (``engine.py``) builds a model object for
each of them; here the database computes the same rows in a handful of statements per
batch. The rules are the engine's, restated in SQL: a test runs both on the same journeys
and compares every business column of what they wrote.

``set_based()`` is the one place that chooses: PostgreSQL takes these statements, every
other database (SQLite, the embedded default) the Python engine. ``python_engine()`` makes
PostgreSQL take the Python engine too (the comparison test uses it).
"""

import contextlib
import contextvars
import datetime
import json

from django.db import connections, router

from ..models import (
    ActivitySource,
    ActivityState,
    ClientActivity,
    Cohort,
    EngagementPage,
    Enrollment,
    EventKind,
    JourneyEvent,
)
from .engine import TIME_RULES, _local_midnight

_python_only = contextvars.ContextVar("coaching_python_engine", default=False)


def connection_for(model=ClientActivity):
    return connections[router.db_for_write(model)]


def set_based(model=ClientActivity):
    """Whether the bulk journey work runs as set-based SQL on this database."""
    return connection_for(model).vendor == "postgresql" and not _python_only.get()


@contextlib.contextmanager
def python_engine():
    """Run the Python engine whatever the database (the reference the SQL is checked
    against)."""
    token = _python_only.set(True)
    try:
        yield
    finally:
        _python_only.reset(token)


def _table(model):
    return connection_for(model).ops.quote_name(model._meta.db_table)


def _json(value):
    return json.dumps(value, separators=(",", ":"))


# Columns of a client's activity row as the statements below write them, in this order.
ROW_COLUMNS = (
    "public_id", "enrollment_id", "source", "block_id", "kind", "title", "stage_block_id",
    "stage_title", "stage_position", "position", "unlock_rule", "unlock_days", "unlock_date",
    "value", "state", "unlock_at", "unlocked_at", "due_at", "completed_at", "response",
    "score", "created_at", "updated_at",
)
EVENT_COLUMNS = "enrollment_id, activity_id, kind, actor_id, at, data, rules_done"


# -- Enrolling ----------------------------------------------------------------------------


def insert_program_rows(enrollment_ids, template_rows, written_at):
    """Every row of ``template_rows`` (one journey's rows, as the engine made them) for each
    enrollment, in one statement. Rows of one ``enroll_many`` call are the same for every
    client: they share the start, the cohort and the program."""
    if not enrollment_ids or not template_rows:
        return
    fields = (
        "block_id", "kind", "title", "stage_block_id", "stage_title", "stage_position",
        "position", "unlock_rule", "unlock_days", "unlock_date", "state", "unlock_at",
        "unlocked_at",
    )
    types = (
        "text", "text", "text", "text", "text", "int", "int", "text", "int", "date", "text",
        "timestamptz", "timestamptz",
    )
    arrays = [[getattr(row, f) for row in template_rows] for f in fields]
    unnest = ", ".join(f"%s::{t}[]" for t in types)
    columns = ", ".join(ROW_COLUMNS)
    sql = (
        f"INSERT INTO {_table(ClientActivity)} ({columns}) "
        "SELECT gen_random_uuid(), e.id, %s, t.block_id, t.kind, t.title, t.stage_block_id, "
        "t.stage_title, t.stage_position, t.position, t.unlock_rule, t.unlock_days, "
        "t.unlock_date, NULL, t.state, t.unlock_at, t.unlocked_at, NULL, NULL, NULL, NULL, "
        "%s, %s "
        "FROM unnest(%s::bigint[]) WITH ORDINALITY AS e(id, n) "
        f"CROSS JOIN unnest({unnest}) WITH ORDINALITY AS t({', '.join(fields)}, m) "
        "ORDER BY e.n, t.m"
    )
    with connection_for().cursor() as cursor:
        cursor.execute(
            sql, [ActivitySource.PROGRAM, written_at, written_at, list(enrollment_ids), *arrays]
        )


def insert_events(enrollment_ids, kind, at, data, actor_id=None):
    """One journey event of ``kind`` per enrollment, in one statement."""
    if not enrollment_ids:
        return
    with connection_for().cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(JourneyEvent)} ({EVENT_COLUMNS}) "
            "SELECT e.id, NULL, %s, %s, %s, %s::jsonb, false "
            "FROM unnest(%s::bigint[]) WITH ORDINALITY AS e(id, n) ORDER BY e.n",
            [kind, actor_id, at, _json(data), list(enrollment_ids)],
        )


# -- The time-based unlock job ------------------------------------------------------------


def unlock_batch(enrollment_ids, now, batch_size):
    """Claim and open the due rows of these journeys (at most ``batch_size``, skipping rows
    another run holds), with their "step opened" events, in one statement.

    Returns ``(opened, claimed, last_enrollment_id)``: the opened rows as
    ``(id, enrollment_id, stage_block_id, team_id)``, how many rows were claimed, and the
    highest enrollment id among them.
    """
    act, enr = _table(ClientActivity), _table(Enrollment)
    page = _table(EngagementPage)
    page_pk = EngagementPage._meta.pk.column
    sql = (
        "WITH due AS ("
        f"  SELECT a.id, a.enrollment_id FROM {act} a JOIN {enr} e ON e.id = a.enrollment_id"
        "   WHERE a.enrollment_id = ANY(%(ids)s::bigint[]) AND a.state = %(locked)s"
        "     AND a.unlock_at IS NOT NULL AND a.unlock_at <= %(now)s AND e.status = %(active)s"
        "   ORDER BY a.enrollment_id, a.unlock_at, a.id LIMIT %(limit)s"
        "   FOR UPDATE OF a SKIP LOCKED"
        "), opened AS ("
        f"  UPDATE {act} a SET state = %(available)s, unlocked_at = %(now)s, updated_at = %(now)s"
        "   FROM due WHERE a.id = due.id AND a.state = %(locked)s"
        "   RETURNING a.id, a.enrollment_id, a.unlock_rule, a.stage_block_id"
        "), events AS ("
        f"  INSERT INTO {_table(JourneyEvent)} ({EVENT_COLUMNS})"
        "   SELECT o.enrollment_id, o.id, %(kind)s, NULL, %(now)s,"
        "          jsonb_build_object('rule', o.unlock_rule), false"
        "   FROM opened o ORDER BY o.enrollment_id, o.id"
        ") "
        "SELECT o.id, o.enrollment_id, o.stage_block_id, p.team_id FROM opened o"
        f" JOIN {enr} e ON e.id = o.enrollment_id"
        f" JOIN {page} p ON p.{page_pk} = e.engagement_id "
        "UNION ALL SELECT NULL, max(d.enrollment_id), NULL, count(*) FROM due d"
    )
    params = {
        "ids": list(enrollment_ids), "now": now, "limit": batch_size,
        "locked": ActivityState.LOCKED, "available": ActivityState.AVAILABLE,
        "active": "active", "kind": EventKind.UNLOCKED,
    }
    with connection_for().cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    summary = rows.pop()
    return rows, summary[3], summary[1]


# -- The program sync ---------------------------------------------------------------------


SPEC_FIELDS = (
    ("block_id", "text"), ("kind", "text"), ("title", "text"), ("stage_block_id", "text"),
    ("stage_title", "text"), ("stage_position", "int"), ("position", "int"),
    ("unlock_rule", "text"), ("unlock_days", "int"), ("unlock_date", "date"),
)
UPDATED_FIELDS = (
    "block_id", "kind", "title", "stage_block_id", "stage_title", "stage_position", "position",
    "unlock_rule", "unlock_days", "unlock_date", "unlock_at",
)


def _cohort_midnights(enrollment_ids, specs):
    """(cohort start date, days, local midnight that many days later) for the cohorts of
    these enrollments and the days of the program's rules, computed by the engine's own
    function (local midnight, whatever the time zone's rules)."""
    starts = set(
        Cohort.objects.filter(enrollments__id__in=enrollment_ids)
        .values_list("start_date", flat=True)
    )
    days = {s.unlock_days or 0 for s in specs} | {0}
    table = [
        (start, d, _local_midnight(start) + datetime.timedelta(days=d))
        for start in starts for d in days
    ]
    return [t[0] for t in table], [t[1] for t in table], [t[2] for t in table]


def _unlock_at_sql(rule, days, date_midnight):
    """The engine's ``unlock_time`` for a row of rule ``rule`` (SQL expressions)."""
    return (
        f"CASE {rule}"
        f" WHEN %(r_enrollment)s THEN x.starts_at + make_interval(secs => coalesce({days}, 0)"
        " * 86400)"
        f" WHEN %(r_cohort)s THEN coalesce(cm.midnight, x.starts_at + make_interval(secs =>"
        f" coalesce({days}, 0) * 86400))"
        f" WHEN %(r_date)s THEN {date_midnight}"
        " END"
    )


def sync_plan(enrollment_ids, specs, stages, now):
    """Work out the changes of these journeys into a temporary table (dropped at commit):
    one row per activity row, existing or new, with its new values, whether it changed and
    whether it opens now. The caller has locked the rows (``lock_rows``)."""
    act, enr = _table(ClientActivity), _table(Enrollment)
    spec_arrays = {f"s_{name}": [getattr(s, name) for s in specs] for name, _ in SPEC_FIELDS}
    date_midnights = {
        s.unlock_date: _local_midnight(s.unlock_date) for s in specs if s.unlock_date
    }
    cohort_dates, cohort_days, cohort_midnights = _cohort_midnights(enrollment_ids, specs)
    params = {
        "ids": list(enrollment_ids), "now": now, **spec_arrays,
        "st_block_id": [s.block_id for s in stages.values()],
        "st_title": [s.title for s in stages.values()],
        "st_position": [s.position for s in stages.values()],
        "n_stages": len(stages),
        "d_date": list(date_midnights), "d_midnight": list(date_midnights.values()),
        "c_date": cohort_dates, "c_days": cohort_days, "c_midnight": cohort_midnights,
        "program": ActivitySource.PROGRAM, "extra": ActivitySource.EXTRA,
        "locked": ActivityState.LOCKED, "available": ActivityState.AVAILABLE,
        "removed": ActivityState.REMOVED, "completed": ActivityState.COMPLETED,
        "skipped": ActivityState.SKIPPED, "immediately": "immediately",
        "after_previous": "after_previous", "time_rules": sorted(TIME_RULES),
        "r_enrollment": "days_after_enrollment", "r_cohort": "days_after_cohort_start",
        "r_date": "on_date", "active": "active",
    }
    spec_unnest = ", ".join(f"%(s_{name})s::{t}[]" for name, t in SPEC_FIELDS)
    spec_names = ", ".join(name for name, _ in SPEC_FIELDS)
    matched_unlock = _unlock_at_sql("s.unlock_rule", "s.unlock_days", "dm.midnight")
    sql = f"""
    CREATE TEMPORARY TABLE coaching_sync_plan ON COMMIT DROP AS
    WITH spec AS (
        SELECT * FROM unnest({spec_unnest}) AS s({spec_names})
    ), stage AS (
        SELECT * FROM unnest(%(st_block_id)s::text[], %(st_title)s::text[],
                             %(st_position)s::int[]) AS st(block_id, title, position)
    ), x AS (
        SELECT e.id, e.status, e.starts_at, c.start_date AS cohort_start
        FROM {enr} e LEFT JOIN {_table(Cohort)} c ON c.id = e.cohort_id
        WHERE e.id = ANY(%(ids)s::bigint[])
    ), dates AS (
        SELECT * FROM unnest(%(d_date)s::date[], %(d_midnight)s::timestamptz[])
            AS d(day, midnight)
    ), cohort_midnights AS (
        SELECT * FROM unnest(%(c_date)s::date[], %(c_days)s::int[],
                             %(c_midnight)s::timestamptz[]) AS c(day, days, midnight)
    ), cur AS (
        SELECT a.* FROM {act} a WHERE a.enrollment_id = ANY(%(ids)s::bigint[])
    ), matched AS (
        -- Program rows still in the program: take the program's values; a removed one
        -- comes back (open if it had been opened), and a changed rule is worked out again.
        SELECT a.id, a.enrollment_id, a.source, s.block_id, s.kind, s.title,
               s.stage_block_id, s.stage_title, s.stage_position, s.position, s.unlock_rule,
               s.unlock_days, s.unlock_date, a.state AS old_state, a.unlock_at AS old_unlock_at,
               a.unlocked_at,
               CASE WHEN a.state = %(removed)s THEN
                    CASE WHEN a.unlocked_at IS NOT NULL THEN %(available)s ELSE %(locked)s END
                    ELSE a.state END AS state,
               (a.unlock_rule IS DISTINCT FROM s.unlock_rule
                OR a.unlock_days IS DISTINCT FROM s.unlock_days
                OR a.unlock_date IS DISTINCT FROM s.unlock_date
                OR a.state = %(removed)s) AS rule_changed,
               (a.kind IS DISTINCT FROM s.kind OR a.title IS DISTINCT FROM s.title
                OR a.stage_block_id IS DISTINCT FROM s.stage_block_id
                OR a.stage_title IS DISTINCT FROM s.stage_title
                OR a.stage_position IS DISTINCT FROM s.stage_position
                OR a.position IS DISTINCT FROM s.position
                OR a.unlock_rule IS DISTINCT FROM s.unlock_rule
                OR a.unlock_days IS DISTINCT FROM s.unlock_days
                OR a.unlock_date IS DISTINCT FROM s.unlock_date
                OR a.state = %(removed)s) AS changed,
               {matched_unlock} AS rule_unlock_at
        FROM cur a
        JOIN spec s ON s.block_id = a.block_id
        JOIN x ON x.id = a.enrollment_id
        LEFT JOIN dates dm ON dm.day = s.unlock_date
        LEFT JOIN cohort_midnights cm ON cm.day = x.cohort_start
             AND cm.days = coalesce(s.unlock_days, 0)
        WHERE a.source = %(program)s
    ), planned AS (
        SELECT m.id, m.enrollment_id, m.source, m.block_id, m.kind, m.title,
               m.stage_block_id, m.stage_title, m.stage_position, m.position, m.unlock_rule,
               m.unlock_days, m.unlock_date, m.state,
               CASE WHEN m.rule_changed AND m.state = %(locked)s THEN
                    CASE WHEN m.unlock_rule = ANY(%(time_rules)s::text[])
                         THEN m.rule_unlock_at END
                    ELSE m.old_unlock_at END AS unlock_at,
               m.unlocked_at, m.changed, false AS is_new, false AS removed_now
        FROM matched m
        UNION ALL
        -- Program rows no longer in the program: removed, unless completed.
        SELECT a.id, a.enrollment_id, a.source, a.block_id, a.kind, a.title,
               a.stage_block_id, a.stage_title, a.stage_position, a.position, a.unlock_rule,
               a.unlock_days, a.unlock_date,
               CASE WHEN a.state IN (%(completed)s, %(removed)s) THEN a.state
                    ELSE %(removed)s END,
               a.unlock_at, a.unlocked_at,
               a.state NOT IN (%(completed)s, %(removed)s),
               false, a.state NOT IN (%(completed)s, %(removed)s)
        FROM cur a
        WHERE a.source = %(program)s AND NOT EXISTS (
            SELECT 1 FROM spec s WHERE s.block_id = a.block_id)
        UNION ALL
        -- Extra activities follow their stage (a stage that is gone sends them to the end).
        SELECT a.id, a.enrollment_id, a.source, a.block_id, a.kind, a.title,
               a.stage_block_id, coalesce(st.title, a.stage_title),
               coalesce(st.position, %(n_stages)s), a.position, a.unlock_rule,
               a.unlock_days, a.unlock_date, a.state, a.unlock_at, a.unlocked_at,
               (a.stage_position IS DISTINCT FROM coalesce(st.position, %(n_stages)s)
                OR a.stage_title IS DISTINCT FROM coalesce(st.title, a.stage_title)),
               false, false
        FROM cur a LEFT JOIN stage st ON st.block_id = a.stage_block_id
        WHERE a.source <> %(program)s
        UNION ALL
        -- Activities new to the program: locked, until their rule says otherwise.
        SELECT NULL, x.id, %(program)s, s.block_id, s.kind, s.title, s.stage_block_id,
               s.stage_title, s.stage_position, s.position, s.unlock_rule, s.unlock_days,
               s.unlock_date, %(locked)s,
               {_unlock_at_sql("s.unlock_rule", "s.unlock_days", "dm.midnight")},
               NULL, true, true, false
        FROM x CROSS JOIN spec s
        LEFT JOIN dates dm ON dm.day = s.unlock_date
        LEFT JOIN cohort_midnights cm ON cm.day = x.cohort_start
             AND cm.days = coalesce(s.unlock_days, 0)
        WHERE NOT EXISTS (
            SELECT 1 FROM cur a WHERE a.enrollment_id = x.id AND a.block_id = s.block_id
              AND a.source = %(program)s)
    ), ordered AS (
        -- The engine's open_due: journey order, removed rows left out of "the previous".
        SELECT p.*, lag(p.state) OVER (
                   PARTITION BY p.enrollment_id
                   ORDER BY p.stage_position, p.position, coalesce(p.id, 0)
               ) AS previous_state,
               row_number() OVER (
                   PARTITION BY p.enrollment_id
                   ORDER BY p.stage_position, p.position, coalesce(p.id, 0)
               ) AS journey_index
        FROM planned p WHERE p.state <> %(removed)s
    )
    SELECT p.*, coalesce(
           x.status = %(active)s AND p.state = %(locked)s AND (
               p.unlock_rule = %(immediately)s
               OR (p.unlock_rule = %(after_previous)s AND (
                   o.journey_index = 1 OR o.previous_state IN (%(completed)s, %(skipped)s)))
               OR (p.unlock_rule = ANY(%(time_rules)s::text[])
                   AND p.unlock_at IS NOT NULL AND p.unlock_at <= %(now)s)
           ), false) AS opens
    FROM planned p
    JOIN x ON x.id = p.enrollment_id
    LEFT JOIN ordered o ON o.enrollment_id = p.enrollment_id
         AND o.block_id = p.block_id
    """
    with connection_for().cursor() as cursor:
        cursor.execute(sql, params)


def lock_rows(enrollment_ids, wanted_block_ids):
    """Lock every activity row of these journeys (as the Python engine does before its
    plan) and return their program rows no longer in the program, as ``(enrollment_id,
    kind, title)``: one statement."""
    with connection_for().cursor() as cursor:
        cursor.execute(
            "SELECT a.enrollment_id, a.kind, a.title FROM ("
            f"  SELECT enrollment_id, source, block_id, kind, title FROM {_table(ClientActivity)}"
            "   WHERE enrollment_id = ANY(%s::bigint[]) FOR UPDATE"
            ") AS a WHERE a.source = %s AND NOT a.block_id = ANY(%s::text[])",
            [list(enrollment_ids), ActivitySource.PROGRAM, list(wanted_block_ids)],
        )
        return cursor.fetchall()


def apply_sync_plan(enrollment_ids, revision_id, now):
    """Write the plan of ``sync_plan``: changed rows updated, new rows inserted, a "program
    updated" event for each journey that changed and a "step opened" event for each row
    that opened, and the revision recorded on every enrollment.

    Returns ``(changed enrollments, opened rows as (id, enrollment_id, stage_block_id))``.
    """
    act, enr = _table(ClientActivity), _table(Enrollment)
    assignments = ", ".join(f"{name} = p.{name}" for name in UPDATED_FIELDS)
    columns = ", ".join(ROW_COLUMNS)
    events = _table(JourneyEvent)
    with connection_for().cursor() as cursor:
        cursor.execute(
            f"UPDATE {act} a SET {assignments}, "
            "state = CASE WHEN p.opens THEN %(available)s ELSE p.state END, "
            "unlocked_at = CASE WHEN p.opens THEN %(now)s ELSE a.unlocked_at END, "
            "updated_at = %(now)s "
            "FROM coaching_sync_plan p WHERE a.id = p.id AND (p.changed OR p.opens)",
            {"available": ActivityState.AVAILABLE, "now": now},
        )
        cursor.execute(
            f"INSERT INTO {act} ({columns}) "
            "SELECT gen_random_uuid(), p.enrollment_id, p.source, p.block_id, p.kind, p.title, "
            "p.stage_block_id, p.stage_title, p.stage_position, p.position, p.unlock_rule, "
            "p.unlock_days, p.unlock_date, NULL, "
            "CASE WHEN p.opens THEN %(available)s ELSE p.state END, p.unlock_at, "
            "CASE WHEN p.opens THEN %(now)s END, NULL, NULL, NULL, NULL, %(now)s, %(now)s "
            "FROM coaching_sync_plan p WHERE p.is_new "
            "ORDER BY p.enrollment_id, p.stage_position, p.position",
            {"available": ActivityState.AVAILABLE, "now": now},
        )
        cursor.execute(
            f"INSERT INTO {events} ({EVENT_COLUMNS}) "
            "SELECT p.enrollment_id, NULL::bigint, %(updated)s, NULL::integer, %(now)s, "
            "jsonb_build_object("
            "'added', count(*) FILTER (WHERE p.is_new), "
            "'removed', count(*) FILTER (WHERE p.removed_now), 'revision', %(revision)s::bigint"
            "), false FROM coaching_sync_plan p GROUP BY p.enrollment_id "
            "HAVING bool_or(p.changed OR p.opens) "
            "UNION ALL "
            "SELECT a.enrollment_id, a.id, %(unlocked)s, NULL::integer, %(now)s, '{}'::jsonb, "
            "false "
            f"FROM coaching_sync_plan p JOIN {act} a ON a.enrollment_id = p.enrollment_id "
            "AND a.block_id = p.block_id WHERE p.opens "
            "RETURNING kind, activity_id",
            {"updated": EventKind.PROGRAM_UPDATED, "unlocked": EventKind.UNLOCKED, "now": now,
             "revision": revision_id},
        )
        written = cursor.fetchall()
        changed = sum(1 for kind, _ in written if kind == EventKind.PROGRAM_UPDATED)
        opened_ids = [pk for kind, pk in written if kind == EventKind.UNLOCKED]
        cursor.execute(
            f"UPDATE {enr} SET program_revision_id = %s WHERE id = ANY(%s::bigint[])",
            [revision_id, list(enrollment_ids)],
        )
        cursor.execute("DROP TABLE coaching_sync_plan")
    return changed, opened_ids
