"""Sessions delivered per coach over a period, for coach payouts.

A group session counts for its coach and each co-coach once attendance has been taken; a
1:1 session counts when it was held or the client did not come (the coach's time was
booked). Late cancellations are listed apart: whether they are paid is the business's call.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum

from ..models import CoachingSession, CoachingSessionStatus, GroupSession, SessionStatus
from ..utils.people import display_name


@dataclass
class PayoutRow:
    coach: object
    group_sessions: int = 0
    group_seconds: float = 0
    one_to_one_sessions: int = 0
    one_to_one_seconds: float = 0
    late_cancellations: int = 0

    @property
    def sessions(self):
        return self.group_sessions + self.one_to_one_sessions

    @property
    def hours(self):
        return round((self.group_seconds + self.one_to_one_seconds) / 3600, 2)

    @property
    def group_hours(self):
        return round(self.group_seconds / 3600, 2)

    @property
    def one_to_one_hours(self):
        return round(self.one_to_one_seconds / 3600, 2)


def _length():
    return ExpressionWrapper(F("ends_at") - F("starts_at"), output_field=DurationField())


def delivered(start, end, coach_ids=None):
    """Rows per coach for sessions that started in [start, end), coaches by name. Aggregated
    in the database: four queries however many sessions."""
    groups = GroupSession.objects.filter(
        starts_at__gte=start, starts_at__lt=end, status=SessionStatus.SCHEDULED,
        attendance_taken_at__isnull=False,
    )
    rows = {}

    def row(coach_id):
        return rows.setdefault(coach_id, PayoutRow(coach=coach_id))

    led = groups.values("coach_id").annotate(n=Count("pk"), t=Sum(_length()))
    co = (
        GroupSession.co_coaches.through.objects.filter(groupsession__in=groups)
        .exclude(user_id=F("groupsession__coach_id"))
        .values("user_id")
        .annotate(
            n=Count("pk"),
            t=Sum(ExpressionWrapper(
                F("groupsession__ends_at") - F("groupsession__starts_at"),
                output_field=DurationField(),
            )),
        )
    )
    for item in led:
        r = row(item["coach_id"])
        r.group_sessions += item["n"]
        r.group_seconds += item["t"].total_seconds()
    for item in co:
        r = row(item["user_id"])
        r.group_sessions += item["n"]
        r.group_seconds += item["t"].total_seconds()
    ones = CoachingSession.objects.filter(starts_at__gte=start, starts_at__lt=end)
    for item in (
        ones.filter(status__in=(CoachingSessionStatus.COMPLETED, CoachingSessionStatus.NO_SHOW))
        .values("coach_id").annotate(n=Count("pk"), t=Sum(_length()))
    ):
        r = row(item["coach_id"])
        r.one_to_one_sessions += item["n"]
        r.one_to_one_seconds += item["t"].total_seconds()
    for item in (
        ones.filter(status=CoachingSessionStatus.LATE_CANCELLED)
        .values("coach_id").annotate(n=Count("pk"))
    ):
        row(item["coach_id"]).late_cancellations += item["n"]
    if coach_ids is not None:
        allowed = set(coach_ids)
        rows = {k: v for k, v in rows.items() if k in allowed}
    users = get_user_model().objects.in_bulk(list(rows))
    for coach_id, r in rows.items():
        r.coach = users[coach_id]
    return sorted(
        rows.values(), key=lambda r: display_name(r.coach).lower()
    )
