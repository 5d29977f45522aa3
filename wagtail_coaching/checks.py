"""System checks for what the host project must provide."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def broker_configured(app_configs, **kwargs):
    """Our actors are declared when the app loads; the broker must be set before that.

    With ``django_dramatiq`` listed before ``wagtail_coaching`` the broker comes from the
    ``DRAMATIQ_BROKER`` setting. Otherwise dramatiq silently picks a default broker on
    localhost, which is rarely what a site wants.
    """
    return broker_warnings(list(settings.INSTALLED_APPS))


def broker_warnings(apps):
    ours = next((i for i, a in enumerate(apps) if a.startswith("wagtail_coaching")), None)
    theirs = next((i for i, a in enumerate(apps) if a.startswith("django_dramatiq")), None)
    if ours is not None and (theirs is None or theirs > ours):
        return [
            Warning(
                "django_dramatiq is not installed before wagtail_coaching.",
                hint="Add 'django_dramatiq' before 'wagtail_coaching' in INSTALLED_APPS and "
                "set DRAMATIQ_BROKER, or set the dramatiq broker yourself before apps load.",
                id="wagtail_coaching.W001",
            )
        ]
    return []
