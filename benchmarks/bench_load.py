#!/usr/bin/env python
"""Mixed client traffic against the sandbox served by gunicorn, driven by locust.

    .venv/bin/python benchmarks/bench_load.py --users 20 --run-time 60s --workers 2

``--users`` signed-in clients each hold two enrollments: a 40-step program a quarter done,
and a daily check-in program whose 40 check-ins are all open. Each locust user is one of
them (its own session cookie), waits 0.2-1 s between requests and picks, by weight: the
dashboard (4), one of its open steps' pages (4), a check-in POST (2, a 0-10 score and a
note, answered by a redirect to the next step). Locust runs headless for ``--run-time``.

Figures: requests per second, p95 and p99 response times, and failed requests (target 0:
any status other than 200 for a page or 302 for a check-in is a failure).
"""

import csv
import json
import subprocess
import sys

import _common as bench


def main():
    p = bench.parser(__doc__)
    p.add_argument("--users", type=int, default=20, help="locust users (signed-in clients)")
    p.add_argument("--run-time", default="60s")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = p.parse_args()
    url = args.database_url or bench.default_database_url(bench.script_name())
    if args.quick:
        args.users, args.run_time = 2, "3s"
    if not bench.is_postgres(url):
        args.workers = 1  # SQLite: one writer at a time
    bench.begin(args, database_url=url)
    bench.recreate_database(url)
    bench.setup_django(url)

    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from wagtail_coaching.journeys import enroll
    from wagtail_coaching.models import ActivityState
    from wagtail_coaching.testing import programs
    from wagtail_coaching.testing.factories import make_engagement

    team = bench.make_team()
    journey = make_engagement(program=programs.sized_program(4, 10), title="Leadership",
                              team=team, assignment_policy="round_robin")
    daily = make_engagement(program=bench.checkin_program(), title="Daily check-in",
                            team=team, assignment_policy="round_robin")
    clients = []
    for user in bench.make_users(args.users, prefix="client", password=bench.PASSWORD):
        enrollment = enroll(user, journey)
        bench.complete_first(enrollment, 10, user)
        checkins = enroll(user, daily)
        django_client = Client()
        django_client.force_login(user)  # a session in the database, as a login makes
        open_steps = enrollment.activities.filter(
            state__in=[ActivityState.AVAILABLE, ActivityState.COMPLETED])
        clients.append({
            "session": django_client.cookies[settings.SESSION_COOKIE_NAME].value,
            "steps": [reverse("wagtail_coaching:activity", args=[a.public_id])
                      for a in open_steps],
            "checkins": [reverse("wagtail_coaching:activity", args=[a.public_id])
                         for a in checkins.activities.order_by("stage_position", "position")],
        })
    bench.analyze()
    out = bench.results_dir()
    data_path = out / "bench_load-clients.json"
    data_path.write_text(json.dumps({"session_cookie": settings.SESSION_COOKIE_NAME,
                                     "clients": clients}))
    prefix = out / "bench_load-locust"

    with bench.gunicorn(url, workers=args.workers) as base:
        env = bench.settings_env(url, BENCH_LOCUST_DATA=str(data_path))
        command = [sys.executable, "-m", "locust", "-f", str(bench.BENCH_DIR / "_locustfile.py"),
                   "--headless", "--users", str(args.users), "--spawn-rate", str(args.users),
                   "--run-time", args.run_time, "--host", base, "--csv", str(prefix),
                   "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"]
        finished = subprocess.run(command, env=env, cwd=bench.ROOT, capture_output=True,
                                  text=True, timeout=600)
    print(finished.stdout[-3000:], finished.stderr[-3000:])
    with open(f"{prefix}_stats.csv") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    total = rows["Aggregated"]
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    assert requests > 0, "locust made no request"
    shape = (f"{args.users} users for {args.run_time}, {args.workers} gunicorn workers; "
             f"{requests:,} requests: " + ", ".join(
                 f"{name} {int(row['Request Count']):,}" for name, row in rows.items()
                 if name != "Aggregated"))
    bench.record("requests per second", round(float(total["Requests/s"]), 1), "req/s",
                 detail=shape)
    for pct in ("95%", "99%"):
        bench.record(f"response time p{pct[:-1]}", int(float(total[pct])), "ms",
                     detail="all requests; per page: " + ", ".join(
                         f"{name} {row[pct]}" for name, row in rows.items()
                         if name != "Aggregated"))
    bench.record("failed requests", failures, "requests", target="= 0", met=failures == 0,
                 detail=f"locust exit code {finished.returncode}")
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


if __name__ == "__main__":
    sys.exit(main())
