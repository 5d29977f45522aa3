"""Publishing an engagement re-syncs its enrollments in the background; ``migrate`` leaves
the role groups in place."""

import sys

from django.contrib.auth.models import Group
from django.db import router
from django.dispatch import receiver
from wagtail.signals import page_published

from .models import EngagementPage
from .roles import ensure_role_groups


@receiver(page_published)
def resync_enrollments_on_publish(sender, instance, **kwargs):
    if not issubclass(sender, EngagementPage):  # the package's page or a site's subclass
        return
    from .tasks import enqueue, sync_program

    enqueue(sync_program, instance.pk)


def create_role_groups(sender, using="default", verbosity=1, **kwargs):
    """After ``migrate`` (connected for this app in ``apps.py``): a fresh site has its role
    groups, and a site that renamed one in ``ROLE_GROUPS`` gets the new group."""
    if not router.allow_migrate_model(using, Group):
        return
    result = ensure_role_groups(using=using)
    if result.created and verbosity >= 1:
        stdout = kwargs.get("stdout") or sys.stdout
        stdout.write(f"Created the coaching role groups: {', '.join(result.created)}\n")
