"""Journey messages put into the outbox (welcome, a step opened)."""

from django.urls import NoReverseMatch, reverse

from ..outbox import Message


def _url(name, *args):
    try:
        return reverse(f"wagtail_coaching:{name}", args=args)
    except NoReverseMatch:
        return ""


def welcome(enrollment, engagement):
    return Message(
        recipient_id=enrollment.client_id,
        kind="welcome",
        dedup_key=f"welcome:{enrollment.pk}",
        payload={
            "engagement_title": engagement.title,
            "dashboard_path": _url("dashboard"),
        },
    )


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
