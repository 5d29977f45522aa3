"""Roles and permissions: the one place that decides who may see or do what.

Every object check is a ``rules`` predicate registered as a Django permission
(``user.has_perm("wagtail_coaching.<action>", obj)``); next to it stands the queryset filter
that lists the same objects, and a test keeps each pair in agreement. Wagtail's page
permissions stay Wagtail's.
"""

import rules
from django.db.models import Q

from .conf import coaching_settings
from .models import ActivityState, ClientActivity, Enrollment

ROLE_ADMIN = "admin"
ROLE_COACH = "coach"
ROLE_SALES_MANAGER = "sales_manager"
ROLE_HR_PARTNER = "hr_partner"
ROLE_CLIENT = "client"

# States in which a client may open an activity of their own.
CLIENT_VISIBLE_STATES = (ActivityState.AVAILABLE, ActivityState.COMPLETED, ActivityState.SKIPPED)


def allowed(user, permission, obj=None):
    """Whether ``user`` may do ``permission`` on ``obj``, by this module's rules alone.

    Unlike ``user.has_perm`` this does not let superusers through everything: a superuser
    is a coaching admin, and what admins may do is spelled out in the rules below.
    """
    return rules.has_perm(permission, user, obj)


def roles_of(user):
    """The coaching roles a user holds, from their groups (cached on the user object)."""
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
    if not roles - {ROLE_CLIENT}:
        roles.add(ROLE_CLIENT)
    user._coaching_roles = frozenset(roles)
    return user._coaching_roles


@rules.predicate
def is_coaching_admin(user):
    return ROLE_ADMIN in roles_of(user)


# -- Enrollments -------------------------------------------------------------------------

@rules.predicate
def is_own_enrollment(user, enrollment):
    return enrollment is not None and user.is_authenticated and enrollment.client_id == user.pk


def enrollments_visible_to(user):
    """Enrollments ``view_enrollment`` allows for ``user``."""
    if not user.is_authenticated:
        return Enrollment.objects.none()
    if is_coaching_admin(user):
        return Enrollment.objects.all()
    return Enrollment.objects.filter(client=user)


rules.add_perm("wagtail_coaching.view_enrollment", is_own_enrollment | is_coaching_admin)


# -- A client's own activities ---------------------------------------------------------

@rules.predicate
def is_own_open_activity(user, activity):
    return (
        activity is not None
        and user.is_authenticated
        and activity.enrollment.client_id == user.pk
        and activity.state in CLIENT_VISIBLE_STATES
    )


def activities_client_may_open(user):
    """Activities ``open_clientactivity`` allows: the user's own, once unlocked."""
    if not user.is_authenticated:
        return ClientActivity.objects.none()
    return ClientActivity.objects.filter(
        Q(enrollment__client=user) & Q(state__in=CLIENT_VISIBLE_STATES)
    )


rules.add_perm("wagtail_coaching.open_clientactivity", is_own_open_activity)

# Pairs of (permission, queryset filter) kept in agreement by the test suite.
PERMISSION_QUERYSETS = {
    "wagtail_coaching.view_enrollment": enrollments_visible_to,
    "wagtail_coaching.open_clientactivity": activities_client_may_open,
}
