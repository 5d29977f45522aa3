"""Event-triggered rules: the dispatcher reads the journey timeline.

Every change a rule can react to is already a timeline event written in the same
transaction as the change (enrolled, step completed, session attended or missed, payment
failed), so the timeline is the outbox of automation: nothing is lost if the broker is down,
and the periodic dispatcher picks the events up in batches, oldest first. Each batch is
claimed with SKIP LOCKED (two dispatchers share the work), matched against the active
rules, fired, and marked handled in one transaction. The occurrence of an event trigger is
the event itself, so a rule fires once per event however often the dispatcher runs.
"""

from django.db import transaction
from django.utils import timezone

from ..conf import coaching_settings
from ..models import (
    EVENT_TRIGGERS,
    RULE_EVENT_KINDS,
    AutomationRule,
    EventKind,
    JourneyEvent,
    Trigger,
)
from .engine import Hit, fire


def _answer_matches(response, question, value):
    for answer in (response or {}).get("answers", []):
        if (answer.get("question") or "").strip().lower() != question.strip().lower():
            continue
        given = answer.get("answer")
        wanted = value.strip().lower()
        if isinstance(given, list):
            return wanted in [str(g).strip().lower() for g in given]
        return str(given).strip().lower() == wanted
    return False


def matches(rule, event):
    """Whether a timeline event is an occurrence of the rule's trigger."""
    activity = event.activity
    completed = event.kind == EventKind.COMPLETED and activity is not None
    if rule.activity_block_id and (activity is None
                                   or activity.block_id != rule.activity_block_id):
        return False
    score = event.data.get("score") if completed else None
    if rule.trigger == Trigger.ENROLLED:
        return event.kind == EventKind.ENROLLED
    if rule.trigger == Trigger.ACTIVITY_COMPLETED:
        return completed
    if rule.trigger == Trigger.FORM_ANSWER:
        return completed and activity.kind == "form" and _answer_matches(
            activity.response, rule.question, rule.value
        )
    if rule.trigger in (Trigger.CHECK_IN_ABOVE, Trigger.CHECK_IN_BELOW):
        if not completed or activity.kind != "check_in" or score is None:
            return False
        if rule.threshold is None:
            return False
        if rule.trigger == Trigger.CHECK_IN_ABOVE:
            return score > rule.threshold
        return score < rule.threshold
    if rule.trigger == Trigger.SESSION_ATTENDED:
        return event.kind == EventKind.SESSION_ATTENDED
    if rule.trigger == Trigger.SESSION_MISSED:
        return event.kind == EventKind.SESSION_MISSED
    if rule.trigger == Trigger.PAYMENT_FAILED:
        return event.kind == EventKind.PAYMENT_FAILED
    return False


def _hit(event):
    context = {"event": event.kind}
    if event.activity is not None:
        context.update(activity_title=event.activity.title, stage=event.activity.stage_block_id)
        if event.data.get("score") is not None:
            context["score"] = event.data["score"]
    for key in ("session", "title", "summary"):
        if key in event.data:
            context[f"session_{key}" if key != "session" else "session_id"] = event.data[key]
    return Hit(event.enrollment_id, f"event:{event.pk}", context)


def dispatch_events(batch_size=None, now=None):
    """Run the event-triggered rules over every timeline event not handled yet.
    Returns (events handled, rules fired)."""
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    handled = fired = 0
    while True:
        with transaction.atomic():
            events = list(
                JourneyEvent.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(rules_done=False, kind__in=RULE_EVENT_KINDS)
                .select_related("activity")
                .order_by("id")[:batch_size]
            )
            if not events:
                return handled, fired
            rules = list(
                AutomationRule.objects.filter(active=True, trigger__in=EVENT_TRIGGERS)
                .order_by("pk")
            )
            for rule in rules:
                hits = [_hit(e) for e in events if matches(rule, e)]
                fired += len(fire(rule, hits, now=now or timezone.now()))
            JourneyEvent.objects.filter(pk__in=[e.pk for e in events]).update(rules_done=True)
            handled += len(events)
