"""The unlock engine: which locked activities of an enrollment should now be open.

One rule set, used when a client enrolls, when the program is re-synced, when an activity is
completed or skipped, and by the periodic job for time-based rules.
"""

import datetime

from ..blocks import UnlockRule
from ..models import DONE_STATES, ActivityState
from ..utils.time_zones import coaching_time_zone

TIME_RULES = {
    UnlockRule.DAYS_AFTER_ENROLLMENT,
    UnlockRule.DAYS_AFTER_COHORT_START,
    UnlockRule.ON_DATE,
}


def _local_midnight(date):
    return datetime.datetime.combine(date, datetime.time.min, tzinfo=coaching_time_zone())


def unlock_time(rule, days, date, enrollment, cohort_start=None):
    """When a time-based rule opens the activity (aware datetime), or None for other rules.

    "N days after the cohort starts" counts from the cohort's start date at local midnight;
    a client enrolled without a cohort counts from their own enrollment start.
    """
    if rule == UnlockRule.DAYS_AFTER_ENROLLMENT:
        return enrollment.starts_at + datetime.timedelta(days=days or 0)
    if rule == UnlockRule.DAYS_AFTER_COHORT_START:
        if cohort_start is not None:
            return _local_midnight(cohort_start) + datetime.timedelta(days=days or 0)
        return enrollment.starts_at + datetime.timedelta(days=days or 0)
    if rule == UnlockRule.ON_DATE and date is not None:
        return _local_midnight(date)
    return None


def _should_open(row, previous, now):
    rule = row.unlock_rule
    if rule == UnlockRule.IMMEDIATELY:
        return True
    if rule == UnlockRule.AFTER_PREVIOUS:
        return previous is None or previous.state in DONE_STATES
    if rule in TIME_RULES:
        return row.unlock_at is not None and row.unlock_at <= now
    return False  # manual


def open_due(rows, now, enrollment_active=True):
    """Open every locked row whose rule is met; returns the rows that changed.

    ``rows`` are one enrollment's activities in journey order; removed rows are ignored for
    "the previous activity". Opening a row never cascades further in the same pass, because
    an open (not yet completed) row does not satisfy "after the previous one".
    """
    if not enrollment_active:
        return []
    opened = []
    previous = None
    for row in rows:
        if row.state == ActivityState.REMOVED:
            continue
        if row.state == ActivityState.LOCKED and _should_open(row, previous, now):
            row.state = ActivityState.AVAILABLE
            row.unlocked_at = now
            opened.append(row)
        previous = row
    return opened


def journey_order(rows):
    return sorted(rows, key=lambda r: (r.stage_position, r.position, r.pk or 0))
