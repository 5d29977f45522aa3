"""Messages between a client and their coaches: who reads and writes, files, notices (in the
app at once, by email batched), read state, the pages on the site and in the admin, the
export and the erasure."""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from wagtail_coaching.conversations import (
    AttachmentRefused,
    MessageRefused,
    inbox,
    mark_read,
    post_message,
    unread_total,
)
from wagtail_coaching.journeys import assign_coach
from wagtail_coaching.models import (
    CoachProfile,
    Conversation,
    Message,
    MessageAttachment,
    Notification,
    NotificationChannel,
    NotificationPreference,
    TeamMembership,
)
from wagtail_coaching.notifications.outbox import sweep_notifications
from wagtail_coaching.permissions import allowed, visible
from wagtail_coaching.portability import client_data, erase_client
from wagtail_coaching.tasks import QUEUE
from wagtail_coaching.testing.jobs import drain, run_jobs

from .test_admin_matrix import DENIED, MISSING, OK, Setup, expected, outcome
from .test_theming import foreign_classes
from .world import coach_in, staff

IN_APP, EMAIL = NotificationChannel.IN_APP, NotificationChannel.EMAIL
DELAYED = f"{QUEUE}.DQ"  # dramatiq's queue of delayed messages


def build_shared_world():
    """The matrix's world, plus a team admin of team A, a specialist co-coaching client a1,
    and a bio for client a1's coach."""
    setup = Setup()
    w = setup.world
    w.team_admin = staff("team_admin_a", "coach")
    TeamMembership.objects.create(team=w.team_a, user=w.team_admin, role="admin")
    w.specialist = coach_in(w.team_a, "specialist_a", role="specialist")
    assign_coach(w.enrollment_a1, role="specialist", coach=w.specialist, actor=w.admin)
    CoachProfile.objects.filter(user=w.coach_a).update(
        bio="Twenty years of leadership coaching.", specialties="Leadership, burnout",
        languages="English, French",
    )
    Notification.objects.all().delete()  # the world's own notices: each test sees its own
    return setup


@pytest.fixture
def w(shared):
    return shared.world


def pdf(name="worksheet.pdf", data=b"%PDF-1.4 a worksheet"):
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def conversation_url(enrollment):
    return reverse("wagtail_coaching:conversation", args=[enrollment.public_id])


def admin_conversation_url(enrollment):
    return reverse("wagtail_coaching_admin:conversation", args=[enrollment.public_id])


def file_url(attachment):
    return reverse("wagtail_coaching:message_attachment", args=[attachment.public_id])


def notices(user, channel):
    return list(Notification.objects.filter(
        recipient=user, channel=channel, kind__in=("new_message", "coach_new_message")
    ))


# -- Who reads and who writes -------------------------------------------------------------------

def test_the_client_and_their_current_coaches_write_admins_read(w):
    a1 = w.enrollment_a1
    for user in (w.client_a1, w.coach_a, w.specialist):
        assert allowed(user, "view_messages", a1) and allowed(user, "write_messages", a1), user
    # The team's admin and the coaching admins read; they do not write.
    for user in (w.team_admin, w.admin):
        assert allowed(user, "view_messages", a1) and not allowed(user, "write_messages", a1)
    # A teammate who does not coach the client, the other team, HR and sales: nothing.
    for user in (w.coach_a2, w.coach_b, w.hr_acme, w.hr_globex, w.sales, w.client_a2):
        assert not allowed(user, "view_messages", a1), user
        assert not allowed(user, "write_messages", a1), user
    for user in (w.hr_acme, w.hr_globex, w.sales):
        assert not visible(user, "view_messages").exists()
        assert not allowed(user, "view_messages")


def test_a_hand_off_moves_the_conversation_to_the_new_coach(w):
    a1 = w.enrollment_a1
    assign_coach(a1, coach=w.coach_a2, actor=w.admin)
    assert allowed(w.coach_a2, "write_messages", a1)
    assert not allowed(w.coach_a, "view_messages", a1)  # their assignment ended
    assert allowed(w.specialist, "write_messages", a1)  # the co-coach stays


# -- Writing ------------------------------------------------------------------------------------

def test_a_message_with_a_file_is_saved_once_and_read_by_its_author(w):
    message = post_message(w.enrollment_a1, w.client_a1, "  Here is my worksheet  ", [pdf()])
    assert message.body == "Here is my worksheet"
    attachment = message.attachments.get()
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "worksheet.pdf", "application/pdf", len(b"%PDF-1.4 a worksheet"))
    assert attachment.file.read() == b"%PDF-1.4 a worksheet"
    conversation = Conversation.objects.get(enrollment=w.enrollment_a1)
    assert conversation.last_message_at == message.created_at
    # The author has nothing unread; each coach has one message unread.
    assert unread_total(w.client_a1) == 0
    assert unread_total(w.coach_a) == 1 and unread_total(w.specialist) == 1
    post_message(w.enrollment_a1, w.coach_a, "Thanks!")
    assert Conversation.objects.filter(enrollment=w.enrollment_a1).count() == 1


@pytest.mark.parametrize("body, files, problem", [
    ("", [], "Write a message or attach a file."),
    ("   ", [], "Write a message or attach a file."),
    ("x" * 10_001, [], "up to 10000 characters"),
    ("Look", [pdf("script.exe")], "cannot be shared"),
    ("Look", [pdf("page.html", b"<script>")], "cannot be shared"),
    ("Look", [pdf("empty.pdf", b"")], "is empty"),
])
def test_refused_messages_save_nothing(w, body, files, problem):
    with pytest.raises(MessageRefused, match=re.escape(problem)):
        post_message(w.enrollment_a1, w.client_a1, body, files)
    assert not Message.objects.exists() and not MessageAttachment.objects.exists()
    assert not Notification.objects.exists()


@override_settings(WAGTAIL_COACHING={"MESSAGE_ATTACHMENT_MAX_BYTES": 10,
                                     "MESSAGE_ATTACHMENT_TYPES": {".pdf": None}})
def test_the_size_limit_and_the_allow_list_are_settings(w):
    with pytest.raises(AttachmentRefused, match="too large"):
        post_message(w.enrollment_a1, w.client_a1, "Big", [pdf("big.png", b"x" * 11)])
    with pytest.raises(AttachmentRefused, match="cannot be shared"):
        post_message(w.enrollment_a1, w.client_a1, "Off", [pdf("sheet.pdf", b"x")])
    assert post_message(w.enrollment_a1, w.client_a1, "Ok", [pdf("small.png", b"x" * 10)])


# -- Notices: in the app at once, by email batched ------------------------------------------------

def test_a_burst_of_ten_messages_sends_one_email_and_one_notice_per_coach(w):
    with run_jobs():
        for i in range(10):
            post_message(w.enrollment_a1, w.client_a1, f"Message {i}")
    # In the app at once: one notice per coach, counting the burst.
    for coach in (w.coach_a, w.specialist):
        [notice] = notices(coach, IN_APP)
        assert notice.sent_at is not None and notice.payload["count"] == 10
        assert notice.payload["conversation_path"] == admin_conversation_url(w.enrollment_a1)
    # By email: one per coach, waiting for its time.
    emails = Notification.objects.filter(channel=EMAIL)
    assert emails.count() == 2 and not emails.filter(sent_at__isnull=False).exists()
    assert mail.outbox == []
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=121)):
        drain(queue_name=DELAYED)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [w.coach_a.email, w.specialist.email])
    assert {m.subject for m in mail.outbox} == {"10 new messages: Ada Acme (Engagement A)"}
    assert "Message 3" not in mail.outbox[0].body  # the email links, it does not quote
    assert admin_conversation_url(w.enrollment_a1) in mail.outbox[0].body
    # The next message starts a new email.
    with run_jobs():
        post_message(w.enrollment_a1, w.client_a1, "One more")
    assert Notification.objects.filter(channel=EMAIL, sent_at__isnull=True).count() == 2


def test_the_client_hears_of_a_reply_and_reading_settles_the_notices(w):
    with run_jobs():
        post_message(w.enrollment_a1, w.coach_a, "How did the exercise go?")
    [notice] = notices(w.client_a1, IN_APP)
    assert notice.kind == "new_message"
    assert notice.payload["conversation_path"] == conversation_url(w.enrollment_a1)
    [email] = notices(w.client_a1, EMAIL)
    # The specialist co-coaches: they hear of it too; the author does not.
    assert notices(w.specialist, IN_APP) and not notices(w.coach_a, IN_APP)
    conversation = Conversation.objects.get(enrollment=w.enrollment_a1)
    mark_read(w.client_a1, {conversation.pk: conversation.messages.last().pk})
    notice.refresh_from_db()
    email.refresh_from_db()
    assert notice.read_at is not None
    assert email.skipped and email.sent_at is not None  # nothing left to tell
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=121)):
        drain(queue_name=DELAYED)
    assert [m.to for m in mail.outbox] == [[w.specialist.email]]


def test_a_delayed_email_is_not_sent_before_its_time(w):
    from wagtail_coaching.notifications.outbox import send_notification

    post_message(w.enrollment_a1, w.client_a1, "Hello")
    [email] = notices(w.coach_a, EMAIL)
    assert send_notification(email.pk) is False
    email.refresh_from_db()
    assert email.sent_at is None and email.attempts == 0
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=121)):
        assert send_notification(email.pk) is True
    assert [m.to for m in mail.outbox] == [[w.coach_a.email]]


def test_preferences_are_respected(w):
    NotificationPreference.objects.create(user=w.coach_a, kind="coach_new_message",
                                          enabled=False)
    with run_jobs():
        post_message(w.enrollment_a1, w.client_a1, "Hello")
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=121)):
        drain(queue_name=DELAYED)
    assert [m.to for m in mail.outbox] == [[w.specialist.email]]
    assert all(n.skipped for n in notices(w.coach_a, IN_APP) + notices(w.coach_a, EMAIL))


def test_the_sweeper_sends_a_delayed_email_whose_job_was_lost(w, broker):
    with run_jobs():
        post_message(w.enrollment_a1, w.client_a1, "Hello")
    broker.flush_all()  # the delayed jobs are lost
    soon = timezone.now() + datetime.timedelta(seconds=200)
    assert sweep_notifications(now=soon) == 0  # not before its time plus the retry delay
    later = timezone.now() + datetime.timedelta(seconds=121 + 301)
    with time_machine.travel(later), run_jobs():
        assert sweep_notifications(now=later) == 2
    assert len(mail.outbox) == 2


# -- The client's pages -------------------------------------------------------------------------

def test_the_client_writes_from_the_portal_and_sees_the_reply(client, w):
    client.force_login(w.client_a1)
    response = client.post(conversation_url(w.enrollment_a1), {
        "body": "I tried the breathing exercise.", "attachment": pdf(),
    })
    assert response.status_code == 302
    message = Message.objects.get()
    assert response["Location"] == f"{conversation_url(w.enrollment_a1)}#message-{message.pk}"
    post_message(w.enrollment_a1, w.coach_a, "Great, tell me more.")
    html = client.get(conversation_url(w.enrollment_a1)).content.decode()
    assert "I tried the breathing exercise." in html and "Great, tell me more." in html
    assert file_url(message.attachments.get()) in html
    assert "Twenty years of leadership coaching." in html  # the coach as a person
    assert not foreign_classes(html)
    assert unread_total(w.client_a1) == 0  # opening it read it


def test_a_bad_message_is_a_clear_400_and_changes_nothing(client, w):
    client.force_login(w.client_a1)
    response = client.post(conversation_url(w.enrollment_a1), {"body": " "})
    assert response.status_code == 400
    assert "Write a message or attach a file." in response.content.decode()
    response = client.post(conversation_url(w.enrollment_a1), {
        "body": "x", "attachment": pdf("virus.exe")})
    assert response.status_code == 400
    assert "cannot be shared" in response.content.decode()
    assert not Message.objects.exists() and not MessageAttachment.objects.exists()


def test_another_clients_conversation_does_not_exist_by_changing_ids(client, w):
    message = post_message(w.enrollment_a1, w.client_a1, "Private", [pdf()])
    attachment = message.attachments.get()
    client.force_login(w.client_a2)
    assert client.get(conversation_url(w.enrollment_a1)).status_code == 404
    assert client.post(conversation_url(w.enrollment_a1), {"body": "Hi"}).status_code == 404
    assert client.get(file_url(attachment)).status_code == 404
    assert Message.objects.count() == 1


def test_hr_partners_and_sales_managers_are_refused_every_message_url(client, w):
    message = post_message(w.enrollment_a1, w.client_a1, "Private words", [pdf()])
    attachment = message.attachments.get()
    for user in (w.hr_acme, w.hr_globex, w.sales):
        client.force_login(user)
        answers = [
            client.get(conversation_url(w.enrollment_a1)).status_code,
            client.post(conversation_url(w.enrollment_a1), {"body": "x"}).status_code,
            client.get(file_url(attachment)).status_code,
            client.get(admin_conversation_url(w.enrollment_a1)).status_code,
            client.post(admin_conversation_url(w.enrollment_a1), {"body": "x"}).status_code,
        ]
        assert answers == [404] * 5, (user, answers)
        inbox_page = client.get(reverse("wagtail_coaching_admin:messages"))
        assert inbox_page.status_code == 403
        assert "Private words" not in inbox_page.content.decode()
    assert Message.objects.count() == 1


def test_a_file_is_served_to_members_only_as_a_download(client, w):
    attachment = post_message(w.enrollment_a1, w.client_a1, "", [pdf("My plan.pdf")]) \
        .attachments.get()
    for user in (w.client_a1, w.coach_a, w.specialist, w.team_admin, w.admin):
        client.force_login(user)
        response = client.get(file_url(attachment))
        assert response.status_code == 200, user
        assert b"".join(response.streaming_content) == b"%PDF-1.4 a worksheet"
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert 'filename="My plan.pdf"' in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
    for user in (w.coach_a2, w.coach_b, w.client_b1):
        client.force_login(user)
        assert client.get(file_url(attachment)).status_code == 404, user
    client.logout()
    assert client.get(file_url(attachment)).status_code == 302  # to sign in


def test_the_dashboard_shows_the_coach_and_the_unread_messages(client, w):
    post_message(w.enrollment_a1, w.coach_a, "Welcome aboard")
    client.force_login(w.client_a1)
    html = client.get(reverse("wagtail_coaching:dashboard")).content.decode()
    assert "Twenty years of leadership coaching." in html
    assert "Leadership, burnout" in html and "Speaks English, French" in html
    assert conversation_url(w.enrollment_a1) in html
    assert re.search(r"Messages with your coach.*?1 new", html, re.S)


def test_a_notice_opens_the_conversation_and_is_read(client, w):
    with run_jobs():
        post_message(w.enrollment_a1, w.coach_a, "Your plan is ready")
    [notice] = notices(w.client_a1, IN_APP)
    client.force_login(w.client_a1)
    open_url = reverse("wagtail_coaching:notification_open", args=[notice.pk])
    assert open_url in client.get(reverse("wagtail_coaching:dashboard")).content.decode()
    response = client.get(open_url)
    assert response.status_code == 302
    assert response["Location"] == conversation_url(w.enrollment_a1)
    notice.refresh_from_db()
    assert notice.read_at is not None
    client.force_login(w.client_a2)  # someone else's notice does not exist
    assert client.get(open_url).status_code == 404


# -- The admin ----------------------------------------------------------------------------------

def test_the_inbox_lists_conversations_with_unread_counts(client, w):
    post_message(w.enrollment_a1, w.client_a1, "First")
    post_message(w.enrollment_a1, w.client_a1, "Second")
    post_message(w.enrollment_b1, w.client_b1, "From Bea")
    client.force_login(w.coach_a)
    html = client.get(reverse("wagtail_coaching_admin:messages")).content.decode()
    assert "Ada Acme" in html and "2 new" in html
    assert "Bea Globex" not in html  # another team's client
    assert [c.unread for c in inbox(w.coach_a)] == [2]
    assert [c.unread for c in inbox(w.admin)] == [1, 2]  # the liveliest first
    # The menu counts the unread messages of one's own conversations.
    assert "Messages (2 new)" in client.get(reverse("wagtail_coaching_admin:messages")) \
        .content.decode()


def test_a_coach_replies_from_the_client_card(client, w):
    post_message(w.enrollment_a1, w.client_a1, "Can we move Thursday?")
    client.force_login(w.coach_a)
    card = reverse("wagtail_coaching_admin:client_card", args=[w.enrollment_a1.public_id])
    html = client.get(card).content.decode()
    assert "Can we move Thursday?" in html and "Write to the client" in html
    assert unread_total(w.coach_a) == 0  # the card showed it
    response = client.post(admin_conversation_url(w.enrollment_a1), {
        "body": "Yes, Friday works.", "next": card})
    assert response.status_code == 302 and response["Location"] == card
    assert Message.objects.filter(author=w.coach_a, body="Yes, Friday works.").exists()
    # Admins read the card's conversation but get no reply box.
    client.force_login(w.admin)
    html = client.get(card).content.decode()
    assert "Yes, Friday works." in html and "Write to the client" not in html


def test_an_unsafe_next_is_ignored(client, w):
    client.force_login(w.coach_a)
    response = client.post(admin_conversation_url(w.enrollment_a1), {
        "body": "Hi", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"].startswith(admin_conversation_url(w.enrollment_a1))


# -- Writing answers as the matrix says ----------------------------------------------------------

@pytest.mark.parametrize("name", ["wagtail_coaching:conversation",
                                  "wagtail_coaching_admin:conversation"])
def test_writing_answers_as_the_matrix_says(client, shared, name):
    from .routes_messages import WRITE_ROUTES
    from .test_admin_matrix import as_user

    route = WRITE_ROUTES[name]
    mismatches, seen = [], set()
    for e in shared.enrollments:
        for user in shared.users:
            want = expected(route, user, e)
            seen.add(want)
            as_user(client, user)
            got = outcome(client.post(reverse(name, args=[e.public_id]), route.data(shared, e)))
            if got != want:
                mismatches.append(f"{user} on {e}: expected {want}, got {got}")
    assert not mismatches, "\n".join(mismatches)
    assert {OK, DENIED, MISSING} <= seen


# -- Query counts --------------------------------------------------------------------------------

def test_pages_take_a_fixed_number_of_queries(client, w, django_assert_max_num_queries):
    def count(user, url):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    post_message(w.enrollment_a1, w.client_a1, "One", [pdf()])
    post_message(w.enrollment_b1, w.client_b1, "One")
    pages = [
        (w.client_a1, conversation_url(w.enrollment_a1)),
        (w.coach_a, admin_conversation_url(w.enrollment_a1)),
        (w.admin, reverse("wagtail_coaching_admin:messages")),
        (w.coach_a, reverse("wagtail_coaching_admin:client_card",
                            args=[w.enrollment_a1.public_id])),
    ]
    small = [count(user, url) for user, url in pages]
    for i in range(15):
        post_message(w.enrollment_a1, w.coach_a if i % 2 else w.client_a1, f"More {i}",
                     [pdf()] if i % 3 == 0 else [])
        post_message(w.enrollment_a2, w.client_a2, f"Abe {i}")
    large = [count(user, url) for user, url in pages]
    assert large == small, (small, large)


# -- Export and erasure ---------------------------------------------------------------------------

def test_the_export_holds_the_conversation(w):
    post_message(w.enrollment_a1, w.client_a1, "My question", [pdf()])
    post_message(w.enrollment_a1, w.coach_a, "My answer")
    post_message(w.enrollment_b1, w.client_b1, "Not Ada's")
    rows = client_data(w.client_a1)["messages"]
    assert [(r["body"], r["from_client"]) for r in rows] == [
        ("My question", True), ("My answer", False)]
    assert rows[0]["attachments"] == [
        {"name": "worksheet.pdf", "size": 20, "content_type": "application/pdf"}]
    assert rows[0]["enrollment"] == str(w.enrollment_a1.public_id)


def test_erasure_takes_the_conversation_and_its_files(w):
    with run_jobs():
        message = post_message(w.enrollment_a1, w.client_a1, "Ada's private words", [pdf()])
        post_message(w.enrollment_a1, w.coach_a, "The coach's answer about Ada")
        post_message(w.enrollment_b1, w.client_b1, "Bea stays")
    stored = message.attachments.get().file
    storage, name = stored.storage, stored.name
    assert storage.exists(name)
    with run_jobs():
        assert erase_client(w.client_a1, actor=w.admin) is True
    bodies = set(Message.objects.filter(conversation__enrollment=w.enrollment_a1)
                 .values_list("body", flat=True))
    assert bodies == {"[erased]"}
    assert Message.objects.filter(conversation__enrollment=w.enrollment_a1).count() == 2
    assert not MessageAttachment.objects.filter(message__conversation__enrollment=w.enrollment_a1)
    assert not storage.exists(name)
    # The coaches' notices named the client: emptied too.
    for coach in (w.coach_a, w.specialist):
        assert all(n.payload == {} for n in notices(coach, IN_APP) + notices(coach, EMAIL))
    assert Message.objects.get(body="Bea stays")
    assert erase_client(w.client_a1, actor=w.admin) is False
