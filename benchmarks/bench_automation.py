#!/usr/bin/env python
"""Automation at scale: time-based rules and the event dispatcher over many enrollments.

Runs against its own throwaway database (dropped and re-created on every run):

    .venv/bin/python benchmarks/bench_automation.py --clients 100000 \\
        --database-url postgres://postgres@127.0.0.1:5432/coaching_bench

Steps, each timed on its own (statements counted, tables analyzed first, untimed):
1. ``dispatch_events``: the built-in welcome rule over N "enrolled" timeline events.
2. ``evaluate_timed_rules`` 11 days later with two rules due for every client: "3 days after
   enrollment" (a notification) and the built-in at-risk rule (no activity for 10 days: flag
   and tell the coach). Every enrollment fires both, in batches of ``BATCH_SIZE``.
3. The same evaluation again: nothing left to fire (the once-only guarantee), so this is the
   cost of checking.
The statements per batch are printed: they stay the same whatever N is.
"""

import datetime
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_journeys as base  # noqa: E402  (shares the database set-up and the timer)


def main():
    parser = base.argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000, help="enrollments")
    parser.add_argument("--database-url", default=base.DEFAULT_URL)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    url = args.database_url
    postgres = url.startswith(("postgres://", "postgresql://"))
    if postgres:
        base.recreate_postgres_database(url)
    base.setup_django(url)

    import dramatiq
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from wagtail_coaching.automation.dispatch import dispatch_events
    from wagtail_coaching.automation.timed import evaluate_timed_rules
    from wagtail_coaching.journeys import enroll_many
    from wagtail_coaching.models import (
        AutomationRule,
        Enrollment,
        Notification,
        RuleFiring,
        Team,
        TeamMembership,
        Trigger,
    )
    from wagtail_coaching.testing import programs
    from wagtail_coaching.testing.factories import make_engagement

    n = args.clients
    User = get_user_model()
    coach = User.objects.create(username="bench-coach", email="coach@example.com")
    team = Team.objects.create(name="Bench")
    TeamMembership.objects.create(team=team, user=coach, role="coach")
    users = User.objects.bulk_create(
        [User(username=f"bench-{i}", email=f"bench-{i}@example.com", password="!")
         for i in range(n)],
        batch_size=5000,
    )
    page = make_engagement(program=[programs.stage("Start", [
        programs.activity("lesson", f"Step {i}", rule="after_previous" if i else "immediately")
        for i in range(4)
    ])], title="Automation benchmark", team=team, assignment_policy="manual")
    start = timezone.now() - datetime.timedelta(days=1)
    AutomationRule.objects.update(active_since=start - datetime.timedelta(days=1))
    AutomationRule.objects.exclude(key__in=["welcome", "at-risk"]).update(active=False)
    AutomationRule.objects.create(
        name="Three days in", trigger=Trigger.ENROLLMENT_DAYS, days=3,
        active_since=start - datetime.timedelta(days=1),
        actions=[{"type": "notify", "value": {
            "recipient": "client", "channel": "email", "template": "custom",
            "subject": "Three days in, {{ client_name }}", "body": "How is it going?"}}],
    )
    for i in range(0, n, 10_000):
        enroll_many(users[i:i + 10_000], page, now=start, starts_at=start)
    figures = []

    (handled, fired), secs, stmts = base.timed(
        "dispatch", lambda: dispatch_events(batch_size=args.batch_size)
    )
    assert handled == n and fired == n, (handled, fired)
    figures.append(("dispatch_events (welcome)", n, fired, secs, stmts, -(-n // args.batch_size)))

    later = start + datetime.timedelta(days=11)
    result, secs, stmts = base.timed(
        "timed", lambda: evaluate_timed_rules(now=later, batch_size=args.batch_size)
    )
    fired = sum(result.values())
    assert fired == 2 * n, result
    assert Enrollment.objects.filter(at_risk_since__isnull=False).count() == n
    batches = 2 * -(-n // args.batch_size)
    figures.append(("evaluate_timed_rules (2 rules due)", n, fired, secs, stmts, batches))

    result, secs, stmts = base.timed(
        "again", lambda: evaluate_timed_rules(now=later, batch_size=args.batch_size)
    )
    assert sum(result.values()) == 0, result
    figures.append(("evaluate_timed_rules (nothing left)", n, 0, secs, stmts, 0))

    firings = RuleFiring.objects.count()
    notifications = Notification.objects.count()
    dramatiq.get_broker().flush_all()
    vendor = f"{connection.vendor} {connection.pg_version if postgres else ''}".strip()
    print(f"database: {vendor}; {n:,} enrollments; batch size {args.batch_size}")
    print(f"{'step':<38} {'rules fired':>12} {'seconds':>9} {'per second':>11} "
          f"{'statements':>11} {'per batch':>10}")
    for label, _n, done, secs, stmts, nbatches in figures:
        rate = done / secs if secs and done else 0
        per_batch = f"{stmts / nbatches:.1f}" if nbatches else "-"
        print(f"{label:<38} {done:>12,} {secs:>9.1f} {rate:>11,.0f} {stmts:>11,} "
              f"{per_batch:>10}")
    print(f"rule firings recorded: {firings:,}; notifications in the outbox: {notifications:,}")
    if postgres and not args.keep:
        connection.close()
        base.drop_postgres_database(url)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")
