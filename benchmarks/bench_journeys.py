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
import statistics
import sys
import time

import _common as bench

STEPS = ("enroll_many", "unlock_due_activities", "sync_engagement")
MAX_GROWTH = 12  # time(10 N) / time(N); linear is 10
# Time of the package / time of the floor writing the same rows, at 10,000 clients.
TARGETS = {"enroll_many": 1.5, "unlock_due_activities": 2, "sync_engagement": 3}
START = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)


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


def world(n):
    """N clients and the published engagement (made once per size, then restored)."""
    from wagtail_coaching.testing.factories import make_engagement

    users = bench.make_users(n)
    page = make_engagement(program=bench_program(), title="Benchmark engagement")
    return [u.pk for u in users], page.pk


def run_steps(n, user_ids, page_id, side):
    """{step: (seconds, CPU seconds, rows, statements, what, fingerprint)} of the package
    (``side="package"``) or of the floor, on the world as made by ``world``."""
    import _floors as floors
    import dramatiq

    from wagtail_coaching.journeys import enroll_many, sync_engagement, unlock_due_activities
    from wagtail_coaching.models import ActivityState, ClientActivity, EngagementPage
    from wagtail_coaching.testing.factories import publish_program

    page = EngagementPage.objects.get(pk=page_id)
    start = START
    later = start + datetime.timedelta(days=40)
    package = side == "package"
    results = {}

    _, secs, stmts, cpu = bench.timed(
        (lambda: enroll_many(user_ids, page, now=start)) if package
        else (lambda: floors.enroll(page, user_ids, start))
    )
    rows = ClientActivity.objects.count()
    assert rows == n * 40, rows
    results["enroll_many"] = (secs, cpu, rows, stmts, "activity rows created",
                              floors.fingerprint(page_id))

    _, secs, stmts, cpu = bench.timed(
        (lambda: unlock_due_activities(now=later)) if package else (lambda: floors.unlock(later))
    )
    opened = ClientActivity.objects.filter(unlocked_at=later).count()
    assert opened == n * 24, opened
    results["unlock_due_activities"] = (secs, cpu, opened, stmts, "activity rows opened",
                                        floors.fingerprint(page_id))

    page = publish_program(page, bench_program(renamed=True, extra=True))
    _, secs, stmts, cpu = bench.timed(
        (lambda: sync_engagement(page.pk, now=later)) if package
        else (lambda: floors.sync(page, later))
    )
    synced = ClientActivity.objects.count()
    added = ClientActivity.objects.filter(block_id="act-added", state=ActivityState.AVAILABLE)
    renamed = ClientActivity.objects.filter(stage_title="Stage 2 (revised)")
    assert added.count() == n and renamed.count() == n * 10
    results["sync_engagement"] = (secs, cpu, synced, stmts,
                                  "activity rows of the synced journeys",
                                  floors.fingerprint(page_id))
    dramatiq.get_broker().flush_all()
    return results


def unlock_in_processes(url, processes):
    """Seconds for ``processes`` worker processes to run the unlock job together on the
    enrolled world, and the number of steps each opened."""
    import subprocess

    later = (START + datetime.timedelta(days=40)).isoformat()
    env = bench.settings_env(url)
    command = [sys.executable, str(bench.BENCH_DIR / "_unlock_worker.py"), url, later]
    workers = [subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
               for _ in range(processes)]
    for worker in workers:  # timed from when every process is ready to work
        assert worker.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    opened = [int(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
    elapsed = time.perf_counter() - started
    assert all(w.returncode == 0 for w in workers)
    return elapsed, opened


def main():
    p = bench.parser(__doc__)
    p.add_argument("--sizes", default=os.environ.get("BENCH_JOURNEY_SIZES") or "1000,10000,100000",
                   help="comma-separated numbers of clients (default: BENCH_JOURNEY_SIZES or "
                        "%(default)s)")
    p.add_argument("--floor-sizes", default="10000",
                   help="sizes also run as the floor, for the package / floor ratio")
    p.add_argument("--runs", type=int, default=3,
                   help="runs of the package and of the floor, alternated, at a floor size")
    p.add_argument("--workers-size", type=int, default=10000,
                   help="size at which the unlock job runs in 1 and then 2 worker processes "
                        "(0: not at all)")
    args = p.parse_args()
    if args.quick:
        args.sizes, args.floor_sizes, args.runs, args.workers_size = "10,100", "100", 1, 100
    sizes = sorted(int(s) for s in args.sizes.split(","))
    floor_sizes = {int(s) for s in args.floor_sizes.split(",") if s}
    url = args.database_url or bench.default_database_url(bench.script_name())
    given = any(a.startswith("--sizes") for a in sys.argv[1:]) or args.quick
    bench.begin(args, database_url=url, defaults=() if given else ("--sizes", args.sizes))
    if not bench.is_postgres(url):
        floor_sizes, args.workers_size = set(), 0  # the floors are PostgreSQL statements
    bench.recreate_database(url)
    bench.setup_django(url)
    bench.snapshot_database(url)

    times = {step: {} for step in STEPS}
    cpu_times = {step: {} for step in STEPS}
    for n in sizes:
        bench.restore_database(url)
        print(f"== {n:,} clients", flush=True)
        user_ids, page_id = world(n)
        bench.snapshot_database(url, "world")
        sides = ("package", "floor") if n in floor_sizes else ("package",)
        runs = args.runs if n in floor_sizes else 1
        found = {side: [] for side in sides}
        for run in range(runs):
            for side in sides if run % 2 == 0 else tuple(reversed(sides)):
                bench.restore_database(url, "world")
                print(f"   run {run + 1}: {side}", flush=True)
                found[side].append(run_steps(n, user_ids, page_id, side))
        for step in STEPS:
            package = [r[step] for r in found["package"]]
            secs = statistics.median(p[0] for p in package)
            cpu = None if None in [p[1] for p in package] else statistics.median(
                p[1] for p in package)
            _, _, rows, stmts, what, prints = package[0]
            times[step][n], cpu_times[step][n] = secs, cpu
            used = f", {cpu:.2f} s CPU" if cpu is not None else ""
            bench.record(
                f"{step}, {n:,} clients: rows per second", round(rows / secs), "rows/s",
                detail=f"{rows:,} {what} in {secs:.2f} s{used}, {stmts:,} statements"
                       + (f" (median of {runs})" if runs > 1 else ""),
            )
            if "floor" not in found:
                continue
            floor = [r[step] for r in found["floor"]]
            same = all(r[5] == prints for r in package + floor)
            ratios = sorted(p[0] / f[0] for p, f in zip(package, floor, strict=True))
            ratio = statistics.median(ratios)
            target = TARGETS[step]
            bench.record(
                f"{step}, {n:,} clients: time / floor", round(ratio, 2), "x",
                target=f"<= {target}, same rows", met=ratio <= target and same,
                detail=f"{runs} runs alternated, ratios {', '.join(f'{r:.2f}' for r in ratios)}"
                       f"; package {secs:.2f} s ({stmts:,} statements), floor "
                       f"{statistics.median(f[0] for f in floor):.2f} s ({floor[0][3]} "
                       f"statements); fingerprints {'equal' if same else 'DIFFER'}: "
                       + ", ".join(f"{t} {v}" for t, v in prints.items()),
            )
        if n == args.workers_size:
            unlock_with_workers(url, n, user_ids, page_id)
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

    for label in ("snapshot", "world", "enrolled"):
        bench.drop_snapshot(url, label)
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


def unlock_with_workers(url, n, user_ids, page_id):
    """The unlock job of N journeys by 1 worker process, then (from the same database) by 2:
    2 must finish sooner, and no step may be opened twice."""
    from wagtail_coaching.journeys import enroll_many
    from wagtail_coaching.models import EngagementPage, EventKind, JourneyEvent

    bench.restore_database(url, "world")
    enroll_many(user_ids, EngagementPage.objects.get(pk=page_id), now=START)
    bench.analyze()
    bench.snapshot_database(url, "enrolled")
    seconds = {}
    for processes in (1, 2):
        bench.restore_database(url, "enrolled")
        seconds[processes], opened = unlock_in_processes(url, processes)
        events = JourneyEvent.objects.filter(kind=EventKind.UNLOCKED)
        distinct = events.values("activity_id").distinct().count()
        assert sum(opened) == n * 24 == events.count() == distinct, (opened, distinct)
        print(f"   {processes} worker process(es): {seconds[processes]:.2f} s, opened {opened}",
              flush=True)
        if processes == 2:
            shares = opened
    bench.record(
        f"unlock_due_activities, {n:,} clients: 2 worker processes / 1", round(
            seconds[2] / seconds[1], 2), "x",
        target="< 1, no step opened twice", met=seconds[2] < seconds[1],
        detail=f"1 process {seconds[1]:.2f} s, 2 processes {seconds[2]:.2f} s (opened "
               f"{shares[0]:,} + {shares[1]:,}); {n * 24:,} steps, each with one event",
    )


if __name__ == "__main__":
    sys.exit(main())
