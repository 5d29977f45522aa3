"""System checks of the payments settings."""

from django.core.checks import Error, Warning, register

from ..conf import coaching_settings


@register()
def stripe_settings(app_configs, **kwargs):
    return stripe_setting_messages(
        secret_key=coaching_settings.STRIPE_SECRET_KEY,
        webhook_secret=coaching_settings.STRIPE_WEBHOOK_SECRET,
        tolerance=coaching_settings.STRIPE_WEBHOOK_TOLERANCE,
        handling=coaching_settings.STRIPE_WEBHOOK_HANDLING,
    )


def stripe_setting_messages(secret_key, webhook_secret, tolerance, handling="inline"):
    from .webhooks import HANDLING_CHOICES

    messages = []
    if handling not in HANDLING_CHOICES:
        messages.append(
            Error(
                f"STRIPE_WEBHOOK_HANDLING must be one of {', '.join(HANDLING_CHOICES)}; "
                f"it is {handling!r}.",
                hint='"inline" handles each event in the webhook request; "background" '
                "records it and lets the handle_stripe_event job handle it.",
                id="wagtail_coaching.E103",
            )
        )
    if secret_key and not webhook_secret:
        messages.append(
            Error(
                "Stripe is enabled (STRIPE_SECRET_KEY) but STRIPE_WEBHOOK_SECRET is not set.",
                hint="Without the webhook secret no payment can be confirmed. Add the signing "
                "secret (whsec_...) of your Stripe webhook endpoint to WAGTAIL_COACHING.",
                id="wagtail_coaching.E101",
            )
        )
    if not isinstance(tolerance, int | float) or tolerance <= 0:
        messages.append(
            Error(
                "STRIPE_WEBHOOK_TOLERANCE must be a number of seconds above zero.",
                hint="Zero would accept replays of old signed events forever. Stripe's own "
                "default is 300.",
                id="wagtail_coaching.E102",
            )
        )
    if webhook_secret and not secret_key:
        messages.append(
            Warning(
                "STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not.",
                hint="Paid prices stay unavailable until the secret key is set.",
                id="wagtail_coaching.W101",
            )
        )
    return messages
