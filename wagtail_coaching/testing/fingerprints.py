"""Fingerprints of what the journey services wrote: every business column of an engagement's
enrollments, activity rows, journey events and step messages, with database ids replaced by
what they stand for (the client, the block, the program revision).

Two runs that wrote the same journeys have equal fingerprints whatever ids, uuids and
creation times the database gave their rows: the set-based SQL is checked against the
Python engine this way, and each benchmark against its floor.
"""

import hashlib
import json
import re

from django.contrib.auth import get_user_model

from ..models import ClientActivity, Enrollment, JourneyEvent, Notification

ACTIVITY_COLUMNS = (
    "source", "kind", "title", "stage_block_id", "stage_title", "stage_position", "position",
    "unlock_rule", "unlock_days", "unlock_date", "value", "state", "unlock_at", "unlocked_at",
    "due_at", "completed_at", "response", "score",
)
ENROLLMENT_COLUMNS = (
    "status", "source", "company__name", "cohort__name", "starts_at", "ends_at",
    "completed_at",
)


def _client_keys(enrollments, client_key):
    users = get_user_model().objects.in_bulk({e["client_id"] for e in enrollments})
    return {pk: client_key(user) for pk, user in users.items()}


def journey_rows(engagement_id, client_key=lambda user: user.get_username()):
    """{"enrollments", "activities", "events", "notifications"}: sorted lists of tuples of
    the business columns of ``engagement_id``'s journeys. ``client_key`` names a client
    (by default their username)."""
    enrollments = list(
        Enrollment.objects.filter(engagement_id=engagement_id).values(
            "id", "client_id", "program_revision_id", *ENROLLMENT_COLUMNS
        )
    )
    clients = _client_keys(enrollments, client_key)
    enrollment_key = {e["id"]: clients[e["client_id"]] for e in enrollments}
    revisions = sorted({e["program_revision_id"] or 0 for e in enrollments})
    events_qs = JourneyEvent.objects.filter(enrollment__engagement_id=engagement_id)
    revisions = sorted(
        set(revisions)
        | {r for r in events_qs.values_list("data__revision", flat=True) if r is not None}
    )
    revision_key = {r: index for index, r in enumerate(revisions)}

    activities = list(
        ClientActivity.objects.filter(enrollment__engagement_id=engagement_id).values(
            "id", "public_id", "enrollment_id", "block_id", *ACTIVITY_COLUMNS
        )
    )
    activity_key = {}
    public_key = {}
    for row in activities:
        # An extra activity's block id is made up when it is added: named by its title.
        block = row["block_id"] if row["source"] == "program" else f"extra:{row['title']}"
        activity_key[row["id"]] = (enrollment_key[row["enrollment_id"]], block)
        public_key[str(row["public_id"])] = block

    def plain(value):
        return json.dumps(value, sort_keys=True, default=str)

    def event_data(data):
        data = dict(data or {})
        if "revision" in data:
            data["revision"] = revision_key.get(data["revision"], "?")
        return plain(data)

    users = get_user_model().objects.in_bulk(
        {a for a in events_qs.values_list("actor_id", flat=True) if a}
    )
    step_keys = {f"step-open:{pk}": key for pk, key in activity_key.items()}
    notifications = [
        n for n in Notification.objects.filter(
            kind="step_open",
            recipient_id__in=Enrollment.objects.filter(engagement_id=engagement_id)
            .values("client_id"),
        ).values("recipient_id", "kind", "dedup_key", "channel", "payload", "send_after")
        if n["dedup_key"] in step_keys
    ]
    recipients = get_user_model().objects.in_bulk({n["recipient_id"] for n in notifications})

    def payload(value):
        value = dict(value)
        path = value.get("activity_path") or ""
        value["activity_path"] = re.sub(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            lambda m: public_key.get(m.group(0), "?"), path,
        )
        return plain(value)

    return {
        "enrollments": sorted(
            (clients[e["client_id"]], revision_key[e["program_revision_id"] or 0])
            + tuple(str(e[c]) for c in ENROLLMENT_COLUMNS)
            for e in enrollments
        ),
        "activities": sorted(
            activity_key[row["id"]] + tuple(plain(row[c]) for c in ACTIVITY_COLUMNS)
            for row in activities
        ),
        "events": sorted(
            (
                enrollment_key[e["enrollment_id"]],
                str(activity_key.get(e["activity_id"])),
                e["kind"],
                client_key(users[e["actor_id"]]) if e["actor_id"] else "",
                str(e["at"]),
                event_data(e["data"]),
            )
            for e in events_qs.values("enrollment_id", "activity_id", "kind", "actor_id", "at",
                                      "data")
        ),
        "notifications": sorted(
            (
                client_key(recipients[n["recipient_id"]]), n["kind"],
                str(step_keys[n["dedup_key"]]), n["channel"], payload(n["payload"]),
                str(n["send_after"]),
            )
            for n in notifications
        ),
    }


def digest(rows):
    """A short hash of ``journey_rows``'s result, per table: equal rows, equal digests."""
    return {
        table: hashlib.sha256(repr(values).encode()).hexdigest()[:16]
        for table, values in rows.items()
    }
