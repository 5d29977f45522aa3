"""Floors for the journey benchmarks: each step as the fewest plain statements PostgreSQL
needs to write exactly the rows the package writes, and fingerprints that show it did.

A floor knows the benchmark's program (``bench_journeys.bench_program``) and nothing of the
package's rules beyond it; it is what the database can do, the package's time is judged
against it. The fingerprints are computed by the database (millions of rows never reach
Python): an md5 of every business column of the engagement's enrollments, activity rows,
journey events and step messages, with ids replaced by what they stand for (the client's
username, the block id).
"""

import json

FINGERPRINTS = {
    "enrollments": """
        SELECT concat_ws('|', u.username, e.status, e.source, e.company_id, e.cohort_id,
                         e.starts_at, e.ends_at, e.completed_at, e.program_revision_id) AS x
        FROM wagtail_coaching_enrollment e JOIN auth_user u ON u.id = e.client_id
        WHERE e.engagement_id = %(page)s""",
    "activities": """
        SELECT concat_ws('|', u.username, a.source,
                         CASE WHEN a.source = 'program' THEN a.block_id
                              ELSE 'extra:' || a.title END,
                         a.kind, a.title, a.stage_block_id, a.stage_title, a.stage_position,
                         a.position, a.unlock_rule, a.unlock_days, a.unlock_date, a.value,
                         a.state, a.unlock_at, a.unlocked_at, a.due_at, a.completed_at,
                         a.response, a.score) AS x
        FROM wagtail_coaching_clientactivity a
        JOIN wagtail_coaching_enrollment e ON e.id = a.enrollment_id
        JOIN auth_user u ON u.id = e.client_id
        WHERE e.engagement_id = %(page)s""",
    "events": """
        SELECT concat_ws('|', u.username, coalesce(a.block_id, '-'), v.kind, v.actor_id, v.at,
                         v.data) AS x
        FROM wagtail_coaching_journeyevent v
        JOIN wagtail_coaching_enrollment e ON e.id = v.enrollment_id
        JOIN auth_user u ON u.id = e.client_id
        LEFT JOIN wagtail_coaching_clientactivity a ON a.id = v.activity_id
        WHERE e.engagement_id = %(page)s""",
    "notifications": """
        SELECT concat_ws('|', u.username, n.kind, a.block_id, n.channel,
                         n.payload - 'activity_path',
                         replace(n.payload ->> 'activity_path', a.public_id::text, a.block_id),
                         n.send_after) AS x
        FROM wagtail_coaching_notification n
        JOIN wagtail_coaching_clientactivity a
             ON n.dedup_key = 'step-open:' || a.id
        JOIN wagtail_coaching_enrollment e ON e.id = a.enrollment_id
        JOIN auth_user u ON u.id = n.recipient_id
        WHERE n.kind = 'step_open' AND e.engagement_id = %(page)s""",
}


def fingerprint(page_id):
    """{table: md5 of its rows}: equal for two runs that wrote the same journeys ({} on a
    database other than PostgreSQL, which runs no floor)."""
    from django.db import connection

    found = {}
    if connection.vendor != "postgresql":
        return found
    with connection.cursor() as cursor:
        for table, sql in FINGERPRINTS.items():
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) "
                f"FROM ({sql}) AS rows",
                {"page": page_id},
            )
            count, digest = cursor.fetchone()
            found[table] = f"{count}:{digest[:12]}"
    return found


def _spec_arrays(program):
    from wagtail_coaching.journeys.program import flatten_program

    specs = flatten_program(program)
    names = ("block_id", "kind", "title", "stage_block_id", "stage_title", "stage_position",
             "position", "unlock_rule", "unlock_days")
    return {f"s_{n}": [getattr(s, n) for s in specs] for n in names}


SPEC = """spec AS (
    SELECT * FROM unnest(%(s_block_id)s::text[], %(s_kind)s::text[], %(s_title)s::text[],
        %(s_stage_block_id)s::text[], %(s_stage_title)s::text[], %(s_stage_position)s::int[],
        %(s_position)s::int[], %(s_unlock_rule)s::text[], %(s_unlock_days)s::int[])
        WITH ORDINALITY AS s(block_id, kind, title, stage_block_id, stage_title,
                             stage_position, position, unlock_rule, unlock_days, n)
)"""

STEP_OPEN = """
    INSERT INTO wagtail_coaching_notification (recipient_id, email, kind, dedup_key, payload,
        channel, created_at, attempts, last_error, skipped)
    SELECT e.client_id, '', 'step_open', 'step-open:' || o.id, jsonb_build_object(
        'engagement_title', p.title, 'activity_title', o.title,
        'activity_path', '/coaching/activity/' || o.public_id || '/'),
        'email', %(now)s, 0, '', false
    FROM {opened} o JOIN wagtail_coaching_enrollment e ON e.id = o.enrollment_id
    JOIN wagtailcore_page p ON p.id = e.engagement_id
    ON CONFLICT (dedup_key) DO NOTHING"""


def enroll(page, user_ids, now):
    """Enrollments, their program rows (unlock time and first state computed in SQL) and
    their "enrolled" events: one statement."""
    from django.db import connection, transaction

    params = {
        "page": page.pk, "users": list(user_ids), "now": now,
        "revision": page.live_revision_id,
        "data": json.dumps({"source": "admin", "revision": page.live_revision_id}),
        **_spec_arrays(page.program),
    }
    sql = f"""
    WITH {SPEC}, e AS (
        INSERT INTO wagtail_coaching_enrollment (public_id, client_id, engagement_id, status,
            source, starts_at, created_at, program_revision_id, at_risk_reason)
        SELECT gen_random_uuid(), u, %(page)s, 'active', 'admin', %(now)s, %(now)s,
               %(revision)s, ''
        FROM unnest(%(users)s::bigint[]) AS u RETURNING id
    ), rows AS (
        SELECT e.id AS enrollment_id, s.*,
               CASE WHEN s.unlock_rule = 'days_after_enrollment'
                    THEN %(now)s + make_interval(days => s.unlock_days) END AS unlock_at
        FROM e CROSS JOIN spec s
    ), a AS (
        INSERT INTO wagtail_coaching_clientactivity (public_id, enrollment_id, source,
            block_id, kind, title, stage_block_id, stage_title, stage_position, position,
            unlock_rule, unlock_days, state, unlock_at, unlocked_at, created_at, updated_at)
        SELECT gen_random_uuid(), r.enrollment_id, 'program', r.block_id, r.kind, r.title,
               r.stage_block_id, r.stage_title, r.stage_position, r.position, r.unlock_rule,
               r.unlock_days, o.state, r.unlock_at,
               CASE WHEN o.state = 'available' THEN %(now)s END, %(now)s, %(now)s
        FROM rows r, LATERAL (SELECT CASE WHEN r.unlock_rule = 'immediately'
                OR (r.unlock_rule = 'after_previous' AND r.n = 1)
                OR r.unlock_at <= %(now)s THEN 'available' ELSE 'locked' END AS state) o
    )
    INSERT INTO wagtail_coaching_journeyevent (enrollment_id, kind, at, data, rules_done)
    SELECT e.id, 'enrolled', %(now)s, %(data)s::jsonb, false FROM e
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def unlock(now):
    """Every due row opened: one UPDATE ... RETURNING feeding the events and the messages."""
    from django.db import connection, transaction

    opened = """opened AS (
        UPDATE wagtail_coaching_clientactivity a
        SET state = 'available', unlocked_at = %(now)s, updated_at = %(now)s
        FROM wagtail_coaching_enrollment e
        WHERE e.id = a.enrollment_id AND e.status = 'active' AND a.state = 'locked'
          AND a.unlock_at IS NOT NULL AND a.unlock_at <= %(now)s
        RETURNING a.id, a.public_id, a.enrollment_id, a.title, a.unlock_rule
    )"""
    sql = f"""
    WITH {opened}, ev AS (
        INSERT INTO wagtail_coaching_journeyevent (enrollment_id, activity_id, kind, at, data,
            rules_done)
        SELECT o.enrollment_id, o.id, 'unlocked', %(now)s,
               jsonb_build_object('rule', o.unlock_rule), false FROM opened o
    ) {STEP_OPEN.format(opened="opened")}
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, {"now": now})


def sync(page, now):
    """Rows that differ from the program updated, orphans removed, missing rows inserted
    (open if their rule says so), with the events, messages and revision: one statement."""
    from django.db import connection, transaction

    params = {
        "page": page.pk, "now": now, "revision": page.live_revision_id,
        **_spec_arrays(page.program),
    }
    sql = f"""
    WITH {SPEC}, e AS (
        SELECT id, starts_at FROM wagtail_coaching_enrollment
        WHERE engagement_id = %(page)s AND status IN ('active', 'paused')
    ), upd AS (
        UPDATE wagtail_coaching_clientactivity a
        SET kind = s.kind, title = s.title, stage_block_id = s.stage_block_id,
            stage_title = s.stage_title, stage_position = s.stage_position,
            position = s.position, unlock_rule = s.unlock_rule, unlock_days = s.unlock_days,
            updated_at = %(now)s
        FROM spec s, e
        WHERE a.enrollment_id = e.id AND a.source = 'program' AND a.block_id = s.block_id
          AND (a.kind, a.title, a.stage_block_id, a.stage_title, a.stage_position, a.position,
               a.unlock_rule, a.unlock_days) IS DISTINCT FROM
              (s.kind, s.title, s.stage_block_id, s.stage_title, s.stage_position, s.position,
               s.unlock_rule, s.unlock_days)
        RETURNING a.enrollment_id
    ), removed AS (
        UPDATE wagtail_coaching_clientactivity a SET state = 'removed', updated_at = %(now)s
        FROM e WHERE a.enrollment_id = e.id AND a.source = 'program'
          AND a.state NOT IN ('completed', 'removed')
          AND NOT a.block_id = ANY(%(s_block_id)s::text[])
        RETURNING a.enrollment_id
    ), ins AS (
        INSERT INTO wagtail_coaching_clientactivity (public_id, enrollment_id, source,
            block_id, kind, title, stage_block_id, stage_title, stage_position, position,
            unlock_rule, unlock_days, state, unlock_at, unlocked_at, created_at, updated_at)
        SELECT gen_random_uuid(), e.id, 'program', s.block_id, s.kind, s.title,
               s.stage_block_id, s.stage_title, s.stage_position, s.position, s.unlock_rule,
               s.unlock_days,
               CASE WHEN s.unlock_rule = 'immediately' THEN 'available' ELSE 'locked' END,
               CASE WHEN s.unlock_rule = 'days_after_enrollment'
                    THEN e.starts_at + make_interval(days => s.unlock_days) END,
               CASE WHEN s.unlock_rule = 'immediately' THEN %(now)s END, %(now)s, %(now)s
        FROM e CROSS JOIN spec s
        WHERE NOT EXISTS (SELECT 1 FROM wagtail_coaching_clientactivity a
                          WHERE a.enrollment_id = e.id AND a.block_id = s.block_id)
        RETURNING id, public_id, enrollment_id, title, state
    ), touched AS (
        SELECT enrollment_id, count(*) FILTER (WHERE kind = 'added') AS added,
               count(*) FILTER (WHERE kind = 'removed') AS removed
        FROM (SELECT enrollment_id, 'updated' AS kind FROM upd
              UNION ALL SELECT enrollment_id, 'removed' FROM removed
              UNION ALL SELECT enrollment_id, 'added' FROM ins) t
        GROUP BY enrollment_id
    ), ev AS (
        INSERT INTO wagtail_coaching_journeyevent (enrollment_id, activity_id, kind, at, data,
            rules_done)
        SELECT enrollment_id, NULL, 'program_updated', %(now)s, jsonb_build_object(
            'added', added, 'removed', removed, 'revision', %(revision)s::bigint), false
        FROM touched
        UNION ALL
        SELECT enrollment_id, id, 'unlocked', %(now)s, '{{}}'::jsonb, false
        FROM ins WHERE state = 'available'
    ), rev AS (
        UPDATE wagtail_coaching_enrollment SET program_revision_id = %(revision)s
        WHERE id IN (SELECT id FROM e)
    ), opened AS (SELECT * FROM ins WHERE state = 'available')
    {STEP_OPEN.format(opened="opened")}
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
