"""The demo's one stand-in, its state kept in a JSON file across restarts of the server.

The state lives in memory, not in the database: the package's webhook handler calls the
Stripe API while it holds its transaction (the last installment stops the subscription), and
on SQLite a stand-in that wrote to the database then would wait for that very transaction.
"""

import json
import logging
import os
import threading
from pathlib import Path

from django.conf import settings
from django.urls import resolve, reverse

from wagtail_coaching.conf import coaching_settings

from .stripe import FakeStripe

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_instance = None


def enabled():
    return bool(getattr(settings, "DEMO_PAYMENTS", False))


def state_path():
    path = getattr(settings, "DEMO_PAYMENTS_STATE", None)
    return Path(path) if path else None


def demo_stripe():
    """The stand-in the demo's views serve, made (and its saved state read) on first use."""
    global _instance
    with _lock:
        if _instance is None:
            _instance = new_stand_in()
            _load(_instance, state_path())
        return _instance


def use(fake):
    """Serve ``fake`` from now on (tests); ``None`` makes a fresh one on next use."""
    global _instance
    with _lock:
        _instance = fake


def new_stand_in(state=None):
    return FakeStripe(
        api_key=coaching_settings.STRIPE_SECRET_KEY or "",
        webhook_secret=coaching_settings.STRIPE_WEBHOOK_SECRET or "",
        hosted_base=coaching_settings.STRIPE_API_BASE or "",
        deliver_to=post_to_webhook,
        on_change=save,
    )


def post_to_webhook(payload, signature):
    """Deliver a signed event to the site's Stripe webhook view, in this process: the same
    view, signature check and handling a delivery from Stripe gets. Returns (status, body)."""
    from django.test import RequestFactory

    path = reverse("wagtail_coaching:stripe_webhook")
    request = RequestFactory().post(
        path, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    match = resolve(path)
    response = match.func(request, *match.args, **match.kwargs)
    return response.status_code, response.content.decode()


def save(fake):
    path = state_path()
    if path is None:
        return
    data = json.dumps(fake.snapshot())
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(data)
    os.replace(temporary, path)


def _load(fake, path):
    if path is None or not path.exists():
        return
    try:
        fake.restore(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, AttributeError, IndexError) as exc:
        # A damaged file: start empty rather than not at all.
        logger.warning("Demo payments: could not read %s (%s); starting empty.", path, exc)
