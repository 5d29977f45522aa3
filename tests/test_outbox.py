"""The outbox: written with its cause, sent once after commit, retried by the sweeper."""

import datetime

import dramatiq
import pytest
import time_machine
from django.core import mail
from django.db import OperationalError, connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wagtail_coaching.models import Notification
from wagtail_coaching.notifications import outbox
from wagtail_coaching.notifications.outbox import Message, queue_notifications, send_notification
from wagtail_coaching.tasks import QUEUE
from wagtail_coaching.tasks.outbox import sweep_outbox
from wagtail_coaching.testing.factories import UserFactory
from wagtail_coaching.testing.jobs import drain, run_jobs


def welcome(user, key="welcome:1"):
    return Message(
        recipient_id=user.pk, kind="welcome", dedup_key=key,
        payload={"engagement_title": "Stress Reset", "dashboard_path": "/coaching/"},
    )


class FailingBackend:
    """An email backend that is down."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionError("SMTP server unavailable")


def test_a_dedup_key_is_queued_and_sent_once(client_user):
    with run_jobs():
        queue_notifications([welcome(client_user)])
        queue_notifications([welcome(client_user)])
    with run_jobs():
        queue_notifications([welcome(client_user)])
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [client_user.email]
    assert message.subject == "Welcome to Stress Reset"
    assert "/coaching/" in message.body
    notification = Notification.objects.get()
    assert notification.sent_at is not None
    assert notification.attempts == 1


def test_sending_twice_delivers_once(client_user):
    queue_notifications([welcome(client_user)])
    notification = Notification.objects.get()
    assert send_notification(notification.pk) is True
    assert send_notification(notification.pk) is False
    assert len(mail.outbox) == 1


def test_nothing_is_enqueued_when_the_transaction_rolls_back(
    client_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                queue_notifications([welcome(client_user)])
                raise RuntimeError("the cause failed")
    assert callbacks == []
    assert Notification.objects.count() == 0
    assert drain() == []


def test_enqueue_waits_for_commit(client_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        queue_notifications([welcome(client_user)])
        # Nothing reached the broker while the transaction is open.
        assert drain() == []
    assert len(callbacks) == 1
    callbacks[0]()
    ran = drain()
    assert [m.actor_name for m in ran] == ["send_notifications"]
    assert len(mail.outbox) == 1


def test_failure_is_recorded_and_the_sweeper_retries(client_user):
    with override_settings(EMAIL_BACKEND="tests.test_outbox.FailingBackend"):
        with run_jobs():
            queue_notifications([welcome(client_user)])
    notification = Notification.objects.get()
    assert notification.sent_at is None
    assert notification.attempts == 1
    assert "SMTP server unavailable" in notification.last_error
    assert mail.outbox == []

    # Too soon: the sweeper leaves it alone.
    with run_jobs():
        assert sweep_outbox() == 0
    later = timezone.now() + datetime.timedelta(minutes=10)
    with run_jobs():
        assert sweep_outbox(now=later) == 1
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert notification.attempts == 2
    assert notification.last_error == ""
    assert len(mail.outbox) == 1
    # Sent: the sweeper has nothing more to do.
    assert sweep_outbox(now=later + datetime.timedelta(hours=1)) == 0


@override_settings(WAGTAIL_COACHING={"NOTIFICATION_MAX_ATTEMPTS": 2})
def test_attempts_are_capped(client_user):
    with override_settings(EMAIL_BACKEND="tests.test_outbox.FailingBackend"):
        queue_notifications([welcome(client_user)])
        notification = Notification.objects.get()
        send_notification(notification.pk)
        send_notification(notification.pk)
        assert send_notification(notification.pk) is False
    notification.refresh_from_db()
    assert notification.attempts == 2
    far = timezone.now() + datetime.timedelta(days=1)
    assert sweep_outbox(now=far) == 0


def test_a_failed_send_lets_go_of_its_claim(client_user):
    with override_settings(EMAIL_BACKEND="tests.test_outbox.FailingBackend"):
        queue_notifications([welcome(client_user)])
        notification = Notification.objects.get()
        assert send_notification(notification.pk) is False
    notification.refresh_from_db()
    assert notification.claimed_at is None and notification.attempts == 1
    # A sender that gets the id now (a second message naming it) may try at once.
    assert send_notification(notification.pk) is True
    assert len(mail.outbox) == 1


def test_a_claim_whose_sent_mark_failed_holds_until_its_lease_runs_out(client_user, monkeypatch):
    """The email went out, then "sent" could not be written (the database was locked): no
    sender sends it again while the claim holds. After NOTIFICATION_RETRY_AFTER_SECONDS the
    sweeper hands it over again, as it would for a sender that crashed before sending: the
    one case that repeats an email, with the same Message-ID."""
    queue_notifications([welcome(client_user)])
    notification = Notification.objects.get()

    def locked(notification_id, now):
        raise OperationalError("database is locked")

    monkeypatch.setattr(outbox, "mark_sent", locked)
    with pytest.raises(OperationalError):
        send_notification(notification.pk)
    monkeypatch.undo()
    assert len(mail.outbox) == 1

    with run_jobs():
        assert send_notification(notification.pk) is False  # the job's retry
        assert sweep_outbox() == 0
    assert len(mail.outbox) == 1

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=10)):
        with run_jobs():
            assert sweep_outbox() == 1
    assert len(mail.outbox) == 2
    assert mail.outbox[0].extra_headers["Message-ID"] == mail.outbox[1].extra_headers[
        "Message-ID"
    ]
    notification.refresh_from_db()
    assert notification.sent_at is not None and notification.attempts == 2


def test_recipient_without_email_is_an_error_not_a_crash(db):
    user = UserFactory(username="noemail", email="")
    queue_notifications([welcome(user)])
    notification = Notification.objects.get()
    assert send_notification(notification.pk) is False
    notification.refresh_from_db()
    assert "no email" in notification.last_error


def test_queueing_many_is_one_statement(client_user, django_assert_num_queries):
    messages = [welcome(client_user, key=f"welcome:{i}") for i in range(50)]
    with django_assert_num_queries(1):
        assert queue_notifications(messages) == 50
    assert Notification.objects.count() == 50


@pytest.fixture
def handed_over(monkeypatch):
    """The ids each call hands to the sender."""
    calls = []
    monkeypatch.setattr(outbox, "enqueue_send", lambda ids: calls.append(sorted(ids)))
    return calls


def test_only_new_rows_go_to_the_sender(client_user, handed_over):
    assert queue_notifications([welcome(client_user, key=f"k:{i}") for i in range(5)]) == 5
    # Keys 3 and 4 are in the outbox already (unsent): their first insert handed them over.
    assert queue_notifications([welcome(client_user, key=f"k:{i}") for i in range(3, 8)]) == 3
    by_key = dict(Notification.objects.values_list("dedup_key", "id"))
    assert handed_over == [
        sorted(by_key[f"k:{i}"] for i in range(5)),
        sorted(by_key[f"k:{i}"] for i in range(5, 8)),
    ]
    assert Notification.objects.count() == 8


def test_a_key_repeated_in_one_call_is_one_message(client_user, handed_over):
    assert queue_notifications([welcome(client_user), welcome(client_user)]) == 1
    assert handed_over == [[Notification.objects.get().pk]]


def test_more_messages_than_one_insert_holds(client_user, handed_over):
    """Past the database's limit of parameters the insert goes in batches, and every new id
    comes back once."""
    connection = connections["default"]
    messages = [welcome(client_user, key=f"many:{i}") for i in range(1200)]
    rows_per_insert = connection.ops.bulk_batch_size(
        [f for f in Notification._meta.concrete_fields if not f.primary_key], messages
    )
    inserts = -(-len(messages) // rows_per_insert)
    with CaptureQueriesContext(connection) as queries:
        assert queue_notifications(messages) == 1200
    assert len(queries) == inserts
    assert handed_over == [sorted(Notification.objects.values_list("id", flat=True))]
    assert len(set(handed_over[0])) == 1200


def test_without_returning_the_unsent_rows_are_read_back(client_user, handed_over, monkeypatch):
    """On a database that cannot return rows from an insert, the ids are read back by key:
    unsent rows are handed over again, sent ones are not."""
    connection = connections["default"]
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    queue_notifications([welcome(client_user, key="a"), welcome(client_user, key="b")])
    Notification.objects.filter(dedup_key="a").update(sent_at=timezone.now())
    assert queue_notifications([welcome(client_user, key=k) for k in "abc"]) == 2
    by_key = dict(Notification.objects.values_list("dedup_key", "id"))
    assert handed_over[-1] == sorted([by_key["b"], by_key["c"]])
    assert Notification.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_after_commit():
    """The whole path through the configured broker and a dramatiq worker thread."""
    user = UserFactory(username="worker-client")
    broker = dramatiq.get_broker()
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        with transaction.atomic():
            queue_notifications([welcome(user, key="welcome:worker")])
        broker.join(QUEUE, timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    assert len(mail.outbox) == 1
    assert Notification.objects.get().sent_at is not None
