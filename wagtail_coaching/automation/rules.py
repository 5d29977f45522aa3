"""Operating an automation rule: pausing and resuming it, and reading what it did (its
firings) or would do now (a dry run), for the clients a person may see."""

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import AutomationRule, RuleFiring
from ..permissions import visible
from .timed import due_now

# Firings listed on a rule's page, and enrollments on its dry run.
FIRINGS_SHOWN = 50
DRY_RUN_LIMIT = 100


def pause_rule(rule_id, now=None):
    """Pause an active rule. Returns whether it was active."""
    return bool(AutomationRule.objects.filter(pk=rule_id, active=True).update(
        active=False, updated_at=now or timezone.now()
    ))


def resume_rule(rule_id, now=None):
    """Switch a paused rule on again: it acts on what comes due from now on. Returns whether
    it was paused."""
    now = now or timezone.now()
    return bool(AutomationRule.objects.filter(pk=rule_id, active=False).update(
        active=True, active_since=now, updated_at=now
    ))


def firings_seen(user, rule, limit=FIRINGS_SHOWN):
    """The rule's firings for enrollments ``user`` may see, latest first: how many, and the
    first ``limit``."""
    firings = RuleFiring.objects.filter(
        rule=rule, enrollment__in=visible(user, "view_enrollment").order_by().values("pk")
    )
    rows = list(
        firings.select_related("enrollment__client", "enrollment__engagement")
        .order_by("-fired_at", "-id")[:limit]
    )
    return firings.count(), rows


def recent_firings(user, since):
    """How often a rule fired since ``since`` for clients ``user`` may see (a subquery on a
    rule)."""
    firings = (
        RuleFiring.objects.filter(
            rule=OuterRef("pk"), fired_at__gte=since,
            enrollment__in=visible(user, "view_enrollment").order_by().values("pk"),
        )
        .order_by().values("rule").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(firings, output_field=IntegerField()), Value(0))


def dry_run(user, rule, limit=DRY_RUN_LIMIT):
    """The enrollments ``rule`` would act on now that ``user`` may see (at most ``limit``),
    and whether the check stopped at its limit. Nothing is fired: it runs in a transaction
    that is rolled back."""
    with transaction.atomic():
        due = due_now(rule, limit=limit + 1)
        transaction.set_rollback(True)
    capped = len(due) > limit
    seen = set(
        visible(user, "view_enrollment").filter(pk__in=[e.pk for e in due])
        .values_list("pk", flat=True)
    )
    return [e for e in due[:limit] if e.pk in seen], capped
