"""Journey messages put into the outbox (a step opened, coaches assigned)."""

from django.urls import NoReverseMatch, reverse

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
