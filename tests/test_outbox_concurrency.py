"""Exactly once with senders that really run at once: threads, each with its own database
connection, reaching for the same notification.

On SQLite the test database is copied to a file first (the suite's is in memory, where
connections share one cache and lock tables, not the file), once with Django's default
connection options and once with the sandbox's (``BEGIN IMMEDIATE`` and WAL). With
DATABASE_URL pointing at PostgreSQL the same tests run there, on the test database itself.
"""

import sqlite3
import threading
import time
from contextlib import closing, contextmanager

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import OperationalError, connection, connections
from django.test import override_settings

from wagtail_coaching.models import Notification
from wagtail_coaching.notifications import outbox
from wagtail_coaching.notifications.outbox import Message, queue_notifications, send_notification
from wagtail_coaching.tasks.outbox import sweep_outbox
from wagtail_coaching.testing.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SQLITE_OPTIONS = {
    "django-defaults": {},
    "immediate-wal": {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    },
}


@contextmanager
def database_file(folder, options):
    """Every connection opened inside, in this thread or another, goes to a file copy of the
    SQLite test database with ``options``. Yields the file, or None on another database."""
    main = connections["default"]
    if main.vendor != "sqlite":
        yield None
        return
    path = folder / "coaching.sqlite3"
    main.ensure_connection()
    with closing(sqlite3.connect(path)) as copy:
        main.connection.backup(copy)
    saved = connections.settings["default"]
    connections.settings["default"] = {**saved, "NAME": str(path), "OPTIONS": options}
    connections["default"] = connections.create_connection("default")
    try:
        yield path
    finally:
        connections["default"].close()
        connections.settings["default"] = saved
        connections["default"] = main


@pytest.fixture(params=list(SQLITE_OPTIONS))
def sqlite_options(request):
    if connections["default"].vendor != "sqlite" and request.param != "django-defaults":
        pytest.skip("SQLite's connection options: the same test once is enough elsewhere")
    return dict(SQLITE_OPTIONS[request.param])


def a_notification(username="cara"):
    """One unsent welcome email, not handed to any sender yet."""
    user = UserFactory(username=username, email=f"{username}@example.com")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outbox, "enqueue_send", lambda ids: None)
        queue_notifications([Message(
            recipient_id=user.pk, kind="welcome", dedup_key=f"welcome:{username}",
            payload={"engagement_title": "Stress Reset", "dashboard_path": "/coaching/"},
        )])
    return Notification.objects.get(dedup_key=f"welcome:{username}")


def all_at_once(count, call):
    """``call()`` in ``count`` threads released together; their results and errors."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(call())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_eight_senders_of_one_notification_send_one_email(tmp_path, sqlite_options):
    with database_file(tmp_path, sqlite_options):
        notification = a_notification()
        results, errors = all_at_once(8, lambda: send_notification(notification.pk))
        assert errors == []
        assert sorted(results) == [False] * 7 + [True]
        assert [m.to for m in mail.outbox] == [["cara@example.com"]]
        notification.refresh_from_db()
        assert notification.sent_at is not None and notification.attempts == 1


def test_senders_of_many_notifications_send_each_once(tmp_path, sqlite_options):
    """Four threads each walk the same ten ids, as four sender jobs named them all."""
    with database_file(tmp_path, sqlite_options):
        ids = [a_notification(f"client{i}").pk for i in range(10)]
        results, errors = all_at_once(4, lambda: [send_notification(i) for i in ids])
        assert errors == []
        assert sum(sum(sent) for sent in results) == 10
        assert sorted(m.to[0] for m in mail.outbox) == sorted(
            f"client{i}@example.com" for i in range(10)
        )
        assert not Notification.objects.filter(sent_at__isnull=True).exists()


# -- The database is locked just after the email went out ------------------------------------


class Lock:
    """Another connection holding SQLite's write lock, as a web request writing would."""

    path = None
    held = None

    @classmethod
    def take(cls, release_after=None):
        held = sqlite3.connect(cls.path, isolation_level=None, check_same_thread=False)
        held.execute("BEGIN IMMEDIATE")
        cls.held = held
        if release_after is not None:
            threading.Timer(release_after, cls.release).start()

    @classmethod
    def release(cls):
        if cls.held is not None:
            cls.held.execute("ROLLBACK")
            cls.held.close()
            cls.held = None


class LockedAfterSending(EmailBackend):
    """Delivers, then the database is locked for longer than the sender waits."""

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        Lock.take()
        return sent


class BrieflyLockedAfterSending(EmailBackend):
    """Delivers, then the database is locked for a moment."""

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        Lock.take(release_after=0.3)
        return sent


@pytest.fixture
def locked_file(tmp_path, sqlite_options, monkeypatch):
    """The SQLite file, with connections that give up on a lock after 0.2 s."""
    monkeypatch.setattr(outbox, "MARK_SENT_PAUSE", 0.2)
    with database_file(tmp_path, {**sqlite_options, "timeout": 0.2}) as path:
        if path is None:
            pytest.skip("locks a SQLite file")
        Lock.path = path
        try:
            yield path
        finally:
            Lock.release()


@override_settings(EMAIL_BACKEND="tests.test_outbox_concurrency.LockedAfterSending")
def test_a_database_locked_after_sending_never_sends_twice(locked_file):
    notification = a_notification()
    with pytest.raises(OperationalError, match="database is locked"):
        send_notification(notification.pk)
    Lock.release()
    assert len(mail.outbox) == 1

    # The sender job is retried, the sweeper runs: the claim holds, nothing is sent again.
    assert send_notification(notification.pk) is False
    assert sweep_outbox() == 0
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.sent_at is None and notification.claimed_at is not None
    assert notification.attempts == 1


@override_settings(EMAIL_BACKEND="tests.test_outbox_concurrency.BrieflyLockedAfterSending")
def test_a_brief_lock_after_sending_is_waited_out(locked_file):
    notification = a_notification()
    started = time.monotonic()
    assert send_notification(notification.pk) is True
    assert time.monotonic() - started < 5
    notification.refresh_from_db()
    assert notification.sent_at is not None and notification.last_error == ""
    assert send_notification(notification.pk) is False
    assert len(mail.outbox) == 1
