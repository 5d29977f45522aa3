"""Stripe for the unit tests: the sandbox's stand-in (``sandbox.demo_payments.stripe``, the
one implementation the demo, the browser tests and these tests share) served on a local port,
plus what tests need around it: delivering signed events through the test client, pointing
the settings at the stand-in, and offers to buy.

Test modules make it a fixture with ``yield from running_fake(settings)``; ``configure``
switches Stripe off or on.
"""

import json

from sandbox.demo_payments.stripe import (  # noqa: F401 (the tests' names for them)
    API_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    StripeAPIError,
    decode_form,
    new_id,
    sign,
)


def post_event(client, event, *, secret=WEBHOOK_SECRET, timestamp=None, body=None,
               header=None):
    """Deliver ``event`` to the webhook as Stripe would: raw JSON body, signed."""
    from django.urls import reverse

    payload = body if body is not None else json.dumps(event).encode()
    signature = header if header is not None else sign(payload, secret, timestamp)
    return client.post(
        reverse("wagtail_coaching:stripe_webhook"), data=payload,
        content_type="application/json", HTTP_STRIPE_SIGNATURE=signature,
    )


def configure(settings, fake=None, **extra):
    base = dict(getattr(settings, "WAGTAIL_COACHING", {}) or {})
    for key in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
        base.pop(key, None)
    if fake is not None:
        base.update({
            "STRIPE_SECRET_KEY": fake.api_key,
            "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
            "STRIPE_API_BASE": fake.base,
            "STRIPE_MAX_NETWORK_RETRIES": 0,
        })
    base.update(extra)
    settings.WAGTAIL_COACHING = base


def running_fake(settings):
    """For a fixture: ``yield from running_fake(settings)`` gives a started fake with the
    settings pointing at it, and stops it afterwards."""
    fake = FakeStripe().start()
    configure(settings, fake)
    try:
        yield fake
    finally:
        fake.stop()


# -- Offers for tests -----------------------------------------------------------------------

ONE_TIME = {"label": "Pay once", "amount": "490.00", "currency": "eur",
            "payment_model": "one_time"}
FREE = {"label": "Taster", "amount": "0", "currency": "eur", "payment_model": "free"}
MONTHLY = {"label": "Monthly", "amount": "49.00", "currency": "eur",
           "payment_model": "subscription", "interval": "month"}
INSTALLMENTS = {"label": "Three payments", "amount": "170.00", "currency": "eur",
                "payment_model": "installments", "interval": "month", "installments": 3}


def make_offer(engagements, prices=(ONE_TIME,), title="Leadership offer", body=None,
               access_days=None, publish=True, parent=None, page_class=None, **fields):
    """An offer page under the site root granting ``engagements``, published by revision
    (an ``OfferPage``, or ``page_class``: a site's own subclass of it)."""
    from django.utils.text import slugify

    from wagtail_coaching.models import OfferPage, OfferPrice
    from wagtail_coaching.testing.factories import site_root

    parent = parent or site_root()
    page_class = page_class or OfferPage
    page = page_class(
        title=title, slug=fields.pop("slug", slugify(title)),
        summary=fields.pop("summary", "Become the leader your team needs"),
        body=body or [], access_days=access_days, live=False, **fields,
    )
    page.engagements = list(engagements)
    page.prices = [OfferPrice(**price) for price in prices]
    parent.add_child(instance=page)
    revision = page.save_revision()
    if publish:
        revision.publish()
    return page_class.objects.get(pk=page.pk)


def price_of(offer, label):
    return offer.prices.get(label=label)
