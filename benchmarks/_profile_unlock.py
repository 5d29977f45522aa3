#!/usr/bin/env python
"""Where the time-based unlock job spends its time: not a benchmark (``make bench`` skips
files starting with ``_``), the profile behind the unlock notes in RESULTS.md.

    .venv/bin/python benchmarks/_profile_unlock.py --clients 10000

Enrolls N clients into the 40-activity program of ``bench_journeys.py``, runs
``unlock_due_activities`` 40 days later, and prints each kind of statement's summed time
(Django keeps the last 9,000 statements, so a large run shows its last batches only) and
the activity table's blocks read from outside PostgreSQL's buffer cache and found in it
(``pg_statio_user_tables``).
"""

import collections
import datetime
import sys
import time

import _common as bench

TABLE = "wagtail_coaching_clientactivity"


def statio(connection):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit "
            "FROM pg_statio_user_tables WHERE relname = %s", [TABLE],
        )
        return cursor.fetchone()


def main():
    p = bench.parser(__doc__)
    p.add_argument("--clients", type=int, default=10_000)
    args = p.parse_args()
    url = args.database_url or bench.default_database_url("profile_unlock")
    bench.recreate_database(url)
    bench.setup_django(url)

    import bench_journeys
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from wagtail_coaching.journeys import enroll_many, unlock_due_activities
    from wagtail_coaching.testing.factories import make_engagement

    users = bench.make_users(args.clients)
    page = make_engagement(program=bench_journeys.bench_program(), title="Profiled engagement")
    start = timezone.now()
    enroll_many(users, page, now=start)
    bench.analyze()
    before = statio(connection)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        opened = unlock_due_activities(now=start + datetime.timedelta(days=40))
        elapsed = time.perf_counter() - started
    after = statio(connection)
    print(f"{opened:,} steps opened in {elapsed:.1f} s; statements kept: "
          f"{len(captured.captured_queries):,}")
    summed = collections.defaultdict(lambda: [0, 0.0])
    for query in captured.captured_queries:
        kind = summed[query["sql"][:48]]
        kind[0] += 1
        kind[1] += float(query["time"])
    for sql, (count, seconds) in sorted(summed.items(), key=lambda item: -item[1][1]):
        print(f"{seconds:9.2f} s {count:7,}  {sql}")
    names = ("heap blocks read", "heap blocks hit", "index blocks read", "index blocks hit")
    for name, b, a in zip(names, before, after, strict=True):
        print(f"{name}: {a - b:,}")
    if bench.is_postgres(url) and not args.keep:
        bench.drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
