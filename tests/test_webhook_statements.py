"""How many SQL statements one paid checkout costs through the Stripe webhook: the event
recorded, the order locked once, the enrollment written in a constant number of statements
whatever the program's size."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.stripe_fake import ONE_TIME, FakeStripe, make_offer, post_event
from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.models import CoachAssignment, CoachProfile, Enrollment, Team, TeamMembership
from wagtail_coaching.payments.checkout import start_checkout
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement

pytestmark = [pytest.mark.django_db]

# Recording the event (inserted, then locked and read; marked processed: 4 with its savepoint),
# the order (locked once, updated once), the payment's row for the receipt (one insert that
# skips a repeat), the offer's engagements (read once: not again to enroll), the enrollment
# with its program rows and events (one insert each, after the look-up of an open one), the
# coach assignment (the new enrollment is neither locked nor read again; its client read; the
# round-robin cursor locked, created by the engagement's first sale; the candidates read and
# locked, their loads in one query; the assignment, its event and the coaches'
# notification), the order's grant and its event, the enquiries won (savepoints included).
MAX_STATEMENTS = 31


@pytest.fixture
def paid_checkout(buyer, stripe_fake):
    team = Team.objects.create(name="Webhook team")
    group, _ = Group.objects.get_or_create(name=coaching_settings.ROLE_GROUPS["coach"])
    for n in range(2):
        coach = UserFactory(username=f"coach-{n}")
        coach.groups.add(group)
        CoachProfile.objects.create(user=coach, max_clients=10)
        TeamMembership.objects.create(team=team, user=coach, role="coach")
    engagement = make_engagement(program=programs.sized_program(4, 10), team=team,
                                 assignment_policy="round_robin", slug="sold")
    offer = make_offer([engagement], prices=[ONE_TIME])
    order = start_checkout(
        buyer, offer.prices.get(), success_url=lambda order: "https://site.test/done/",
        cancel_url="https://site.test/offer/",
    ).order
    session = stripe_fake.complete_session(order.stripe_session_id)
    return FakeStripe.event("checkout.session.completed", session)


def test_a_paid_checkout_runs_a_bounded_number_of_statements(
    paid_checkout, buyer, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_STATEMENTS) as captured:
        response = post_event(Client(), paid_checkout)
    assert response.status_code == 200 and response.json()["outcome"] == "fulfilled"
    enrollment = Enrollment.objects.get(client=buyer)
    assert enrollment.activities.count() == 40
    assert CoachAssignment.objects.filter(enrollment=enrollment).count() == 1
    order_locks = [
        q["sql"] for q in captured.captured_queries
        if q["sql"].startswith('SELECT "wagtail_coaching_order"."id"')
    ]
    assert len(order_locks) == 1  # the order is locked (read) once
