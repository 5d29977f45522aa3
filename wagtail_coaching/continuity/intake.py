"""What a client told us in their forms, and what comes next for them.

``answer_lines`` is how a response reads (question, answer) wherever it is shown: the
client card, the coach's brief and the client's "what we heard". ``what_we_heard`` is
what a client sees once they have sent a form: their answers, their coach, their next
step and their first session.
"""

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from ..journeys.assignment import coaches_of
from ..models import (
    ActivityState,
    CoachingSession,
    CoachingSessionStatus,
    Registration,
    RegistrationStatus,
    SessionStatus,
)


def _answer_text(item):
    answer = item.get("answer")
    if isinstance(answer, list):
        return ", ".join(str(a) for a in answer)
    if item.get("kind") == "yes_no" and answer in ("yes", "no"):
        return _("Yes") if answer == "yes" else _("No")
    return "" if answer is None else str(answer)


def answer_lines(response):
    """A client's answers to one activity as (question, answer) pairs."""
    if not response:
        return []
    if not isinstance(response, dict):
        return [("", str(response))]
    lines = [
        (item.get("question") or "", _answer_text(item))
        for item in response.get("answers") or [] if isinstance(item, dict)
    ]
    for key, label in (("note", _("Note")), ("comment", _("Comment"))):
        if response.get(key):
            lines.append((label, str(response[key])))
    return lines


@dataclass
class FormAnswers:
    """The answers of one form a client sent."""

    title: str
    completed_at: object
    lines: list = field(default_factory=list)


def form_answers(rows):
    """The answers of the completed forms among ``rows`` (one client's activities), in
    journey order: their goals and context as they stated them. No queries."""
    return [
        FormAnswers(row.title, row.completed_at, answer_lines(row.response))
        for row in rows
        if row.kind == "form" and row.state == ActivityState.COMPLETED and row.response
    ]


@dataclass
class WhatWeHeard:
    """What a client sees after sending a form."""

    answers: list
    coaches: list  # CoachAssignments in place now
    next_step: object  # the client's next open step, or None
    first_session: object  # their next booked 1:1 or group session (title, starts_at), or None
    book_step: object  # a 1:1 step with sessions left to book, when none is booked


@dataclass
class UpcomingSession:
    title: str
    starts_at: object
    ends_at: object


def what_we_heard(activity, outline, now=None):
    """What comes after ``activity`` (a form the client sent), from ``outline`` (their
    journey as the page already has it). Three queries."""
    now = now or timezone.now()
    enrollment = activity.enrollment
    coaches = coaches_of([enrollment.pk]).get(enrollment.pk, [])
    upcoming = []
    one = (
        CoachingSession.objects.filter(
            enrollment=enrollment, status=CoachingSessionStatus.BOOKED, starts_at__gt=now
        ).order_by("starts_at", "pk").first()
    )
    if one is not None:
        upcoming.append(UpcomingSession(enrollment.engagement.title, one.starts_at, one.ends_at))
    registration = (
        Registration.objects.filter(
            user_id=enrollment.client_id, status=RegistrationStatus.REGISTERED,
            session__status=SessionStatus.SCHEDULED, session__starts_at__gt=now,
        ).select_related("session").order_by("session__starts_at", "pk").first()
    )
    if registration is not None:
        s = registration.session
        upcoming.append(UpcomingSession(s.title, s.starts_at, s.ends_at))
    upcoming.sort(key=lambda u: u.starts_at)
    rows = [row for stage in outline.stages for row in stage.activities]
    book_step = None
    if not upcoming:
        book_step = next(
            (r for r in rows if r.kind == "one_to_one" and r.state == ActivityState.AVAILABLE),
            None,
        )
    next_step = outline.next_step if outline.next_step and outline.next_step.pk != activity.pk \
        else None
    return WhatWeHeard(
        answers=answer_lines(activity.response),
        coaches=coaches,
        next_step=next_step,
        first_session=upcoming[0] if upcoming else None,
        book_step=book_step,
    )
