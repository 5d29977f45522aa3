from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class WagtailCoachingConfig(AppConfig):
    name = "wagtail_coaching"
    label = "wagtail_coaching"
    verbose_name = _("Coaching")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Signal receivers (program sync on publish).
        # Actors are declared here, after the host's broker is configured (django_dramatiq
        # must come before this app in INSTALLED_APPS), never at models import time.
        # System checks register themselves when their modules are imported.
        from . import (
            checks,  # noqa: F401
            signal_handlers,  # noqa: F401
            tasks,  # noqa: F401
        )
        from .payments import checks as payment_checks  # noqa: F401

        # The role groups exist after every migrate (roles.py).
        post_migrate.connect(
            signal_handlers.create_role_groups, sender=self,
            dispatch_uid="wagtail_coaching.create_role_groups",
        )
