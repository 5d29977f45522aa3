"""The role groups: there after migrate, made again by `coaching_roles`, and they work."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.permissions import roles_of
from wagtail_coaching.roles import ensure_role_groups
from wagtail_coaching.testing.factories import UserFactory

pytestmark = pytest.mark.django_db

MODEL_BACKEND_ONLY = ["django.contrib.auth.backends.ModelBackend"]


def role_group_names():
    return set(coaching_settings.ROLE_GROUPS.values())


def has_admin_access(group):
    return group.permissions.filter(
        content_type__app_label="wagtailadmin", codename="access_admin"
    ).exists()


def test_the_groups_exist_after_migrate_with_admin_access():
    groups = Group.objects.filter(name__in=role_group_names())
    assert {g.name for g in groups} == role_group_names()
    assert all(has_admin_access(g) for g in groups)


def test_migrate_creates_missing_groups_again():
    Group.objects.filter(name__in=role_group_names()).delete()
    out = StringIO()
    call_command("migrate", verbosity=1, stdout=out)
    assert set(Group.objects.values_list("name", flat=True)) >= role_group_names()
    assert "Created the coaching role groups" in out.getvalue()


def test_running_twice_creates_the_groups_once():
    Group.objects.filter(name__in=role_group_names()).delete()
    first = ensure_role_groups()
    assert set(first.created) == role_group_names() == set(first.granted)
    second = ensure_role_groups()
    assert (second.created, second.granted, second.changed) == ([], [], False)
    assert Group.objects.filter(name__in=role_group_names()).count() == 4
    assert {r: g.pk for r, g in first.groups.items()} == {
        r: g.pk for r, g in second.groups.items()
    }


def test_an_existing_group_without_admin_access_gets_it():
    coaches = Group.objects.get(name=coaching_settings.ROLE_GROUPS["coach"])
    coaches.permissions.clear()
    result = ensure_role_groups()
    assert result.created == [] and result.granted == [coaches.name]
    assert has_admin_access(coaches)


def test_the_command_reports_what_it_did():
    Group.objects.filter(name=coaching_settings.ROLE_GROUPS["hr_partner"]).delete()
    out = StringIO()
    call_command("coaching_roles", stdout=out)
    assert "hr_partner: group “HR partners” created, with admin access" in out.getvalue()
    assert "coach: group “Coaches” already set up" in out.getvalue()

    out = StringIO()
    call_command("coaching_roles", stdout=out)
    assert "created" not in out.getvalue()
    assert "Nothing to do." in out.getvalue()


def test_a_renamed_or_extra_role_gets_its_group(settings):
    settings.WAGTAIL_COACHING = {
        "ROLE_GROUPS": {"coach": "Our coaches", "supervisor": "Supervisors", "hr_partner": ""},
    }
    result = ensure_role_groups()
    assert set(result.created) == {"Our coaches", "Supervisors"}
    assert "hr_partner" not in result.groups


@pytest.mark.parametrize("role", ["admin", "coach", "sales_manager", "hr_partner"])
def test_a_user_put_in_a_role_group_reaches_the_admin(client, role):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/admin/").status_code == 302  # a client: sent to the login page
    user.groups.add(Group.objects.get(name=coaching_settings.ROLE_GROUPS[role]))
    assert role in roles_of(user)
    assert client.get("/admin/").status_code == 200


def test_the_group_permission_lets_coaches_in_without_the_rules_backend(client, settings):
    # A site that left rules' backend out still lets the role groups into the admin.
    settings.AUTHENTICATION_BACKENDS = MODEL_BACKEND_ONLY
    user = UserFactory()
    user.groups.add(Group.objects.get(name=coaching_settings.ROLE_GROUPS["coach"]))
    client.force_login(user, backend=MODEL_BACKEND_ONLY[0])
    assert client.get("/admin/").status_code == 200
