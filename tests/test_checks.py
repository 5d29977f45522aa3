from django.core.checks import run_checks

from sandbox import settings as sandbox_settings
from wagtail_coaching.checks import broker_warnings


def ids(messages):
    return {m.id for m in messages}


def test_sandbox_configuration_passes():
    assert "wagtail_coaching.W001" not in ids(run_checks())


def test_missing_broker_app_is_reported():
    apps = [a for a in sandbox_settings.INSTALLED_APPS if a != "django_dramatiq"]
    assert ids(broker_warnings(apps)) == {"wagtail_coaching.W001"}


def test_broker_app_after_ours_is_reported():
    apps = ["wagtail_coaching", "django_dramatiq"]
    assert ids(broker_warnings(apps)) == {"wagtail_coaching.W001"}


def test_the_test_run_cannot_reach_the_network():
    import socket

    import pytest

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
