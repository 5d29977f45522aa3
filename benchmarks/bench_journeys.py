#!/usr/bin/env python
"""Throughput of the journey services at scale, over a sweep of sizes: enroll, the
time-based unlock job, program sync.

    .venv/bin/python benchmarks/bench_journeys.py --sizes 1000,10000,100000

(100,000 clients take about 40 minutes on a 2-core machine: 4 million activity rows.)

For each size N the database starts again from the same freshly migrated copy, and:
1. ``enroll_many`` enrolls N clients into a published 40-activity program (4 stages x 10,
   a mix of rules, most of them "N days after enrollment");
2. ``unlock_due_activities`` runs 40 days later (``now=``), opening every time-based step;
3. ``sync_engagement`` runs after publishing a revision that adds one activity and renames
   a stage.

Before each step the tables are analyzed (untimed), as autovacuum would after the bulk
load of the step before. Notifications are queued in the outbox and their send jobs go to
dramatiq's StubBroker, flushed unsent. Figures: rows per second of each step at each size,
and for each step the growth of its time from one size to the next ten times larger (a
linear step takes 10x as long; the target allows for noise: <= 12). The growth is measured
in CPU time, this process's and its PostgreSQL server process's (read from /proc), since
the elapsed time also counts whatever else the machine runs; both are shown.
"""

import datetime
import os
import sys

import _common as bench

STEPS = ("enroll_many", "unlock_due_activities", "sync_engagement")
MAX_GROWTH = 12  # time(10 N) / time(N); linear is 10


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


def run_size(n):
    """{step: (seconds, rows, statements)} for N clients."""
    import dramatiq
    from django.utils import timezone

    from wagtail_coaching.journeys import enroll_many, sync_engagement, unlock_due_activities
    from wagtail_coaching.models import ActivityState, ClientActivity
    from wagtail_coaching.testing.factories import make_engagement, publish_program

    users = bench.make_users(n)
    page = make_engagement(program=bench_program(), title="Benchmark engagement")
    start = timezone.now()
    results = {}

    (created, _), secs, stmts, cpu = bench.timed(lambda: enroll_many(users, page, now=start))
    rows = ClientActivity.objects.count()
    assert len(created) == n and rows == n * 40, (len(created), rows)
    results["enroll_many"] = (secs, cpu, rows, stmts, "activity rows created")

    later = start + datetime.timedelta(days=40)
    opened, secs, stmts, cpu = bench.timed(lambda: unlock_due_activities(now=later))
    assert opened == n * 24, opened
    results["unlock_due_activities"] = (secs, cpu, opened, stmts, "activity rows opened")

    publish_program(page, bench_program(renamed=True, extra=True))
    changed, secs, stmts, cpu = bench.timed(lambda: sync_engagement(page.pk, now=later))
    synced = ClientActivity.objects.count()
    added = ClientActivity.objects.filter(block_id="act-added", state=ActivityState.AVAILABLE)
    renamed = ClientActivity.objects.filter(stage_title="Stage 2 (revised)")
    assert changed == n and added.count() == n and renamed.count() == n * 10
    results["sync_engagement"] = (secs, cpu, synced, stmts,
                                  "activity rows of the synced journeys")
    dramatiq.get_broker().flush_all()
    return results


def main():
    p = bench.parser(__doc__)
    p.add_argument("--sizes", default=os.environ.get("BENCH_JOURNEY_SIZES") or "1000,10000,100000",
                   help="comma-separated numbers of clients (default: BENCH_JOURNEY_SIZES or "
                        "%(default)s)")
    args = p.parse_args()
    if args.quick:
        args.sizes = "10,100"
    sizes = sorted(int(s) for s in args.sizes.split(","))
    url = args.database_url or bench.default_database_url(bench.script_name())
    given = any(a.startswith("--sizes") for a in sys.argv[1:]) or args.quick
    bench.begin(args, database_url=url, defaults=() if given else ("--sizes", args.sizes))
    bench.recreate_database(url)
    bench.setup_django(url)
    bench.snapshot_database(url)

    times = {step: {} for step in STEPS}
    cpu_times = {step: {} for step in STEPS}
    for n in sizes:
        bench.restore_database(url)
        print(f"== {n:,} clients", flush=True)
        for step, (secs, cpu, rows, stmts, what) in run_size(n).items():
            times[step][n], cpu_times[step][n] = secs, cpu
            used = f", {cpu:.2f} s CPU" if cpu is not None else ""
            bench.record(
                f"{step}, {n:,} clients: rows per second", round(rows / secs), "rows/s",
                detail=f"{rows:,} {what} in {secs:.2f} s{used}, {stmts:,} statements",
            )
    # The growth is judged on CPU time (this process and its PostgreSQL server process):
    # on a machine shared with other work the elapsed time of one size can double.
    judged = "CPU time" if all(None not in c.values() for c in cpu_times.values()) else "time"
    for step in STEPS:
        series = cpu_times[step] if judged == "CPU time" else times[step]
        for small, big, ratio in bench.growth(series):
            if big != small * 10:
                continue
            wall = times[step][big] / times[step][small]
            bench.record(
                f"{step}: {judged}({big:,}) / {judged}({small:,})", round(ratio, 1), "x",
                target=f"<= {MAX_GROWTH} (linear: 10)", met=ratio <= MAX_GROWTH,
                detail=f"{series[small]:.2f} s -> {series[big]:.2f} s; elapsed "
                       f"{times[step][small]:.2f} s -> {times[step][big]:.2f} s ({wall:.1f}x)",
            )

    bench.drop_snapshot(url)
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


if __name__ == "__main__":
    sys.exit(main())
