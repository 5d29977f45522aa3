#!/usr/bin/env python
"""Stripe webhooks over HTTP: signed checkout.session.completed events posted concurrently
to the sandbox served by gunicorn, handled in the request and in the background.

    .venv/bin/python benchmarks/bench_webhooks.py --events 1000 --workers 2 --concurrency 8

N buyers each have a pending checkout order for an offer granting one 40-activity
engagement, whose team's two coaches take clients round-robin. For each order one
``checkout.session.completed`` event is built and signed as Stripe does
(``tests/stripe_fake.py``: the real ``stripe`` library verifies it), then all N are posted to
``/coaching/stripe/webhook/`` by a pool of client threads. Afterwards exactly N enrollments
must exist, one per buyer, each with a coach, and every order must be paid; then a sample of
the same events is posted again (Stripe's redelivery) and must change nothing.

Twice, with N buyers each:

- ``inline`` (``STRIPE_WEBHOOK_HANDLING``'s default): the request handles the event.
- ``background``: the request records the event and answers; the ``handle_stripe_event``
  job handles it, in dramatiq worker processes on Redis running beside gunicorn
  (``--redis-url``; with ``none``, in this process after the posts). Besides the answers,
  the time until the last order is fulfilled gives the events handled per second.

The tables grow from empty during the run: where the server's autovacuum is off (as on this
machine's PostgreSQL), ``autovacuum_stand_in`` analyzes them every 5 seconds, as autovacuum
would.

Before each, the floor: as many signed events, posted the same way to a view of the
benchmark site (``_bench_urls.py``) that verifies the signature as the package does and
inserts one row, while the workers are idle (the package's background events are then
answered while the workers take their share of the cores).

Figures, for each way: events answered per second (target >= 100), the floor's throughput
over the package's and the package's p99 latency over the floor's (target <= 5 each), p50
and p99 latency, enrollments after the run, and the enrollments added by the redelivered
duplicates (target 0).
"""

import concurrent.futures
import http.client
import json
import sys
import time
from urllib.parse import urlsplit

import _common as bench

FLOOR_PATH = "/bench/floor-webhook/"
MIN_THROUGHPUT = 100  # events per second
MAX_RATIO = 5  # floor throughput / package throughput, and package p99 / floor p99
MODES = ("inline", "background")


def post(base, body, secret, path="/coaching/stripe/webhook/"):
    from tests.stripe_fake import sign

    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    started = time.perf_counter()
    try:
        # Signed just before sending: the signature's timestamp must be fresh.
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "Stripe-Signature": sign(body, secret),
        })
        response = conn.getresponse()
        payload = response.read()
    finally:
        conn.close()
    return time.perf_counter() - started, response.status, payload


def post_all(base, bodies, concurrency, path="/coaching/stripe/webhook/"):
    """[(seconds, status, body)] of every post, and the wall time of the whole run."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda b: post(base, b, bench.WEBHOOK_SECRET, path), bodies))
    return results, time.perf_counter() - started


def main():
    p = bench.parser(__doc__)
    p.add_argument("--events", type=int, default=1000, help="events per way of handling")
    p.add_argument("--duplicates", type=int, default=200, help="events posted again")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--concurrency", type=int, default=8, help="client threads")
    p.add_argument("--job-processes", type=int, default=2,
                   help="dramatiq worker processes of the background way (2 threads each)")
    bench.add_redis_option(p)
    args = p.parse_args()
    url = args.database_url or bench.default_database_url(bench.script_name())
    redis_url = bench.resolve_redis_url(args.redis_url)
    if args.quick:
        args.events, args.duplicates = min(args.events, 10), min(args.duplicates, 3)
    if not bench.is_postgres(url):
        # SQLite takes one writer at a time: serve and post one request at a time, and
        # handle the background events in this process.
        args.workers, args.concurrency, redis_url = 1, 1, None
    namespace = f"coaching-bench-webhooks-{int(time.time())}"
    bench.begin(args, database_url=url, redis_url=redis_url)
    bench.recreate_database(url)
    bench.setup_django(url)

    n = args.events
    events = build_orders(2 * n)
    bench.analyze()
    for i, mode in enumerate(MODES):
        run(mode, events[i * n:(i + 1) * n], args, url, redis_url, namespace)
    if redis_url:
        bench.flush_redis_namespace(redis_url, namespace)
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


def build_orders(count):
    """``count`` buyers with a pending order each, and the signed-to-be event paying it."""
    from tests.stripe_fake import ONE_TIME, FakeStripe, make_offer
    from wagtail_coaching.models import CoachProfile, Order, OrderSource, OrderStatus
    from wagtail_coaching.payments.fulfilment import order_snapshot
    from wagtail_coaching.testing import programs
    from wagtail_coaching.testing.factories import make_engagement

    team = bench.make_team()
    # Coaches take clients (a profile with room): every enrollment is assigned one.
    CoachProfile.objects.bulk_create([
        CoachProfile(user_id=m.user_id, max_clients=count) for m in team.memberships.all()
    ])
    engagement = make_engagement(program=programs.sized_program(4, 10), title="Leadership",
                                 team=team, assignment_policy="round_robin")
    offer = make_offer([engagement], prices=[ONE_TIME])
    price = offer.prices.get()
    buyers = bench.make_users(count, prefix="buyer")
    orders = Order.objects.bulk_create([
        Order(buyer=buyer, offer=offer, source=OrderSource.CHECKOUT,
              status=OrderStatus.PENDING, stripe_session_id=f"cs_bench_{i:06d}",
              **order_snapshot(price))
        for i, buyer in enumerate(buyers)
    ])
    events = []
    for i, order in enumerate(orders):
        session = {
            "id": order.stripe_session_id, "object": "checkout.session", "mode": "payment",
            "status": "complete", "payment_status": "paid",
            "client_reference_id": str(order.public_id), "metadata": {"order": str(order.pk)},
            "currency": order.currency, "amount_subtotal": order.amount_minor,
            "amount_total": order.amount_minor, "customer": f"cus_bench_{i:06d}",
            "customer_details": {"email": order.buyer.email, "name": "Bench Buyer"},
            "payment_intent": f"pi_bench_{i:06d}", "subscription": None,
        }
        events.append((order.pk, json.dumps(FakeStripe.event(
            "checkout.session.completed", session, event_id=f"evt_bench_{i:06d}",
        )).encode()))
    return events


def run(mode, events, args, url, redis_url, namespace):
    """Post ``events`` to a server handling them ``mode``'s way; record its figures."""
    import contextlib

    from wagtail_coaching.models import (
        CoachAssignment,
        Enrollment,
        Order,
        OrderEnrollment,
        OrderStatus,
        StripeEvent,
    )

    n = len(events)
    order_ids = [pk for pk, _ in events]
    bodies = [body for _, body in events]
    background = mode == "background"
    expected = "queued" if background else "fulfilled"

    def fulfilled():
        return Order.objects.filter(pk__in=order_ids, fulfilled_at__isnull=False).count()

    jobs = contextlib.nullcontext()
    if background and redis_url:
        jobs = bench.dramatiq_workers(url, redis_url, namespace, processes=args.job_processes,
                                      threads=2, BENCH_WEBHOOK_HANDLING=mode)
    with jobs, bench.gunicorn(url, workers=args.workers, redis_url=redis_url,
                              namespace=namespace, BENCH_WEBHOOK_HANDLING=mode) as base, \
            bench.autovacuum_stand_in():
        # The floor first, while the workers are idle: the same number of signed events to a
        # view that verifies the signature and inserts one row.
        floor_bodies = [body.replace(b'"evt_bench_', f'"evt_floor_{mode}_'.encode())
                        for body in bodies]
        floor_results, floor_wall = post_all(base, floor_bodies, args.concurrency, FLOOR_PATH)
        assert all(s == 200 for _, s, _ in floor_results), [s for _, s, _ in floor_results][:5]
        assert StripeEvent.objects.filter(outcome="floor",
                                          event_id__startswith=f"evt_floor_{mode}_").count() == n
        floor_latencies = [secs for secs, _, _ in floor_results]
        started = time.perf_counter()
        results, wall = post_all(base, bodies, args.concurrency)
        bad = [(s, b[:200]) for _, s, b in results if s != 200]
        assert not bad, f"{len(bad)} events refused, e.g. {bad[:3]}"
        outcomes = [json.loads(b).get("outcome") for _, _, b in results]
        assert outcomes.count(expected) == n, {o: outcomes.count(o) for o in set(outcomes)}
        if background:
            if not redis_url:
                # No broker between the processes: the server's messages stayed in its
                # memory. This process is the worker.
                from wagtail_coaching.payments.webhooks import handle_recorded_event

                for body in bodies:
                    handle_recorded_event(json.loads(body)["id"])
            bench.wait_until(lambda: fulfilled() >= n, 600, "every order to be fulfilled")
        handled_wall = time.perf_counter() - started
        enrollments = Enrollment.objects.filter(order_grants__order_id__in=order_ids)
        assert enrollments.count() == n, enrollments.count()
        assert enrollments.values("client").distinct().count() == n
        assert CoachAssignment.objects.filter(enrollment__in=enrollments).count() == n
        assert OrderEnrollment.objects.filter(order_id__in=order_ids).count() == n
        assert Order.objects.filter(pk__in=order_ids, status=OrderStatus.PAID).count() == n
        assert fulfilled() == n
        latencies = [secs for secs, _, _ in results]
        total_before = Enrollment.objects.count()
        repeats = bodies[:: max(1, n // args.duplicates)][: args.duplicates]
        again, _ = post_all(base, repeats, args.concurrency)
        assert all(s == 200 for _, s, _ in again), [s for _, s, _ in again]
        duplicates = [json.loads(b).get("outcome") for _, _, b in again]
        assert duplicates == ["duplicate"] * len(repeats), set(duplicates)
        added = Enrollment.objects.count() - total_before
        assert StripeEvent.objects.filter(event_id__startswith="evt_bench_").count() == (
            n * (MODES.index(mode) + 1)
        )

    where = (f"{args.job_processes} dramatiq worker processes x 2 threads, Redis, beside "
             "gunicorn" if redis_url else "this process, after the posts")
    shape = f"{n:,} events, {args.concurrency} client threads, {args.workers} gunicorn workers"
    if background:
        shape += f"; handled by {where}"
    label = f"{mode}: " if mode != "inline" else "inline (the default): "
    throughput, floor_throughput = n / wall, n / floor_wall
    p99 = bench.percentile(latencies, 99)
    floor_p99 = bench.percentile(floor_latencies, 99)
    bench.record(f"{label}webhook events answered per second", round(throughput, 1),
                 "events/s", target=f">= {MIN_THROUGHPUT}", met=throughput >= MIN_THROUGHPUT,
                 detail=f"{shape}; {wall:.1f} s; answered '{expected}'")
    bench.record(f"{label}webhook throughput: floor / package",
                 round(floor_throughput / throughput, 2), "x", target=f"<= {MAX_RATIO}",
                 met=floor_throughput / throughput <= MAX_RATIO,
                 detail=f"floor (verify the signature, insert one row): "
                        f"{floor_throughput:.1f} events/s; package {throughput:.1f} events/s")
    bench.record(f"{label}webhook latency p99: package / floor", round(p99 / floor_p99, 2), "x",
                 target=f"<= {MAX_RATIO}", met=p99 / floor_p99 <= MAX_RATIO,
                 detail=f"package {p99 * 1000:.0f} ms, floor {floor_p99 * 1000:.0f} ms")
    bench.record(f"{label}webhook latency p50", round(bench.percentile(latencies, 50) * 1000),
                 "ms", detail=shape)
    bench.record(f"{label}webhook latency p99", round(p99 * 1000), "ms", detail=shape)
    if background:
        bench.record(f"{label}events handled per second (posted to fulfilled)",
                     round(n / handled_wall, 1), "events/s",
                     detail=f"{n:,} orders fulfilled {handled_wall:.1f} s after the first post; "
                            f"{where}")
    bench.record(f"{label}enrollments after the events", n, "enrollments",
                 target=f"= {n:,}", met=True,
                 detail="one per buyer, each with a coach; every order paid and fulfilled once")
    bench.record(f"{label}enrollments added by redelivered events", added, "enrollments",
                 target="= 0", met=added == 0,
                 detail=f"{len(repeats)} events posted again: each answered 'duplicate'")


if __name__ == "__main__":
    sys.exit(main())
