"""The Stripe client, built from the WAGTAIL_COACHING settings.

Only this module talks to the ``stripe`` library's client; everything else receives plain
dictionaries (``to_dict``) so that the webhook (JSON) and API responses look the same.
"""

import stripe

from ..conf import coaching_settings


def stripe_enabled():
    """Paid prices can be sold: a secret key is configured."""
    return bool(coaching_settings.STRIPE_SECRET_KEY)


def webhook_secret():
    return coaching_settings.STRIPE_WEBHOOK_SECRET or ""


_clients = {}


def stripe_client():
    """A ``stripe.StripeClient`` for the configured key and API base (one per configuration).

    Raises PaymentsNotConfigured when no secret key is set.
    """
    from .errors import PaymentsNotConfigured

    key = coaching_settings.STRIPE_SECRET_KEY
    if not key:
        raise PaymentsNotConfigured("Stripe is not configured (STRIPE_SECRET_KEY).")
    base = coaching_settings.STRIPE_API_BASE or None
    retries = coaching_settings.STRIPE_MAX_NETWORK_RETRIES
    cache_key = (key, base, retries)
    client = _clients.get(cache_key)
    if client is None:
        client = stripe.StripeClient(
            key,
            base_addresses={"api": base} if base else None,
            max_network_retries=retries,
        )
        _clients.clear()
        _clients[cache_key] = client
    return client


def to_dict(obj):
    """A Stripe API object as plain nested dicts and lists."""
    if obj is None:
        return None
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict(recursive=True)
    return obj
