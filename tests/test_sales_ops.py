"""Sales operations: referral codes (their sales manager chosen by name among sales managers,
kept as entered, matched and unique whatever their case) and manual grants (a client chosen
from the list or invited by email, for a company and cohort, never granted twice)."""

import csv
import importlib
import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone

from wagtail_coaching.admin.sales_forms import ManualGrantForm, SalesManagerProfileForm
from wagtail_coaching.journeys.clients import INVITATION_KIND
from wagtail_coaching.models import (
    Cohort,
    Enrollment,
    Notification,
    OfferPage,
    Order,
    OrderSource,
    SalesManagerProfile,
)
from wagtail_coaching.notifications.emails import render_email
from wagtail_coaching.payments.checkout import sales_manager_for_code
from wagtail_coaching.payments.fulfilment import GrantNotPossible, grant_offer
from wagtail_coaching.permissions import ROLE_SALES_MANAGER, users_with_role
from wagtail_coaching.testing.factories import UserFactory

from .test_admin_clients import admin_world, as_user
from .world import staff

GRANT = reverse("wagtail_coaching_order_modeladmin_grant")
ORDERS = reverse("wagtail_coaching_order_modeladmin_index")
REFERRALS = "wagtail_coaching_salesmanagerprofile_modeladmin"
COMPANY_REPORT = reverse("wagtail_coaching_admin:report_company")


def build_shared_world():
    w = admin_world()
    w.offer_a = OfferPage.objects.get(slug="offer-a")
    w.offer_b = OfferPage.objects.get(slug="offer-b")
    w.acme_spring = Cohort.objects.get(name="Acme spring")
    w.globex_autumn = Cohort.objects.create(
        name="Globex autumn", company=w.globex, engagement=w.engagement_a,
        start_date=timezone.localdate(),
    )
    w.acme_b = Cohort.objects.create(
        name="Acme on B", company=w.acme, engagement=w.engagement_b,
        start_date=timezone.localdate(),
    )
    w.sales2 = staff("sales2", "sales_manager", first_name="Zoe", last_name="Seller")
    w.newcomer = UserFactory(username="newcomer", first_name="Nina", last_name="New",
                             email="nina@example.com")
    return w


@pytest.fixture
def world(shared):
    return shared


def grant_form(world, **data):
    form = {
        "buyer": world.newcomer.pk, "offer": world.offer_a.pk, "amount": "900.00",
        "currency": "eur", "reference": "PO-77", "note": "", "sales_manager": "",
        "company": "", "cohort": "", "grant_key": str(uuid.uuid4()),
    }
    form.update(data)
    return form


def nothing_changed(orders_before):
    return Order.objects.count() == orders_before and not Enrollment.objects.filter(
        client__username__in=["newcomer", "fresh@example.com"]
    ).exists()


# -- Who may grant --------------------------------------------------------------------------------

@pytest.mark.parametrize("who, allowed", [
    ("admin", True), ("sales", True), ("coach_a", False), ("hr_acme", False),
    ("client_a1", False), (None, False),
])
def test_only_admins_and_sales_managers_grant(client, world, who, allowed):
    before = Order.objects.count()
    as_user(client, getattr(world, who) if who else None)
    assert (client.get(GRANT).status_code == 200) is allowed
    response = client.post(GRANT, grant_form(world))
    if allowed:
        assert response.status_code == 302
        assert Order.objects.count() == before + 1
    else:
        assert response.status_code in (302, 403)
        assert Order.objects.count() == before
        if response.status_code == 302:
            assert response["Location"].startswith("/admin/login/")


# -- The people in the form -----------------------------------------------------------------------

def test_the_buyer_is_chosen_among_clients_by_name_and_email(world):
    labels = dict(ManualGrantForm().fields["buyer"].choices)
    names = {str(label) for label in labels.values()}
    assert f"Nina New <{world.newcomer.email}>" in names
    assert f"Ada Acme <{world.client_a1.email}>" in names
    staff_names = {"admin", "coach_a", "sales"}
    assert not any(label.split(" <")[0] in staff_names for label in names)


def test_the_sales_manager_is_chosen_among_sales_managers_by_display_name(world):
    for form in (ManualGrantForm(), SalesManagerProfileForm()):
        field = form.fields["sales_manager" if "sales_manager" in form.fields else "user"]
        offered = [(value, str(label)) for value, label in field.choices if value]
        expected = list(users_with_role(ROLE_SALES_MANAGER).order_by(
            "first_name", "last_name", "username"))
        assert [int(str(value)) for value, _ in offered] == [u.pk for u in expected]
        assert "Zoe Seller" in [label for _, label in offered]
        assert world.coach_a.pk not in [int(str(value)) for value, _ in offered]


def test_someone_outside_the_role_cannot_be_credited(client, world):
    before = Order.objects.count()
    response = as_user(client, world.admin).post(
        GRANT, grant_form(world, sales_manager=world.coach_a.pk)
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert nothing_changed(before)


# -- Granting to an existing client, for a company and cohort -----------------------------------

def test_a_b2b_grant_enrolls_for_the_company_and_cohort_and_shows_in_the_report(client, world):
    response = as_user(client, world.sales).post(GRANT, grant_form(
        world, company=world.acme.pk, cohort=world.acme_spring.pk, sales_manager=world.sales.pk,
    ))
    assert response.status_code == 302
    order = Order.objects.get(reference="PO-77")
    assert (order.buyer, order.source, order.company, order.cohort, order.sales_manager) == (
        world.newcomer, OrderSource.MANUAL, world.acme, world.acme_spring, world.sales)
    enrollment = Enrollment.objects.get(client=world.newcomer)
    assert (enrollment.company, enrollment.cohort, enrollment.engagement) == (
        world.acme, world.acme_spring, world.engagement_a)
    assert world.acme_spring.members.filter(pk=world.newcomer.pk).exists()
    report = as_user(client, world.admin).get(COMPANY_REPORT).content.decode()
    assert "Nina New" in report
    export = client.get(f"{ORDERS}?export=csv&company__id__exact={world.acme.pk}")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(r["Buyer"], r["Company"], r["Cohort"]) for r in rows] == [
        ("newcomer", "Acme", "Acme spring")
    ]


def test_a_cohort_alone_names_its_company(world):
    order = grant_offer(world.newcomer, world.offer_a, actor=world.admin, amount=0,
                        currency="eur", reference="X", cohort=world.acme_spring)
    assert order.company == world.acme
    assert Enrollment.objects.get(client=world.newcomer).company == world.acme


@pytest.mark.parametrize("case, message", [
    ("other_company", "This cohort belongs to another company."),
    ("other_engagement", "This cohort is for an engagement this offer does not grant."),
])
def test_a_cohort_that_does_not_fit_is_refused(client, world, case, message):
    cohort = world.globex_autumn if case == "other_company" else world.acme_b
    before = Order.objects.count()
    response = as_user(client, world.admin).post(
        GRANT, grant_form(world, company=world.acme.pk, cohort=cohort.pk)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert nothing_changed(before)
    with pytest.raises(GrantNotPossible):
        grant_offer(world.newcomer, world.offer_a, actor=world.admin, amount=0,
                    currency="eur", reference="X", company=world.acme, cohort=cohort)
    assert nothing_changed(before)


# -- A new client, invited --------------------------------------------------------------------

def test_a_new_client_gets_an_account_and_one_invitation(client, world):
    response = as_user(client, world.admin).post(GRANT, grant_form(
        world, buyer="", new_client_email="fresh@example.com", new_client_first_name="Fay",
        new_client_last_name="Fresh", company=world.acme.pk,
    ))
    assert response.status_code == 302
    user = get_user_model().objects.get(email="fresh@example.com")
    assert not user.has_usable_password() and user.is_active
    assert user.get_full_name() == "Fay Fresh"
    assert Enrollment.objects.get(client=user).company == world.acme
    [invitation] = Notification.objects.filter(recipient=user, kind=INVITATION_KIND)
    subject, text, _html = render_email(invitation)
    assert "choose your password" in subject
    path = invitation.payload["set_password_path"]
    assert path in text
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert default_token_generator.check_token(user, token)
    # The link opens the page where the password is chosen.
    client.logout()
    page = client.get(path, follow=True)
    assert page.status_code == 200 and b"new_password1" in page.content


def test_a_double_submitted_grant_grants_once(client, world):
    form = grant_form(world, buyer="", new_client_email="fresh@example.com")
    as_user(client, world.admin)
    before = Order.objects.count()
    first = client.post(GRANT, form)
    second = client.post(GRANT, form)
    assert first.status_code == second.status_code == 302
    assert Order.objects.count() == before + 1
    user = get_user_model().objects.get(email="fresh@example.com")
    assert Enrollment.objects.filter(client=user).count() == 1
    assert Notification.objects.filter(recipient=user, kind=INVITATION_KIND).count() == 1
    # The same for an existing client, and through the service itself.
    form = grant_form(world)
    client.post(GRANT, form)
    client.post(GRANT, form)
    key = uuid.UUID(form["grant_key"])
    again = grant_offer(world.newcomer, world.offer_a, actor=world.admin, amount=1,
                        currency="eur", reference="again", grant_key=key)
    assert Order.objects.filter(grant_key=key).get() == again
    assert Enrollment.objects.filter(client=world.newcomer).count() == 1


@pytest.mark.parametrize("data, message", [
    ({"buyer": "", "new_client_email": "admin@example.com"},
     "belongs to a member of the team"),
    ({"buyer": "", "new_client_email": "NINA@example.com"},
     "already has an account"),
    ({"buyer": "", "new_client_email": "not-an-email"}, "Enter a valid email address."),
    ({"buyer": ""}, "Choose a client, or enter a new client"),
    ({"new_client_email": "fresh@example.com"}, "not both"),
    ({"buyer": "999999"}, "Choose a client from the list."),
    ({"buyer": "admin"}, "Choose a client from the list."),
    ({"company": "999999"}, "Select a valid choice"),
    ({"reference": ""}, "This field is required."),
    ({"grant_key": "not-a-key"}, "Enter a valid UUID."),
])
def test_bad_grants_say_why_and_change_nothing(client, world, data, message):
    world.admin.email = "admin@example.com"
    world.admin.save()
    if data.get("buyer") == "admin":
        data = {**data, "buyer": world.admin.pk}
    users = get_user_model().objects.count()
    before = Order.objects.count()
    response = as_user(client, world.sales).post(GRANT, grant_form(world, **data))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert nothing_changed(before)
    assert get_user_model().objects.count() == users
    assert not Notification.objects.filter(kind=INVITATION_KIND).exists()


@pytest.mark.parametrize("field", ["reference", "new_client_email", "buyer", "note"])
def test_nul_bytes_are_refused(client, world, field):
    before = Order.objects.count()
    response = as_user(client, world.admin).post(GRANT, grant_form(world, **{field: "a\x00b"}))
    assert response.status_code == 400
    assert nothing_changed(before)


def test_a_truncated_grant_changes_nothing(client, world):
    before = Order.objects.count()
    response = as_user(client, world.admin).post(GRANT, {"offer": world.offer_a.pk})
    assert response.status_code == 400
    assert nothing_changed(before)


# -- Referral codes ------------------------------------------------------------------------------

def referral_url(view, *args):
    return reverse(f"{REFERRALS}_{view}", args=args)


def test_a_code_is_kept_as_entered_and_matched_whatever_its_case(client, world):
    response = as_user(client, world.admin).post(referral_url("create"), {
        "user": world.sales2.pk, "referral_code": " Spring-Zoe ", "active": "on",
    })
    assert response.status_code == 302
    profile = SalesManagerProfile.objects.get(user=world.sales2)
    assert profile.referral_code == "Spring-Zoe"
    listing = client.get(referral_url("index")).content.decode()
    assert "Spring-Zoe" in listing and "Zoe Seller" in listing
    for typed in ("spring-zoe", "SPRING-ZOE", "Spring-Zoe"):
        assert sales_manager_for_code(typed) == world.sales2
    # A link in any case is remembered as the code was entered.
    client.logout()
    client.get(world.offer_a.url + "?ref=SPRING-zoe")
    assert client.session["wagtail_coaching_ref"] == "Spring-Zoe"
    # The world's code "SALES1" too.
    assert sales_manager_for_code("sales1") == world.sales


def test_a_code_differing_only_in_case_is_refused(client, world):
    response = as_user(client, world.admin).post(referral_url("create"), {
        "user": world.sales2.pk, "referral_code": "sales1", "active": "on",
    })
    assert response.status_code == 200  # the form again, with its error
    assert "This referral code is already taken" in response.content.decode()
    assert not SalesManagerProfile.objects.filter(user=world.sales2).exists()


def test_only_sales_managers_can_hold_a_code(client, world):
    response = as_user(client, world.admin).post(referral_url("create"), {
        "user": world.coach_a.pk, "referral_code": "coachy", "active": "on",
    })
    assert response.status_code == 200
    assert not SalesManagerProfile.objects.filter(user=world.coach_a).exists()


@pytest.mark.parametrize("who, status", [
    ("admin", 200), ("sales", 403), ("coach_a", 403), ("hr_acme", 403),
])
def test_who_may_add_a_code(client, world, who, status):
    response = as_user(client, getattr(world, who)).get(referral_url("create"))
    assert response.status_code == status


def test_the_migration_tells_apart_codes_differing_in_case():
    migration = importlib.import_module(
        "wagtail_coaching.migrations.0014_sales_grants_and_referral_case"
    )

    class Profile:
        saved = []

        def __init__(self, code):
            self.referral_code = code

        def save(self, update_fields):
            Profile.saved.append(self.referral_code)

    rows = [Profile("Spring"), Profile("SPRING"), Profile("spring-2"), Profile("other")]

    class Manager:
        def order_by(self, *fields):
            return rows

    class Apps:
        def get_model(self, app, name):
            return type("SalesManagerProfile", (), {"objects": Manager()})

    migration.separate_codes_differing_in_case(Apps(), None)
    assert [r.referral_code for r in rows] == ["Spring", "SPRING-3", "spring-2", "other"]
    assert Profile.saved == ["SPRING-3"]
