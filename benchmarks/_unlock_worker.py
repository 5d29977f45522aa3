"""One worker process of the unlock job, for bench_journeys.py: once Django is set up it
prints "ready" and waits for a line on its input, then runs ``unlock_due_activities(now=...)``
on the benchmark database and prints how many steps it opened.

    python benchmarks/_unlock_worker.py DATABASE_URL NOW_ISO
"""

import datetime
import sys

import _common as bench


def main():
    url, now = sys.argv[1], datetime.datetime.fromisoformat(sys.argv[2])
    bench.setup_django(url, migrate=False)
    import dramatiq

    from wagtail_coaching.journeys import unlock_due_activities

    print("ready", flush=True)
    sys.stdin.readline()
    opened = unlock_due_activities(now=now)
    dramatiq.get_broker().flush_all()
    print(opened, flush=True)


if __name__ == "__main__":
    sys.exit(main())
