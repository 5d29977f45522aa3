#!/usr/bin/env python
"""Client pages against a plain Wagtail page of the same size: the dashboard, and an
engagement page for a visitor and for an enrolled client.

    .venv/bin/python benchmarks/bench_pages.py --requests 300

A client holds 5 enrollments of 40 activities each, a quarter of them completed through the
journey services (so the dashboard has progress, coaches, recent events and notifications
to show). For each page a plain sandbox HomePage is published whose rich-text intro makes
its response the same number of bytes, and both are requested in turn through Django's
test client (the whole middleware stack and template rendering, no network), by the same
user. Figures: the median time of each, their ratio (target <= 1.5), and the page's number
of queries for this client and for a client with a single engagement (the same: it does
not grow with the data).
"""

import sys
import time

import _common as bench

TARGET_RATIO = 1.5


def main():
    p = bench.parser(__doc__)
    p.add_argument("--requests", type=int, default=300, help="requests of each page")
    p.add_argument("--engagements", type=int, default=5)
    p.add_argument("--activities", type=int, default=40, help="per engagement (4 stages)")
    args = p.parse_args()
    if args.quick:
        args.requests, args.engagements, args.activities = 5, 2, 8
    url = args.database_url or bench.default_database_url(bench.script_name())
    bench.begin(args, database_url=url)
    bench.recreate_database(url)
    bench.setup_django(url)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils.text import slugify

    from sandbox.home.models import HomePage
    from wagtail_coaching.journeys import enroll
    from wagtail_coaching.testing import programs
    from wagtail_coaching.testing.factories import make_engagement, site_root

    per_stage = max(1, args.activities // 4)
    team = bench.make_team()
    home = site_root()
    engagements = [
        make_engagement(
            program=programs.sized_program(4, per_stage), title=f"Engagement {i + 1}",
            team=team, assignment_policy="round_robin",
            intro="".join(f"<p>What you will learn in part {j + 1}: listening, feedback and "
                          "the habits of a calm leader.</p>" for j in range(8)),
        )
        for i in range(args.engagements)
    ]
    client_user, small_user = bench.make_users(2, prefix="client", password=bench.PASSWORD)
    for engagement in engagements:
        enrollment = enroll(client_user, engagement)
        bench.complete_first(enrollment, (4 * per_stage) // 4, client_user)
    small = enroll(small_user, engagements[0])
    bench.complete_first(small, 2, small_user)
    bench.analyze()

    signed_in = Client()
    signed_in.force_login(client_user)
    small_client = Client()
    small_client.force_login(small_user)
    visitor = Client()

    def get(client, path):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response

    def queries(client, path):
        get(client, path)  # warm caches (site root, content types)
        with CaptureQueriesContext(connection) as ctx:
            get(client, path)
        return len(ctx.captured_queries)

    def plain_page_like(client, path, label):
        """A published HomePage whose response is as long as ``path``'s."""
        size = len(get(client, path).content)
        page = HomePage(title=f"Plain page like {label}", slug=slugify(f"plain {label}"),
                        intro="")
        home.add_child(instance=page)
        page.save_revision().publish()
        page.refresh_from_db()
        paragraph = ("<p>Plain rich text of a Wagtail page, about as long as the page it is "
                     "compared with, in paragraphs like this one.</p>")
        for _ in range(3):  # the template adds a little around the intro: converge
            gap = size - len(get(client, page.url).content)
            if abs(gap) <= 16:
                break
            text = page.intro + paragraph * max(0, gap // len(paragraph))
            tail = max(0, size - len(get(client, page.url).content)) % len(paragraph)
            page.intro = text + (f"<p>{'x' * max(0, tail - 7)}</p>" if tail > 7 else "")
            page.save_revision().publish()
            page.refresh_from_db()
        return page.url, size, len(get(client, page.url).content)

    cases = [
        ("client dashboard", "/coaching/", signed_in, small_client),
        ("engagement page, visitor", engagements[0].url, visitor, None),
        ("engagement page, enrolled client", engagements[0].url, signed_in, small_client),
    ]
    for label, path, client, small_client_ in cases:
        plain_url, size, plain_size = plain_page_like(client, path, label)
        for _ in range(5):
            get(client, path)
            get(client, plain_url)
        times, plain_times, cpu, plain_cpu = [], [], [], []
        for _ in range(args.requests):
            # In turn, so that whatever else the machine does weighs on both alike.
            for url_, wall, own in ((path, times, cpu), (plain_url, plain_times, plain_cpu)):
                started, started_cpu = time.perf_counter(), time.process_time()
                get(client, url_)
                wall.append(time.perf_counter() - started)
                own.append(time.process_time() - started_cpu)
        page_ms, plain_ms = bench.median(times) * 1000, bench.median(plain_times) * 1000
        ratio = page_ms / plain_ms
        cpu_ms, plain_cpu_ms = bench.median(cpu) * 1000, bench.median(plain_cpu) * 1000
        detail = (f"median {page_ms:.1f} ms vs {plain_ms:.1f} ms for a plain page of "
                  f"{plain_size:,} bytes (this page: {size:,} bytes); {args.requests} "
                  f"requests each; CPU time of this process {cpu_ms:.1f} ms vs "
                  f"{plain_cpu_ms:.1f} ms ({cpu_ms / plain_cpu_ms:.2f}x)")
        bench.record(f"{label}: time / plain Wagtail page", round(ratio, 2), "x",
                     target=f"<= {TARGET_RATIO}", met=ratio <= TARGET_RATIO, detail=detail)
        bench.record(f"{label}: median time", round(page_ms, 1), "ms")
        count = queries(client, path)
        if small_client_ is not None:
            small_count = queries(small_client_, path)
            bench.record(
                f"{label}: queries", count, "queries",
                target=f"constant (= {small_count} with 1 engagement)",
                met=count == small_count,
                detail=f"{args.engagements} engagements x {4 * per_stage} activities: "
                       f"{count}; 1 engagement: {small_count}",
            )
        else:
            bench.record(f"{label}: queries", count, "queries")

    if bench.is_postgres(url) and not args.keep:
        bench.drop_database(url)
    bench.finish()


if __name__ == "__main__":
    sys.exit(main())
