"""Demo payments: the sandbox sells its paid offers without Stripe keys.

A local stand-in for Stripe (``stripe.FakeStripe``) is served by the sandbox itself under
``/demo-payments/``: the ``stripe`` library reaches its API there through ``STRIPE_API_BASE``,
buyers pay on its checkout page (labelled "Demo payment, no real money"), and it delivers the
events Stripe would, signed, to the site's webhook, so the package's real fulfilment code
handles them. Setting real Stripe keys switches it off. The package itself never fakes a
payment: all of this lives in the sandbox.
"""
