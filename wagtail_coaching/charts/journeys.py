"""The charts of one client's journey: progress by stage and the check-in trend, drawn on
the engagement page and the client card from the journey's outline
(``journeys.queries.enrollment_outline``). The scores are read in one more query, only when
the journey has a check-in step.
"""

from collections import defaultdict

from django.utils import timezone
from django.utils.translation import gettext as _

from ..metrics import checkin_scores
from ..models import Enrollment
from . import Chart, Series


def has_checkins(summary):
    return any(row.kind == "check_in" for stage in summary.stages for row in stage.activities)


def checkin_points(enrollment_ids):
    """{enrollment id: [{"title", "score", "completed_at"}]}: the scored check-ins of these
    enrollments (``metrics.checkin_scores``), oldest first. One query (none without ids)."""
    found = defaultdict(list)
    if not enrollment_ids:
        return found
    rows = (
        checkin_scores(Enrollment.objects.filter(pk__in=list(enrollment_ids)))
        .values("enrollment_id", "title", "score", "completed_at")
        .order_by("completed_at", "pk")
    )
    for row in rows:
        found[row.pop("enrollment_id")].append(row)
    return found


def checkin_chart(points, chart_id=""):
    """The check-in trend: one line per check-in title, x the days they were answered (in
    the current time zone), y the score (0-10; a day's answers averaged)."""
    scores = defaultdict(list)
    for point in points:
        scores[(point["title"], timezone.localtime(point["completed_at"]).date())].append(
            point["score"]
        )
    days = sorted({day for _title, day in scores})
    titles = list(dict.fromkeys(point["title"] for point in points))

    def score(title, day):
        found = scores.get((title, day))
        if not found:
            return None
        return found[0] if len(found) == 1 else round(sum(found) / len(found), 1)

    return Chart(
        kind="line", title=_("Check-in scores"), labels=days,
        series=[Series(title, [score(title, day) for day in days]) for title in titles],
        unit=_("out of 10"), y_max=10, x_label=_("Answered on"), date_format="j M Y",
        # A check-in not answered on a day is not a break in its trend.
        span_gaps=True, legend=True,  # even one line: the legend names the check-in
        description=_("Each check-in's score from 0 to 10, on the days it was answered."),
        empty_text=_("No check-ins answered yet."), chart_id=chart_id,
    )


def progress_chart(summary, chart_id=""):
    """Steps done beside all steps, per stage of one journey."""
    stages = summary.stages
    return Chart(
        kind="bar", title=_("Progress by stage"),
        labels=[stage.title or _("Extra steps") for stage in stages],
        series=[
            Series(_("Done"), [stage.done for stage in stages]),
            Series(_("All steps"), [stage.total for stage in stages]),
        ],
        x_label=_("Stage"),
        description=_("Steps done beside the number of steps in each stage."),
        empty_text=_("No steps yet."), chart_id=chart_id,
    )


def add_charts(summaries, show_checkins=lambda summary: True):
    """Set ``progress_chart`` on each summary, and ``checkin_chart`` on those with a
    check-in step that ``show_checkins`` allows. One query at most."""
    with_checkins = [s for s in summaries if has_checkins(s) and show_checkins(s)]
    points = checkin_points([s.enrollment.pk for s in with_checkins])
    for summary in summaries:
        key = summary.enrollment.public_id.hex
        summary.progress_chart = progress_chart(summary, chart_id=f"progress-chart-{key}")
    for summary in with_checkins:
        summary.checkin_chart = checkin_chart(
            points.get(summary.enrollment.pk, []),
            chart_id=f"checkin-chart-{summary.enrollment.public_id.hex}",
        )
