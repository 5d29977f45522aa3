"""Data portability and erasure: a client's export holds each kind of their data and nothing
of anyone else's, in a fixed number of queries; admins export and anonymise any client;
erasure keeps what reports count and is recorded once."""

import csv
import io
import json
import zipfile

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from wagtail_coaching.conversations import post_message
from wagtail_coaching.journeys import add_note, complete_activity
from wagtail_coaching.models import (
    ActivityState,
    ClientActivity,
    CoachingSession,
    Consent,
    Enquiry,
    EnquiryReply,
    Enrollment,
    EventKind,
    JourneyEvent,
    NoteVisibility,
    Notification,
    NotificationChannel,
    OfferPage,
    Order,
    SessionNote,
)
from wagtail_coaching.portability import (
    FIELDS,
    as_csv_zip,
    as_json,
    client_data,
    erase_client,
    is_erased,
)

from .test_admin_clients import admin_world, as_user, card_url, is_login_redirect
from .world_sessions import add_sessions

KINDS = [k for k in FIELDS if k != "profile"]


def add_history(w, client, enrollment, tag, notifications=1):
    """Answers, a summary and in-app notifications carrying ``tag``."""
    welcome = enrollment.activities.get(title="Welcome")
    complete_activity(welcome, actor=client, response={"note": f"answer {tag}"}, score=7)
    CoachingSession.objects.filter(enrollment=enrollment).update(summary=f"summary {tag}")
    post_message(enrollment, client, f"message {tag}")
    enquiry = Enquiry.objects.create(
        offer=OfferPage.objects.get(slug="offer-a"), name=f"name {tag}", email=client.email,
        message=f"question {tag}",
    )
    EnquiryReply.objects.create(enquiry=enquiry, body=f"reply {tag}")
    for i in range(notifications):
        Notification.objects.create(
            recipient=client, kind="reminder", dedup_key=f"test-{tag}-{i}",
            channel=NotificationChannel.IN_APP, payload={"text": f"hello {tag}"},
        )


def build_shared_world():
    w = admin_world()
    add_sessions(w)
    add_history(w, w.client_a1, w.enrollment_a1, "ADA")
    add_history(w, w.client_b1, w.enrollment_b1, "BEA")
    return w


@pytest.fixture
def world(shared):
    return shared


# -- The export ----------------------------------------------------------------------------

def test_the_export_holds_every_kind_of_the_clients_data(world):
    w = world
    data = client_data(w.client_a1)
    assert data["profile"]["username"] == "client_a1"
    for kind in KINDS:
        assert data[kind], f"nothing in {kind}"
    welcome = next(a for a in data["activities"] if a["title"] == "Welcome")
    assert welcome["response"] == {"note": "answer ADA"}
    assert welcome["score"] == 7
    assert welcome["state"] == ActivityState.COMPLETED
    assert {n["body"] for n in data["notes"]} == {"client note by coach_a"}
    assert data["orders"][0]["amount"] == "100.00"
    assert data["one_to_one_sessions"][0]["summary"] == "summary ADA"
    assert data["group_sessions"][0]["session"] == "Team A circle"
    assert data["consents"][0]["granted"] is True
    assert data["notifications"][0]["payload"] == {"text": "hello ADA"}
    assert any(e["kind"] == EventKind.ENROLLED for e in data["timeline"])
    assert data["enrollments"][0]["engagement"] == "Engagement A"


def test_the_export_holds_nothing_of_another_client(world):
    w = world
    text = as_json(client_data(w.client_a1)).decode()
    for foreign in ("client_b1", "Bea", "answer BEA", "summary BEA", "hello BEA",
                    "Globex circle", "Engagement B", "client_a2", "Abe",
                    "coach note by coach_a", "team note by coach_a", "note by coach_b"):
        assert foreign not in text, foreign
    assert str(w.enrollment_b1.public_id) not in text


def test_json_and_csv_parse(world):
    data = client_data(world.client_a1)
    parsed = json.loads(as_json(data))
    assert parsed["profile"]["email"] == world.client_a1.email
    assert set(parsed) == set(FIELDS)
    with zipfile.ZipFile(io.BytesIO(as_csv_zip(data))) as archive:
        assert set(archive.namelist()) == {f"{kind}.csv" for kind in FIELDS}
        for kind, columns in FIELDS.items():
            rows = list(csv.DictReader(io.StringIO(archive.read(f"{kind}.csv").decode())))
            expected = 1 if kind == "profile" else len(data[kind])
            assert len(rows) == expected, kind
            if rows:
                assert tuple(rows[0]) == columns
        activities = archive.read("activities.csv").decode()
        assert "answer ADA" in activities


def test_the_export_takes_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    w = world
    with CaptureQueriesContext(connection) as small:
        client_data(w.client_a1)
    # A much longer history: notes (and their timeline entries), notifications, messages.
    for i in range(15):
        add_note(w.enrollment_a1, author=w.coach_a, body=f"shared {i}",
                 visibility=NoteVisibility.CLIENT)
    for i in range(20):
        Notification.objects.create(
            recipient=w.client_a1, kind="reminder", dedup_key=f"more-{i}",
            channel=NotificationChannel.IN_APP, payload={"i": i},
        )
    for i in range(10):
        post_message(w.enrollment_a1, w.coach_a if i % 2 else w.client_a1, f"more {i}")
    with django_assert_max_num_queries(len(small)):
        data = client_data(w.client_a1)
    assert len(data["notes"]) == 16
    assert len(data["notifications"]) == 26  # and the coach's five replies
    assert len(data["messages"]) == 11
    assert len(small) <= 12


# -- The client's pages ----------------------------------------------------------------------

def test_a_client_downloads_their_own_data(client, world):
    w = world
    as_user(client, w.client_a1)
    page = client.get(reverse("wagtail_coaching:my_data"))
    assert page.status_code == 200
    html = page.content.decode()
    url = reverse("wagtail_coaching:my_data_download")
    assert f"{url}?format=json" in html and f"{url}?format=csv" in html
    dashboard = client.get(reverse("wagtail_coaching:dashboard"))
    assert reverse("wagtail_coaching:my_data") in dashboard.content.decode()

    response = client.get(url, {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["profile"]["username"] == "client_a1"
    assert "answer BEA" not in response.content.decode()

    response = client.get(url, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert "orders.csv" in archive.namelist()

    assert client.get(url, {"format": "xml"}).status_code == 400


def test_the_data_pages_need_a_login(client, world):
    as_user(client, None)
    for name in ("my_data", "my_data_download"):
        response = client.get(reverse(f"wagtail_coaching:{name}"))
        assert response.status_code == 302, name


# -- The admin export --------------------------------------------------------------------------

def export_url(enrollment, fmt="json"):
    return card_url(enrollment, "client_data_export") + f"?format={fmt}"


def test_an_admin_exports_any_client(client, world):
    w = world
    as_user(client, w.admin)
    response = client.get(export_url(w.enrollment_b1))
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["profile"]["username"] == "client_b1"
    assert "answer ADA" not in response.content.decode()
    response = client.get(export_url(w.enrollment_b1, "csv"))
    assert response.status_code == 200
    assert zipfile.is_zipfile(io.BytesIO(response.content))
    assert client.get(export_url(w.enrollment_b1, "pdf")).status_code == 400
    card = client.get(card_url(w.enrollment_b1)).content.decode()
    assert card_url(w.enrollment_b1, "client_data_export") in card
    assert card_url(w.enrollment_b1, "erase_client") in card


def test_other_roles_cannot_export_or_erase(client, world):
    w = world
    cases = [
        (w.coach_a, w.enrollment_a1, 403),  # their client, but not theirs to export
        (w.coach_b, w.enrollment_a1, 404),
        (w.hr_acme, w.enrollment_a1, 403),  # sees progress (consented), not data
        (w.hr_acme, w.enrollment_b1, 404),
        (w.sales, w.enrollment_a1, 404),
    ]
    for user, enrollment, status in cases:
        as_user(client, user)
        assert client.get(export_url(enrollment)).status_code == status, user
        assert client.get(card_url(enrollment, "erase_client")).status_code == status, user
        assert client.post(card_url(enrollment, "erase_client")).status_code == status, user
        if status == 403:
            card = client.get(card_url(enrollment)).content.decode()
            assert card_url(enrollment, "client_data_export") not in card
            assert card_url(enrollment, "erase_client") not in card
    for user in (w.client_a1, w.client_b1):
        as_user(client, user)
        for enrollment in (w.enrollment_a1, w.enrollment_b1):
            assert is_login_redirect(client.get(export_url(enrollment)))
            assert is_login_redirect(client.post(card_url(enrollment, "erase_client")))
    w.client_a1.refresh_from_db()
    assert not is_erased(w.client_a1)


# -- Erasure -------------------------------------------------------------------------------------

def totals():
    return {
        "enrollments": Enrollment.objects.count(),
        "completed": ClientActivity.objects.filter(state=ActivityState.COMPLETED).count(),
        "scores": ClientActivity.objects.aggregate(s=Sum("score"))["s"],
        "orders": Order.objects.count(),
        "amounts": Order.objects.aggregate(s=Sum("amount"))["s"],
        "sessions": CoachingSession.objects.count(),
        "notes": SessionNote.objects.count(),
    }


def test_erasure_keeps_counts_and_removes_what_identifies(world):
    w = world
    before = totals()
    assert erase_client(w.client_a1, actor=w.admin) is True
    assert totals() == before

    user = w.client_a1.__class__.objects.get(pk=w.client_a1.pk)
    assert is_erased(user)
    assert (user.first_name, user.last_name) == ("Anonymised", "Anonymised")
    assert user.email == f"erased-{user.pk}@invalid"
    assert user.username == f"erased-{user.pk}"
    assert not user.has_usable_password() and not user.is_active
    mine = ClientActivity.objects.filter(enrollment__client=user)
    assert not mine.filter(response__isnull=False).exists()
    assert mine.get(title="Welcome").score == 7
    assert mine.get(title="Welcome").state == ActivityState.COMPLETED
    assert set(SessionNote.objects.filter(enrollment__client=user).values_list(
        "body", flat=True)) == {"[erased]"}
    assert set(CoachingSession.objects.filter(enrollment__client=user).values_list(
        "summary", flat=True)) == {""}
    assert not Consent.objects.filter(client=user, granted=True).exists()
    payloads = list(Notification.objects.filter(recipient=user).values_list("payload", flat=True))
    assert payloads and all(p == {} for p in payloads)
    text = as_json(client_data(user)).decode()
    for gone in ("Ada Acme", "client_a1", w.client_a1.email, "answer ADA", "summary ADA",
                 "client note by coach_a", "hello ADA", "message ADA"):
        assert gone not in text, gone
    # Nothing of the other client changed.
    assert ClientActivity.objects.filter(
        enrollment=w.enrollment_b1, response__isnull=False).exists()
    assert CoachingSession.objects.get(enrollment=w.enrollment_b1).summary == "summary BEA"

    events = JourneyEvent.objects.filter(kind=EventKind.ERASED)
    assert [(e.enrollment_id, e.actor_id) for e in events] == [(w.enrollment_a1.pk, w.admin.pk)]


def test_erasure_is_idempotent(world):
    w = world
    erase_client(w.client_a1, actor=w.admin)
    snapshot = totals()
    assert erase_client(w.client_a1, actor=w.admin) is False
    assert totals() == snapshot
    assert JourneyEvent.objects.filter(kind=EventKind.ERASED).count() == 1


def test_an_admin_anonymises_from_the_card(client, world):
    w = world
    as_user(client, w.admin)
    url = card_url(w.enrollment_a1, "erase_client")
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Yes, anonymise this client" in confirm.content.decode()
    w.client_a1.refresh_from_db()
    assert not is_erased(w.client_a1)

    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == card_url(w.enrollment_a1)
    w.client_a1.refresh_from_db()
    assert is_erased(w.client_a1)
    card = client.get(card_url(w.enrollment_a1)).content.decode()
    assert "This client was anonymised" in card
    assert "Ada Acme" not in card
    # Twice is harmless.
    assert client.post(url).status_code == 302
    assert JourneyEvent.objects.filter(kind=EventKind.ERASED).count() == 1


def test_erasure_retires_the_calendar_feed_and_order_notes(world):
    from wagtail_coaching.models import CalendarFeed, Order
    from wagtail_coaching.portability import erase_client
    from wagtail_coaching.scheduling import feed_of

    client = world.client_a1
    token = feed_of(client).token
    Order.objects.filter(buyer=client).update(note="Paid by Ada's manager")
    erase_client(client, actor=world.admin)
    assert not CalendarFeed.objects.filter(token=token).exists()
    assert set(Order.objects.filter(buyer=client).values_list("note", flat=True)) == {""}
    assert Order.objects.filter(buyer=client).exists()
