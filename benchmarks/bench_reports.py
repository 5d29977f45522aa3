#!/usr/bin/env python
"""Every report over 50,000 enrollments and 1,000,000 activity rows, timed through the admin.

Runs against its own throwaway database (dropped and re-created on every run):

    .venv/bin/python benchmarks/bench_reports.py [--clients 50000] [--keep | --reuse]

The data (built untimed, then analyzed): N clients over 12 monthly intakes in 3 engagements
of 20 activities (1:1 sessions, lessons, check-ins, feedback...), a share of them completed,
paused or cancelled, 40% through 5 companies with consent, a coach each among 20; progress
varies per client (completed steps with scores and timeline events); 1:1 sessions held or
missed, group sessions with attendance, and orders (paid, free, refunded, installments).

Each report page is then requested as an admin (who sees everything: the largest answer),
its CSV export too, and the company report as an HR partner; the median of 3 requests after
one warm-up is printed with the statements it ran. Target: each page within 2 seconds.
"""

import datetime
import statistics
import sys
import time

import _common as bench

TARGET_SECONDS = 2.0
ACTIVITIES = 20
ENGAGEMENTS = 3
MONTHS = 12


def program():
    from wagtail_coaching.testing import programs

    kinds = ["one_to_one", "lesson", "check_in", "practice", "feedback"]
    stages = []
    for s in range(4):
        acts = []
        for a in range(ACTIVITIES // 4):
            i = s * (ACTIVITIES // 4) + a
            kind = kinds[i % len(kinds)]
            extra = {"sessions": 4} if kind == "one_to_one" else {}
            acts.append(programs.activity(
                kind, f"Step {i + 1}", rule="immediately" if i == 0 else "after_previous",
                block_id=f"act-{i}", **extra,
            ))
        stages.append(programs.stage(f"Stage {s + 1}", acts, block_id=f"stage-{s}"))
    return stages


def build(n, now):
    """The data set; returns (admin, hr_partner)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from tests.stripe_fake import make_offer
    from wagtail_coaching.journeys import enroll_many
    from wagtail_coaching.models import (
        ActivityState,
        ClientActivity,
        CoachAssignment,
        CoachingSession,
        CoachingSessionStatus,
        CoachProfile,
        Company,
        Consent,
        ConsentPurpose,
        Enrollment,
        EnrollmentStatus,
        EventKind,
        GroupSession,
        JourneyEvent,
        Order,
        OrderStatus,
        PaymentModel,
        Registration,
        RegistrationStatus,
        Team,
        TeamMembership,
    )
    from wagtail_coaching.testing.factories import make_engagement

    User = get_user_model()
    admin = User.objects.create(username="bench-admin", is_superuser=True, is_staff=True)
    team = Team.objects.create(name="Bench team")
    coaches = User.objects.bulk_create(
        [User(username=f"coach-{i}", first_name="Coach", last_name=str(i)) for i in range(20)]
    )
    coach_group, _ = Group.objects.get_or_create(name="Coaches")
    coach_group.user_set.add(*coaches)
    TeamMembership.objects.bulk_create(
        [TeamMembership(team=team, user=c, role="coach") for c in coaches]
    )
    CoachProfile.objects.bulk_create([CoachProfile(user=c, max_clients=3000) for c in coaches])
    hr = User.objects.create(username="bench-hr")
    Group.objects.get_or_create(name="HR partners")[0].user_set.add(hr)
    companies = Company.objects.bulk_create([Company(name=f"Company {i}") for i in range(5)])
    companies[0].hr_partners.add(hr)
    engagements = [
        make_engagement(program=program(), title=f"Engagement {e}", slug=f"bench-{e}",
                        team=team, assignment_policy="manual")
        for e in range(ENGAGEMENTS)
    ]
    users = User.objects.bulk_create(
        [User(username=f"client-{i}", first_name="Client", last_name=str(i), password="!")
         for i in range(n)],
        batch_size=5000,
    )
    Consent.objects.bulk_create(
        [Consent(client=u, purpose=ConsentPurpose.SHARE_PROGRESS, granted=i % 3 != 0, at=now)
         for i, u in enumerate(users) if i % 5 < 2],
        batch_size=5000,
    )
    # 12 monthly intakes per engagement, 40% of each through a company.
    groups = {}
    for i, user in enumerate(users):
        key = (i % ENGAGEMENTS, (i // ENGAGEMENTS) % MONTHS, i % 5 if i % 5 < 2 else None)
        groups.setdefault(key, []).append(user)
    for (e, month, company), members in groups.items():
        starts = now - datetime.timedelta(days=30 * (MONTHS - month))
        enroll_many(members, engagements[e], now=starts, starts_at=starts,
                    company=companies[company] if company is not None else None)
    enrollments = list(Enrollment.objects.values_list("pk", "client_id", "starts_at"))
    CoachAssignment.objects.bulk_create(
        [CoachAssignment(enrollment_id=pk, coach=coaches[pk % len(coaches)], method="manual",
                         started_at=starts) for pk, _client, starts in enrollments],
        batch_size=5000,
    )
    # Progress: enrollment k has completed its first (k mod 21) steps, one day apart.
    for done in range(1, ACTIVITIES + 1):
        ids = [pk for pk, _c, _s in enrollments if pk % (ACTIVITIES + 1) >= done]
        for chunk in range(0, len(ids), 10000):
            ClientActivity.objects.filter(
                enrollment_id__in=ids[chunk:chunk + 10000], position=(done - 1) % 5,
                stage_position=(done - 1) // 5,
            ).update(state=ActivityState.COMPLETED, score=done % 11,
                     unlocked_at=now, completed_at=now)
    # Completion dates and feedback scores 1-5, set per intake month.
    for month in range(MONTHS):
        starts = now - datetime.timedelta(days=30 * (MONTHS - month))
        rows = ClientActivity.objects.filter(
            enrollment__starts_at=starts, state=ActivityState.COMPLETED)
        for position in range(5):
            rows.filter(position=position).update(
                completed_at=starts + datetime.timedelta(days=2 + position * 3))
    ClientActivity.objects.filter(kind="feedback", state=ActivityState.COMPLETED, score=0).update(
        score=3)
    ClientActivity.objects.filter(kind="feedback", score__gt=5).update(score=5)
    # Statuses: a fifth completed, some paused and cancelled.
    full = [pk for pk, _c, _s in enrollments if pk % (ACTIVITIES + 1) == ACTIVITIES]
    Enrollment.objects.filter(pk__in=full).update(status=EnrollmentStatus.COMPLETED,
                                                  completed_at=now - datetime.timedelta(days=3))
    Enrollment.objects.filter(pk__in=[pk for pk, _c, _s in enrollments if pk % 17 == 0]).update(
        status=EnrollmentStatus.PAUSED)
    Enrollment.objects.filter(pk__in=[pk for pk, _c, _s in enrollments if pk % 19 == 0]).update(
        status=EnrollmentStatus.CANCELLED)
    # Timeline: one event per completed step.
    batch = []
    completed = ClientActivity.objects.filter(state=ActivityState.COMPLETED).values_list(
        "pk", "enrollment_id", "completed_at").iterator(chunk_size=20000)
    for pk, enrollment_id, at in completed:
        batch.append(JourneyEvent(enrollment_id=enrollment_id, activity_id=pk,
                                  kind=EventKind.COMPLETED, at=at, rules_done=True))
        if len(batch) == 20000:
            JourneyEvent.objects.bulk_create(batch)
            batch = []
    JourneyEvent.objects.bulk_create(batch)
    # 1:1 sessions on the first step: held, or missed for every seventh client.
    sessions, events = [], []
    for activity_id, enrollment_id, starts_at in ClientActivity.objects.filter(
        kind="one_to_one", position=0, stage_position=0,
    ).values_list("pk", "enrollment_id", "enrollment__starts_at").iterator(chunk_size=20000):
        if enrollment_id % 2:
            continue
        held = enrollment_id % 7 != 0
        start = starts_at + datetime.timedelta(days=enrollment_id % 30)
        sessions.append(CoachingSession(
            enrollment_id=enrollment_id, activity_id=activity_id,
            coach=coaches[enrollment_id % len(coaches)], starts_at=start,
            ends_at=start + datetime.timedelta(hours=1), booked_at=starts_at,
            status=CoachingSessionStatus.COMPLETED if held else CoachingSessionStatus.NO_SHOW,
        ))
        events.append(JourneyEvent(
            enrollment_id=enrollment_id, at=start + datetime.timedelta(hours=1), rules_done=True,
            kind=EventKind.SESSION_ATTENDED if held else EventKind.SESSION_MISSED,
        ))
    CoachingSession.objects.bulk_create(sessions, batch_size=5000)
    JourneyEvent.objects.bulk_create(events, batch_size=5000)
    # 200 group sessions of 25 with attendance.
    group_sessions = GroupSession.objects.bulk_create([
        GroupSession(title=f"Circle {i}", coach=coaches[i % len(coaches)], team=team,
                     starts_at=now - datetime.timedelta(days=i),
                     ends_at=now - datetime.timedelta(days=i) + datetime.timedelta(hours=1),
                     attendance_taken_at=now - datetime.timedelta(days=i))
        for i in range(200)
    ])
    Registration.objects.bulk_create([
        Registration(session=s, user=users[(i * 25 + j) % n],
                     status=RegistrationStatus.NO_SHOW if j % 6 == 0
                     else RegistrationStatus.ATTENDED)
        for i, s in enumerate(group_sessions) for j in range(25)
    ], batch_size=5000)
    # Orders: one per tenth client; a few free, refunded, installment plans.
    offer = make_offer(engagements[:1], title="Bench offer", slug="bench-offer")
    orders = []
    for i, user in enumerate(users[::10]):
        paid = i % 9 != 0
        orders.append(Order(
            buyer=user, offer=offer, price_label="Plan" if i % 4 == 0 else "Full",
            payment_model=PaymentModel.INSTALLMENTS if i % 4 == 0 else PaymentModel.ONE_TIME,
            installments_total=3 if i % 4 == 0 else None,
            amount=0 if i % 13 == 0 else 300, currency="eur",
            status=OrderStatus.REFUNDED if i % 11 == 0 else (
                OrderStatus.PAID if paid else OrderStatus.PENDING),
            amount_refunded=300 if i % 11 == 0 else 0,
            sales_manager=coaches[i % 3] if i % 2 else None,
            paid_at=now - datetime.timedelta(days=i % 300) if paid else None,
            created_at=now - datetime.timedelta(days=i % 300),
            reference=f"bench-{i}",
        ))
    Order.objects.bulk_create(orders, batch_size=5000)
    return admin, hr


def time_request(client, url, counter, repeat=3):
    from django.db import connection

    client.get(url)  # warm-up: templates compiled, caches filled
    times = []
    for _ in range(repeat):
        counter.count = 0
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            response = client.get(url)
            body = b"".join(response.streaming_content) if response.streaming else \
                response.content
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
        assert body
    return statistics.median(times), counter.count


def main():
    p = bench.parser(__doc__)
    p.add_argument("--clients", type=int, default=50_000, help="enrollments")
    p.add_argument("--reuse", action="store_true",
                   help="time the reports over the data a --keep run left")
    args = p.parse_args()
    url = args.database_url or bench.default_database_url(bench.script_name())
    if args.quick:
        args.clients = 300
    bench.begin(args, database_url=url)
    if not args.reuse:
        bench.recreate_database(url)
    bench.setup_django(url)

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from wagtail_coaching.models import ClientActivity, Enrollment, JourneyEvent
    from wagtail_coaching.reports import REPORTS

    now = timezone.now()
    started = time.perf_counter()
    if args.reuse:
        admin, hr = (get_user_model().objects.get(username=name)
                     for name in ("bench-admin", "bench-hr"))
    else:
        admin, hr = build(args.clients, now)
    bench.analyze()
    size = (f"{Enrollment.objects.count():,} enrollments, "
            f"{ClientActivity.objects.count():,} activity rows, "
            f"{JourneyEvent.objects.count():,} timeline events")
    print(f"data: {size} (built in {time.perf_counter() - started:.0f} s)")
    counter = bench.StatementCounter()
    client = Client()
    runs = [(admin, report) for report in REPORTS] + [
        (hr, report) for report in REPORTS if report.slug == "company"]
    for viewer, report in runs:
        client.force_login(viewer)
        who = "an HR partner" if viewer == hr else "an admin"
        for kind, target in (("page", report.url()), ("CSV export", f"{report.url()}?export=csv")):
            seconds, statements = time_request(client, target, counter)
            bench.record(
                f"{report.slug} report, {kind}, as {who}", round(seconds, 2), "s",
                target=f"<= {TARGET_SECONDS:g}" if kind == "page" else None,
                met=seconds <= TARGET_SECONDS if kind == "page" else None,
                detail=f"median of 3; {statements} statements; {size}",
            )
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


if __name__ == "__main__":
    sys.exit(main())
