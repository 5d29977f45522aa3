"""A client's held sessions as they see them: each with its summary, the notes shared with
them and the practices it gave, for their journey (beside the step the session belongs to)
and their sessions page.

A read model: four queries however many sessions, notes and practices. What the client may
read is the matrix's answer (``view_coachingsession``, ``view_sessionnote``); a group session
is theirs to look back on when they attended it.
"""

from dataclasses import dataclass, field

from django.db.models import Q

from ..models import (
    CoachingSessionStatus,
    FollowUpPractice,
    Registration,
    RegistrationStatus,
)
from ..permissions import visible
from ..utils.people import display_name

ONE_TO_ONE, GROUP = "one_to_one", "group"


@dataclass
class HeldSession:
    """One held session of the client, with what came after it."""

    kind: str  # ONE_TO_ONE or GROUP
    pk: int
    public_id: object
    title: str
    starts_at: object
    ends_at: object
    coach_name: str
    summary: str
    enrollment_id: int | None = None  # the journey it belongs to (a 1:1's; a group's: None)
    activity_id: int | None = None  # the 1:1 step it was booked from
    notes: list = field(default_factory=list)  # SessionNotes shared with the client
    practices: list = field(default_factory=list)  # ClientActivity rows it gave

    @property
    def key(self):
        return (self.kind, self.pk)

    @property
    def has_content(self):
        return bool(self.summary or self.notes or self.practices)


def client_session_history(user, enrollment_ids=None):
    """``user``'s held sessions, the latest first: their held 1:1 sessions (of
    ``enrollment_ids`` if given) and the group sessions they attended. Four queries."""
    ones = (
        visible(user, "view_coachingsession")
        .filter(enrollment__client=user, status=CoachingSessionStatus.COMPLETED)
        .select_related("coach", "enrollment__engagement")
    )
    if enrollment_ids is not None:
        ones = ones.filter(enrollment_id__in=list(enrollment_ids))
    held = [
        HeldSession(
            ONE_TO_ONE, s.pk, s.public_id, s.enrollment.engagement.title, s.starts_at,
            s.ends_at, display_name(s.coach), s.summary, s.enrollment_id, s.activity_id,
        )
        for s in ones
    ]
    for r in Registration.objects.filter(
        user=user, status=RegistrationStatus.ATTENDED
    ).select_related("session__coach"):
        s = r.session
        held.append(HeldSession(
            GROUP, s.pk, s.public_id, s.title, s.starts_at, s.ends_at,
            display_name(s.coach), s.summary,
        ))
    if not held:
        return []
    by_key = {h.key: h for h in held}
    one_ids = [h.pk for h in held if h.kind == ONE_TO_ONE]
    group_ids = [h.pk for h in held if h.kind == GROUP]
    about = Q(coaching_session_id__in=one_ids) | Q(group_session_id__in=group_ids)
    for note in (
        visible(user, "view_sessionnote").filter(about, enrollment__client=user)
        .order_by("created_at", "pk")
    ):
        _owner(by_key, note).notes.append(note)
    for follow_up in (
        FollowUpPractice.objects.filter(about, activity__enrollment__client=user)
        .select_related("activity").order_by("pk")
    ):
        _owner(by_key, follow_up).practices.append(follow_up.activity)
    held.sort(key=lambda h: (h.starts_at, h.pk), reverse=True)
    return held


def _owner(by_key, row):
    if row.coaching_session_id is not None:
        return by_key[(ONE_TO_ONE, row.coaching_session_id)]
    return by_key[(GROUP, row.group_session_id)]


def attach_to_outline(outline, history):
    """Set ``held_sessions`` (oldest first, those with something to read) on the steps of
    ``outline`` the sessions belong to: a 1:1 session beside the step it was booked from, a
    group session beside the step its attendance completed. No queries."""
    by_step = {}
    group_steps = {}
    for stage in outline.stages:
        for row in stage.activities:
            row.held_sessions = []
            response = getattr(row, "response", None)
            if row.kind == "group_session" and isinstance(response, dict):
                group_steps[str(response.get("group_session") or "")] = row
            by_step[row.pk] = row
    for held in sorted(history, key=lambda h: (h.starts_at, h.pk)):
        if not held.has_content:
            continue
        if held.kind == ONE_TO_ONE:
            row = by_step.get(held.activity_id)
        else:
            row = group_steps.get(str(held.public_id))
        if row is not None:
            row.held_sessions.append(held)
    return outline


def follow_up_of(activity):
    """The held session a follow-up practice came from, as its client sees it (or None):
    for the practice's own page. Two queries at most."""
    follow_up = (
        FollowUpPractice.objects.filter(activity=activity)
        .select_related("coaching_session__coach", "group_session__coach").first()
    )
    if follow_up is None:
        return None
    s = follow_up.coaching_session or follow_up.group_session
    kind = ONE_TO_ONE if follow_up.coaching_session_id else GROUP
    title = activity.enrollment.engagement.title if kind == ONE_TO_ONE else s.title
    return HeldSession(
        kind, s.pk, s.public_id, title, s.starts_at, s.ends_at, display_name(s.coach),
        s.summary,
    )
