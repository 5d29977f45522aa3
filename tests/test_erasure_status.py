"""After a client's data is erased their journeys end: open enrollments take the status "Ended
(data erased)", so they are no longer active clients, never at risk, and no job, rule or
message acts on them; their places in sessions still to come are given up. What happened
before (completions, sessions held, money) keeps counting in the reports."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.db.models import Sum
from django.utils import timezone

from wagtail_coaching import metrics
from wagtail_coaching.admin.panels import clients_needing_attention
from wagtail_coaching.automation.timed import evaluate_timed_rules
from wagtail_coaching.journeys import (
    complete_activity,
    enroll,
    pause_enrollment,
    unlock_due_activities,
)
from wagtail_coaching.models import (
    OPEN_STATUSES,
    ActivityState,
    AutomationRule,
    ClientActivity,
    CoachAssignment,
    CoachingSession,
    CoachingSessionStatus,
    CoachProfile,
    Cohort,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Notification,
    Order,
    Registration,
    RegistrationStatus,
    RuleFiring,
    Trigger,
)
from wagtail_coaching.notifications.outbox import Message, queue_notifications, send_notification
from wagtail_coaching.payments.fulfilment import sweep_access
from wagtail_coaching.portability import erase_client
from wagtail_coaching.scheduling import cancel_registration, register
from wagtail_coaching.testing.factories import UserFactory

from .test_admin_clients import CLIENTS_URL, admin_world, as_user, card_url
from .world_sessions import add_sessions


def build_shared_world():
    w = add_sessions(admin_world())
    # Ada's history: engagement B finished (completed, with its steps done).
    w.finished_b = enroll(w.client_a1, w.engagement_b)
    for step in w.finished_b.activities.order_by("stage_position", "position"):
        step.refresh_from_db()
        if step.state == ActivityState.LOCKED:
            step.state = ActivityState.AVAILABLE
            step.save(update_fields=["state"])
        complete_activity(step, actor=w.client_a1)
    # A 1:1 session Ada already had (held), and a seat someone else waits for.
    held = CoachingSession.objects.get(pk=w.booking_a1.pk)
    w.held_a1 = CoachingSession.objects.create(
        enrollment=w.enrollment_a1, activity=held.activity, coach=w.coach_a,
        starts_at=timezone.now() - timedelta(days=3),
        ends_at=timezone.now() - timedelta(days=3) + timedelta(hours=1),
        time_zone="UTC", status=CoachingSessionStatus.COMPLETED,
        booked_at=timezone.now() - timedelta(days=5),
    )
    w.session_a.capacity = 1
    w.session_a.save(update_fields=["capacity"])
    register(w.session_a, w.client_a2)  # the waitlist
    # Only the rules these tests make act.
    AutomationRule.objects.update(active=False)
    return w


@pytest.fixture
def world(shared):
    return shared


def reload(enrollment):
    return Enrollment.objects.get(pk=enrollment.pk)


def make_rule(trigger, **kw):
    return AutomationRule.objects.create(
        name=f"Rule {trigger}", trigger=trigger,
        actions=[{"type": "notify", "value": {
            "recipient": "client", "channel": "email", "template": "custom",
            "subject": "Hello", "body": "A word"}}],
        active_since=timezone.now() - timedelta(days=365), **kw,
    )


def history():
    """What reports count about the past."""
    return {
        "enrollments": Enrollment.objects.count(),
        "completed_enrollments": Enrollment.objects.filter(
            status=EnrollmentStatus.COMPLETED).count(),
        "completed_steps": ClientActivity.objects.filter(
            state=ActivityState.COMPLETED).count(),
        "sessions_held": CoachingSession.objects.filter(
            status=CoachingSessionStatus.COMPLETED).count(),
        "revenue": Order.objects.filter(paid_at__isnull=False).aggregate(s=Sum("amount"))["s"],
        "sales": metrics.sales(Order.objects.all()),
    }


# -- The status -------------------------------------------------------------------------------

def test_erased_is_a_real_status_with_its_label():
    assert EnrollmentStatus.ERASED == "erased"
    assert ("erased", "Ended (data erased)") in Enrollment._meta.get_field("status").choices
    assert EnrollmentStatus.ERASED not in OPEN_STATUSES


def test_erasure_ends_open_enrollments_and_keeps_finished_ones(world):
    w = world
    pause_enrollment(w.enrollment_a1)
    assert erase_client(w.client_a1, actor=w.admin) is True

    ended = reload(w.enrollment_a1)
    assert ended.status == EnrollmentStatus.ERASED
    assert ended.get_status_display() == "Ended (data erased)"
    assert not ended.is_open
    assert reload(w.finished_b).status == EnrollmentStatus.COMPLETED
    # The timeline says from what it ended, once per enrollment.
    erased = {e.enrollment_id: e.data for e in JourneyEvent.objects.filter(kind=EventKind.ERASED)}
    assert erased == {w.enrollment_a1.pk: {"from": "paused"}, w.finished_b.pk: {}}
    # Nobody else's journey changed.
    assert reload(w.enrollment_a2).status == EnrollmentStatus.ACTIVE
    assert reload(w.enrollment_b1).status == EnrollmentStatus.ACTIVE


def test_active_client_figures_drop_by_one_and_history_stays(world):
    w = world

    def load():
        profiles = CoachProfile.objects.filter(user=w.coach_a)
        return {row["coach"].pk: row["clients"] for row in metrics.coach_load(profiles)}

    before_history = history()
    before = metrics.headline(Enrollment.objects.all())
    assert load() == {w.coach_a.pk: 1}
    erase_client(w.client_a1, actor=w.admin)
    after = metrics.headline(Enrollment.objects.all())

    assert after["active_clients"] == before["active_clients"] - 1
    assert after["active"] == before["active"] - 1
    assert after["clients"] == before["clients"]  # an anonymous client, still counted
    assert after["enrollments"] == before["enrollments"]
    assert after["completed"] == before["completed"] == 1
    assert history() == before_history
    # The coach's load: Ada no longer counts among coach_a's clients.
    assert load() == {w.coach_a.pk: 0}


def test_the_at_risk_list_and_flags_leave_them_out(world):
    w = world
    long_ago = timezone.now() - timedelta(days=40)
    for enrollment in (w.enrollment_a1, w.enrollment_a2):
        JourneyEvent.objects.filter(enrollment=enrollment).update(at=long_ago)
        Enrollment.objects.filter(pk=enrollment.pk).update(starts_at=long_ago)
    Enrollment.objects.filter(pk=w.enrollment_a1.pk).update(
        at_risk_since=long_ago, at_risk_reason="No activity for 40 days")
    assert set(metrics.at_risk().values_list("pk", flat=True)) >= {
        w.enrollment_a1.pk, w.enrollment_a2.pk}
    at_risk_before = metrics.headline(Enrollment.objects.all())["at_risk"]

    erase_client(w.client_a1, actor=w.admin)

    assert w.enrollment_a1.pk not in set(metrics.at_risk().values_list("pk", flat=True))
    assert w.enrollment_a2.pk in set(metrics.at_risk().values_list("pk", flat=True))
    assert not metrics.is_at_risk(w.enrollment_a1)
    assert metrics.headline(Enrollment.objects.all())["at_risk"] == at_risk_before - 1
    assert reload(w.enrollment_a1).at_risk_since is None
    # The "at risk" rule does not pick them up again.
    rule = make_rule(Trigger.AT_RISK)
    evaluate_timed_rules()
    assert not RuleFiring.objects.filter(rule=rule, enrollment=w.enrollment_a1).exists()
    assert RuleFiring.objects.filter(rule=rule, enrollment=w.enrollment_a2).exists()


def test_the_unlock_job_skips_them(world):
    w = world
    due = timezone.now() - timedelta(hours=1)
    for enrollment in (w.enrollment_a1, w.enrollment_a2):
        ClientActivity.objects.filter(enrollment=enrollment, title="Later").update(
            state=ActivityState.LOCKED, unlock_at=due)
    erase_client(w.client_a1, actor=w.admin)

    assert unlock_due_activities() == 1
    states = dict(ClientActivity.objects.filter(title="Later", enrollment__in=(
        w.enrollment_a1, w.enrollment_a2)).values_list("enrollment_id", "state"))
    assert states == {w.enrollment_a1.pk: ActivityState.LOCKED,
                      w.enrollment_a2.pk: ActivityState.AVAILABLE}


def test_reminders_and_timed_rules_skip_them(world):
    w = world
    reminder = make_rule(Trigger.SESSION_UPCOMING, hours=24 * 10)
    enrolled = make_rule(Trigger.ENROLLMENT_DAYS, days=0)
    erase_client(w.client_a1, actor=w.admin)
    mail.outbox.clear()

    evaluate_timed_rules()

    fired = set(RuleFiring.objects.values_list("rule_id", "enrollment_id"))
    assert (reminder.pk, w.enrollment_b1.pk) in fired  # b1's booked 1:1 is reminded
    assert (enrolled.pk, w.enrollment_a2.pk) in fired
    assert not {pk for _rule, pk in fired} & {w.enrollment_a1.pk, w.finished_b.pk}


def test_upcoming_sessions_are_cancelled_and_the_seat_goes_on(world):
    w = world
    seat = Registration.objects.get(session=w.session_a, user=w.client_a2)
    assert seat.status == RegistrationStatus.WAITLISTED
    erase_client(w.client_a1, actor=w.admin)

    booking = CoachingSession.objects.get(pk=w.booking_a1.pk)
    assert booking.status == CoachingSessionStatus.CANCELLED  # staff cancel: not "late"
    assert CoachingSession.objects.get(pk=w.held_a1.pk).status == CoachingSessionStatus.COMPLETED
    assert Registration.objects.get(
        session=w.session_a, user=w.client_a1).status == RegistrationStatus.CANCELLED
    assert Registration.objects.get(pk=seat.pk).status == RegistrationStatus.REGISTERED
    # The coach hears of the cancellation (naming nobody); the client's own copies are skipped.
    to_coach = Notification.objects.get(recipient=w.coach_a, kind="one_to_one_cancelled")
    assert "Ada" not in str(to_coach.payload)
    assert not Notification.objects.filter(recipient=w.client_a1, sent_at__isnull=True).exists()


def test_no_message_reaches_an_erased_client(world):
    w = world
    erase_client(w.client_a1, actor=w.admin)
    mail.outbox.clear()
    queue_notifications([Message(w.client_a1.pk, "custom", "after-erasure",
                                 {"subject": "Hi", "body": "x"})])
    row = Notification.objects.get(dedup_key="after-erasure")
    assert send_notification(row.pk) is False
    row.refresh_from_db()
    assert row.skipped and row.sent_at is not None
    assert mail.outbox == []


def test_payments_and_cohorts_leave_an_ended_journey_alone(world):
    w = world
    erase_client(w.client_a1, actor=w.admin)
    # The access sweep (and any payment event) never reopens or cancels it.
    Order.objects.filter(buyer=w.client_a1).update(
        access_ends_at=timezone.now() - timedelta(days=1))
    sweep_access()
    assert reload(w.enrollment_a1).status == EnrollmentStatus.ERASED
    # "Enroll members" skips the anonymised member of a cohort.
    cohort = Cohort.objects.get(name="Acme spring")
    cohort.members.add(w.client_a1, w.client_a2)
    from wagtail_coaching.journeys import enroll_cohort

    Enrollment.objects.filter(client=w.client_a2, engagement=w.engagement_a).update(
        status=EnrollmentStatus.CANCELLED)
    created, _already = enroll_cohort(cohort)
    assert [e.client_id for e in created] == [w.client_a2.pk]


def test_a_second_erasure_is_harmless(world):
    w = world
    erase_client(w.client_a1, actor=w.admin)
    snapshot = (
        list(Enrollment.objects.order_by("pk").values_list("pk", "status")),
        JourneyEvent.objects.count(), Notification.objects.count(),
        list(Registration.objects.order_by("pk").values_list("pk", "status")),
        list(CoachingSession.objects.order_by("pk").values_list("pk", "status")),
        metrics.headline(Enrollment.objects.all()),
    )
    assert erase_client(w.client_a1, actor=w.admin) is False
    assert snapshot == (
        list(Enrollment.objects.order_by("pk").values_list("pk", "status")),
        JourneyEvent.objects.count(), Notification.objects.count(),
        list(Registration.objects.order_by("pk").values_list("pk", "status")),
        list(CoachingSession.objects.order_by("pk").values_list("pk", "status")),
        metrics.headline(Enrollment.objects.all()),
    )


def test_a_cancelled_place_is_not_cancelled_twice(world):
    w = world
    cancel_registration(w.session_a, w.client_a1, actor=w.client_a1)
    events = JourneyEvent.objects.filter(kind=EventKind.SESSION_CANCELLED).count()
    erase_client(w.client_a1, actor=w.admin)
    # Only the 1:1 booking was left to cancel.
    assert JourneyEvent.objects.filter(kind=EventKind.SESSION_CANCELLED).count() == events + 1


# -- The admin ----------------------------------------------------------------------------------

def test_the_admin_shows_the_ended_journey(client, world):
    w = world
    erase_client(w.client_a1, actor=w.admin)
    as_user(client, w.admin)
    listing = client.get(CLIENTS_URL, {"status__exact": "erased"}).content.decode()
    assert "Ended (data erased)" in listing
    assert card_url(w.enrollment_a1) in listing and card_url(w.enrollment_a2) not in listing
    card = client.get(card_url(w.enrollment_a1)).content.decode()
    assert "coaching-card__status--erased" in card and "Ended (data erased)" in card
    for action in ("pause", "resume"):
        assert card_url(w.enrollment_a1, action) not in card
    assert CoachAssignment.objects.filter(enrollment=w.enrollment_a1).exists()  # history


def test_the_coach_dashboard_no_longer_asks_for_attention_to_them(world):
    w = world

    def attention():
        return [row["url"] for row in clients_needing_attention(w.coach_a)]

    assert card_url(w.enrollment_a1) in attention()  # a 1:1 step waits for the coach
    erase_client(w.client_a1, actor=w.admin)
    assert card_url(w.enrollment_a1) not in attention()


def test_clients_erased_before_the_status_existed_are_ended_by_the_migration(world):
    w = world
    migration = importlib.import_module(
        "wagtail_coaching.migrations.0011_enrollment_status_erased")
    gone = UserFactory(username="placeholder", is_active=False)
    gone.username = f"erased-{gone.pk}"
    gone.save()
    old = enroll(gone, w.engagement_a)
    Enrollment.objects.filter(pk=old.pk).update(at_risk_since=timezone.now())
    lookalike = UserFactory(username="erased-0", is_active=False)  # not its own id
    kept = enroll(lookalike, w.engagement_a)

    migration.end_erased_clients_enrollments(django_apps, None)

    assert reload(old).status == EnrollmentStatus.ERASED and reload(old).at_risk_since is None
    assert reload(kept).status == EnrollmentStatus.ACTIVE
    assert reload(w.enrollment_a1).status == EnrollmentStatus.ACTIVE
