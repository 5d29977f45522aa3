"""Test settings: the sandbox, with what makes tests fast and hermetic."""

import os

from sandbox.settings import *  # noqa: F401,F403
from sandbox.settings import DATABASES, DRAMATIQ_BROKER, WAGTAIL_COACHING

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DATABASES["default"].pop("CONN_MAX_AGE", None)
DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
else:
    # One database per test run, so two runs on one server never drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_coaching_{os.getpid()}"}
if "RedisBroker" in DRAMATIQ_BROKER["BROKER"]:
    # Likewise one set of queues per run on a shared Redis.
    DRAMATIQ_BROKER["OPTIONS"]["namespace"] = f"coaching-test-{os.getpid()}"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
LOGGING = {"version": 1, "disable_existing_loggers": False}

# Page classes of a site's own on the package's pages (tests/test_extending.py).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.extending_app"]  # noqa: F405

# No payments unless a test sets them up (tests/stripe_fake.py): neither the environment's
# Stripe keys nor the sandbox's demo payments.
DEMO_PAYMENTS = False
DEMO_PAYMENTS_STATE = None
WAGTAIL_COACHING = {k: v for k, v in WAGTAIL_COACHING.items() if not k.startswith("STRIPE_")}
