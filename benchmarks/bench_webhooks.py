#!/usr/bin/env python
"""Stripe webhooks over HTTP: signed checkout.session.completed events posted concurrently
to the sandbox served by gunicorn.

    .venv/bin/python benchmarks/bench_webhooks.py --events 1000 --workers 2 --concurrency 8

N buyers each have a pending checkout order for an offer granting one 40-activity
engagement. For each order one ``checkout.session.completed`` event is built and signed as
Stripe does (``tests/stripe_fake.py``: the real ``stripe`` library verifies it), then all N
are posted to ``/coaching/stripe/webhook/`` by a pool of client threads. Afterwards exactly N
enrollments must exist, one per buyer, and every order must be paid; then a sample of the
same events is posted again (Stripe's redelivery) and must change nothing.

Then the floor: as many signed events, posted the same way to a view of the benchmark site
(``_bench_urls.py``) that verifies the signature as the package does and inserts one row.

Figures: events per second (target >= 100), the floor's throughput over the package's and
the package's p99 latency over the floor's (target <= 5 each), p50 and p99 latency,
enrollments after the run, and the enrollments added by the redelivered duplicates
(target 0).
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
    p.add_argument("--events", type=int, default=1000)
    p.add_argument("--duplicates", type=int, default=200, help="events posted again")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--concurrency", type=int, default=8, help="client threads")
    args = p.parse_args()
    url = args.database_url or bench.default_database_url(bench.script_name())
    if args.quick:
        args.events, args.duplicates = min(args.events, 10), min(args.duplicates, 3)
    if not bench.is_postgres(url):
        # SQLite takes one writer at a time: serve and post one request at a time.
        args.workers, args.concurrency = 1, 1
    bench.begin(args, database_url=url)
    bench.recreate_database(url)
    bench.setup_django(url)

    from tests.stripe_fake import ONE_TIME, FakeStripe, make_offer
    from wagtail_coaching.models import (
        Enrollment,
        Order,
        OrderEnrollment,
        OrderSource,
        OrderStatus,
        StripeEvent,
    )
    from wagtail_coaching.payments.fulfilment import order_snapshot
    from wagtail_coaching.testing import programs
    from wagtail_coaching.testing.factories import make_engagement

    n = args.events
    team = bench.make_team()
    engagement = make_engagement(program=programs.sized_program(4, 10), title="Leadership",
                                 team=team, assignment_policy="round_robin")
    offer = make_offer([engagement], prices=[ONE_TIME])
    price = offer.prices.get()
    buyers = bench.make_users(n, prefix="buyer")
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
        events.append(json.dumps(FakeStripe.event(
            "checkout.session.completed", session, event_id=f"evt_bench_{i:06d}",
        )).encode())
    bench.analyze()

    with bench.gunicorn(url, workers=args.workers) as base:
        results, wall = post_all(base, events, args.concurrency)
        bad = [(s, b[:200]) for _, s, b in results if s != 200]
        assert not bad, f"{len(bad)} events refused, e.g. {bad[:3]}"
        outcomes = [json.loads(b).get("outcome") for _, _, b in results]
        assert outcomes.count("fulfilled") == n, {o: outcomes.count(o) for o in set(outcomes)}
        enrollments = Enrollment.objects.count()
        assert enrollments == n, enrollments
        assert Enrollment.objects.values("client").distinct().count() == n
        assert OrderEnrollment.objects.count() == n
        assert Order.objects.filter(status=OrderStatus.PAID, fulfilled_at__isnull=False) \
            .count() == n
        latencies = [secs for secs, _, _ in results]
        repeats = events[:: max(1, n // args.duplicates)][: args.duplicates]
        again, _ = post_all(base, repeats, args.concurrency)
        assert all(s == 200 for _, s, _ in again), [s for _, s, _ in again]
        duplicates = [json.loads(b).get("outcome") for _, _, b in again]
        assert duplicates == ["duplicate"] * len(repeats), set(duplicates)
        added = Enrollment.objects.count() - enrollments
        assert StripeEvent.objects.count() == n
        # The floor: the same number of signed events to a view that verifies the signature
        # and inserts one row.
        floor_events = [body.replace(b'"evt_bench_', b'"evt_floor_') for body in events]
        floor_results, floor_wall = post_all(base, floor_events, args.concurrency, FLOOR_PATH)
        assert all(s == 200 for _, s, _ in floor_results), [s for _, s, _ in floor_results][:5]
        assert StripeEvent.objects.filter(outcome="floor").count() == n
        floor_latencies = [secs for secs, _, _ in floor_results]

    shape = f"{n:,} events, {args.concurrency} client threads, {args.workers} gunicorn workers"
    throughput, floor_throughput = n / wall, n / floor_wall
    p99 = bench.percentile(latencies, 99)
    floor_p99 = bench.percentile(floor_latencies, 99)
    bench.record("webhook events per second", round(throughput, 1), "events/s",
                 target=f">= {MIN_THROUGHPUT}", met=throughput >= MIN_THROUGHPUT,
                 detail=f"{shape}; {wall:.1f} s")
    bench.record("webhook throughput: floor / package", round(floor_throughput / throughput, 2),
                 "x", target=f"<= {MAX_RATIO}",
                 met=floor_throughput / throughput <= MAX_RATIO,
                 detail=f"floor (verify the signature, insert one row): "
                        f"{floor_throughput:.1f} events/s; package {throughput:.1f} events/s")
    bench.record("webhook latency p99: package / floor", round(p99 / floor_p99, 2), "x",
                 target=f"<= {MAX_RATIO}", met=p99 / floor_p99 <= MAX_RATIO,
                 detail=f"package {p99 * 1000:.0f} ms, floor {floor_p99 * 1000:.0f} ms")
    bench.record("webhook latency p50", round(bench.percentile(latencies, 50) * 1000), "ms",
                 detail=shape)
    bench.record("webhook latency p99", round(bench.percentile(latencies, 99) * 1000), "ms",
                 detail=shape)
    bench.record("enrollments after the events", enrollments, "enrollments",
                 target=f"= {n:,}", met=enrollments == n,
                 detail="one per buyer; every order paid and fulfilled once")
    bench.record("enrollments added by redelivered events", added, "enrollments",
                 target="= 0", met=added == 0,
                 detail=f"{len(repeats)} events posted again: each answered 'duplicate'")
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


if __name__ == "__main__":
    sys.exit(main())
