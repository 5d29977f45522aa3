"""The permission layer: each predicate agrees with the queryset that lists the same objects."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.journeys import complete_activity, enroll
from wagtail_coaching.models import ClientActivity, Enrollment
from wagtail_coaching.permissions import PERMISSION_QUERYSETS, allowed, roles_of
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement

MODELS = {
    "wagtail_coaching.view_enrollment": Enrollment,
    "wagtail_coaching.open_clientactivity": ClientActivity,
}


@pytest.fixture
def population(db):
    program = [
        programs.stage("One", [
            programs.activity("lesson", "Open", rule="immediately"),
            programs.activity("practice", "Next", rule="after_previous"),
            programs.activity("check_in", "Manual", rule="manual"),
        ])
    ]
    first = make_engagement(program=program, title="First", slug="first")
    second = make_engagement(program=program, title="Second", slug="second")
    clients = [UserFactory(username=f"client{i}") for i in range(3)]
    for i, client in enumerate(clients):
        enrollment = enroll(client, first)
        if i == 0:
            complete_activity(enrollment.activities.order_by("position").first(), actor=client)
        if i < 2:
            enroll(client, second)
    coach = UserFactory(username="coach")
    coach.groups.add(Group.objects.create(name=coaching_settings.ROLE_GROUPS["coach"]))
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    admin_by_group = UserFactory(username="coach-admin")
    admin_by_group.groups.add(Group.objects.create(name=coaching_settings.ROLE_GROUPS["admin"]))
    return [*clients, coach, admin, admin_by_group, AnonymousUser()]


@pytest.mark.parametrize("permission", sorted(PERMISSION_QUERYSETS))
def test_predicate_and_queryset_agree(population, permission):
    model = MODELS[permission]
    objects = list(model.objects.all())
    assert objects, "the fixture must create objects to compare"
    for user in population:
        listed = set(PERMISSION_QUERYSETS[permission](user).values_list("pk", flat=True))
        for obj in objects:
            assert allowed(user, permission, obj) == (obj.pk in listed), (permission, user, obj)


def test_every_permission_has_its_queryset():
    import rules

    ours = {name for name in rules.permissions.permissions if name.startswith("wagtail_coaching.")}
    assert ours == set(PERMISSION_QUERYSETS)


def test_clients_see_only_their_own_enrollments(population):
    client0, client1 = population[0], population[1]
    visible = PERMISSION_QUERYSETS["wagtail_coaching.view_enrollment"](client0)
    assert set(visible.values_list("client_id", flat=True)) == {client0.pk}
    other = Enrollment.objects.filter(client=client1).first()
    assert not allowed(client0, "wagtail_coaching.view_enrollment", other)


def test_locked_activities_are_not_open_to_their_client(population):
    client = population[2]
    locked = ClientActivity.objects.filter(enrollment__client=client, state="locked").first()
    assert locked is not None
    assert not allowed(client, "wagtail_coaching.open_clientactivity", locked)


def test_roles_come_from_groups(population):
    client, coach, admin, admin_by_group = (population[i] for i in (0, 3, 4, 5))
    assert roles_of(client) == {"client"}
    assert roles_of(coach) == {"coach"}
    assert "admin" in roles_of(admin)
    assert roles_of(admin_by_group) == {"admin"}
    assert roles_of(AnonymousUser()) == frozenset()
