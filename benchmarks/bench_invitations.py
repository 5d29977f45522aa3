#!/usr/bin/env python
"""Group-session invitations: enqueueing them for a large audience, and sending them through
real dramatiq workers on Redis.

    .venv/bin/python benchmarks/bench_invitations.py --invitees 5000 --processes 2 --threads 4

A group session is planned for a list of N invitees. First ``manage.py rundramatiq`` starts
(the benchmark's settings and database, its own Redis namespace, Django's locmem email
backend) and is left to get ready. Then ``send_invitations`` (what the
``send_session_invitations`` job runs) writes a registration and an invitation email
(calendar file, accept and decline links) for each invitee in one transaction; when it
commits, the ids go to the workers in messages of 200. The workers render and send every
email (``send_notifications``) and mark each Notification sent.

Figures: the time to enqueue the N invitations, and emails per second from the commit until
the last Notification is marked sent (N + the coach's, each sent exactly once).
With ``--redis-url none`` the worker runs in this process on dramatiq's StubBroker.
"""

import datetime
import sys
import time

import _common as bench


def main():
    p = bench.parser(__doc__)
    bench.add_redis_option(p)
    p.add_argument("--invitees", type=int, default=5000)
    p.add_argument("--processes", type=int, default=2, help="worker processes")
    p.add_argument("--threads", type=int, default=4, help="threads per worker process")
    args = p.parse_args()
    url = args.database_url or bench.default_database_url(bench.script_name())
    redis_url = bench.resolve_redis_url(args.redis_url)
    if args.quick:
        args.invitees = min(args.invitees, 20)
    if not bench.is_postgres(url):
        args.processes, args.threads = 1, 1  # SQLite: one writer at a time
    namespace = f"coaching-bench-invitations-{int(time.time())}"
    bench.begin(args, database_url=url, redis_url=redis_url)
    bench.recreate_database(url)
    email = {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    bench.setup_django(url, redis_url=redis_url, namespace=namespace, **email)

    from django.db import transaction
    from django.utils import timezone

    from wagtail_coaching.models import Audience, Notification, Registration
    from wagtail_coaching.scheduling import SessionPlan, create_sessions
    from wagtail_coaching.scheduling.invites import send_invitations

    n = args.invitees
    team = bench.make_team(coaches=1)
    coach = team.memberships.get().user
    invitees = bench.make_users(n, prefix="invitee")
    starts = (timezone.now() + datetime.timedelta(days=7)).replace(minute=0, second=0,
                                                                   microsecond=0)
    (session,) = create_sessions(
        SessionPlan(title="Leading through change", coach=coach, team=team,
                    starts_at=starts, duration=datetime.timedelta(minutes=90),
                    time_zone="Europe/London", capacity=n, audience=Audience.LIST,
                    video_link="https://meet.example.com/leading", invitees=invitees),
        [starts], invite=False,
    )
    bench.analyze()
    expected = n + 1  # and the coach's

    def sent():
        return Notification.objects.filter(sent_at__isnull=False).count()

    with worker(args, url, redis_url, namespace, email) as drain:
        started = time.perf_counter()
        with transaction.atomic():
            queued = send_invitations(session.pk)
        committed = time.perf_counter()
        assert queued == expected, queued
        assert Registration.objects.filter(session=session).count() == n
        drain()
        bench.wait_until(lambda: sent() >= expected, 600, "every invitation to be sent")
        done = time.perf_counter()
    enqueue_secs, send_secs = committed - started, done - committed
    assert sent() == expected and Notification.objects.count() == expected
    where = (f"{args.processes} worker processes x {args.threads} threads, Redis"
             if redis_url else "an in-process worker on the StubBroker")
    bench.record(f"enqueue {n:,} invitations", round(enqueue_secs, 2), "s",
                 detail=f"{n / enqueue_secs:,.0f} invitations/s: registrations, outbox rows, "
                        "send messages")
    bench.record("invitation emails sent per second", round(expected / send_secs, 1),
                 "emails/s",
                 detail=f"{expected:,} emails (with calendar files) in {send_secs:.1f} s "
                        f"through {where}; each Notification sent once")
    if redis_url:
        bench.flush_redis_namespace(redis_url, namespace)
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


def worker(args, url, redis_url, namespace, email):
    """A context manager yielding ``drain()``: what to call after the commit (nothing for
    the worker processes, which take the messages themselves)."""
    import contextlib

    if redis_url:
        @contextlib.contextmanager
        def processes():
            with bench.dramatiq_workers(url, redis_url, namespace, processes=args.processes,
                                        threads=args.threads, **email):
                yield lambda: None
        return processes()

    @contextlib.contextmanager
    def in_process():
        import dramatiq

        broker = dramatiq.get_broker()
        w = dramatiq.Worker(broker, worker_threads=1)
        w.start()
        try:
            yield lambda: broker.join("coaching", timeout=600_000)
        finally:
            w.stop()
    return in_process()


if __name__ == "__main__":
    sys.exit(main())
