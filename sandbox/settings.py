"""Settings of the sandbox: a real Wagtail site using wagtail-coaching.

Embedded default: SQLite and dramatiq's StubBroker. ``DATABASE_URL`` and ``REDIS_URL``
switch to PostgreSQL and the Redis broker.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

SECRET_KEY = os.environ.get("SECRET_KEY", "sandbox-insecure-key-change-me")
# On for `manage.py runserver` while developing; `manage.py rundemo` (`make demo`) turns it off
# so that the demo shows the site's own 404 and 500 pages (`rundemo --debug` keeps it).
DEBUG = os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "sandbox.home",
    "django_dramatiq",
    "dramatiq_crontab",
    "wagtail_coaching",
    "wagtail_modeladmin",
    "rules.apps.AutodiscoverRulesConfig",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "sandbox.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sandbox.demo_payments.views.context",
            ]
        },
    }
]

WSGI_APPLICATION = "sandbox.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Wagtail's PostgreSQL search index uses the contrib app's fields (from Django 6 a system
    # check refuses them without it).
    INSTALLED_APPS.append("django.contrib.postgres")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo server's web threads, worker threads and scheduler all write. A transaction
    # takes the write lock when it begins (waiting up to 20 s for it) instead of failing with
    # "database is locked" when two upgrade a read lock at once; WAL lets readers read while
    # one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    })

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {
            "url": REDIS_URL,
            # Every key starts with it: sites (or test runs) sharing one Redis use their own.
            "namespace": os.environ.get("DRAMATIQ_NAMESPACE", "dramatiq"),
            # After this long without a heartbeat (ms) a worker counts as dead, and the
            # messages it had taken go back to their queue for another worker.
            "heartbeat_timeout": int(os.environ.get("DRAMATIQ_HEARTBEAT_TIMEOUT", "60000")),
            # How many broker commands in a million also look for dead workers' messages
            # (tests/test_workers.py turns both up to see a redelivery within seconds).
            "maintenance_chance": int(os.environ.get("DRAMATIQ_MAINTENANCE_CHANCE", "1000")),
        },
        "MIDDLEWARE": [
            "dramatiq.middleware.AgeLimit",
            "dramatiq.middleware.TimeLimit",
            "dramatiq.middleware.Callbacks",
            # Before Retries: it records the jobs that Retries gives up on.
            "wagtail_coaching.failed_jobs.RecordFailures",
            "dramatiq.middleware.Retries",
            "django_dramatiq.middleware.DbConnectionsMiddleware",
        ],
    }
    # Only one scheduler process fires each periodic job, whichever hosts run `crontab`.
    DRAMATIQ_CRONTAB = {"REDIS_URL": REDIS_URL}
else:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": [
            "dramatiq.middleware.AgeLimit",
            "dramatiq.middleware.TimeLimit",
            "dramatiq.middleware.Callbacks",
            # Before Retries: it records the jobs that Retries gives up on.
            "wagtail_coaching.failed_jobs.RecordFailures",
            "dramatiq.middleware.Retries",
            "django_dramatiq.middleware.DbConnectionsMiddleware",
        ],
    }
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static_collected"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
if os.environ.get("EMAIL_FILE_PATH"):  # with the file-based backend: one file per message
    EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = "coaching@example.com"

# A request's error (a 500) in the console whatever DEBUG says: with DEBUG off Django would
# only mail it to ADMINS.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/coaching/"

WAGTAIL_SITE_NAME = "Bright Path Coaching"
# Links in Wagtail's and the coaching emails alike (no WAGTAIL_COACHING["BASE_URL"] needed).
WAGTAILADMIN_BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:8000")
WAGTAIL_COACHING = {"SIGNUP_URL": "signup"}
# Paid prices sell through Stripe once its keys are set (STRIPE_SECRET_KEY,
# STRIPE_WEBHOOK_SECRET; STRIPE_API_BASE points the Stripe library at another server).
for _key in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
    if os.environ.get(_key):
        WAGTAIL_COACHING[_key] = os.environ[_key]
# Without them the sandbox runs demo payments (sandbox/demo_payments): a local stand-in for
# Stripe served by this site under /demo-payments/, paid with no real money. DEMO_PAYMENTS=0
# turns it off (paid prices then say they are not available yet). `rundemo` points
# STRIPE_API_BASE at the address it serves on; plain `runserver` uses BASE_URL.
DEMO_PAYMENTS = (
    not WAGTAIL_COACHING.get("STRIPE_SECRET_KEY") and os.environ.get("DEMO_PAYMENTS", "1") == "1"
)
if DEMO_PAYMENTS:
    from sandbox.demo_payments.stripe import API_KEY as _DEMO_KEY
    from sandbox.demo_payments.stripe import WEBHOOK_SECRET as _DEMO_WEBHOOK_SECRET

    WAGTAIL_COACHING.update({
        "STRIPE_SECRET_KEY": _DEMO_KEY,
        "STRIPE_WEBHOOK_SECRET": _DEMO_WEBHOOK_SECRET,
        "STRIPE_API_BASE": f"{WAGTAILADMIN_BASE_URL.rstrip('/')}/demo-payments",
    })
    # What the stand-in knows (open checkouts, plans, invoices) survives a restart: it is
    # kept next to the SQLite database (or in the sandbox folder), as the database is.
    _db_name = str(DATABASES["default"].get("NAME") or "")
    DEMO_PAYMENTS_STATE = os.environ.get("DEMO_PAYMENTS_STATE") or (
        f"{_db_name}.demo-payments.json"
        if DATABASES["default"]["ENGINE"].endswith("sqlite3") and _db_name
        else str(BASE_DIR / "demo-payments.json")
    )
