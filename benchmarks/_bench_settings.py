"""Settings of the benchmark site: the sandbox's, with a Stripe webhook secret (so that
signed events are accepted) and without debug. The benchmark scripts, and the gunicorn
servers and dramatiq workers they start, all use it (``DJANGO_SETTINGS_MODULE``)."""

import os

from sandbox.settings import *  # noqa: F403
from sandbox.settings import WAGTAIL_COACHING

DEBUG = False
# The webhook secret alone is enough here: no benchmark calls the Stripe API.
SILENCED_SYSTEM_CHECKS = ["wagtail_coaching.W101"]
WAGTAIL_COACHING = {
    **WAGTAIL_COACHING, "STRIPE_WEBHOOK_SECRET": "whsec_benchmark_only",
    # The webhook benchmark serves both ways of handling Stripe's events.
    "STRIPE_WEBHOOK_HANDLING": os.environ.get("BENCH_WEBHOOK_HANDLING", "inline"),
}
# The sandbox's URLs and the floor of the webhook benchmark (_bench_urls.py).
ROOT_URLCONF = "_bench_urls"
