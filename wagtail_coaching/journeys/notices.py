"""Journey messages put into the outbox (a step opened, coaches assigned)."""

from django.db import connections, router
from django.urls import NoReverseMatch, reverse
from wagtail.models import Page

from ..models import ClientActivity, Enrollment
from ..notifications.outbox import Message
from ..utils.people import display_name as _name


def _url(name, *args):
    try:
        return reverse(f"wagtail_coaching:{name}", args=args)
    except NoReverseMatch:
        return ""


def step_open(activity, engagement_title, client_id):
    return Message(
        recipient_id=client_id,
        kind="step_open",
        dedup_key=f"step-open:{activity.pk}",
        payload={
            "engagement_title": engagement_title,
            "activity_title": activity.title,
            "activity_path": _url("activity", activity.public_id),
        },
    )




def step_open_select(activity_ids):
    """``step_open`` for many activities as a query (for ``outbox.queue_selected``): the
    same recipient, key and payload, computed by the database. Returns ``(sql, params)``."""
    placeholder = "00000000-0000-0000-0000-000000000000"
    path = _url("activity", placeholder)
    prefix, _, suffix = path.partition(placeholder)
    activity, enrollment, page = (
        connections[router.db_for_read(m)].ops.quote_name(m._meta.db_table)
        for m in (ClientActivity, Enrollment, Page)
    )
    sql = (
        "SELECT e.client_id AS recipient_id, 'step_open' AS kind, "
        "'step-open:' || a.id AS dedup_key, jsonb_build_object("
        "'engagement_title', p.title, 'activity_title', a.title, 'activity_path', "
        "CASE WHEN %s THEN %s || a.public_id::text || %s ELSE '' END) AS payload "
        f"FROM {activity} a JOIN {enrollment} e ON e.id = a.enrollment_id "
        f"JOIN {page} p ON p.id = e.engagement_id "
        "WHERE a.id = ANY(%s::bigint[]) ORDER BY a.enrollment_id, a.id"
    )
    return sql, [bool(path), prefix, suffix, list(activity_ids)]


def coach_assigned(assignment, previous, engagement_title):
    """The new coach, the client and (on a reassignment) the previous coach are told."""
    client = assignment.enrollment.client
    coach = assignment.coach
    key = f"assignment:{assignment.pk}"
    payload = {
        "engagement_title": engagement_title,
        "client_name": _name(client),
        "coach_name": _name(coach),
        "role": assignment.role,
        "dashboard_path": _url("dashboard"),
    }
    messages = [
        Message(coach.pk, "coach_new_client", f"{key}:coach", payload),
        Message(client.pk, "client_coach_assigned", f"{key}:client", payload),
    ]
    if previous is not None:
        messages.append(
            Message(previous.coach_id, "coach_client_moved", f"{key}:previous", payload)
        )
    return messages


def hand_off(assignment, main, engagement_title):
    """A stage led by another role: the new coach and the client's coach are told."""
    client = assignment.enrollment.client
    payload = {
        "engagement_title": engagement_title,
        "client_name": _name(client),
        "coach_name": _name(assignment.coach),
        "role": assignment.role,
    }
    messages = []
    if main is not None:
        messages.append(
            Message(main.coach_id, "coach_handoff", f"handoff:{assignment.pk}:main", payload)
        )
    return messages


def _admin_url(name, *args):
    try:
        return reverse(f"wagtail_coaching_admin:{name}", args=args)
    except NoReverseMatch:
        return ""


def co_coach_added(assignment, main, engagement_title, stage_title):
    """The co-coach and the client's coach are told (the client sees both on their
    dashboard)."""
    enrollment = assignment.enrollment
    payload = {
        "engagement_title": engagement_title,
        "client_name": _name(enrollment.client),
        "coach_name": _name(assignment.coach),
        "co_coach_id": assignment.coach_id,
        "stage_title": stage_title,
        "card_path": _admin_url("client_card", enrollment.public_id),
    }
    key = f"co-coach:{assignment.pk}"
    messages = [Message(assignment.coach_id, "coach_co_coaching", f"{key}:co", payload)]
    if main is not None and main.coach_id != assignment.coach_id:
        messages.append(Message(main.coach_id, "coach_co_coaching", f"{key}:main", payload))
    return messages


def co_coach_removed(assignment, engagement_title):
    """The co-coach is told they no longer co-coach the client."""
    payload = {
        "engagement_title": engagement_title,
        "client_name": _name(assignment.enrollment.client),
        "coach_name": _name(assignment.coach),
    }
    return [Message(
        assignment.coach_id, "coach_co_coaching_ended", f"co-coach:{assignment.pk}:ended",
        payload,
    )]


def stage_needs_coach(enrollment, stage_block_id, stage_title, role_label, admin_ids):
    """The coaching admins are told that a client reached a stage nobody leads yet."""
    payload = {
        "engagement_title": enrollment.engagement.title,
        "client_name": _name(enrollment.client),
        "stage_title": stage_title,
        "role": role_label,
        "card_path": _admin_url("client_card", enrollment.public_id),
    }
    return [
        Message(
            admin_id, "stage_needs_coach",
            f"stage-needs-coach:{enrollment.pk}:{stage_block_id}:{admin_id}", payload,
        )
        for admin_id in admin_ids
    ]
