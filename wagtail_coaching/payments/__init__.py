"""Stripe payments: checkout, webhook verification, fulfilment, refunds and access.

Importing this package registers its system checks (``payments.checks``).
"""

from . import checks  # noqa: F401
