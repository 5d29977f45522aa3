"""Roles: who a user is to the coaching business (Django groups named by ``ROLE_GROUPS``)."""


from django.contrib.auth import get_user_model
from django.db.models import Q

from ..conf import coaching_settings
from ..models import (
    ActivityState,
    NoteVisibility,
)

ROLE_ADMIN = "admin"
ROLE_COACH = "coach"
ROLE_SALES_MANAGER = "sales_manager"
ROLE_HR_PARTNER = "hr_partner"
ROLE_CLIENT = "client"
ROLES = (ROLE_ADMIN, ROLE_COACH, ROLE_SALES_MANAGER, ROLE_HR_PARTNER, ROLE_CLIENT)

# States in which a client may open an activity of their own.
CLIENT_VISIBLE_STATES = (ActivityState.AVAILABLE, ActivityState.COMPLETED, ActivityState.SKIPPED)
SHARED_NOTES = (NoteVisibility.TEAM, NoteVisibility.CLIENT)


def roles_of(user):
    """The coaching roles a user holds, from their groups (cached on the user object).

    A signed-in user with no staff role is a client; a superuser is also an admin.
    """
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_coaching_roles", None)
    if cached is not None:
        return cached
    groups = coaching_settings.ROLE_GROUPS
    names = set(user.groups.values_list("name", flat=True))
    roles = {role for role, group in groups.items() if group in names}
    if user.is_superuser:
        roles.add(ROLE_ADMIN)
    if not roles:
        roles.add(ROLE_CLIENT)
    user._coaching_roles = frozenset(roles)
    return user._coaching_roles


def is_staff_role(user):
    return bool(roles_of(user) - {ROLE_CLIENT})


def may_use_admin(user):
    """The coaching admin (its pages and reports) is for the team; clients follow their
    journey on the site."""
    return user is not None and user.is_authenticated and is_staff_role(user)




def users_with_role(role):
    """The active users holding ``role``: the queryset ``roles_of`` agrees with (a
    superuser is an admin; a client is anyone with no other role)."""
    groups = coaching_settings.ROLE_GROUPS
    users = get_user_model().objects.filter(is_active=True)
    if role == ROLE_CLIENT:
        staff_groups = [group for group in groups.values() if group]
        return users.filter(is_superuser=False).exclude(groups__name__in=staff_groups)
    condition = Q(pk__in=[])
    if groups.get(role):
        condition |= Q(groups__name=groups[role])
    if role == ROLE_ADMIN:
        condition |= Q(is_superuser=True)
    return users.filter(pk__in=users.filter(condition).values("pk"))
