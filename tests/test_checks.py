import pytest
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


# -- The checks run through Django's own command -------------------------------------------------

def test_the_app_registers_its_checks_without_anyone_importing_them():
    """A fresh process that only sets Django up has every check of the package registered:
    nothing but the app config imports the check modules."""
    import subprocess
    import sys

    script = (
        "import django; django.setup()\n"
        "from django.core.checks.registry import registry\n"
        "print(sorted({c.__module__ for c in registry.get_checks()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    ).stdout
    assert "'wagtail_coaching.checks'" in out
    assert "'wagtail_coaching.payments.checks'" in out


def test_check_command_warns_when_apps_are_in_the_wrong_order(monkeypatch):
    import pytest
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    apps = [a for a in settings.INSTALLED_APPS if a != "django_dramatiq"]
    monkeypatch.setattr(settings, "INSTALLED_APPS", [*apps, "django_dramatiq"])
    with pytest.raises(SystemCheckError, match="wagtail_coaching.W001"):
        call_command("check", fail_level="WARNING")


def test_check_command_warns_when_failed_jobs_are_not_recorded(monkeypatch):
    import dramatiq.broker
    import pytest
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from dramatiq.brokers.stub import StubBroker

    monkeypatch.setattr(dramatiq.broker, "global_broker", StubBroker())
    with pytest.raises(SystemCheckError, match="wagtail_coaching.W002"):
        call_command("check", fail_level="WARNING")


def test_check_command_is_quiet_on_a_configured_site(capsys):
    from django.core.management import call_command

    call_command("check", fail_level="WARNING")
    assert "wagtail_coaching" not in capsys.readouterr().err


# -- W004: a broker nobody consumes ----------------------------------------------------------------

def check_output(**options):
    import io

    from django.core.management import call_command

    err = io.StringIO()
    call_command("check", stderr=err, stdout=io.StringIO(), **options)
    return err.getvalue()


@pytest.fixture
def deployed(settings, monkeypatch):
    """A site deployed on the StubBroker: DEBUG off, outside the test environment (whose
    email outbox the check recognises)."""
    import dramatiq.broker
    from django.core import mail
    from dramatiq.brokers.stub import StubBroker

    settings.DEBUG = False
    monkeypatch.delattr(mail, "outbox")
    monkeypatch.setattr(dramatiq.broker, "global_broker", StubBroker())
    return settings


def test_check_command_warns_when_a_deployed_site_uses_the_stub_broker(deployed):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match="wagtail_coaching.W004") as error:
        call_command("check", fail_level="WARNING")
    assert "python manage.py coaching_devserver" in str(error.value)
    assert "rundramatiq" in str(error.value)


def test_the_stub_broker_is_fine_in_development(deployed):
    deployed.DEBUG = True
    assert "wagtail_coaching.W004" not in check_output()


def test_the_stub_broker_is_fine_while_an_in_process_worker_runs(deployed):
    import dramatiq

    from wagtail_coaching.management import inprocess

    stop = inprocess.start_worker(dramatiq.get_broker(), threads=1, write=lambda line: None)
    try:
        assert "wagtail_coaching.W004" not in check_output()
    finally:
        stop()
    assert "wagtail_coaching.W004" in check_output()


def test_a_broker_other_processes_consume_is_not_reported(deployed, monkeypatch):
    import dramatiq.broker
    from dramatiq.brokers.redis import RedisBroker

    # Never connects: the check only looks at what kind of broker it is.
    monkeypatch.setattr(dramatiq.broker, "global_broker", RedisBroker(url="redis://127.0.0.1:1"))
    assert "wagtail_coaching.W004" not in check_output()
