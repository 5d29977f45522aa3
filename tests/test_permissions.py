"""The permission matrix: predicates agree with querysets, and each role sees what it should."""

import re
from pathlib import Path

import pytest
import rules
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from wagtail_coaching.models import ClientActivity, Enquiry, OfferPage, SessionNote
from wagtail_coaching.permissions import (
    MATRIX,
    ROLES,
    allowed,
    matrix_markdown,
    roles_of,
    users_with_role,
    visible,
)
from wagtail_coaching.testing.factories import UserFactory

from .world import build_world
from .world_sessions import add_sessions


def build_shared_world():
    world = add_sessions(build_world())
    # Enquiries: one routed to the sales manager, one to nobody yet.
    offer = OfferPage.objects.get(slug="offer-a")
    for manager in (world.sales, None):
        Enquiry.objects.create(offer=offer, name="Asker", email="asker@example.com",
                               message="Which plan?", sales_manager=manager)
    return world


@pytest.fixture
def world(shared):
    return shared


@pytest.mark.parametrize("action", sorted(MATRIX))
def test_predicate_and_queryset_agree(world, action):
    model = MATRIX[action].model
    objects = list(model.objects.all())
    assert objects, f"the world must hold {model.__name__} objects"
    for user in [*world.users(), AnonymousUser()]:
        listed = set(visible(user, action).values_list("pk", flat=True))
        for obj in objects:
            assert allowed(user, action, obj) == (obj.pk in listed), (action, user, obj)


def test_every_rule_is_in_the_matrix():
    ours = {n for n in rules.permissions.permissions if n.startswith("wagtail_coaching.")}
    assert ours == {f"wagtail_coaching.{a}" for a in MATRIX}


def names(queryset):
    return sorted(e.client.username for e in queryset)


def test_who_sees_which_clients(world):
    w = world
    assert names(visible(w.admin, "view_enrollment")) == ["client_a1", "client_a2", "client_b1"]
    # Coaches see their team's clients, never the other team's.
    assert names(visible(w.coach_a, "view_enrollment")) == ["client_a1", "client_a2"]
    assert names(visible(w.coach_a2, "view_enrollment")) == ["client_a1", "client_a2"]
    assert names(visible(w.coach_b, "view_enrollment")) == ["client_b1"]
    # HR partners: their own company, consenting clients only.
    assert names(visible(w.hr_acme, "view_enrollment")) == ["client_a1"]
    assert names(visible(w.hr_globex, "view_enrollment")) == ["client_b1"]
    assert names(visible(w.sales, "view_enrollment")) == []
    assert names(visible(w.client_a1, "view_enrollment")) == ["client_a1"]


def test_hr_partners_and_sales_never_see_details_or_notes(world):
    w = world
    for user in (w.hr_acme, w.hr_globex, w.sales):
        assert not visible(user, "view_journey_detail").exists()
        assert not visible(user, "view_sessionnote").exists()
        assert not allowed(user, "view_journey_detail", w.enrollment_a1)
        assert not allowed(user, "change_enrollment", w.enrollment_a1)


def test_note_visibility_tiers(world):
    w = world

    def bodies(user):
        return sorted(n.body for n in visible(user, "view_sessionnote"))

    assert bodies(w.client_a1) == ["client note by coach_a"]
    assert "coach note by coach_a" in bodies(w.coach_a)
    # A teammate sees team and shared notes, not another coach's private ones.
    assert "coach note by coach_a" not in bodies(w.coach_a2)
    assert "team note by coach_a" in bodies(w.coach_a2)
    assert not any("coach_b" in b for b in bodies(w.coach_a))
    assert "coach note by coach_a" not in bodies(w.admin)
    assert "team note by coach_b" in bodies(w.admin)


def test_activities_open_to_their_client_only_once_unlocked(world):
    w = world
    locked = ClientActivity.objects.filter(enrollment=w.enrollment_a1, state="locked").first()
    open_ = ClientActivity.objects.filter(enrollment=w.enrollment_a1, state="available").first()
    assert allowed(w.client_a1, "open_clientactivity", open_)
    assert not allowed(w.client_a1, "open_clientactivity", locked)
    assert not allowed(w.client_a2, "open_clientactivity", open_)
    # Even a superuser does not act as the client on the client site.
    w.admin.is_superuser = True
    assert not allowed(w.admin, "open_clientactivity", open_)


def test_roles_come_from_groups(world):
    w = world
    assert roles_of(w.client_a1) == {"client"}
    assert roles_of(w.coach_a) == {"coach"}
    assert roles_of(w.admin) == {"admin"}
    assert roles_of(w.hr_acme) == {"hr_partner"}
    assert roles_of(AnonymousUser()) == frozenset()


def test_users_with_a_role_agree_with_roles_of(world):
    w = world
    root = UserFactory(username="root", is_superuser=True)
    gone = UserFactory(username="gone", is_active=False)
    gone.groups.add(*w.admin.groups.all())
    people = [*w.users(), root, gone]
    for role in ROLES:
        listed = set(users_with_role(role).values_list("pk", flat=True))
        for user in people:
            expected = user.is_active and role in roles_of(user)
            assert (user.pk in listed) == expected, (role, user)
    # A superuser is an admin; people who leave stop hearing what is for admins.
    assert set(users_with_role("admin")) == {w.admin, root}


def test_a_role_is_one_entry_in_settings(world):
    from django.contrib.auth.models import Group

    supervisor = world.client_a2.__class__.objects.create(username="sup")
    supervisor.groups.add(Group.objects.create(name="Supervisors"))
    with override_settings(WAGTAIL_COACHING={
        "ROLE_GROUPS": {"supervisor": "Supervisors"},
        "ROLE_PERMISSIONS": {"supervisor": {"view_enrollment": "all"}},
    }):
        assert roles_of(supervisor) == {"supervisor"}
        assert visible(supervisor, "view_enrollment").count() == 3
        assert allowed(supervisor, "view_enrollment", world.enrollment_b1)
        assert not allowed(supervisor, "change_enrollment", world.enrollment_b1)


def test_the_docs_show_the_matrix_from_the_code():
    page = (Path(__file__).resolve().parent.parent / "docs" / "permissions.md").read_text()
    match = re.search(
        r"<!-- permission-matrix:start -->\n(.*?)\n<!-- permission-matrix:end -->", page, re.S
    )
    assert match, "docs/permissions.md must contain the generated permission matrix"
    assert match.group(1).strip() == matrix_markdown().strip()


def test_notes_model_in_matrix():
    assert MATRIX["view_sessionnote"].model is SessionNote
