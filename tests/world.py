"""A small coaching business with every relationship the permission matrix cares about.

Two teams on two engagements; coaches in each; clients coached by one coach, clients of
the other team; two companies with HR partners; a consenting and a non-consenting client;
notes of every visibility.
"""

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.utils import timezone

from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.journeys import assign_coach, enroll
from wagtail_coaching.models import (
    CoachProfile,
    Cohort,
    Company,
    Consent,
    ConsentPurpose,
    FailedJob,
    NoteVisibility,
    SessionNote,
    Team,
    TeamMembership,
)
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement


def group(role):
    return Group.objects.get_or_create(name=coaching_settings.ROLE_GROUPS[role])[0]


def staff(username, role, **extra):
    user = UserFactory(username=username, **extra)
    if role != "client":
        user.groups.add(group(role))
    return user


def coach_in(team, username, role="coach", max_clients=10):
    user = staff(username, "coach")
    CoachProfile.objects.create(user=user, max_clients=max_clients)
    TeamMembership.objects.create(team=team, user=user, role=role)
    return user


@dataclass
class World:
    admin: object
    coach_a: object  # team A, coaches client_a1
    coach_a2: object  # team A, coaches nobody directly
    coach_b: object  # team B
    sales: object
    hr_acme: object
    hr_globex: object
    client_a1: object  # engagement A, Acme, consents
    client_a2: object  # engagement A, Acme, no consent
    client_b1: object  # engagement B, Globex, consents
    engagement_a: object
    engagement_b: object
    team_a: object
    team_b: object
    acme: object
    globex: object
    enrollment_a1: object
    enrollment_a2: object
    enrollment_b1: object

    def users(self):
        return [
            self.admin, self.coach_a, self.coach_a2, self.coach_b, self.sales, self.hr_acme,
            self.hr_globex, self.client_a1, self.client_a2, self.client_b1,
        ]


def build_world():
    program = [
        programs.stage("Start", [
            programs.activity("lesson", "Welcome", rule="immediately"),
            programs.activity("check_in", "How are you?", rule="after_previous"),
            programs.activity("practice", "Later", rule="manual"),
        ])
    ]
    team_a = Team.objects.create(name="Team A")
    team_b = Team.objects.create(name="Team B")
    engagement_a = make_engagement(
        program=program, title="Engagement A", slug="engagement-a", team=team_a,
        assignment_policy="manual",
    )
    engagement_b = make_engagement(
        program=program, title="Engagement B", slug="engagement-b", team=team_b,
        assignment_policy="manual",
    )
    admin = staff("admin", "admin")
    coach_a = coach_in(team_a, "coach_a")
    coach_a2 = coach_in(team_a, "coach_a2")
    coach_b = coach_in(team_b, "coach_b")
    sales = staff("sales", "sales_manager")
    hr_acme = staff("hr_acme", "hr_partner")
    hr_globex = staff("hr_globex", "hr_partner")
    acme = Company.objects.create(name="Acme")
    globex = Company.objects.create(name="Globex")
    acme.hr_partners.add(hr_acme)
    globex.hr_partners.add(hr_globex)
    Cohort.objects.create(
        name="Acme spring", company=acme, engagement=engagement_a,
        start_date=timezone.localdate(),
    )
    client_a1 = staff("client_a1", "client", first_name="Ada", last_name="Acme")
    client_a2 = staff("client_a2", "client", first_name="Abe", last_name="Private")
    client_b1 = staff("client_b1", "client", first_name="Bea", last_name="Globex")
    now = timezone.now()
    for client in (client_a1, client_b1):
        Consent.objects.create(
            client=client, purpose=ConsentPurpose.SHARE_PROGRESS, granted=True, at=now
        )
    Consent.objects.create(
        client=client_a2, purpose=ConsentPurpose.SHARE_PROGRESS, granted=False, at=now
    )
    enrollment_a1 = enroll(client_a1, engagement_a, company=acme)
    enrollment_a2 = enroll(client_a2, engagement_a, company=acme)
    enrollment_b1 = enroll(client_b1, engagement_b, company=globex)
    assign_coach(enrollment_a1, coach=coach_a, actor=admin)
    assign_coach(enrollment_b1, coach=coach_b, actor=admin)
    for enrollment, author in (
        (enrollment_a1, coach_a), (enrollment_a2, coach_a2), (enrollment_b1, coach_b)
    ):
        for visibility in NoteVisibility.values:
            SessionNote.objects.create(
                enrollment=enrollment, author=author, visibility=visibility,
                body=f"{visibility} note by {author.username}",
            )
    # Sales: an offer selling engagement A, an order granted by hand to client a1, a referral
    # code for the sales manager, and one logged Stripe event.
    from wagtail_coaching.models import SalesManagerProfile, StripeEvent
    from wagtail_coaching.payments.fulfilment import grant_offer

    from .stripe_fake import make_offer

    offer = make_offer([engagement_a], title="Offer A", slug="offer-a")
    make_offer([engagement_b], title="Offer B", slug="offer-b")
    grant_offer(client_a1, offer, actor=admin, amount="100.00", currency="eur",
                reference="INV-1")
    SalesManagerProfile.objects.create(user=sales, referral_code="SALES1")
    StripeEvent.objects.create(event_id="evt_world", type="invoice.paid", payload={})
    FailedJob.objects.create(
        message_id="world", actor_name="sync_program", queue_name="coaching_bulk",
        args=[engagement_a.pk], error="OperationalError: gone", failed_at=now,
    )
    return World(
        admin, coach_a, coach_a2, coach_b, sales, hr_acme, hr_globex, client_a1, client_a2,
        client_b1, engagement_a, engagement_b, team_a, team_b, acme, globex, enrollment_a1,
        enrollment_a2, enrollment_b1,
    )


def built_quietly(build=build_world):
    """``build()`` with the jobs it enqueues run at once and the mail they send forgotten:
    the ``quiet_world`` fixture's world, for a module that shares one (``shared_world``)."""
    import pytest
    from django.core import mail

    from wagtail_coaching import tasks
    from wagtail_coaching.testing.jobs import drain

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tasks, "enqueue", lambda actor, *a, **kw: actor.send(*a, **kw))
        world = build()
        drain()
    mail.outbox.clear()
    return world
