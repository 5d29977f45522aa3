#!/usr/bin/env python
"""Throughput of the journey services at scale: enroll, unlock job, program sync.

Runs against its own throwaway database (dropped and re-created on every run), so the
databases used by the test suite and the sandbox are never touched:

    .venv/bin/python benchmarks/bench_journeys.py --clients 10000 \\
        --database-url postgres://postgres@127.0.0.1:5432/coaching_bench

Steps, each timed on its own:
1. ``enroll_many`` of N clients into a published 40-activity program (4 stages x 10, a mix
   of rules, most of them "N days after enrollment").
2. ``unlock_due_activities`` 40 days later (``now=``), opening every time-based step.
3. ``sync_engagement`` after publishing a revision that adds one activity and renames a
   stage.

Before each step the tables are analyzed (untimed), as autovacuum would after the bulk
load of the step before. Notifications are queued in the outbox and their send jobs go to
dramatiq's StubBroker, which is flushed at the end: no email is rendered or sent.
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/coaching_bench"
PROTECTED = {"postgres", "test", "template0", "template1"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000, help="clients to enroll")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="database to (re)create and use; PostgreSQL or SQLite (default: %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def recreate_postgres_database(url):
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(url).get("dbname")
    if not name or name in PROTECTED:
        sys.exit(f"refusing to drop database {name!r}: give the benchmark its own database")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_postgres_database(url):
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def setup_django(url):
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    os.environ["DEBUG"] = "0"  # no query log: it would grow with every statement
    os.environ.pop("REDIS_URL", None)  # the StubBroker: jobs are queued, never run
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def bench_program(renamed=False, extra=False):
    """4 stages x 10 activities: 24 'days after enrollment', 12 'after previous', 3 manual,
    1 immediately. With ``renamed``/``extra``: the revision published before the sync."""
    from wagtail_coaching.testing import programs

    kinds = ["lesson", "practice", "check_in", "lesson", "feedback"]
    stages = []
    for s in range(4):
        acts = []
        for a in range(10):
            i = s * 10 + a
            if i == 0:
                rule, days = "immediately", None
            elif a == 9:
                rule, days = "manual", None
            elif i % 3 == 0:
                rule, days = "after_previous", None
            else:
                rule, days = "days_after_enrollment", i
            acts.append(programs.activity(
                kinds[i % len(kinds)], f"Step {s + 1}.{a + 1}", rule=rule, days=days,
                block_id=f"act-{s}-{a}",
            ))
        if extra and s == 3:
            acts.append(programs.activity("lesson", "Added later", rule="immediately",
                                          block_id="act-added"))
        title = f"Stage {s + 1}" + (" (revised)" if renamed and s == 1 else "")
        stages.append(programs.stage(title, acts, block_id=f"stage-{s}"))
    return stages


class StatementCounter:
    """Counts SQL statements through an execute wrapper (no query log needed)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def analyze():
    """Refresh the planner's statistics, as autovacuum does soon after a bulk load; without
    them PostgreSQL plans the unlock job's query for empty tables (100x slower)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(label, fn):
    from django.db import connection

    analyze()  # not timed
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
    return result, elapsed, counter.count


def main():
    args = parse_args()
    url = args.database_url
    postgres = url.startswith(("postgres://", "postgresql://"))
    if postgres:
        recreate_postgres_database(url)
    setup_django(url)

    import dramatiq
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from wagtail_coaching.journeys import enroll_many, sync_engagement, unlock_due_activities
    from wagtail_coaching.models import ActivityState, ClientActivity, Notification
    from wagtail_coaching.testing.factories import make_engagement, publish_program

    n = args.clients
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench-{i}", email=f"bench-{i}@example.com", password="!")
         for i in range(n)],
        batch_size=5000,
    )
    page = make_engagement(program=bench_program(), title="Benchmark engagement")
    start = timezone.now()
    figures = []

    (created, _), secs, stmts = timed("enroll", lambda: enroll_many(users, page, now=start))
    rows = ClientActivity.objects.count()
    assert len(created) == n and rows == n * 40
    figures.append(("enroll_many", n, rows, secs, stmts))

    later = start + datetime.timedelta(days=40)
    opened, secs, stmts = timed("unlock", lambda: unlock_due_activities(now=later))
    assert opened == n * 24, opened
    figures.append(("unlock_due_activities", n, opened, secs, stmts))

    publish_program(page, bench_program(renamed=True, extra=True))
    changed, secs, stmts = timed("sync", lambda: sync_engagement(page.pk, now=later))
    synced_rows = ClientActivity.objects.count()
    added = ClientActivity.objects.filter(block_id="act-added", state=ActivityState.AVAILABLE)
    renamed = ClientActivity.objects.filter(stage_title="Stage 2 (revised)")
    assert changed == n and added.count() == n and renamed.count() == n * 10
    figures.append(("sync_engagement", n, synced_rows, secs, stmts))

    notifications = Notification.objects.count()
    broker = dramatiq.get_broker()
    queued = sum(q.qsize() for q in broker.queues.values())
    broker.flush_all()

    vendor = f"{connection.vendor} {connection.pg_version if postgres else ''}".strip()
    print()
    print(f"wagtail-coaching journeys benchmark: N = {n:,} clients, 40-activity program, "
          f"database {connection.settings_dict['NAME']} ({vendor})")
    print()
    header = f"{'step':<24}{'enrollments':>12}{'rows':>11}{'seconds':>10}" \
             f"{'rows/s':>11}{'enroll/s':>11}{'statements':>12}"
    print(header)
    print("-" * len(header))
    for name, enrollments, count, secs, stmts in figures:
        print(f"{name:<24}{enrollments:>12,}{count:>11,}{secs:>10.2f}"
              f"{count / secs:>11,.0f}{enrollments / secs:>11,.0f}{stmts:>12,}")
    print()
    print("rows: enroll_many = activity rows created; unlock_due_activities = rows opened;")
    print("      sync_engagement = activity rows of the synced journeys "
          f"({n:,} created, {n * 10:,} renamed, {n:,} opened).")
    print(f"outbox: {notifications:,} notifications queued; {queued:,} send jobs flushed "
          "from the StubBroker unsent.")

    connection.close()
    if postgres and not args.keep:
        drop_postgres_database(url)


if __name__ == "__main__":
    main()
