#!/usr/bin/env python
"""Seats under contention: many people registering at the same instant for a group session
with fewer seats, repeated over fresh sessions.

    .venv/bin/python benchmarks/bench_seats.py --people 50 --seats 10 --rounds 20

Each round is a new session with ``--seats`` seats whose invitation list holds ``--people``
clients. One thread per person (each its own database connection) waits at a barrier, then
calls ``scheduling.seats.register`` at once. Afterwards the session must hold exactly
``--seats`` registered people and the rest on the waitlist, each person once.

Figures: people registered beyond the seats, over every round (target 0), and the total
time of the registrations.
"""

import datetime
import sys
import threading
import time

import _common as bench


def main():
    p = bench.parser(__doc__)
    p.add_argument("--people", type=int, default=50, help="concurrent registrations")
    p.add_argument("--seats", type=int, default=10)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    url = args.database_url or bench.default_database_url(bench.script_name())
    if args.quick:
        args.people, args.seats, args.rounds = 6, 2, 2
    bench.begin(args, database_url=url)
    bench.recreate_database(url)
    bench.setup_django(url)

    from django.db import connection
    from django.utils import timezone

    from wagtail_coaching.models import Audience, GroupSession, RegistrationStatus
    from wagtail_coaching.scheduling import SessionPlan, create_sessions
    from wagtail_coaching.scheduling.seats import register

    team = bench.make_team(coaches=1)
    coach = team.memberships.get().user
    people = bench.make_users(args.people, prefix="attendee")
    start = (timezone.now() + datetime.timedelta(days=3)).replace(minute=0, second=0,
                                                                  microsecond=0)
    sessions = create_sessions(
        SessionPlan(title="Peer circle", coach=coach, team=team, starts_at=start,
                    duration=datetime.timedelta(hours=1), capacity=args.seats,
                    audience=Audience.LIST, invitees=people),
        [start + datetime.timedelta(days=7 * i) for i in range(args.rounds)], invite=False,
    )
    bench.analyze()
    connection.close()
    # SQLite has no row locks and takes one writer at a time: there, register in turn.
    concurrent = bench.is_postgres(url)

    oversold = errors = 0
    total = 0.0
    for session in sessions:
        barrier = threading.Barrier(args.people if concurrent else 1)
        failures = []

        def attend(person, session=session, barrier=barrier, failures=failures):
            try:
                barrier.wait(timeout=60)
                register(session, person)
            except Exception as exc:  # counted and shown: must stay zero
                failures.append(repr(exc))
            finally:
                connection.close()

        started = time.perf_counter()
        if concurrent:
            threads = [threading.Thread(target=attend, args=(person,)) for person in people]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for person in people:
                attend(person)
        total += time.perf_counter() - started
        errors += len(failures)
        assert not failures, failures[:3]
        statuses = list(GroupSession.objects.get(pk=session.pk).registrations
                        .values_list("status", flat=True))
        registered = statuses.count(RegistrationStatus.REGISTERED)
        waitlisted = statuses.count(RegistrationStatus.WAITLISTED)
        oversold += max(0, registered - args.seats)
        assert len(statuses) == args.people, len(statuses)
        assert registered == args.seats and waitlisted == args.people - args.seats, (
            registered, waitlisted)
    registrations = args.people * args.rounds
    print(f"oversold seats: {oversold}; total time {total:.2f} s")
    shape = (f"{args.rounds} rounds of {args.people} "
             f"{'simultaneous' if concurrent else 'successive'} registrations for "
             f"{args.seats} seats")
    bench.record("seats oversold", oversold, "seats", target="= 0", met=oversold == 0,
                 detail=f"{shape}; each round {args.seats} registered, "
                        f"{args.people - args.seats} waitlisted, no errors")
    bench.record("time of all registrations", round(total, 2), "s",
                 detail=f"{registrations:,} registrations, {registrations / total:,.0f}/s")
    if not args.keep:
        bench.drop_database(url)
    bench.finish()


if __name__ == "__main__":
    sys.exit(main())
