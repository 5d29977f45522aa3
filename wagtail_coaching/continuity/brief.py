"""The coach's brief before a session: one read model over a client's journey.

For each enrollment: the client's goals and context as they stated them in their forms, the
check-in trend since the last held session, that session's summary and which of its
practices were done since, the open and overdue steps, the next 1:1 session and the time
since the last contact.

``coach_briefs`` answers for any number of enrollments in a fixed number of queries (four,
and whatever ``contact_times`` adds), however many sessions and steps each has. It returns
plain data; who may read it is the caller's question (``view_journey_detail``: the brief
holds answers and check-in values).
"""

from dataclasses import dataclass, field

from django.utils import timezone

from ..journeys.practices import adherence
from ..models import (
    ActivityState,
    ClientActivity,
    CoachingSession,
    CoachingSessionStatus,
    Conversation,
    Registration,
    RegistrationStatus,
)
from ..utils.people import display_name
from .intake import form_answers


@dataclass
class CheckIn:
    title: str
    score: int
    at: object


@dataclass
class LastSession:
    """The latest held session (1:1 of this journey, or a group session the client
    attended), with its practices for this client and whether each was done since."""

    kind: str  # "one_to_one" or "group"
    title: str
    starts_at: object
    coach_name: str
    summary: str
    practices: list = field(default_factory=list)  # (ClientActivity, done: bool)
    # {activity pk: PracticeStatus} of the practices that repeat (days practised, streak).
    practising: dict = field(default_factory=dict)

    @property
    def practices_done(self):
        return sum(1 for _row, done in self.practices if done)

    @property
    def lines(self):
        """(row, done, PracticeStatus or None) for each practice, for templates."""
        return [(row, done, self.practising.get(row.pk)) for row, done in self.practices]


@dataclass
class Brief:
    enrollment: object
    answers: list  # intake.FormAnswers
    checkins: list  # CheckIn since the last session, oldest first
    checkin_before: object  # the last CheckIn before it, or None
    last_session: LastSession | None
    open_steps: list
    overdue_steps: list
    next_session: object  # the next booked 1:1 session, or None
    last_contact_at: object
    # journeys.practices.PracticeAdherence: every repeating practice of the journey.
    practice_adherence: object = None

    @property
    def checkin_change(self):
        """The change in check-in score since the last session (None without two
        scores to compare)."""
        points = ([self.checkin_before] if self.checkin_before else []) + self.checkins
        if len(points) < 2:
            return None
        return points[-1].score - points[0].score

    @property
    def checkin_change_size(self):
        change = self.checkin_change
        return abs(change) if change is not None else None

    @property
    def since_last_contact(self):
        if self.last_contact_at is None:
            return None
        return timezone.now() - self.last_contact_at


def contact_times(enrollments):
    """Other moments the client and their coaches were in touch, as {enrollment pk: latest
    time}: the last message of each enrollment's conversation, in one query for all the
    enrollments. Held sessions are counted by ``coach_briefs`` itself."""
    return dict(
        Conversation.objects.filter(
            enrollment__in=[e.pk for e in enrollments], last_message_at__isnull=False
        ).values_list("enrollment_id", "last_message_at")
    )


def _latest(*times):
    times = [t for t in times if t is not None]
    return max(times) if times else None


def coach_briefs(enrollments, now=None):
    """{enrollment pk: Brief} for ``enrollments`` (with their engagements loaded)."""
    now = now or timezone.now()
    enrollments = list(enrollments)
    if not enrollments:
        return {}
    ids = [e.pk for e in enrollments]
    client_ids = {e.client_id for e in enrollments}
    rows = {}
    for row in (
        ClientActivity.objects.filter(enrollment_id__in=ids)
        .exclude(state=ActivityState.REMOVED)
        .select_related("follow_up")
        .order_by("stage_position", "position", "pk")
    ):
        rows.setdefault(row.enrollment_id, []).append(row)
    held, upcoming = {}, {}
    for s in (
        CoachingSession.objects.filter(
            enrollment_id__in=ids,
            status__in=(CoachingSessionStatus.COMPLETED, CoachingSessionStatus.BOOKED),
        ).select_related("coach").order_by("starts_at", "pk")
    ):
        if s.status == CoachingSessionStatus.COMPLETED:
            held[s.enrollment_id] = s  # the latest wins
        elif s.starts_at > now and s.enrollment_id not in upcoming:
            upcoming[s.enrollment_id] = s
    attended = {}
    for r in (
        Registration.objects.filter(user_id__in=client_ids, status=RegistrationStatus.ATTENDED)
        .select_related("session__coach").order_by("session__starts_at", "pk")
    ):
        attended[r.user_id] = r.session  # the latest wins
    others = contact_times(enrollments)
    practising = adherence(ids, now=now)
    briefs = {}
    for e in enrollments:
        mine = rows.get(e.pk, [])
        last = _last_session(
            held.get(e.pk), attended.get(e.client_id), e, mine, practising[e.pk]
        )
        since = last.starts_at if last else None
        checkins = [
            CheckIn(row.title, row.score, row.completed_at) for row in mine
            if row.kind == "check_in" and row.state == ActivityState.COMPLETED
            and row.score is not None and row.completed_at is not None
        ]
        checkins.sort(key=lambda c: c.at)
        before = [c for c in checkins if since is not None and c.at < since]
        after = [c for c in checkins if since is None or c.at >= since]
        open_steps = [row for row in mine if row.state == ActivityState.AVAILABLE]
        briefs[e.pk] = Brief(
            enrollment=e,
            answers=form_answers(mine),
            checkins=after,
            checkin_before=before[-1] if before else None,
            last_session=last,
            open_steps=open_steps,
            overdue_steps=[row for row in open_steps if row.due_at and row.due_at < now],
            next_session=upcoming.get(e.pk),
            last_contact_at=_latest(
                held[e.pk].ends_at if e.pk in held else None,
                attended[e.client_id].ends_at if e.client_id in attended else None,
                others.get(e.pk),
            ),
            practice_adherence=practising[e.pk],
        )
    return briefs


def _last_session(one, group, enrollment, rows, practising):
    """The latest of the journey's last held 1:1 and the client's last attended group
    session, with its practices in this journey."""
    if one is None and group is None:
        return None
    if group is None or (one is not None and one.starts_at >= group.starts_at):
        session, kind = one, "one_to_one"
        title = enrollment.engagement.title
        mine = [r for r in rows if _follow_up(r) and r.follow_up.coaching_session_id == one.pk]
    else:
        session, kind = group, "group"
        title = group.title
        mine = [r for r in rows if _follow_up(r) and r.follow_up.group_session_id == group.pk]
    statuses = {row.pk: practising.status_of(row.pk) for row in mine}
    statuses = {pk: status for pk, status in statuses.items() if status is not None}
    # Done since: finished, or (a practice that repeats) practised at least once.
    return LastSession(
        kind, title, session.starts_at, display_name(session.coach), session.summary,
        [
            (row, row.state == ActivityState.COMPLETED
             or (row.pk in statuses and statuses[row.pk].days > 0))
            for row in mine
        ],
        statuses,
    )


def _follow_up(row):
    try:
        return row.follow_up is not None
    except ClientActivity.follow_up.RelatedObjectDoesNotExist:
        return False


def coach_brief(enrollment, now=None):
    """The brief of one enrollment."""
    return coach_briefs([enrollment], now)[enrollment.pk]
