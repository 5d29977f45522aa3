"""Notifications on the site: the in-app list on the dashboard and its own page, marking
them read, the settings page, and the email templates of the rules' messages."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from wagtail.users.models import UserProfile

from wagtail_coaching.automation.dispatch import dispatch_events
from wagtail_coaching.automation.messages import TEMPLATES
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import (
    Notification,
    NotificationChannel,
    NotificationPreference,
)
from wagtail_coaching.notifications.emails import render_email
from wagtail_coaching.notifications.kinds import CUSTOM, CUSTOM_KIND, optional_kinds
from wagtail_coaching.notifications.outbox import send_notification
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.programs import sized_program

from .world import coach_in, staff

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("wagtail_coaching:dashboard")
NOTIFICATIONS = reverse("wagtail_coaching:notifications")
SETTINGS = reverse("wagtail_coaching:notification_settings")
IN_APP, EMAIL = NotificationChannel.IN_APP, NotificationChannel.EMAIL

SESSION = {
    "session_title": "Team circle", "starts_at": "2030-03-04T16:00:00+00:00",
    "ends_at": "2030-03-04T17:00:00+00:00", "time_zone": "Europe/Paris",
    "video_link": "https://video.example/room", "sessions_path": "/coaching/sessions/",
}
BASE = {
    "client_name": "Cara Client", "engagement_title": "Leadership Foundations",
    "coach_name": "Coco Coach", "dashboard_path": "/coaching/", "sessions_path":
    "/coaching/sessions/", "ends_at": "", "rule": 1,
}


def note(user, kind="welcome", channel=IN_APP, at=None, **fields):
    payload = {**BASE, **fields.pop("payload", {})}
    n = Notification.objects.create(
        recipient=user, kind=kind, channel=channel, payload=payload,
        dedup_key=f"test:{Notification.objects.count()}:{kind}:{user.pk}", **fields,
    )
    if at is not None:
        Notification.objects.filter(pk=n.pk).update(created_at=at)
    return n


def page(client, user, url=DASHBOARD, **params):
    client.force_login(user)
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def enrolled(client_user):
    enroll(client_user, make_engagement(program=sized_program(1, 2), title="Leadership"))
    return client_user


# -- The dashboard ----------------------------------------------------------------------------

def test_dashboard_lists_the_clients_own_in_app_notifications(client, enrolled, other_client):
    me = enrolled
    note(me, "welcome")
    note(me, "session_reminder", payload=SESSION)
    note(me, "step_open", read_at=timezone.now(),
         payload={"activity_title": "Read this", "activity_path": "/coaching/activity/x/"})
    note(me, "welcome", channel=EMAIL, payload={"engagement_title": "By email only"})
    note(me, "welcome", skipped=True, payload={"engagement_title": "Skipped one"})
    note(other_client, "welcome", payload={"engagement_title": "Someone else's"})

    html = page(client, me)
    assert "Notifications" in html
    assert "2 new" in html
    assert "Welcome to Leadership Foundations" in html
    assert "Reminder: Team circle, Monday, March 4, 2030, 5 p.m. (Europe/Paris)" in html
    assert "A new step is open: Read this" in html
    for hidden in ("By email only", "Skipped one", "Someone else&#x27;s"):
        assert hidden not in html
    # Each opens through its own link, which marks it read and leads to its content: the
    # session to the sessions page, the step to itself, others to the dashboard.
    mine = {n.kind: n for n in Notification.objects.filter(
        recipient=me, channel=IN_APP, skipped=False
    )}
    for kind, text, target in (
        ("session_reminder", "Reminder: Team circle", "/coaching/sessions/"),
        ("step_open", "A new step is open", "/coaching/activity/x/"),
        ("welcome", "Welcome to Leadership Foundations", "/coaching/"),
    ):
        link = reverse("wagtail_coaching:notification_open", args=[mine[kind].pk])
        assert f'<a href="{link}">{text}' in html
        response = client.get(link)
        assert response.status_code == 302 and response["Location"] == target
        mine[kind].refresh_from_db()
        assert mine[kind].read_at is not None
    assert "Mark all as read" in html


def test_notification_times_are_in_the_readers_zone(client, enrolled):
    at = datetime.datetime(2030, 1, 15, 3, 30, tzinfo=datetime.UTC)
    note(enrolled, "welcome", at=at)
    profile, _ = UserProfile.objects.get_or_create(user=enrolled)
    profile.current_time_zone = "America/New_York"
    profile.save()
    html = page(client, enrolled)
    assert 'datetime="2030-01-14T22:30:00-05:00"' in html
    assert "Jan. 14, 2030, 10:30 p.m." in html


def test_a_kind_switched_off_after_it_was_queued_is_not_shown(client, enrolled):
    note(enrolled, "session_reminder", payload=SESSION)
    note(enrolled, "payment_problem")
    NotificationPreference.objects.create(user=enrolled, kind="session_reminder")
    NotificationPreference.objects.create(user=enrolled, kind="payment_problem")  # forged
    html = page(client, enrolled)
    assert "Reminder: Team circle" not in html
    assert "A payment for Leadership Foundations did not go through" in html


def test_links_from_a_payload_stay_on_the_site(client, enrolled):
    note(enrolled, "welcome", payload={"dashboard_path": "//evil.example/x",
                                       "sessions_path": "https://evil.example/"})
    html = page(client, enrolled)
    assert "evil.example" not in html
    assert "Welcome to Leadership Foundations" in html


def test_notification_text_is_escaped(client, enrolled):
    note(enrolled, "rule_message", payload={"subject": "<script>alert(1)</script>", "body": ""})
    html = page(client, enrolled)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_dashboard_without_enrollments_still_shows_notifications(client, client_user):
    note(client_user, "rule_message", payload={"subject": "Hello from the team", "body": "Hi"})
    html = page(client, client_user)
    assert "Hello from the team" in html
    assert "not enrolled in an engagement yet" in html


def _queries(client, user):
    client.force_login(user)
    client.get(DASHBOARD)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(DASHBOARD).status_code == 200
    return len(queries)


def test_notifications_cost_one_query_however_many(client, enrolled):
    quiet = UserFactory(username="quiet")
    enroll(quiet, make_engagement(program=sized_program(1, 2), title="Quiet"))
    none = _queries(client, quiet)
    for index in range(12):
        note(enrolled, "session_reminder" if index % 2 else "welcome", payload=SESSION,
             read_at=timezone.now() if index % 3 else None)
    assert _queries(client, enrolled) == none


# -- The notifications page and "mark all read" ------------------------------------------------

def test_notifications_page_lists_all_paged(client, enrolled):
    for index in range(23):
        note(enrolled, "rule_message", payload={"subject": f"Message {index:02d}", "body": "x"},
             at=timezone.now() - datetime.timedelta(minutes=index))
    html = page(client, enrolled, NOTIFICATIONS)
    assert "Message 00" in html and "Message 19" in html and "Message 20" not in html
    assert "23 unread notifications." in html
    assert "Page 1 of 2" in html and 'href="?page=2" rel="next">Older</a>' in html
    html = page(client, enrolled, NOTIFICATIONS, page=2)
    assert "Message 20" in html and "Message 22" in html and "Message 00" not in html
    assert 'href="?page=1" rel="prev">Newer</a>' in html


def test_mark_all_read(client, enrolled, other_client):
    mine = [note(enrolled, "welcome") for _ in range(3)]
    theirs = note(other_client, "welcome")
    by_email = note(enrolled, "welcome", channel=EMAIL)
    client.force_login(enrolled)
    response = client.post(NOTIFICATIONS, {"next": DASHBOARD})
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    assert not Notification.objects.filter(pk__in=[n.pk for n in mine], read_at=None).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert Notification.objects.get(pk=by_email.pk).read_at is None
    html = page(client, enrolled)
    assert "new</span>" not in html and "Mark all as read" not in html


def test_mark_all_read_never_leaves_the_site(client, enrolled):
    client.force_login(enrolled)
    response = client.post(NOTIFICATIONS, {"next": "https://evil.example/"})
    assert response["Location"] == NOTIFICATIONS


@pytest.mark.parametrize("url", [NOTIFICATIONS, SETTINGS])
def test_anonymous_visitors_sign_in_first(client, url):
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


# -- Settings ---------------------------------------------------------------------------------

# What the settings form sends besides its ticked boxes: the kinds it shows.
SHOWN = sorted(optional_kinds())


def checkbox(name):
    return f'name="enabled" value="{name}"'


def test_settings_page_lists_what_a_client_may_switch_off(client, client_user):
    html = page(client, client_user, SETTINGS)
    for name in ("welcome", "session_reminder", "renewal_review", "rule_message"):
        assert checkbox(name) + " checked" in html
    # Staff kinds are not a client's business.
    assert checkbox("coach_new_client") not in html and checkbox("at_risk_alert") not in html
    assert "A client is at risk" not in html
    # Payments and session changes: listed, no checkbox.
    assert "Always sent" in html and "A payment failed" in html
    assert checkbox("payment_problem") not in html
    assert checkbox("session_cancelled") not in html


def test_staff_also_see_their_own_kinds(client, db):
    from wagtail_coaching.models import Team

    coach = coach_in(Team.objects.create(name="T"), "coachy")
    html = page(client, coach, SETTINGS)
    assert checkbox("at_risk_alert") + " checked" in html
    assert checkbox("coach_new_client") in html
    assert checkbox("welcome") in html
    assert checkbox("coach_session_cancelled") not in html
    assert "A session you run is cancelled" in html


def test_saving_settings(client, client_user):
    client.force_login(client_user)
    wanted = set(optional_kinds()) - {"session_reminder", "renewal_review"}
    # A forged staff or payment kind in the post changes nothing.
    response = client.post(SETTINGS, {"shown": SHOWN, "enabled": [*wanted, "payment_problem"]})
    assert response.status_code == 302 and response["Location"] == SETTINGS
    rows = NotificationPreference.objects.filter(user=client_user)
    assert set(rows.values_list("kind", flat=True)) == {"session_reminder", "renewal_review"}
    assert not rows.filter(enabled=True).exists()
    html = page(client, client_user, SETTINGS)
    assert checkbox("session_reminder") + ">" in html
    assert checkbox("welcome") + " checked" in html
    # Switched back on: the row goes.
    client.post(SETTINGS, {"shown": SHOWN, "enabled": [*wanted, "session_reminder"]})
    assert set(rows.values_list("kind", flat=True)) == {"renewal_review"}


def test_a_switched_off_kind_is_recorded_as_skipped_and_not_emailed(client, client_user):
    client.force_login(client_user)
    client.post(SETTINGS, {
        "shown": SHOWN, "enabled": list(set(optional_kinds()) - {"session_reminder"}),
    })
    reminder = note(client_user, "session_reminder", channel=EMAIL, payload=SESSION)
    welcome = note(client_user, "welcome", channel=EMAIL)
    mail.outbox.clear()
    assert send_notification(reminder.pk) is False
    reminder.refresh_from_db()
    assert reminder.skipped and reminder.sent_at is not None
    assert send_notification(welcome.pk) is True
    assert [m.subject for m in mail.outbox] == ["Welcome to Leadership Foundations"]


def test_payment_messages_are_sent_even_with_a_forged_preference(client_user):
    NotificationPreference.objects.create(user=client_user, kind="payment_problem")
    problem = note(client_user, "payment_problem", channel=EMAIL)
    mail.outbox.clear()
    assert send_notification(problem.pk) is True
    problem.refresh_from_db()
    assert not problem.skipped
    assert mail.outbox[0].subject == "A payment for Leadership Foundations did not go through"


# -- The rules' email templates ---------------------------------------------------------------

def rendered(user, kind, **payload):
    n = Notification(recipient=user, kind=kind, payload={**BASE, **payload})
    return render_email(n)


@pytest.mark.parametrize("kind", [*sorted(set(TEMPLATES) - {CUSTOM}), CUSTOM_KIND])
def test_every_rule_message_renders_whatever_the_trigger(client_user, kind):
    """A rule may send any template on any trigger: with only the payload every rule has
    (no session, no custom text) each still renders."""
    subject, text, _html = rendered(client_user, kind)
    assert subject.strip() and "Hello Cara," in text
    assert "{{" not in subject + text and "{%" not in subject + text


def test_a_kind_without_templates_shows_its_name(client, enrolled):
    note(enrolled, "mystery_kind")
    assert "mystery_kind" in page(client, enrolled)


def test_session_reminder_email(client_user):
    subject, text, _html = rendered(client_user, "session_reminder", **SESSION)
    assert subject == "Reminder: Team circle, Monday, March 4, 2030, 5 p.m. (Europe/Paris)"
    assert "A reminder of your session “Team circle” (Leadership Foundations)." in text
    assert "When: Monday, March 4, 2030, 5 p.m.–6 p.m. (Europe/Paris)" in text
    assert "Video link: https://video.example/room" in text
    assert "http://127.0.0.1:8000/coaching/sessions/" in text
    assert "{{" not in text and "&quot;" not in text


def test_follow_up_email(client_user):
    subject, text, _html = rendered(client_user, "session_follow_up")
    assert subject == "After your session: what comes next in Leadership Foundations"
    assert "Your next practice is open on your dashboard" in text
    assert "http://127.0.0.1:8000/coaching/" in text


def test_at_risk_alert_email(client_user):
    coach = staff("coco", "coach", first_name="Coco")
    subject, text, _html = rendered(coach, "at_risk_alert", client_name="Ada O'Neil")
    assert subject == "At risk: Ada O'Neil (Leadership Foundations)"
    assert "Hello Coco," in text
    assert "Ada O'Neil in Leadership Foundations is now flagged at risk" in text


def test_renewal_review_speaks_to_the_client_and_to_the_coach(client_user):
    payload = {"ends_at": "2030-06-30T22:00:00+00:00"}
    subject, text, _html = rendered(client_user, "renewal_review", **payload)
    assert subject == "Your access to Leadership Foundations ends soon: let's review"
    # In the site's zone (the payload names none).
    assert "Your access to Leadership Foundations ends on Sunday, June 30, 2030, 11 p.m. " \
        "(Europe/London)" in text
    coach = staff("coco", "coach", first_name="Coco", last_name="Coach2")
    subject, text, _html = rendered(coach, "renewal_review", **payload)
    assert subject == "Renewal review: Cara Client (Leadership Foundations)"
    assert "The access of Cara Client to Leadership Foundations ends on" in text


def test_payment_problem_email(client_user):
    subject, text, _html = rendered(client_user, "payment_problem")
    assert subject == "A payment for Leadership Foundations did not go through"
    assert "Please check the card or account you pay with" in text


def test_custom_rule_message_email(client_user):
    subject, text, _html = rendered(
        client_user, "rule_message", subject="Your <b>plan</b> & next steps",
        body="Line one\nLine two",
    )
    assert subject == "Your <b>plan</b> & next steps"  # plain text: nothing escaped
    assert "Line one\nLine two" in text
    assert "Hello Cara," in text


def test_the_welcome_rule_reaches_the_dashboard(client, client_user, enqueue_at_once):
    """The built-in "Welcome on enrollment" rule: an email and an in-app notification."""
    from wagtail_coaching.testing.jobs import drain

    enroll(client_user, make_engagement(program=sized_program(1, 2), title="Resilience"))
    mail.outbox.clear()
    dispatch_events()
    drain()
    assert [m.subject for m in mail.outbox] == ["Welcome to Resilience"]
    assert "Open your dashboard: http://127.0.0.1:8000/coaching/" in mail.outbox[0].body
    html = page(client, client_user)
    welcome = Notification.objects.get(recipient=client_user, channel=IN_APP)
    link = reverse("wagtail_coaching:notification_open", args=[welcome.pk])
    assert f'<a href="{link}">Welcome to Resilience</a>' in html
    assert "1 new" in html
