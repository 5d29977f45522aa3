"""Editing a group session as the edit form does it: its details, its coach and its
co-coaches, for this session or it and the later ones of its series, in one transaction.

Any of the three parts may be left out; whatever goes wrong (a started session, too few
seats, a coach the person editing may not hand the session to) raises a named error and
nothing is changed."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import GroupSession, SessionStatus
from ..permissions import allowed
from .errors import CoachNotAllowed
from .series import calendar_series
from .sessions import (
    ONE,
    change_co_coaches,
    change_coach,
    coaches_changed,
    sessions_reached,
    update_sessions,
)


def open_session_ids(session, scope, now):
    """The open sessions a change reaches: the session, or it and the later ones of its
    series (the same reach as ``update_sessions``), leaving out cancelled or finished
    ones."""
    return list(
        sessions_reached(session, scope)
        .filter(status=SessionStatus.SCHEDULED, ends_at__gt=now)
        .values_list("pk", flat=True)
    )


def may_hand_to(actor, session, coach):
    """Whether ``actor`` may make ``coach`` lead ``session``: only if they could still
    change it afterwards (a coach hands it to a teammate, an admin to anyone)."""
    return allowed(actor, "change_groupsession", GroupSession(coach=coach, team=session.team))


def edit_session(session, changes, *, coach=None, co_coaches=None, actor, scope=ONE,
                 now=None):
    """Apply ``changes`` (the fields ``update_sessions`` takes), a new ``coach`` and a new
    list of ``co_coaches`` (``None``: leave them as they are) to ``session``, or to it and
    the later sessions of its series (``scope=FUTURE``).

    Returns how many sessions were updated (0 when nothing was asked). Raises
    ``CoachNotAllowed`` when ``actor`` may not hand the session to ``coach``, and the
    scheduling errors of the services it calls; either way nothing is changed.
    """
    now = now or timezone.now()
    if coach is not None and not may_hand_to(actor, session, coach):
        raise CoachNotAllowed(_("You cannot hand the session to this coach."))
    if not changes and coach is None and co_coaches is None:
        return 0
    with transaction.atomic():
        ids = open_session_ids(session, scope, now)
        changed = (
            update_sessions(session, changes, scope=scope, actor=actor, now=now)
            if changes else []
        )
        # A series held as one event: its coaches hear once, whatever the number of sessions.
        concerned = {}
        if coach is not None:
            for target in GroupSession.objects.filter(pk__in=ids).order_by("starts_at"):
                before = target.coach_id
                change_coach(target, coach, actor=actor, now=now, notify=False)
                series = calendar_series(target)
                if series is not None and before != coach.pk:
                    concerned.setdefault(series.pk, (series, set()))[1].update(
                        {before, coach.pk})
        if co_coaches is not None:
            for series, coach_ids in change_co_coaches(ids, co_coaches, now=now, notify=False):
                concerned.setdefault(series.pk, (series, set()))[1].update(coach_ids)
        for series, coach_ids in concerned.values():
            coaches_changed(series, coach_ids)
    return max(len(changed), len(ids) if (coach or co_coaches is not None) else 0)
