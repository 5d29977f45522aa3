#!/usr/bin/env python
"""Automation at scale: time-based rules and the event dispatcher over many enrollments.

    .venv/bin/python benchmarks/bench_automation.py --clients 100000

Steps, each timed on its own (statements counted, tables analyzed first, untimed):
1. ``dispatch_events``: the built-in welcome rule over N "enrolled" timeline events.
2. ``evaluate_timed_rules`` 11 days later with two rules due for every client: "3 days after
   enrollment" (a notification) and the built-in at-risk rule (no activity for 10 days: flag
   and tell the coach). Every enrollment fires both, in batches of ``BATCH_SIZE``.
3. The same evaluation again: nothing left to fire (the once-only guarantee), so this is the
   cost of checking.
Figures: rules fired per second of each step, and its statements per batch (the same
whatever N is).
"""

import datetime
import sys

import _common as bench


def main():
    p = bench.parser(__doc__)
    p.add_argument("--clients", type=int, default=10_000, help="enrollments")
    p.add_argument("--batch-size", type=int, default=1000)
    args = p.parse_args()
    if args.quick:
        args.clients = min(args.clients, 50)
    url = args.database_url or bench.default_database_url(bench.script_name())
    bench.begin(args, database_url=url)
    bench.recreate_database(url)
    bench.setup_django(url)

    import dramatiq
    from django.contrib.auth import get_user_model
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

    (handled, fired), secs, stmts, _ = bench.timed(
        lambda: dispatch_events(batch_size=args.batch_size)
    )
    assert handled == n and fired == n, (handled, fired)
    figures.append(("dispatch_events (welcome)", n, fired, secs, stmts, -(-n // args.batch_size)))

    later = start + datetime.timedelta(days=11)
    result, secs, stmts, _ = bench.timed(
        lambda: evaluate_timed_rules(now=later, batch_size=args.batch_size)
    )
    fired = sum(result.values())
    assert fired == 2 * n, result
    assert Enrollment.objects.filter(at_risk_since__isnull=False).count() == n
    batches = 2 * -(-n // args.batch_size)
    figures.append(("evaluate_timed_rules (2 rules due)", n, fired, secs, stmts, batches))

    result, secs, stmts, _ = bench.timed(
        lambda: evaluate_timed_rules(now=later, batch_size=args.batch_size)
    )
    assert sum(result.values()) == 0, result
    figures.append(("evaluate_timed_rules (nothing left)", n, 0, secs, stmts, 0))

    firings = RuleFiring.objects.count()
    notifications = Notification.objects.count()
    dramatiq.get_broker().flush_all()
    for label, _n, done, secs, stmts, nbatches in figures:
        per_batch = f"{stmts / nbatches:.1f} statements per batch" if nbatches else (
            f"{stmts} statements")
        if done:
            bench.record(f"{label}, {n:,} enrollments: rules fired per second",
                         round(done / secs), "firings/s",
                         detail=f"{done:,} in {secs:.2f} s; {per_batch}")
        else:
            bench.record(f"{label}, {n:,} enrollments: time", round(secs, 2), "s",
                         detail=per_batch)
    print(f"rule firings recorded: {firings:,}; notifications in the outbox: {notifications:,}")
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


if __name__ == "__main__":
    sys.exit(main())
