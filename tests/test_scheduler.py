"""Periodic jobs: registered on dramatiq_crontab's scheduler with the configured schedules,
and (with Redis) only one scheduler process may run them."""

import io
import os
import threading
import uuid

import dramatiq
import pytest
from apscheduler.triggers.cron import CronTrigger
from django.core.management import call_command
from django.utils import timezone
from dramatiq.brokers.stub import StubBroker
from dramatiq_crontab import scheduler

from wagtail_coaching import tasks
from wagtail_coaching.conf import coaching_settings

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


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="embedded (StubBroker) only")
def test_rundemo_runs_jobs_in_process_and_stops_cleanly(db, monkeypatch):
    """With the StubBroker, rundemo's in-process worker runs jobs while the server serves,
    and the worker and scheduler stop when the server returns."""
    from sandbox.home.management.commands import rundemo

    assert isinstance(dramatiq.get_broker(), StubBroker)
    seen = {}

    def fake_scheduler(self):
        seen["scheduler_started"] = True
        return lambda: seen.setdefault("scheduler_stopped", True)

    def fake_runserver(name, addrport, **options):
        assert name == "runserver" and options == {"use_reloader": False}
        seen["addrport"] = addrport
        PING.clear()
        demo_ping.send()
        seen["job_ran"] = PING.wait(timeout=10)

    monkeypatch.setattr(rundemo.Command, "start_scheduler", fake_scheduler)
    monkeypatch.setattr(rundemo, "call_command", fake_runserver)
    worker_threads = {t for t in threading.enumerate() if type(t).__name__ in DRAMATIQ_THREADS}

    out = io.StringIO()
    call_command("rundemo", "--addrport", "127.0.0.1:0", stdout=out)

    assert seen == {
        "scheduler_started": True, "addrport": "127.0.0.1:0", "job_ran": True,
        "scheduler_stopped": True,
    }
    assert "Stopped." in out.getvalue()
    leftover = {
        t for t in threading.enumerate()
        if type(t).__name__ in DRAMATIQ_THREADS and t.is_alive()
    } - worker_threads
    assert not leftover


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
