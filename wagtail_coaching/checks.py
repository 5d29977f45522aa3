"""System checks for what the host project must provide."""

from django.conf import settings
from django.core.checks import Warning, register

from .conf import coaching_settings


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


@register()
def failures_recorded(app_configs, **kwargs):
    """Jobs that fail for good are listed in "Failed jobs" only if the broker records them."""
    from dramatiq import broker as dramatiq_broker

    broker = dramatiq_broker.global_broker
    if broker is None:  # no broker yet: W001 says how to configure one
        return []
    return failure_warnings(broker)


def failure_warnings(broker):
    from .failed_jobs import has_failure_records

    if has_failure_records(broker):
        return []
    return [
        Warning(
            "The dramatiq broker does not record failed jobs.",
            hint="Add 'wagtail_coaching.failed_jobs.RecordFailures' to the broker's "
            "middleware, before 'dramatiq.middleware.Retries' (DRAMATIQ_BROKER['MIDDLEWARE'] "
            "with django_dramatiq); without it jobs that use up their retries are only logged.",
            id="wagtail_coaching.W002",
        )
    ]


# Django's own default for DEFAULT_FROM_EMAIL: no real mailbox behind it.
PLACEHOLDER_SENDER = "webmaster@localhost"


@register()
def sender_configured(app_configs, **kwargs):
    """Coaching emails go out from ``FROM_EMAIL``, else ``DEFAULT_FROM_EMAIL``."""
    return sender_warnings()


def sender_warnings():
    if coaching_settings.from_email != PLACEHOLDER_SENDER:
        return []
    return [
        Warning(
            f"Coaching emails would be sent from {PLACEHOLDER_SENDER}.",
            hint="Set DEFAULT_FROM_EMAIL (or WAGTAIL_COACHING['FROM_EMAIL'] for coaching "
            "emails only) to an address your mail server may send from.",
            id="wagtail_coaching.W003",
        )
    ]


@register()
def broker_consumed(app_configs, **kwargs):
    """Messages sent to dramatiq's in-memory StubBroker stay in the memory of the process
    that sent them: only a worker in that same process (``coaching_devserver``'s) runs them.
    With DEBUG on that is development, served by ``coaching_devserver``; with DEBUG off it is
    a deployment whose jobs and emails are silently lost. Other brokers are shared between
    processes, and ``rundramatiq`` consumes them.

    A test run is left alone: it uses the StubBroker on purpose, with DEBUG off, and runs
    the jobs itself; Django's test environment is the one with an email outbox.
    """
    from django.core import mail
    from dramatiq import broker as dramatiq_broker

    broker = dramatiq_broker.global_broker
    if broker is None or hasattr(mail, "outbox"):
        return []
    return consumer_warnings(broker, debug=settings.DEBUG)


def consumer_warnings(broker, debug):
    from .management import inprocess

    if debug or not inprocess.is_in_memory(broker) or inprocess.worker_running():
        return []
    return [
        Warning(
            "The dramatiq broker is the in-memory StubBroker and DEBUG is off: background "
            "jobs and emails are never run.",
            hint="A StubBroker's messages are lost with the process that sent them. In "
            "development serve with `python manage.py coaching_devserver`, which runs a "
            "worker and the scheduler in the same process; otherwise use Redis or RabbitMQ "
            "(DRAMATIQ_BROKER) and run `python manage.py rundramatiq` and "
            "`python manage.py crontab`.",
            id="wagtail_coaching.W004",
        )
    ]


@register()
def page_classes_known(app_configs, **kwargs):
    """Enrollments, offers, orders, cohorts, sessions and rules point at ``EngagementPage``
    and ``OfferPage``: a page class of a site's own is one of ours only as their subclass. A
    page built on the mixins or abstract pages alone has their fields and looks, but nobody
    can be enrolled in it or buy it."""
    from django.apps import apps

    return page_class_warnings(apps.get_models())


def page_class_warnings(models):
    from .models import EngagementPage, EngagementPageMixin, OfferPage, OfferPageMixin

    warnings = []
    for model in models:
        for mixin, page in ((EngagementPageMixin, EngagementPage), (OfferPageMixin, OfferPage)):
            if issubclass(model, mixin) and not issubclass(model, page):
                warnings.append(Warning(
                    f"{model._meta.label} is built on {mixin.__name__} but is not a "
                    f"{page.__name__}: the package cannot enroll in it, sell it or report on "
                    "it.",
                    hint=f"Subclass {page._meta.label} instead (multi-table inheritance) to "
                    "add fields, panels or a template of your own.",
                    obj=model,
                    id="wagtail_coaching.W005",
                ))
    return warnings
