"""Real Redis, real worker processes: nothing is lost and nothing happens twice.

Each test starts ``manage.py rundramatiq`` process groups (the sandbox settings, pointed at
this test run's PostgreSQL database and Redis namespace) and stops them when it ends. The
workers send email with ``wagtail_coaching.testing.mail.SlowFileBackend``: one file per
message, so "each effect exactly once" is "one file per notification".

- A worker killed with SIGKILL in the middle of sending: Redis hands the messages it had
  taken to another worker once its heartbeat is missed (shortened here to 2 s), which sends
  them; the row it was sending stays claimed until the claim runs out, then the sweeper
  hands it over again. Every email is written once.
- Redis unreachable when a change commits: the change commits, the jobs wait in the outbox,
  and once Redis is back the sweeper (run twice, on a worker) delivers each once.
- Three worker processes share 500 messages, each notification named by two of them:
  500 emails, each sent once.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import dramatiq
import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F

from wagtail_coaching import tasks
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import ClientActivity, Notification, PendingJob
from wagtail_coaching.notifications.outbox import Message, queue_notifications
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement, publish_program
from wagtail_coaching.testing.mail import sent_files

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and POSTGRES),
        reason="needs Redis and PostgreSQL (set REDIS_URL and DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),
]

HEARTBEAT_MS = 2000
PAYLOAD = {"engagement_title": "Stress Reset", "dashboard_path": "/coaching/"}


def wait_for(condition, timeout, what, logs=None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = "\n".join(log() for log in (logs or []))
            pytest.fail(f"gave up waiting for {what} after {timeout}s\n{tail}")
        time.sleep(0.1)


def database_url():
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerGroup:
    """One ``rundramatiq`` (a dramatiq master and its worker processes), as on one host."""

    def __init__(self, name, folder, env, processes, threads):
        self.name = name
        self.processes = processes
        self.log_path = folder / f"worker-{name}.log"
        self.log_file = open(self.log_path, "wb")  # closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", "rundramatiq", "--processes", str(processes),
             "--threads", str(threads), "--worker-shutdown-timeout", "5000"],
            cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )

    def log(self):
        text = self.log_path.read_text(errors="replace")
        return f"--- worker {self.name} ---\n{text[-4000:]}"

    def ready(self):
        return self.log_path.read_text(errors="replace").count("ready for action") >= (
            self.processes
        )

    def signal(self, sig):
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self):
        """SIGTERM (a graceful stop), SIGKILL if that takes too long; then make sure no
        worker process of the group is left, even if its master was gone already."""
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(timeout=5)
        self.signal(signal.SIGKILL)
        self.log_file.close()


class Workers:
    def __init__(self, folder):
        self.folder = folder
        self.mail = folder / "mail"
        self.mail.mkdir()
        self.groups = []

    def env(self, email_delay):
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "sandbox.settings",
            "DATABASE_URL": database_url(),
            "DRAMATIQ_NAMESPACE": dramatiq.get_broker().namespace,
            "DRAMATIQ_HEARTBEAT_TIMEOUT": str(HEARTBEAT_MS),
            "DRAMATIQ_MAINTENANCE_CHANCE": "1000000",
            "EMAIL_BACKEND": "wagtail_coaching.testing.mail.SlowFileBackend",
            "EMAIL_FILE_PATH": str(self.mail),
            "EMAIL_DELAY_SECONDS": str(email_delay),
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, name, processes=1, threads=2, email_delay=0):
        group = WorkerGroup(name, self.folder, self.env(email_delay), processes, threads)
        self.groups.append(group)
        return group

    def logs(self):
        return [g.log for g in self.groups]

    def wait_ready(self, *groups):
        wait_for(lambda: all(g.ready() for g in groups), 60, "the workers to boot", self.logs())

    def stop_all(self):
        for group in self.groups:  # all at once, then wait for each
            group.signal(signal.SIGTERM)
        for group in self.groups:
            group.stop()


@pytest.fixture
def workers(transactional_db, tmp_path):
    """Worker groups started by the test; all stopped (and their processes gone) at the end,
    before the database is emptied."""
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
        # The dead workers' heartbeats and acks, in this test run's own namespace.
        broker = dramatiq.get_broker()
        keys = list(broker.client.scan_iter(f"{broker.namespace}:*"))
        if keys:
            broker.client.delete(*keys)


def make_notifications(n, prefix):
    User = get_user_model()
    users = User.objects.bulk_create([
        User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com") for i in range(n)
    ])
    return Notification.objects.bulk_create([
        Notification(recipient=u, kind="welcome", dedup_key=f"{prefix}:{u.pk}", payload=PAYLOAD)
        for u in users
    ])


def all_sent():
    return not Notification.objects.filter(sent_at__isnull=True).exists()


def test_a_worker_killed_mid_job_has_its_messages_redelivered_and_each_sent_once(workers):
    notifications = make_notifications(6, "kill")
    for notification in notifications:
        tasks.send_notifications.send([notification.pk])
    # Alone, the first worker takes the messages; each email takes it 3 seconds.
    workers.start("first", email_delay=3)
    marker = wait_for(lambda: sorted(workers.mail.glob("sending-*")), 60,
                      "the first worker to start sending", workers.logs())
    victim = int(marker[0].name.split("-")[1])
    # Killed while it sleeps before writing: no email of it can be half-way to commit.
    os.kill(victim, signal.SIGKILL)
    started_at = time.monotonic()
    # What it was sending it had claimed; nobody else has started yet.
    held = set(
        Notification.objects.filter(sent_at__isnull=True, claimed_at__isnull=False)
        .values_list("pk", flat=True)
    )
    assert held
    workers.start("second", email_delay=0.1)
    wait_for(
        lambda: not Notification.objects.filter(sent_at__isnull=True)
        .exclude(pk__in=held).exists(),
        90, "the redelivered notifications to be sent", workers.logs(),
    )
    # Whether the killed worker had handed those over is unknown: while their claim holds,
    # the redelivered messages leave them alone...
    assert Notification.objects.filter(pk__in=held, sent_at__isnull=True).count() == len(held)
    # ...and once it has run out (ten minutes on), the sweeper sends them.
    ten_minutes_ago = timedelta(minutes=10)
    Notification.objects.filter(pk__in=held).update(
        claimed_at=F("claimed_at") - ten_minutes_ago, created_at=F("created_at") - ten_minutes_ago
    )
    tasks.sweep_outbox.send()
    wait_for(all_sent, 60, "every notification to be sent", workers.logs())
    files = sent_files(workers.mail)
    assert sorted(to for _pid, to in files) == sorted(
        f"kill{i}@example.com" for i in range(6)
    ), "each notification is sent exactly once"
    senders = {pid for pid, _to in files}
    assert victim not in senders  # the killed worker's messages went to the other one
    # The killed attempt counts: it claimed the row.
    assert dict(Notification.objects.values_list("pk", "attempts")) == {
        n.pk: 2 if n.pk in held else 1 for n in notifications
    }
    assert time.monotonic() - started_at < 60


@contextmanager
def redis_unreachable(broker):
    """This process cannot reach Redis (its client points at a closed port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    real = broker.client.connection_pool
    broker.client.connection_pool = redis.ConnectionPool(
        host="127.0.0.1", port=closed_port, socket_connect_timeout=1
    )
    try:
        yield
    finally:
        broker.client.connection_pool.disconnect()
        broker.client.connection_pool = real


def test_redis_down_when_a_change_commits_loses_nothing(workers):
    client = UserFactory(username="outage", email="outage@example.com")
    lesson = programs.activity("lesson", "A", block_id="outage-a")
    page = make_engagement(program=[programs.stage("One", [lesson], block_id="outage-one")])
    enroll(client, page)
    broker = dramatiq.get_broker()
    with redis_unreachable(broker):
        with pytest.raises(redis.ConnectionError):
            broker.client.ping()
        with transaction.atomic():
            # A new step for the program (sync job) and a welcome email, in one change.
            publish_program(page, [programs.stage("One", [
                lesson, programs.activity("lesson", "B", block_id="outage-b"),
            ], block_id="outage-one")])
            queue_notifications([Message(
                recipient_id=client.pk, kind="welcome", dedup_key="outage", payload=PAYLOAD,
            )])
    # The change committed; its jobs are waiting, nothing ran.
    job = PendingJob.objects.get(sent_at__isnull=True)
    assert job.actor_name == "sync_program"
    assert job.sent_at is None and job.attempts == 1 and "Error" in job.last_error
    assert not ClientActivity.objects.filter(title="B").exists()
    assert Notification.objects.get().sent_at is None
    assert broker.client.ping()  # Redis is back

    # Ten minutes later the sweeper runs; twice, at once, on real workers.
    ten_minutes_ago = F("created_at") - timedelta(minutes=10)
    PendingJob.objects.update(created_at=ten_minutes_ago)
    Notification.objects.update(created_at=ten_minutes_ago)
    group = workers.start("sweeper")
    workers.wait_ready(group)
    tasks.sweep_outbox.send()
    tasks.sweep_outbox.send()
    wait_for(
        lambda: all_sent() and ClientActivity.objects.filter(title="B").exists(),
        60, "the outbox to be delivered", workers.logs(),
    )
    time.sleep(1)  # room for a duplicate to show up, if there were one
    assert sent_files(workers.mail) == [(sent_files(workers.mail)[0][0], client.email)]
    assert ClientActivity.objects.filter(title="B").count() == 1
    job.refresh_from_db()
    assert job.sent_at is not None and job.attempts == 2  # failed at commit, sent once later


def test_three_workers_share_500_messages_and_each_effect_happens_once(workers):
    notifications = make_notifications(500, "many")
    ids = [n.pk for n in notifications]
    groups = [workers.start(f"w{i}") for i in range(3)]
    workers.wait_ready(*groups)
    started = time.monotonic()
    # 500 messages; each notification is named by two of them, so two workers often
    # reach for the same row at once.
    for i in range(500):
        tasks.send_notifications.send([ids[i], ids[(i + 1) % 500]])
    wait_for(all_sent, 120, "500 notifications to be sent", workers.logs())
    elapsed = time.monotonic() - started
    files = sent_files(workers.mail)
    recipients = [to for _pid, to in files]
    assert len(recipients) == 500 and set(recipients) == {
        f"many{i}@example.com" for i in range(500)
    }
    assert len({pid for pid, _to in files}) == 3, "all three workers took a share"
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}
    print(f"500 messages, 3 worker processes: {elapsed:.1f} s")
