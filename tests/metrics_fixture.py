"""A small coaching business whose every report figure is worked out by hand in
tests/test_metrics.py.

Nothing depends on the real clock or on random values: people have fixed names, and each
service runs at an explicit instant (the clock is moved there, so what a service stamps with
"now" is that instant too). The reports are read at ``NOW``, Wednesday 15 April 2026, 12:00
UTC (14:00 in Berlin).

``build(tag)`` makes one complete, independent copy; ``tag`` keeps names apart so the same
business can be built three times (query counts must not grow with it). All times are UTC,
in 2026 unless said otherwise.

Team T, coaches (first names order the coach-load rows): Cora (6 clients at most), Dex (5),
Finn (3).

Engagement A (team T) and B (team T): program "Start" [Welcome (lesson, opens at once),
Mood (check-in, after the previous)], "Deepen" [Practise (practice), Feedback (feedback)]
(each after the previous).

  ann  A  starts 1 Apr. Welcome done 12 Apr; an extra lesson added to "Deepen" (open).
          Coach: Cora.
  ann  B  starts 10 Apr (same client, second engagement). Coach: Dex, then Cora from
          11 Apr (Dex's assignment ended).
  ben  A  starts 1 Mar. Welcome done 20 Mar, nothing since. Coach: Cora.
  cat  A  starts 1 Apr. Welcome done 9 Apr; missed sessions on 10 and 13 Apr. Coach: Dex.
  dan  A  starts 1 Feb, access ended 1 Apr 10:00 (status still active). Welcome done
          30 Mar. Coach: Dex.
  eve  A  enrolled 14 Apr, starts 1 May.
  fay  A  starts 2 Feb. Welcome 3 Feb, Mood 15 Feb (score 9), Practise 1 Mar, Feedback
          10 Mar (score 5): completed 10 Mar. Coach: Cora.
  gus  A  starts 2 Apr, paused 3 Apr; his Feedback step was removed from his journey.
          Coach: Cora.

Engagement S (team T), program "Meet" [Coaching sessions (three 1:1s), Circle (group
session)], both open at once. Everyone starts 2 Mar 10:00 but mia (10 Apr).

  hal  Cora. 1:1 9 Mar 09:00 held (recorded 10:00); 1:1 16 Mar cancelled; attended
       Circle 3 (20 Mar, marked 09:30, then the session was cancelled at 09:45);
       1:1 booked for 16 Apr 09:00.
  ivy  Cora. 1:1 4 Mar no-show; attended Circle 1 (12 Mar, marked 10:00); 1:1 for
       17 Apr booked then cancelled by Cora.
  jon  Dex. No-show at Circle 1 and Circle 2: two missed in a row.
  kim  Dex. 1:1s held 22 and 26 Mar (recorded 10:00); 1:1 booked for 20 Apr 09:00.
       Registered for Circle 1, attendance never marked for her.
  leo  no coach. Attended Circle 2 (12 Apr, marked 10:00).
  mia  no coach, starts 10 Apr. Registered for Circle 4 (Finn, 14 Apr), attendance never
       taken.
  nia  Finn. Enrollment cancelled.

Group sessions (engagement S): Circle 1 (Dex, 12 Mar 09:00), Circle 2 (Dex, 12 Apr
09:00), Circle 3 (Cora, 20 Mar 09:00, cancelled after attendance), Circle 4 (Finn,
14 Apr 09:00), Circle 5 (Cora, 18 Apr 09:00), Circle 6 (Cora, 19 Apr, cancelled),
Circle 7 (Cora, 22 Apr 12:00: exactly a week after NOW).

Engagement R (no team), same program as A:

  ola  starts 31 Jan 23:30 (1 Feb 00:30 in Berlin). Welcome 10 Feb; Mood 5 Mar (score 6)
       and an extra feedback 5 Mar (score 5).
  pia  starts 10 Jan. Welcome 12 Jan; Mood 31 Jan 23:30 (score 8; February in Berlin);
       Practise and Feedback (score 4) 28 Feb 23:30: completed then (1 Mar 00:30 in
       Berlin). Booked a session on 3 Apr, after completing.
  quin starts 15 Jan. Welcome 3 Mar; Mood 2 Apr (score 4) and an extra feedback 2 Apr
       (score 3).
  rex  starts 20 Feb. Welcome 5 Apr and an extra check-in "Energy" 5 Apr (score 6).
  sue  starts 10 Mar. Welcome 11 Mar; Mood (score 7), Practise, Feedback (score 2) 1 Apr
       10:00: completed then.

Offers (engagement Z): X with "Pay once" (490 EUR), "Pay once (USD)" (520 USD), "Three
payments" (3 x 170 EUR), "Taster" (free); Y with "Pay once" (300 USD). Orders:

  o1  X Pay once       490 EUR  paid      sam   3 Mar
  o2  X Pay once       490 EUR  refunded  sam   5 Mar  (490 refunded)
  o3  X Pay once       490 EUR  paid      -     8 Mar  (100 refunded)
  o4  X Three payments 170 EUR  paid      sam  10 Mar  (installment plan of 3)
  o5  X Taster           0 EUR  paid      -    12 Mar  (free)
  o6  X Pay once       490 EUR  pending   sam  15 Mar
  o7  Y Pay once       300 USD  paid      sam  20 Mar
  o8  X Manual grant   100 EUR  paid      -     2 Apr  (grant_offer)
  o9  Y Pay once       300 USD  paid      -    20 Feb
  o10 X Pay once (USD) 520 USD  paid      -    22 Mar
"""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import time_machine

from wagtail_coaching.journeys import (
    add_extra_activity,
    assign_coach,
    complete_activity,
    enroll,
    pause_enrollment,
)
from wagtail_coaching.models import (
    ActivityState,
    Audience,
    CoachProfile,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Order,
    OrderSource,
    OrderStatus,
    PaymentModel,
    Team,
    TeamMembership,
)
from wagtail_coaching.payments.fulfilment import grant_offer
from wagtail_coaching.scheduling import (
    SessionPlan,
    book_session,
    cancel_session,
    cancel_sessions,
    create_sessions,
    mark_attendance,
    publish_availability,
    record_session,
    register,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(month, day, hour=10, minute=0, year=2026):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@contextmanager
def clock(when):
    """Run at ``when``: everything stamped with the current time gets that instant."""
    with time_machine.travel(when, tick=False):
        yield


def journey_program():
    return [
        programs.stage("Start", [
            programs.activity("lesson", "Welcome", rule="immediately"),
            programs.activity("check_in", "Mood", rule="after_previous"),
        ]),
        programs.stage("Deepen", [
            programs.activity("practice", "Practise", rule="after_previous"),
            programs.activity("feedback", "Feedback", rule="after_previous"),
        ]),
    ]


def sessions_program():
    return [
        programs.stage("Meet", [
            programs.activity("one_to_one", "Coaching sessions", rule="immediately", sessions=3),
            programs.activity("group_session", "Circle", rule="immediately"),
        ]),
    ]


def person(name, tag):
    return UserFactory(
        username=f"{name}{tag}", first_name=name.capitalize(), last_name=f"Test{tag}"
    )


def coach(name, tag, team, max_clients):
    user = person(name, tag)
    CoachProfile.objects.create(user=user, max_clients=max_clients)
    TeamMembership.objects.create(team=team, user=user, role="coach")
    return user


def join(client, engagement, when, **kwargs):
    with clock(when):
        return enroll(client, engagement, now=when, starts_at=kwargs.pop("starts_at", when),
                      **kwargs)


def step(enrollment, title):
    return enrollment.activities.get(title=title)


def done(enrollment, title, when, score=None):
    with clock(when):
        return complete_activity(step(enrollment, title), actor=enrollment.client, now=when,
                                 score=score, response={"answer": title})


def extra(enrollment, kind, value, when, stage_block_id=""):
    with clock(when):
        return add_extra_activity(enrollment, kind, value, stage_block_id=stage_block_id,
                                  now=when)


def assign(enrollment, who, when):
    with clock(when):
        return assign_coach(enrollment, coach=who, now=when)


def event(enrollment, kind, when):
    return JourneyEvent.objects.create(enrollment=enrollment, kind=kind, at=when)


def one_to_one(enrollment, start, booked_at):
    """Book a 1:1 of ``enrollment`` (with its coach) at ``start``, from ``booked_at``."""
    allotment = step(enrollment, "Coaching sessions")
    coach_id = enrollment.assignments.get(ended_at__isnull=True).coach
    with clock(booked_at):
        publish_availability(coach_id, start=start, end=start + HOUR, slot_minutes=60)
        return book_session(allotment, start, actor=enrollment.client, now=booked_at)


def record(session, outcome, when):
    with clock(when):
        return record_session(session, outcome=outcome, actor=session.coach, now=when)


def circle(title, coach_user, engagement, start, created):
    with clock(created):
        (session,) = create_sessions(
            SessionPlan(title=title, coach=coach_user, starts_at=start, duration=HOUR,
                        audience=Audience.ENGAGEMENT, engagement=engagement),
            [start], invite=False, now=created,
        )
    return session


def seat(session, client, when):
    with clock(when):
        return register(session, client, check_eligible=False, now=when)


def attendance(session, marks, when):
    with clock(when):
        return mark_attendance(session, {c.pk: outcome for c, outcome in marks.items()},
                               actor=session.coach, now=when)


def build(tag=""):
    f = SimpleNamespace(tag=tag)
    build_people(f, tag)
    build_journeys(f, tag)
    build_sessions(f)
    build_retention(f, tag)
    build_sales(f, tag)
    return f


def build_people(f, tag):
    with clock(at(1, 2)):
        f.team = Team.objects.create(name=f"Team T{tag}")
        f.cora = coach("cora", tag, f.team, 6)
        f.dex = coach("dex", tag, f.team, 5)
        f.finn = coach("finn", tag, f.team, 3)
        f.engagement_a = make_engagement(
            program=journey_program(), title=f"A{tag}", slug=f"a{tag}", team=f.team,
            assignment_policy="manual",
        )
        f.engagement_b = make_engagement(
            program=journey_program(), title=f"B{tag}", slug=f"b{tag}", team=f.team,
            assignment_policy="manual",
        )
        f.engagement_s = make_engagement(
            program=sessions_program(), title=f"S{tag}", slug=f"s{tag}", team=f.team,
            assignment_policy="manual",
        )
        f.engagement_r = make_engagement(program=journey_program(), title=f"R{tag}",
                                         slug=f"r{tag}")
        f.engagement_z = make_engagement(program=journey_program(), title=f"Z{tag}",
                                         slug=f"z{tag}")
    for name in ("ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim",
                 "leo", "mia", "nia", "ola", "pia", "quin", "rex", "sue", "sam", "buyer"):
        setattr(f, name, person(name, tag))


def build_journeys(f, tag):
    a, b = f.engagement_a, f.engagement_b
    # fay: the whole program, completed on 10 March.
    f.fay_a = join(f.fay, a, at(2, 2))
    assign(f.fay_a, f.cora, at(2, 2))
    done(f.fay_a, "Welcome", at(2, 3))
    done(f.fay_a, "Mood", at(2, 15), score=9)
    done(f.fay_a, "Practise", at(3, 1))
    done(f.fay_a, "Feedback", at(3, 10), score=5)
    # dan: access ended on 1 April, status left active.
    f.dan_a = join(f.dan, a, at(2, 1), ends_at=at(4, 1))
    assign(f.dan_a, f.dex, at(2, 1))
    done(f.dan_a, "Welcome", at(3, 30))
    # ben: quiet since 20 March.
    f.ben_a = join(f.ben, a, at(3, 1))
    assign(f.ben_a, f.cora, at(3, 1))
    done(f.ben_a, "Welcome", at(3, 20))
    # ann: in two engagements.
    f.ann_a = join(f.ann, a, at(4, 1))
    assign(f.ann_a, f.cora, at(4, 1))
    done(f.ann_a, "Welcome", at(4, 12))
    f.deepen_id = step(f.ann_a, "Practise").stage_block_id
    f.ann_extra = extra(f.ann_a, "lesson", {"title": "Extra reading", "body": "<p>Read</p>",
                                            "video": None, "document": None},
                        at(4, 12, 11), stage_block_id=f.deepen_id)
    f.ann_b = join(f.ann, b, at(4, 10))
    assign(f.ann_b, f.dex, at(4, 10))
    # cat: active lately, but missed her last two sessions.
    f.cat_a = join(f.cat, a, at(4, 1))
    assign(f.cat_a, f.dex, at(4, 1))
    done(f.cat_a, "Welcome", at(4, 9))
    event(f.cat_a, EventKind.SESSION_MISSED, at(4, 10))
    event(f.cat_a, EventKind.SESSION_MISSED, at(4, 13))
    # gus: paused; one of his steps was removed from his journey (a program change).
    f.gus_a = join(f.gus, a, at(4, 2))
    assign(f.gus_a, f.cora, at(4, 2))
    with clock(at(4, 3)):
        pause_enrollment(f.gus_a, now=at(4, 3))
    f.gus_a.activities.filter(title="Feedback").update(state=ActivityState.REMOVED)
    # eve: enrolled now, starts next month.
    f.eve_a = join(f.eve, a, at(4, 14), starts_at=at(5, 1))
    # ann B goes from Dex to Cora.
    assign(f.ann_b, f.cora, at(4, 11))


def build_sessions(f):
    s = f.engagement_s
    start = at(3, 2)
    f.hal_s, f.ivy_s, f.jon_s, f.kim_s, f.leo_s, f.nia_s = (
        join(c, s, start) for c in (f.hal, f.ivy, f.jon, f.kim, f.leo, f.nia)
    )
    f.mia_s = join(f.mia, s, at(4, 10))
    for enrollment, who in ((f.hal_s, f.cora), (f.ivy_s, f.cora), (f.jon_s, f.dex),
                            (f.kim_s, f.dex), (f.nia_s, f.finn)):
        assign(enrollment, who, start)
    with clock(at(3, 2, 11)):
        Enrollment.objects.filter(pk=f.nia_s.pk).update(status=EnrollmentStatus.CANCELLED)

    # 1:1 sessions.
    ivy_missed = one_to_one(f.ivy_s, at(3, 4, 9), at(3, 2, 12))
    record(ivy_missed, "no_show", at(3, 4, 10))
    hal_first = one_to_one(f.hal_s, at(3, 9, 9), at(3, 3))
    record(hal_first, "completed", at(3, 9, 10))
    hal_cancelled = one_to_one(f.hal_s, at(3, 16, 9), at(3, 10))
    with clock(at(3, 12)):
        cancel_session(hal_cancelled, actor=f.hal, now=at(3, 12))
    for day in (22, 26):
        held = one_to_one(f.kim_s, at(3, day, 9), at(3, day - 2))
        record(held, "completed", at(3, day, 10))
    f.hal_upcoming = one_to_one(f.hal_s, at(4, 16, 9), at(4, 14))
    f.kim_upcoming = one_to_one(f.kim_s, at(4, 20, 9), at(4, 14))
    ivy_cancelled = one_to_one(f.ivy_s, at(4, 17, 9), at(4, 14))
    with clock(at(4, 14, 11)):
        cancel_session(ivy_cancelled, actor=f.cora, now=at(4, 14, 11))

    # Group sessions.
    f.circle1 = circle("Circle 1", f.dex, s, at(3, 12, 9), at(3, 3))
    for client in (f.ivy, f.jon, f.kim):
        seat(f.circle1, client, at(3, 5))
    attendance(f.circle1, {f.ivy: "attended", f.jon: "no_show"}, at(3, 12, 10))
    f.circle3 = circle("Circle 3", f.cora, s, at(3, 20, 9), at(3, 3))
    seat(f.circle3, f.hal, at(3, 15))
    attendance(f.circle3, {f.hal: "attended"}, at(3, 20, 9, 30))
    with clock(at(3, 20, 9, 45)):
        cancel_sessions(f.circle3, now=at(3, 20, 9, 45))
    f.circle2 = circle("Circle 2", f.dex, s, at(4, 12, 9), at(4, 1))
    for client in (f.jon, f.leo):
        seat(f.circle2, client, at(4, 6))
    attendance(f.circle2, {f.leo: "attended", f.jon: "no_show"}, at(4, 12, 10))
    f.circle4 = circle("Circle 4", f.finn, s, at(4, 14, 9), at(4, 11))
    seat(f.circle4, f.mia, at(4, 11))
    f.circle5 = circle("Circle 5", f.cora, s, at(4, 18, 9), at(4, 14))
    f.circle6 = circle("Circle 6", f.cora, s, at(4, 19, 9), at(4, 14))
    with clock(at(4, 14)):
        cancel_sessions(f.circle6, now=at(4, 14))
    f.circle7 = circle("Circle 7", f.cora, s, NOW + timedelta(days=7), at(4, 14))


def build_retention(f, tag):
    r = f.engagement_r
    feedback = {"title": "Quick feedback", "question": "How was it?"}
    f.pia_r = join(f.pia, r, at(1, 10))
    done(f.pia_r, "Welcome", at(1, 12))
    done(f.pia_r, "Mood", at(1, 31, 23, 30), score=8)
    f.quin_r = join(f.quin, r, at(1, 15))
    f.ola_r = join(f.ola, r, at(1, 31, 23, 30))
    done(f.ola_r, "Welcome", at(2, 10))
    f.rex_r = join(f.rex, r, at(2, 20))
    done(f.pia_r, "Practise", at(2, 28, 23, 30))
    done(f.pia_r, "Feedback", at(2, 28, 23, 30), score=4)
    done(f.quin_r, "Welcome", at(3, 3))
    done(f.ola_r, "Mood", at(3, 5), score=6)
    extra(f.ola_r, "feedback", feedback, at(3, 5))
    done(f.ola_r, "Quick feedback", at(3, 5), score=5)
    f.sue_r = join(f.sue, r, at(3, 10))
    done(f.sue_r, "Welcome", at(3, 11))
    done(f.sue_r, "Mood", at(4, 1), score=7)
    done(f.sue_r, "Practise", at(4, 1))
    done(f.sue_r, "Feedback", at(4, 1), score=2)
    done(f.quin_r, "Mood", at(4, 2), score=4)
    extra(f.quin_r, "feedback", feedback, at(4, 2))
    done(f.quin_r, "Quick feedback", at(4, 2), score=3)
    event(f.pia_r, EventKind.SESSION_BOOKED, at(4, 3))
    done(f.rex_r, "Welcome", at(4, 5))
    extra(f.rex_r, "check_in", {"title": "Energy", "metric": "Energy"}, at(4, 5))
    done(f.rex_r, "Energy", at(4, 5), score=6)


def build_sales(f, tag):
    from .stripe_fake import make_offer

    with clock(at(2, 1)):
        f.offer_x = make_offer([f.engagement_z], title=f"X{tag}", slug=f"x{tag}", prices=[
            {"label": "Pay once", "amount": "490.00", "currency": "eur",
             "payment_model": "one_time"},
            {"label": "Pay once (USD)", "amount": "520.00", "currency": "usd",
             "payment_model": "one_time"},
            {"label": "Three payments", "amount": "170.00", "currency": "eur",
             "payment_model": "installments", "interval": "month", "installments": 3},
            {"label": "Taster", "amount": "0", "currency": "eur", "payment_model": "free"},
        ])
        f.offer_y = make_offer([f.engagement_z], title=f"Y{tag}", slug=f"y{tag}", prices=[
            {"label": "Pay once", "amount": "300.00", "currency": "usd",
             "payment_model": "one_time"},
        ])

    def order(offer, label, created, status=OrderStatus.PAID, manager=None, refunded="0"):
        price = offer.prices.get(label=label)
        free = price.payment_model == PaymentModel.FREE
        return Order.objects.create(
            buyer=f.buyer, offer=offer, price=price, status=status,
            source=OrderSource.FREE if free else OrderSource.CHECKOUT,
            price_label=price.label, payment_model=price.payment_model, amount=price.amount,
            currency=price.currency, interval=price.interval,
            installments_total=price.installments,
            installments_paid=1 if price.installments else 0,
            sales_manager=manager, created_at=created,
            paid_at=None if status == OrderStatus.PENDING else created,
            amount_refunded=Decimal(refunded),
            refunded_at=created + timedelta(days=1) if refunded != "0" else None,
        )

    x, y = f.offer_x, f.offer_y
    f.orders = [
        order(x, "Pay once", at(3, 3), manager=f.sam),
        order(x, "Pay once", at(3, 5), OrderStatus.REFUNDED, f.sam, refunded="490.00"),
        order(x, "Pay once", at(3, 8), refunded="100.00"),
        order(x, "Three payments", at(3, 10), manager=f.sam),
        order(x, "Taster", at(3, 12)),
        order(x, "Pay once", at(3, 15), OrderStatus.PENDING, f.sam),
        order(y, "Pay once", at(3, 20), manager=f.sam),
    ]
    with clock(at(4, 2)):
        f.orders.append(grant_offer(f.buyer, x, actor=f.sam, amount="100.00", currency="EUR",
                                    reference=f"INV-{tag}", now=at(4, 2)))
    f.orders += [
        order(y, "Pay once", at(2, 20)),
        order(x, "Pay once (USD)", at(3, 22)),
    ]
