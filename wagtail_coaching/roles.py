"""The role groups: one Django group per coaching role (``ROLE_GROUPS``), ready to use.

``ensure_role_groups()`` creates the groups that are missing and gives each the Wagtail
"Can access Wagtail admin" permission. It runs after every ``migrate`` (a ``post_migrate``
receiver) and from ``manage.py coaching_roles``; running it again changes nothing.

The permission layer already lets staff roles into the admin (``permissions`` answers
``wagtailadmin.access_admin`` for them through rules' backend); the group permission says the
same thing where Wagtail looks for it without asking the backends, such as its Groups screen.
Nothing else is granted: which pages a role may edit stays Wagtail's page permissions, given
per section of the site tree by the site's administrators.
"""

from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission

from .conf import coaching_settings

ADMIN_ACCESS = ("wagtailadmin", "access_admin")


@dataclass
class RoleGroups:
    """What ``ensure_role_groups`` found: every role's group, and what it had to do."""

    groups: dict = field(default_factory=dict)  # role -> Group
    created: list = field(default_factory=list)  # names of the groups it created
    granted: list = field(default_factory=list)  # names of the groups given admin access

    @property
    def changed(self):
        return bool(self.created or self.granted)


def ensure_role_groups(using=None):
    """Create the configured role groups that are missing, each with admin access.

    Safe to run any number of times. A role whose group name is empty is skipped. Returns a
    :class:`RoleGroups`.
    """
    result = RoleGroups()
    app_label, codename = ADMIN_ACCESS
    access_admin = (
        Permission.objects.db_manager(using)
        .filter(content_type__app_label=app_label, codename=codename)
        .first()
    )
    for role, name in coaching_settings.ROLE_GROUPS.items():
        if not name:
            continue
        group, created = Group.objects.db_manager(using).get_or_create(name=name)
        if created:
            result.created.append(name)
        if access_admin is not None and not group.permissions.filter(pk=access_admin.pk).exists():
            group.permissions.add(access_admin)
            result.granted.append(name)
        result.groups[role] = group
    return result
