"""Data portability and erasure: a client's own data, whole, and how to anonymise a client.

``client_data(user)`` gathers everything the coaching app holds about one client in a fixed
number of queries (one per kind, however long the history); ``as_json`` and ``as_csv_zip``
turn it into a download (a zip of CSV files, one per kind, built with the standard library;
cells that a spreadsheet would run as a formula are written as text, see ``utils.exports``).
Times are ISO 8601 in UTC.

``erase_client(user, actor=...)`` anonymises a client while keeping the rows, states, dates
and amounts that reports count: names, email, answers, note bodies and session summaries
go; enrollments, completed steps, scores and orders stay. Their journeys end there: open
enrollments take the status "Ended (data erased)" (no longer active, never at risk, left
alone by jobs and rules) and their places in sessions still to come are cancelled. It is
recorded on each enrollment's timeline and is safe to run twice.
"""

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .conversations.privacy import erase_conversations
from .conversations.privacy import export_rows as message_rows
from .journeys import end_for_erasure
from .models import (
    CalendarFeed,
    ClientActivity,
    CoachingSession,
    Consent,
    Enquiry,
    EnquiryReply,
    Enrollment,
    EventKind,
    JourneyEvent,
    Notification,
    NotificationChannel,
    Order,
    Registration,
    SessionNote,
)
from .permissions import ROLE_CLIENT, scope_for
from .scheduling.leaving import cancel_upcoming
from .utils.exports import csv_cell
from .utils.people import display_name as _person

ERASED_NAME = "Anonymised"
ERASED_NOTE = "[erased]"

# Columns of each kind, in the order the CSV files show them.
FIELDS = {
    "profile": ("username", "first_name", "last_name", "email", "date_joined", "last_login"),
    "enrollments": (
        "id", "engagement", "status", "source", "company", "cohort", "starts_at", "ends_at",
        "completed_at", "created_at",
    ),
    "activities": (
        "id", "enrollment", "engagement", "stage", "title", "kind", "source", "state",
        "unlocked_at", "due_at", "completed_at", "score", "response",
    ),
    "timeline": ("enrollment", "engagement", "kind", "label", "at", "activity"),
    "group_sessions": (
        "id", "session", "starts_at", "ends_at", "time_zone", "session_status", "status",
        "invited_at", "registered_at", "waitlisted_at",
    ),
    "one_to_one_sessions": (
        "id", "enrollment", "engagement", "coach", "starts_at", "ends_at", "time_zone",
        "status", "booked_at", "cancelled_at", "summary",
    ),
    "notes": ("enrollment", "engagement", "author", "created_at", "body"),
    "messages": (
        "enrollment", "engagement", "author", "from_client", "created_at", "body", "attachments",
    ),
    "orders": (
        "id", "offer", "price", "payment_model", "amount", "currency", "status", "source",
        "amount_refunded", "created_at", "paid_at", "refunded_at", "access_ends_at",
    ),
    "enquiries": (
        "id", "offer", "price", "name", "email", "message", "status", "created_at",
    ),
    "consents": ("purpose", "granted", "at"),
    "notifications": ("kind", "created_at", "sent_at", "read_at", "payload"),
}


def _plain(value):
    """A JSON-friendly value: times in UTC ISO 8601, decimals and ids as text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    return value


def _row(_kind, **values):
    return {name: _plain(values.get(name)) for name in FIELDS[_kind]}




def client_data(user):
    """Everything held about ``user`` as a client: ``{kind: [row, ...]}`` plus ``profile``.

    One query per kind (a dozen at most), whatever the size of the history. Notes are those
    shared with the client, exactly what the client may read (``view_sessionnote``).
    """
    enrollments = list(
        Enrollment.objects.filter(client=user)
        .select_related("engagement", "company", "cohort")
        .order_by("created_at", "pk")
    )
    by_pk = {e.pk: e for e in enrollments}

    def engagement_of(enrollment_id):
        e = by_pk.get(enrollment_id)
        return e.engagement.title if e is not None else ""

    def public_id_of(enrollment_id):
        e = by_pk.get(enrollment_id)
        return e.public_id if e is not None else None

    activities = ClientActivity.objects.filter(enrollment__client=user).order_by(
        "enrollment_id", "stage_position", "position", "pk"
    )
    events = (
        JourneyEvent.objects.filter(enrollment__client=user)
        .select_related("activity")
        .order_by("at", "pk")
    )
    registrations = (
        Registration.objects.filter(user=user).select_related("session")
        .order_by("session__starts_at", "pk")
    )
    one_to_ones = (
        CoachingSession.objects.filter(enrollment__client=user).select_related("coach")
        .order_by("starts_at", "pk")
    )
    notes = (
        SessionNote.objects.filter(scope_for("view_sessionnote", ROLE_CLIENT).q(user))
        .select_related("author").order_by("created_at", "pk")
    )
    orders = Order.objects.filter(buyer=user).select_related("offer").order_by("created_at", "pk")
    consents = Consent.objects.filter(client=user).order_by("purpose", "pk")
    # Questions asked from offer pages with the account's email address (before or after
    # the account was made); the replies went to that address.
    enquiries = _enquiries_of(user).select_related("offer").order_by("created_at", "pk")
    notifications = Notification.objects.filter(
        recipient=user, channel=NotificationChannel.IN_APP
    ).order_by("created_at", "pk")

    return {
        "profile": _row(
            "profile", username=user.get_username(), first_name=user.first_name,
            last_name=user.last_name, email=user.email, date_joined=user.date_joined,
            last_login=user.last_login,
        ),
        "enrollments": [
            _row(
                "enrollments", id=e.public_id, engagement=e.engagement.title, status=e.status,
                source=e.source, company=e.company.name if e.company else "",
                cohort=e.cohort.name if e.cohort else "", starts_at=e.starts_at,
                ends_at=e.ends_at, completed_at=e.completed_at, created_at=e.created_at,
            )
            for e in enrollments
        ],
        "activities": [
            _row(
                "activities", id=a.public_id, enrollment=public_id_of(a.enrollment_id),
                engagement=engagement_of(a.enrollment_id), stage=a.stage_title, title=a.title,
                kind=a.kind, source=a.source, state=a.state, unlocked_at=a.unlocked_at,
                due_at=a.due_at, completed_at=a.completed_at, score=a.score,
                response=a.response,
            )
            for a in activities
        ],
        "timeline": [
            _row(
                "timeline", enrollment=public_id_of(ev.enrollment_id),
                engagement=engagement_of(ev.enrollment_id), kind=ev.kind,
                label=str(ev.get_kind_display()), at=ev.at,
                activity=ev.activity.title if ev.activity else "",
            )
            for ev in events
        ],
        "group_sessions": [
            _row(
                "group_sessions", id=r.public_id, session=r.session.title,
                starts_at=r.session.starts_at, ends_at=r.session.ends_at,
                time_zone=r.session.time_zone, session_status=r.session.status,
                status=r.status, invited_at=r.invited_at, registered_at=r.registered_at,
                waitlisted_at=r.waitlisted_at,
            )
            for r in registrations
        ],
        "one_to_one_sessions": [
            _row(
                "one_to_one_sessions", id=s.public_id, enrollment=public_id_of(s.enrollment_id),
                engagement=engagement_of(s.enrollment_id), coach=_person(s.coach),
                starts_at=s.starts_at, ends_at=s.ends_at, time_zone=s.time_zone,
                status=s.status, booked_at=s.booked_at, cancelled_at=s.cancelled_at,
                summary=s.summary,
            )
            for s in one_to_ones
        ],
        "notes": [
            _row(
                "notes", enrollment=public_id_of(n.enrollment_id),
                engagement=engagement_of(n.enrollment_id), author=_person(n.author),
                created_at=n.created_at, body=n.body,
            )
            for n in notes
        ],
        "messages": [_row("messages", **row) for row in message_rows(user)],
        "orders": [
            _row(
                "orders", id=o.public_id, offer=o.offer.title, price=o.price_label,
                payment_model=o.payment_model, amount=o.amount, currency=o.currency,
                status=o.status, source=o.source, amount_refunded=o.amount_refunded,
                created_at=o.created_at, paid_at=o.paid_at, refunded_at=o.refunded_at,
                access_ends_at=o.access_ends_at,
            )
            for o in orders
        ],
        "enquiries": [
            _row(
                "enquiries", id=q.public_id, offer=q.offer.title, price=q.price_label,
                name=q.name, email=q.email, message=q.message, status=q.status,
                created_at=q.created_at,
            )
            for q in enquiries
        ],
        "consents": [
            _row("consents", purpose=c.purpose, granted=c.granted, at=c.at) for c in consents
        ],
        "notifications": [
            _row(
                "notifications", kind=n.kind, created_at=n.created_at, sent_at=n.sent_at,
                read_at=n.read_at, payload=n.payload,
            )
            for n in notifications
        ],
    }


def _enquiries_of(user):
    """The enquiries sent with ``user``'s email address (none for an address left empty)."""
    if not user.email:
        return Enquiry.objects.none()
    return Enquiry.objects.filter(email__iexact=user.email)


def as_json(data):
    """The export as UTF-8 JSON."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str).encode("utf-8")


def _cell(value):
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return csv_cell(value)


def as_csv_zip(data):
    """The export as a zip of CSV files, one per kind (``profile.csv``, ``orders.csv``...)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for kind, columns in FIELDS.items():
            rows = data.get(kind) or []
            if isinstance(rows, dict):
                rows = [rows]
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({name: _cell(row.get(name)) for name in columns})
            archive.writestr(f"{kind}.csv", text.getvalue().encode("utf-8"))
    return buffer.getvalue()


# -- Erasure ---------------------------------------------------------------------------------

def erased_username(user):
    return f"erased-{user.pk}"


def is_erased(user):
    """Whether ``user`` has been anonymised with ``erase_client``."""
    return user.get_username() == erased_username(user) and not user.is_active


def erase_client(user, *, actor, now=None):
    """Anonymise the client ``user``; returns True if anything was left to erase.

    Keeps every row, state, date, score and amount (reports' counts stay right) and drops
    what identifies the client or what they or their coaches wrote: name, email, password,
    answers, note bodies, session summaries, messages and the files shared in them,
    notification payloads; consents are withdrawn. Open enrollments end with the status
    "Ended (data erased)" (``journeys.end_for_erasure``) and the client's places in sessions
    still to come are cancelled (``scheduling.leaving``), so that the coach's calendar and
    the seats are free again.
    Each enrollment's timeline records the erasure once (``EventKind.ERASED``, with the
    status it ended from).
    """
    now = now or timezone.now()
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        changed = not is_erased(user)
        # Before the address itself is erased: the questions asked with it.
        changed |= erase_enquiries(user, f"erased-{user.pk}@invalid")
        user.first_name = ERASED_NAME
        user.last_name = ERASED_NAME
        user.email = f"erased-{user.pk}@invalid"
        setattr(user, User.USERNAME_FIELD, erased_username(user))
        user.set_unusable_password()
        user.is_active = False
        user.save()
        # After the new name is saved: the coach's cancellations name the client as erased.
        changed |= bool(cancel_upcoming(user, actor=actor, now=now))
        ended = end_for_erasure(user)
        changed |= bool(ended)
        changed |= bool(
            ClientActivity.objects.filter(enrollment__client=user, response__isnull=False)
            .update(response=None)
        )
        changed |= bool(
            SessionNote.objects.filter(enrollment__client=user).exclude(body=ERASED_NOTE)
            .update(body=ERASED_NOTE)
        )
        changed |= bool(
            CoachingSession.objects.filter(enrollment__client=user).exclude(summary="")
            .update(summary="")
        )
        changed |= erase_conversations(user)
        changed |= bool(
            Consent.objects.filter(client=user, granted=True).update(granted=False, at=now)
        )
        changed |= bool(
            Notification.objects.filter(recipient=user).exclude(payload={}).update(payload={})
        )
        # The calendar feed's secret URL would still list their sessions.
        changed |= bool(CalendarFeed.objects.filter(user=user).delete()[0])
        # What the team wrote about an order (amounts and references stay for the books).
        changed |= bool(Order.objects.filter(buyer=user).exclude(note="").update(note=""))
        # Messages not sent yet would go to nobody: they are skipped.
        Notification.objects.filter(recipient=user, sent_at__isnull=True).update(
            sent_at=now, skipped=True
        )
        already = JourneyEvent.objects.filter(
            enrollment__client=user, kind=EventKind.ERASED
        ).values("enrollment_id")
        new_events = [
            JourneyEvent(
                enrollment_id=pk, kind=EventKind.ERASED, actor=actor, at=now,
                data={"from": ended[pk]} if pk in ended else {},
            )
            for pk in Enrollment.objects.filter(client=user).exclude(pk__in=already)
            .values_list("pk", flat=True)
        ]
        JourneyEvent.objects.bulk_create(new_events)
        changed |= bool(new_events)
    return changed


def erase_enquiries(user, erased_email):
    """Anonymise the enquiries sent with ``user``'s email address: the name, address,
    question and replies go, the rows (offer, status, dates, order) stay for the sales
    figures; emails still unsent to that address are skipped. True if anything changed."""
    # Already anonymised ones (the erased account's own address matches them) stay as they are.
    enquiries = _enquiries_of(user).exclude(name=ERASED_NAME, message=ERASED_NOTE)
    if not enquiries.exists():
        return False
    address = user.email
    ids = list(enquiries.values_list("pk", flat=True))
    EnquiryReply.objects.filter(enquiry_id__in=ids).update(body=ERASED_NOTE)
    Enquiry.objects.filter(pk__in=ids).update(
        name=ERASED_NAME, email=erased_email, message=ERASED_NOTE, referral=""
    )
    now = timezone.now()
    Notification.objects.filter(email__iexact=address, sent_at__isnull=True).update(
        sent_at=now, skipped=True
    )
    Notification.objects.filter(email__iexact=address).update(email=erased_email, payload={})
    return True
