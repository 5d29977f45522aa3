"""Periodic jobs: registered on dramatiq_crontab's scheduler with the configured schedules,
and (with Redis) only one scheduler process may run them."""

import io
import os
import socket
import sys
import threading
import uuid

import dramatiq
import pytest
from apscheduler.triggers.cron import CronTrigger
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from dramatiq.brokers.stub import StubBroker
from dramatiq_crontab import scheduler

from wagtail_coaching import tasks
from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.management import inprocess

PERIODIC = [
    ("unlock_due_activities", "UNLOCK_SCHEDULE"),
    ("sweep_outbox", "SWEEP_SCHEDULE"),
    ("sweep_payment_access", "PAYMENT_SWEEP_SCHEDULE"),
]


def scheduled_jobs():
    return {job.name: job for job in scheduler.get_jobs()}


@pytest.mark.parametrize(("actor_name", "setting"), PERIODIC)
def test_periodic_actor_is_scheduled_from_settings(actor_name, setting):
    job = scheduled_jobs()[actor_name]
    expected = CronTrigger.from_crontab(
        getattr(coaching_settings, setting), timezone=timezone.get_default_timezone()
    )
    assert [str(f) for f in job.trigger.fields] == [str(f) for f in expected.fields]
    assert str(job.trigger.timezone) == str(expected.timezone)
    # Firing the job sends the actor's message: the worker runs it, never the scheduler.
    actor = getattr(tasks, actor_name)
    assert job.func == actor.send
    assert actor.queue_name in tasks.QUEUES


def test_each_periodic_actor_is_scheduled_once():
    names = [job.name for job in scheduler.get_jobs()]
    for actor_name, _setting in PERIODIC:
        assert names.count(actor_name) == 1


DRAMATIQ_THREADS = {"_WorkerThread", "_ConsumerThread"}
PING = threading.Event()


@dramatiq.actor(queue_name=tasks.QUEUE)
def demo_ping():
    PING.set()


def dramatiq_threads():
    return {
        t for t in threading.enumerate()
        if type(t).__name__ in DRAMATIQ_THREADS and t.is_alive()
    }


@pytest.fixture
def devserver(monkeypatch):
    """``coaching_devserver`` with Django's server replaced by a function that records its
    arguments and sends a job, and the scheduler by one that records its start and stop."""
    from wagtail_coaching.management.commands import coaching_devserver

    seen = {}

    def fake_scheduler(self):
        seen["scheduler_started"] = True
        return lambda: seen.setdefault("scheduler_stopped", True)

    def fake_runserver(name, addrport, **options):
        assert name == "runserver" and options.pop("use_reloader") is False
        if options.pop("insecure_serving", False):
            seen["insecure_serving"] = True
        assert options == {}
        seen["addrport"] = addrport
        seen["worker_running"] = inprocess.worker_running()
        PING.clear()
        demo_ping.send()
        seen["job_ran"] = PING.wait(timeout=2 if seen.get("no_worker") else 10)

    monkeypatch.setattr(coaching_devserver.Command, "start_scheduler", fake_scheduler)
    monkeypatch.setattr(coaching_devserver, "call_command", fake_runserver)
    return seen


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="embedded (StubBroker) only")
def test_devserver_runs_jobs_in_process_and_stops_cleanly(db, devserver):
    """With the StubBroker, the package's dev server runs an in-process worker that runs jobs
    while the server serves; the worker and scheduler stop when the server returns."""
    assert isinstance(dramatiq.get_broker(), StubBroker)
    before = dramatiq_threads()

    out = io.StringIO()
    call_command("coaching_devserver", "--addrport", "127.0.0.1:0", stdout=out)

    assert devserver == {
        "scheduler_started": True, "addrport": "127.0.0.1:0", "worker_running": True,
        "job_ran": True, "scheduler_stopped": True,
    }
    assert "Worker started (in-process, 2 threads" in out.getvalue()
    assert "Stopped." in out.getvalue()
    assert not dramatiq_threads() - before
    assert not inprocess.worker_running()


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="embedded (StubBroker) only")
def test_devserver_without_worker_only_serves(db, devserver):
    devserver["no_worker"] = True
    out = io.StringIO()
    call_command("coaching_devserver", "--addrport", "127.0.0.1:0", "--no-worker", stdout=out)
    assert devserver["job_ran"] is False and devserver["worker_running"] is False
    assert "scheduler_started" not in devserver
    assert "jobs stay queued" in out.getvalue()


class SharedBroker:
    """Stands for Redis or RabbitMQ: a broker whose messages other processes can take."""


def test_with_a_shared_broker_the_devserver_says_what_else_to_run(db, devserver, monkeypatch):
    devserver["no_worker"] = True  # nothing runs the job here
    monkeypatch.setattr(dramatiq, "get_broker", lambda: SharedBroker())
    out = io.StringIO()
    call_command("coaching_devserver", "--addrport", "127.0.0.1:0", stdout=out)
    assert "Jobs go to SharedBroker." in out.getvalue()
    assert "python manage.py rundramatiq" in out.getvalue()
    assert "python manage.py crontab" in out.getvalue()
    assert "--with-workers" in out.getvalue()
    assert devserver["worker_running"] is False


def test_with_workers_the_devserver_starts_and_stops_the_worker_and_scheduler_processes(
    db, devserver, monkeypatch
):
    class Child:
        started = []

        def __init__(self, command):
            self.command, self.pid, self.returncode = command, 1000 + len(self.started), None
            self.started.append(self)

        def poll(self):
            return self.returncode

        def terminate(self):
            self.returncode = -15

        def wait(self, timeout=None):
            return self.returncode

    devserver["no_worker"] = True
    monkeypatch.setattr(dramatiq, "get_broker", lambda: SharedBroker())
    monkeypatch.setattr(inprocess.subprocess, "Popen", Child)
    out = io.StringIO()
    call_command(
        "coaching_devserver", "--addrport", "127.0.0.1:0", "--with-workers", stdout=out
    )
    # Started the way this process was (here not through manage.py: `python -m django`).
    assert [c.command for c in Child.started] == [
        [sys.executable, "-m", "django", "rundramatiq", "--processes", "1", "--threads", "2"],
        [sys.executable, "-m", "django", "crontab"],
    ]
    assert all(c.returncode == -15 for c in Child.started)
    assert "Started rundramatiq (pid 1000) and crontab (pid 1001)." in out.getvalue()


def test_the_devserver_refuses_a_port_in_use(db, devserver):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"Cannot serve on 127.0.0.1:{port}"):
            call_command("coaching_devserver", "--addrport", str(port), stdout=io.StringIO())
    assert devserver == {}


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="embedded (StubBroker) only")
def test_the_sandbox_rundemo_is_the_devserver_with_the_demo_logins(db, devserver, settings):
    from sandbox.home.management.commands import rundemo
    from wagtail_coaching.management.commands import coaching_devserver

    assert issubclass(rundemo.Command, coaching_devserver.Command)
    settings.DEBUG = True
    out = io.StringIO()
    call_command("rundemo", "--addrport", "127.0.0.1:0", stdout=out)
    assert "No demo users yet: run `python manage.py load_demo` first." in out.getvalue()
    assert devserver["job_ran"] is True and "Stopped." in out.getvalue()
    # The demo serves what visitors see (the site's 404 and 500 pages), static files too.
    assert settings.DEBUG is False and devserver["insecure_serving"] is True


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="embedded (StubBroker) only")
def test_rundemo_debug_keeps_the_debug_pages(db, devserver, settings):
    settings.DEBUG = True
    call_command("rundemo", "--addrport", "127.0.0.1:0", "--debug", stdout=io.StringIO())
    assert settings.DEBUG is True and "insecure_serving" not in devserver


@pytest.fixture
def scheduler_lock(monkeypatch):
    """The lock `manage.py crontab` takes, renamed for this test run so that neither a
    scheduler running against the same Redis nor a parallel test run interferes."""
    from dramatiq_crontab import utils

    # The sandbox configures DRAMATIQ_CRONTAB["REDIS_URL"], so `crontab` uses a real lock.
    assert not isinstance(utils.lock, utils.FakeLock)
    assert utils.lock.name == "dramatiq-scheduler"
    monkeypatch.setattr(utils.lock, "name", f"dramatiq-scheduler-test-{uuid.uuid4()}")
    return utils.lock


def second_lock(name, **options):
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"]).lock(
        name, thread_local=False, **options
    )


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL)")
def test_redis_lock_lets_only_one_scheduler_run(scheduler_lock):
    other = second_lock(scheduler_lock.name, timeout=10, blocking_timeout=0.2)
    assert scheduler_lock.acquire(blocking=False)
    try:
        # A second scheduler, whichever host it runs on, cannot take the lock...
        assert not other.acquire(blocking=False)
        assert not other.acquire()  # ...not even after waiting a little.
    finally:
        scheduler_lock.release()
    assert other.acquire(blocking=False)  # Once released, the next scheduler may start.
    other.release()


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL)")
def test_crontab_command_refuses_to_start_while_another_scheduler_runs(
    scheduler_lock, monkeypatch
):
    running = second_lock(scheduler_lock.name, timeout=30)
    assert running.acquire(blocking=False)
    # Give up after half a second instead of LOCK_BLOCKING_TIMEOUT.
    monkeypatch.setattr(scheduler_lock, "blocking_timeout", 0.5)
    monkeypatch.setattr(scheduler, "start", lambda *a, **k: pytest.fail("scheduler started"))
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("crontab", "--no-heartbeat", "--no-task-loading", stdout=out, stderr=err)
    finally:
        running.release()
    assert "Another scheduler is already running." in err.getvalue()
