"""Background work that never loses a message: the job outbox (PendingJob), the two queues,
every job safe to run twice, retries with backoff, failed jobs recorded by the broker
middleware and retried from the admin, and the system check that wants the middleware.

Real worker processes against real Redis are in tests/test_workers.py.
"""

import datetime
import os
import threading
import time

import dramatiq
import pytest
import time_machine
from django.core import mail
from django.core.checks import run_checks
from django.db import OperationalError, transaction
from django.urls import NoReverseMatch, include, path, reverse
from django.utils import timezone
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Retries

from wagtail_coaching import tasks
from wagtail_coaching.checks import failure_warnings
from wagtail_coaching.failed_jobs import (
    JobRetryError,
    RecordFailures,
    record_failure,
    retry_failed_job,
)
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import (
    ActivityState,
    AutomationRule,
    ClientActivity,
    EnrollmentStatus,
    EventKind,
    FailedJob,
    JourneyEvent,
    Notification,
    Order,
    PendingJob,
    RuleFiring,
    Trigger,
)
from wagtail_coaching.notifications.outbox import Message, queue_notifications
from wagtail_coaching.tasks.outbox import sweep_outbox
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement, publish_program
from wagtail_coaching.testing.jobs import drain, run_jobs

from .world import staff

POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
LATER = datetime.timedelta(minutes=10)  # past NOTIFICATION_RETRY_AFTER_SECONDS (300)


def welcome(user, key="welcome:rel"):
    return Message(
        recipient_id=user.pk, kind="welcome", dedup_key=key,
        payload={"engagement_title": "Stress Reset", "dashboard_path": "/coaching/"},
    )


class BrokerDown:
    """The broker refuses every message (Redis is down), until ``up()``."""

    def __init__(self):
        self.patch = pytest.MonkeyPatch()
        self.refused = 0
        self.patch.setattr(dramatiq.get_broker(), "enqueue", self.refuse)

    def refuse(self, message, *, delay=None):
        self.refused += 1
        raise dramatiq.errors.ConnectionClosed(ConnectionRefusedError("broker is down"))

    def up(self):
        self.patch.undo()


@pytest.fixture
def broker_down():
    down = BrokerDown()
    yield down
    down.up()


# -- The job outbox ----------------------------------------------------------------------------


def test_enqueue_writes_a_pending_job_and_marks_it_sent_after_commit(
    db, django_capture_on_commit_callbacks
):
    page = make_engagement()
    PendingJob.objects.all().delete()
    with django_capture_on_commit_callbacks() as callbacks:
        job = tasks.enqueue(tasks.sync_program, page.pk)
        # Written in the caller's transaction, not sent yet.
        assert PendingJob.objects.get().pk == job.pk
        assert (job.actor_name, job.args, job.kwargs, job.sent_at) == (
            "sync_program", [page.pk], {}, None
        )
        assert drain() == []
    assert len(callbacks) == 1
    callbacks[0]()
    job.refresh_from_db()
    assert job.sent_at is not None and job.attempts == 1 and job.last_error == ""
    ran = drain()
    assert [(m.actor_name, m.queue_name, m.args) for m in ran] == [
        ("sync_program", tasks.BULK_QUEUE, (page.pk,))
    ]
    # Sent: the sweeper has nothing to do, even much later.
    assert sweep_outbox(now=timezone.now() + LATER) == 0


def test_a_rollback_leaves_no_job_behind(db, django_capture_on_commit_callbacks):
    page = make_engagement()
    PendingJob.objects.all().delete()
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            tasks.enqueue(tasks.sync_program, page.pk)
            raise RuntimeError("the change failed")
    assert callbacks == []
    assert not PendingJob.objects.exists()


def test_broker_down_at_commit_keeps_the_job_for_the_sweeper(
    db, broker_down, django_capture_on_commit_callbacks
):
    page = make_engagement()
    PendingJob.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            page.title = "Renamed while the broker is down"
            page.save(update_fields=["title"])
            tasks.enqueue(tasks.sync_program, page.pk)
    # The caller saw no error; the change is there; the job waits, with the error.
    page.refresh_from_db()
    assert page.title == "Renamed while the broker is down"
    job = PendingJob.objects.get()
    assert job.sent_at is None and job.attempts == 1
    assert "broker is down" in job.last_error
    # Still down at the next sweep: kept, tried again later.
    assert sweep_outbox(now=timezone.now() + LATER) == 0
    job.refresh_from_db()
    assert job.sent_at is None and job.attempts == 2
    broker_down.up()
    # Too young for the sweeper (it could still be on its way from its own commit).
    assert sweep_outbox() == 0
    assert sweep_outbox(now=timezone.now() + LATER) == 1
    job.refresh_from_db()
    assert job.sent_at is not None and job.last_error == ""
    # A second sweep sends nothing more: one message reached the broker.
    assert sweep_outbox(now=timezone.now() + 2 * LATER) == 0
    assert [m.actor_name for m in drain()] == ["sync_program"]


def test_notifications_survive_a_broker_down_at_commit(
    client_user, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            queue_notifications([welcome(client_user)])
    assert broker_down.refused == 1  # tried, failed, and the caller never knew
    notification = Notification.objects.get()
    assert notification.sent_at is None
    # Notification rows are their own outbox: no PendingJob for them.
    assert not PendingJob.objects.exists()
    broker_down.up()
    with run_jobs():
        assert sweep_outbox(now=timezone.now() + LATER) == 1
    assert sweep_outbox(now=timezone.now() + 2 * LATER) == 0
    notification.refresh_from_db()
    assert notification.sent_at is not None and notification.attempts == 1
    assert len(mail.outbox) == 1


def test_running_the_sweeper_twice_sends_once(db, broker_down, django_capture_on_commit_callbacks):
    page = make_engagement()
    PendingJob.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            tasks.enqueue(tasks.sync_program, page.pk)
    broker_down.up()
    later = timezone.now() + LATER
    assert sweep_outbox(now=later) == 3
    assert sweep_outbox(now=later) == 0
    assert len(drain()) == 3
    assert not PendingJob.objects.filter(sent_at__isnull=True).exists()


def test_a_sweep_stops_at_the_first_broker_error(db, broker_down):
    page = make_engagement()
    PendingJob.objects.all().delete()
    jobs = [tasks.enqueue(tasks.sync_program, page.pk) for _ in range(3)]  # no commit here
    assert sweep_outbox(now=timezone.now() + LATER) == 0
    assert broker_down.refused == 1  # one try, not three, while the broker is down
    assert [PendingJob.objects.get(pk=j.pk).attempts for j in jobs] == [1, 0, 0]


def test_a_job_of_an_unknown_actor_does_not_hold_up_the_others(db):
    page = make_engagement()
    PendingJob.objects.all().delete()
    stale = PendingJob.objects.create(actor_name="renamed_since", args=[1])
    tasks.enqueue(tasks.sync_program, page.pk)
    assert sweep_outbox(now=timezone.now() + LATER) == 1
    stale.refresh_from_db()
    assert stale.sent_at is None and "renamed_since" in stale.last_error
    assert [m.actor_name for m in drain()] == ["sync_program"]


def test_sent_jobs_are_dropped_after_a_week(db):
    now = timezone.now()
    old = PendingJob.objects.create(actor_name="sync_program", args=[1])
    recent = PendingJob.objects.create(actor_name="sync_program", args=[2])
    PendingJob.objects.filter(pk=old.pk).update(sent_at=now - datetime.timedelta(days=8))
    PendingJob.objects.filter(pk=recent.pk).update(sent_at=now - datetime.timedelta(days=6))
    sweep_outbox(now=now)
    assert list(PendingJob.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_sweeper_job_itself_resends(db, broker_down, django_capture_on_commit_callbacks):
    page = make_engagement()
    PendingJob.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue(tasks.sync_program, page.pk)
    broker_down.up()
    with time_machine.travel(timezone.now() + LATER, tick=False):
        tasks.sweep_outbox.fn()
    assert [m.actor_name for m in drain()] == ["sync_program"]


def test_notification_jobs_stay_on_their_own_outbox(
    client_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        assert tasks.enqueue(tasks.send_notifications, [1, 2]) is None
    assert not PendingJob.objects.exists()
    assert len(callbacks) == 1


# -- Queues ----------------------------------------------------------------------------------------

FAST = {"send_notifications", "sweep_outbox", "handle_stripe_event"}
BULK = {
    "sync_program", "send_session_invitations", "send_series_invitations",
    "unlock_due_activities", "sweep_payment_access", "dispatch_rules", "run_timed_rules",
    "sync_calendars", "refresh_calendar", "write_calendar_entries",
}


def test_fast_and_bulk_jobs_have_their_own_queues():
    actors = {name: getattr(tasks, name) for name in FAST | BULK}
    assert {n for n, a in actors.items() if a.queue_name == tasks.QUEUE} == FAST
    assert {n for n, a in actors.items() if a.queue_name == tasks.BULK_QUEUE} == BULK
    assert tasks.QUEUES == ("coaching", "coaching_bulk")
    # Every coaching actor is one of these: a new one must be put on a queue on purpose.
    ours = {
        name for name in dramatiq.get_broker().get_declared_actors()
        if getattr(getattr(tasks, name, None), "fn", None) is not None
    }
    assert ours == FAST | BULK


def test_drain_runs_both_queues_until_quiet(db, enqueue_at_once):
    """A bulk job (invitations) queues notifications on the fast queue: drain runs both."""
    world_user = UserFactory(username="invitee")
    queue_notifications([welcome(world_user, key="welcome:drain")])
    tasks.sync_program.send(0)  # a page that does not exist: the job does nothing
    ran = drain()
    assert sorted(m.queue_name for m in ran) == ["coaching", "coaching_bulk"]
    assert drain() == []
    assert len(mail.outbox) == 1


# -- Every job is safe to run twice ------------------------------------------------------------


def effects():
    return {
        "notifications": sorted(
            Notification.objects.values_list("kind", "recipient_id", "dedup_key", "sent_at")
        ),
        "events": sorted(JourneyEvent.objects.values_list("enrollment_id", "kind", "activity_id")),
        "firings": sorted(RuleFiring.objects.values_list("rule_id", "enrollment_id", "occurrence")),
        "activities": sorted(ClientActivity.objects.values_list("pk", "state", "unlocked_at")),
        "orders": sorted(Order.objects.values_list("pk", "access_state")),
        "mail": len(mail.outbox),
    }


def twice(call):
    """Run ``call`` (and the jobs it queues) twice: the first run changes something, the
    second changes nothing."""
    before = effects()
    call()
    drain()
    first = effects()
    call()
    drain()
    assert effects() == first
    assert first != before
    return first


def test_send_notifications_twice(client_user):
    queue_notifications([welcome(client_user)])
    ids = list(Notification.objects.values_list("pk", flat=True))
    twice(lambda: tasks.send_notifications.fn(ids))
    assert len(mail.outbox) == 1
    assert Notification.objects.get().attempts == 1


def test_sync_program_twice(client_user):
    first = programs.activity("lesson", "A", block_id="rel-a")
    page = make_engagement(program=[programs.stage("One", [first], block_id="rel-one")])
    enroll(client_user, page)
    page = publish_program(page, [programs.stage("One", [
        first, programs.activity("lesson", "B", block_id="rel-b"),
    ], block_id="rel-one")])
    twice(lambda: tasks.sync_program.fn(page.pk))
    assert sorted(ClientActivity.objects.values_list("title", flat=True)) == ["A", "B"]


def test_send_session_invitations_twice(quiet_world):
    from wagtail_coaching.models import Audience
    from wagtail_coaching.scheduling import SessionPlan, create_sessions

    from .world_sessions import in_days

    world = quiet_world
    (session,) = create_sessions(SessionPlan(
        title="Circle", coach=world.coach_a, team=world.team_a, starts_at=in_days(7, 17),
        duration=datetime.timedelta(hours=1), capacity=10, audience=Audience.ENGAGEMENT,
        engagement=world.engagement_a, time_zone="Europe/Paris",
    ), [in_days(7, 17)], invite=False)
    twice(lambda: tasks.send_session_invitations.fn(session.pk))
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [world.client_a1.email, world.client_a2.email, world.coach_a.email]
    )


def test_dispatch_rules_twice(client_user):
    enrollment = enroll(client_user, make_engagement())
    # As if the events had been read by a dispatcher that crashed before saying so.
    first = twice(lambda: (tasks.dispatch_rules.fn(),
                           JourneyEvent.objects.update(rules_done=False)))
    welcome_rule = AutomationRule.objects.get(key="welcome")
    assert RuleFiring.objects.filter(rule=welcome_rule, enrollment=enrollment).count() == 1
    assert [n[0] for n in first["notifications"]].count("welcome") >= 1


def test_run_timed_rules_twice(client_user):
    AutomationRule.objects.update(active=False)
    rule = AutomationRule.objects.create(
        name="Day zero", trigger=Trigger.ENROLLMENT_DAYS, days=0,
        active_since=timezone.now() - datetime.timedelta(days=30),
        actions=[{"type": "flag_at_risk", "value": {"reason": "testing"}}],
    )
    enrollment = enroll(client_user, make_engagement())
    twice(tasks.run_timed_rules.fn)
    assert RuleFiring.objects.filter(rule=rule, enrollment=enrollment).count() == 1
    fired = JourneyEvent.objects.filter(enrollment=enrollment, kind=EventKind.RULE_FIRED)
    assert fired.count() == 1


def test_unlock_due_activities_twice(client_user):
    page = make_engagement(program=[programs.stage("One", [
        programs.activity("lesson", "Now", rule="immediately"),
        programs.activity("lesson", "Tomorrow", rule="days_after_enrollment", days=1),
    ])])
    enrollment = enroll(client_user, page)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=2), tick=False):
        twice(tasks.unlock_due_activities.fn)
    tomorrow = enrollment.activities.get(title="Tomorrow")
    assert tomorrow.state == ActivityState.AVAILABLE
    assert JourneyEvent.objects.filter(activity=tomorrow, kind=EventKind.UNLOCKED).count() == 1


def test_sweep_payment_access_twice(buyer, engagement):
    from wagtail_coaching.payments.fulfilment import grant_offer

    from .stripe_fake import make_offer

    offer = make_offer([engagement], access_days=30)
    admin = staff("rel-admin", "admin")
    order = grant_offer(buyer, offer, actor=admin, amount=0, currency="eur", reference="PO-1")
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31), tick=False):
        twice(tasks.sweep_payment_access.fn)
    enrollment = order.grants.get().enrollment
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.CANCELLED
    assert JourneyEvent.objects.filter(
        enrollment=enrollment, kind=EventKind.ACCESS_ENDED
    ).count() == 1


# -- Retries ---------------------------------------------------------------------------------------


def test_transient_errors_are_retried_with_backoff_and_programming_errors_are_not():
    policy = tasks.retry_transient(3)
    assert policy(0, OperationalError("server closed the connection"))
    assert policy(2, ConnectionError("SMTP down"))
    assert not policy(3, OperationalError("still down"))  # retries used up
    for error in (TypeError("bad call"), AttributeError("x"), NameError("y")):
        assert not policy(0, error)
    for name in FAST | BULK:
        options = getattr(tasks, name).options
        assert options["min_backoff"] <= options["max_backoff"]
        assert options["retry_when"] is not None


# -- Failed jobs: recorded by the middleware ---------------------------------------------------

CALLS = []


@dramatiq.actor(queue_name=tasks.QUEUE, max_retries=1, min_backoff=10, max_backoff=20,
                retry_when=tasks.retry_transient(1))
def reliability_flaky(key):
    CALLS.append(key)
    raise OperationalError(f"database went away ({key})")


@dramatiq.actor(queue_name=tasks.QUEUE, max_retries=3, retry_when=tasks.retry_transient(3))
def reliability_buggy(key):
    CALLS.append(key)
    raise TypeError(f"wrong arguments ({key})")


def _holds(condition):
    """The condition, read while the worker may be writing: on the embedded SQLite the test
    database is shared in memory, where a reader meets "database table is locked" at once
    instead of waiting; that only means "not yet"."""
    try:
        return condition()
    except OperationalError as error:
        if "locked" not in str(error):
            raise
        return False


def run_worker_until(condition, timeout=10):
    broker = dramatiq.get_broker()
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        deadline = time.monotonic() + timeout
        while not _holds(condition):
            assert time.monotonic() < deadline, "the worker did not get there in time"
            time.sleep(0.05)
    finally:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_a_job_that_uses_up_its_retries_is_recorded_once():
    CALLS.clear()
    message = reliability_flaky.send("k1")
    run_worker_until(lambda: FailedJob.objects.exists())
    job = FailedJob.objects.get()
    assert CALLS == ["k1", "k1"]  # the first try and one retry
    assert job.message_id == message.message_id
    assert (job.actor_name, job.queue_name, job.args, job.kwargs) == (
        "reliability_flaky", "coaching", ["k1"], {}
    )
    assert job.error == "OperationalError: database went away (k1)"
    assert "reliability_flaky" in job.traceback and "OperationalError" in job.traceback
    assert job.options["retries"] == 2
    assert "traceback" not in job.options and job.retried_at is None


@pytest.mark.django_db(transaction=True)
def test_a_programming_error_is_not_retried():
    CALLS.clear()
    reliability_buggy.send("k2")
    run_worker_until(lambda: FailedJob.objects.exists())
    assert CALLS == ["k2"]
    assert FailedJob.objects.get().error == "TypeError: wrong arguments (k2)"


def proxy(actor_name="sync_program", queue_name=tasks.BULK_QUEUE, args=(7,), **options):
    message = dramatiq.Message(
        queue_name=queue_name, actor_name=actor_name, args=args, kwargs={}, options=options
    )
    return dramatiq.broker.MessageProxy(message)


def test_the_middleware_records_only_messages_that_failed_for_good(db):
    broker = dramatiq.get_broker()
    middleware = RecordFailures()
    retrying = proxy()
    middleware.after_process_message(broker, retrying, exception=OperationalError("blip"))
    assert not FailedJob.objects.exists()  # Retries will try it again
    done = proxy()
    done.fail()
    middleware.after_process_message(broker, done, result=None)
    assert not FailedJob.objects.exists()  # no exception: not ours to record

    failed = proxy(retries=5)
    failed.fail()
    try:
        raise OperationalError("gone for good")
    except OperationalError as exc:
        middleware.after_process_message(broker, failed, exception=exc)
        middleware.after_process_message(broker, failed, exception=exc)  # recorded once
    job = FailedJob.objects.get()
    assert job.error == "OperationalError: gone for good"
    assert "gone for good" in job.traceback and job.options == {"retries": 5}


def test_a_message_skipped_as_failed_is_recorded(db):
    """AgeLimit fails and skips a message that waited too long."""
    broker = dramatiq.get_broker()
    message = proxy(max_age=1, actor_name="sweep_outbox", queue_name=tasks.QUEUE, args=())
    message._message = message._message.copy(message_timestamp=1)
    with pytest.raises(dramatiq.middleware.SkipMessage):
        AgeLimit().before_process_message(broker, message)
    RecordFailures().after_skip_message(broker, message)
    assert FailedJob.objects.get().actor_name == "sweep_outbox"
    # A skip that is not a failure is nobody's business.
    RecordFailures().after_skip_message(broker, proxy(args=(8,)))
    assert FailedJob.objects.count() == 1


def test_recording_never_breaks_the_worker(db, monkeypatch, caplog):
    monkeypatch.setattr(
        "wagtail_coaching.failed_jobs.record_failure",
        lambda *a, **k: (_ for _ in ()).throw(OperationalError("db down too")),
    )
    failed = proxy()
    failed.fail()
    RecordFailures().after_process_message(
        dramatiq.get_broker(), failed, exception=RuntimeError("x")
    )
    assert "Could not record the failure" in caplog.text


# -- Failed jobs: retried --------------------------------------------------------------------------


def failed_job(actor_name="sync_program", args=(7,), message_id="m-1"):
    message = proxy(actor_name=actor_name, args=args, retries=5)
    message._message = message._message.copy(message_id=message_id)
    try:
        raise OperationalError("gone")
    except OperationalError as exc:
        return record_failure(message, exc)


def test_retrying_sends_the_same_job_again_once(db, django_capture_on_commit_callbacks):
    admin = staff("rel-admin", "admin")
    job = failed_job()
    with django_capture_on_commit_callbacks(execute=True):
        retry_failed_job(job.pk, admin)
    job.refresh_from_db()
    assert job.retried_at is not None and job.retried_by == admin
    pending = PendingJob.objects.get()
    assert (pending.actor_name, pending.args, pending.sent_at is not None) == (
        "sync_program", [7], True
    )
    assert [(m.actor_name, m.queue_name, m.args) for m in drain()] == [
        ("sync_program", "coaching_bulk", (7,))
    ]
    with pytest.raises(JobRetryError):
        retry_failed_job(job.pk, admin)
    assert PendingJob.objects.count() == 1


def test_a_job_whose_actor_is_gone_cannot_be_retried(db):
    job = failed_job(actor_name="no_such_job")
    with pytest.raises(JobRetryError):
        retry_failed_job(job.pk)
    job.refresh_from_db()
    assert job.retried_at is None and not PendingJob.objects.exists()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES, reason="concurrent writers need PostgreSQL (DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_two_admins_retrying_at_once_send_it_once():
    admin = staff("rel-admin", "admin")
    job = failed_job()
    results = []
    barrier = threading.Barrier(2)

    def attempt():
        barrier.wait()
        try:
            retry_failed_job(job.pk, admin)
            results.append("sent")
        except JobRetryError:
            results.append("refused")
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["refused", "sent"]
    assert PendingJob.objects.count() == 1


# -- The system check --------------------------------------------------------------------------


def ids(messages):
    return {m.id for m in messages}


def test_the_sandbox_broker_records_failures():
    assert "wagtail_coaching.W002" not in ids(run_checks())
    assert any(isinstance(m, RecordFailures) for m in dramatiq.get_broker().middleware)


@pytest.mark.parametrize(
    ("middleware", "warned"),
    [
        ([AgeLimit(), Retries()], True),
        ([AgeLimit(), Retries(), RecordFailures()], True),  # too late: after Retries
        ([AgeLimit(), RecordFailures(), Retries()], False),
        ([RecordFailures()], False),
    ],
)
def test_a_broker_without_the_middleware_is_reported(middleware, warned):
    broker = StubBroker(middleware=middleware)
    assert ids(failure_warnings(broker)) == ({"wagtail_coaching.W002"} if warned else set())


# -- The admin list ------------------------------------------------------------------------------

INDEX = "coaching_failed_jobs_modeladmin_index"
urlpatterns = []


@pytest.fixture
def jobs_admin(settings):
    """The Failed jobs admin's URLs; mounted here if the Coaching menu does not list it."""
    try:
        reverse(INDEX)
    except NoReverseMatch:
        from wagtail.admin.auth import require_admin_access
        from wagtail.utils.urlpatterns import decorate_urlpatterns

        from sandbox import urls
        from wagtail_coaching.admin.jobs import FailedJobsAdmin

        admin_urls = decorate_urlpatterns(
            list(FailedJobsAdmin().get_admin_urls_for_registration()), require_admin_access
        )
        urlpatterns[:] = [path("admin/", include(admin_urls)), *urls.urlpatterns]
        settings.ROOT_URLCONF = __name__


def url(name, job=None):
    return reverse(f"coaching_failed_jobs_modeladmin_{name}", args=[job.pk] if job else [])


def test_admins_see_failed_jobs_with_their_error(client, db, jobs_admin):
    job = failed_job()
    client.force_login(staff("rel-admin", "admin"))
    html = client.get(url("index")).content.decode()
    assert "sync_program" in html and "OperationalError: gone" in html
    html = client.get(url("inspect", job)).content.decode()
    assert "Traceback" in html and "raise OperationalError" in html
    assert "OperationalError: gone" in html and url("retry", job) in html


def test_the_retry_button_retries_once(client, db, jobs_admin):
    job = failed_job()
    admin = staff("rel-admin", "admin")
    client.force_login(admin)
    page = client.get(url("retry", job))
    assert page.status_code == 200 and "sync_program" in page.content.decode()
    response = client.post(url("retry", job))
    assert response.status_code == 302 and response["Location"] == url("index")
    job.refresh_from_db()
    assert job.retried_by == admin and job.retried_at is not None
    assert PendingJob.objects.get().args == [7]
    again = client.post(url("retry", job))
    assert again.status_code == 409
    assert "retried already" in again.content.decode()
    assert PendingJob.objects.count() == 1
    # Once retried, the button is gone.
    assert url("retry", job) not in client.get(url("inspect", job)).content.decode()


@pytest.mark.parametrize("role", ["coach", "sales_manager", "hr_partner"])
def test_only_admins_see_or_retry_failed_jobs(client, db, jobs_admin, role):
    job = failed_job()
    client.force_login(staff(f"rel-{role}", role))
    assert client.get(url("index")).status_code == 403
    assert client.get(url("inspect", job)).status_code == 404
    assert client.post(url("retry", job)).status_code == 404
    job.refresh_from_db()
    assert job.retried_at is None and not PendingJob.objects.exists()
