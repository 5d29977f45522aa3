"""Reports over the clients the viewer works with (``view_coaching_reports``): engagement
progress, retention cohorts, time to first session, satisfaction and outcome trends. The
figures are ``metrics.py``'s; these views only choose, label and draw them."""

from django.db.models import Count
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from .. import metrics
from ..charts import Chart, Series
from ..conf import coaching_settings
from ..journeys.practices import adherence_by_engagement
from ..models import ActivityState, ClientActivity, EngagementPage
from .base import CoachingReport, EnrollmentPeriodFilterSet, column, zone


def engagement_titles(ids):
    return dict(EngagementPage.objects.filter(pk__in=set(ids)).values_list("pk", "title"))


def stuck_clients(enrollments):
    """{engagement id: enrollments stuck in some stage}: quiet, with a step open. Counted
    apart from the stages, where a client stuck in two stages counts in each. One query."""
    open_steps = ClientActivity.objects.filter(state=ActivityState.AVAILABLE)
    return dict(
        enrollments.order_by()
        .filter(pk__in=metrics.quiet_enrollments(enrollments))
        .filter(pk__in=open_steps.values("enrollment_id"))
        .values("engagement_id").annotate(n=Count("pk")).values_list("engagement_id", "n")
    )


def percent(value):
    return None if value is None else f"{value:g}%"


# -- Progress ----------------------------------------------------------------------------------

class ProgressReport(CoachingReport):
    slug = "progress"
    page_title = _("Engagement progress")
    header_icon = "tasks"
    description = _(
        "Per engagement, then per stage. Enrolled: clients who reached the stage (a step "
        "opened). Active: a step open in it now. Completed: every step of it done. Stuck: "
        "active in it with no activity for %(days)s days. Practice adherence: the days "
        "clients practised out of the days their daily and weekly practices asked for."
    )

    def description_values(self):
        return {"days": coaching_settings.AT_RISK_INACTIVE_DAYS}

    columns = [
        column("engagement", _("Engagement")),
        column("stage", _("Stage")),
        column("enrolled", _("Enrolled")),
        column("active", _("Active")),
        column("completed", _("Completed")),
        column("stuck", _("Stuck")),
        column("at_risk", _("At risk")),
        column("steps_done", _("Steps done (%)"), accessor=lambda row: row["steps_done"]),
        column("practice_adherence", _("Practice adherence (%)"),
               accessor=lambda row: row["practice_adherence"]),
    ]

    @cached_property
    def per_engagement(self):
        """``metrics.by_engagement`` of the filtered clients: the rows and the headline."""
        return metrics.by_engagement(self.base_queryset())

    def rows(self, queryset):
        totals = self.per_engagement
        stages = metrics.stage_progress(queryset)
        titles = engagement_titles(totals)
        steps = {}
        for stage in stages:
            done, total = steps.get(stage["engagement_id"], (0, 0))
            steps[stage["engagement_id"]] = (done + stage["steps_done"], total + stage["steps"])
        stuck = stuck_clients(queryset)
        practised = adherence_by_engagement(queryset)
        rows = []
        for engagement_id in sorted(totals, key=lambda pk: (titles.get(pk, ""), pk)):
            total = totals[engagement_id]
            done, all_steps = steps.get(engagement_id, (0, 0))
            rows.append({
                "engagement": titles.get(engagement_id, ""),
                "stage": _("All stages"),
                "enrolled": total["enrolled"],
                "active": total["active"],
                "completed": total["completed"],
                "stuck": stuck.get(engagement_id, 0),
                "at_risk": total["at_risk"],
                "steps_done": metrics.rate(done, all_steps),
                "practice_adherence": practised[engagement_id].percent
                if engagement_id in practised else None,
            })
            for stage in stages:
                if stage["engagement_id"] != engagement_id:
                    continue
                rows.append({
                    "engagement": titles.get(engagement_id, ""),
                    "stage": stage["stage"] or _("Outside the program's stages"),
                    "enrolled": stage["reached"],
                    "active": stage["in_stage"],
                    "completed": stage["finished"],
                    "stuck": stage["stuck"],
                    "at_risk": None,
                    "steps_done": metrics.rate(stage["steps_done"], stage["steps"]),
                    "practice_adherence": None,
                })
        return rows

    def summary(self):
        figures = metrics.headline(self.base_queryset(), per_engagement=self.per_engagement)
        return [
            (_("Clients"), figures["clients"]),
            (_("Active clients"), figures["active_clients"]),
            (_("Engaged (active in the last %(n)s days)") % {
                "n": coaching_settings.ENGAGED_DAYS}, figures["engaged"]),
            (_("At risk"), figures["at_risk"]),
            (_("Completed"), figures["completed"]),
        ]

    def chart(self):
        totals = [row for row in self.report_rows if row["at_risk"] is not None]
        return Chart(
            kind="bar", title=_("Clients per engagement"),
            labels=[row["engagement"] for row in totals],
            series=[
                Series(_("Active"), [row["active"] for row in totals]),
                Series(_("Completed"), [row["completed"] for row in totals]),
                Series(_("Stuck"), [row["stuck"] for row in totals]),
            ],
            unit=_("clients"),
            description=_("Active, completed and stuck clients in each engagement."),
        )


# -- Retention ---------------------------------------------------------------------------------

RETENTION_MONTHS = 12


class RetentionReport(CoachingReport):
    slug = "retention"
    page_title = _("Retention cohorts")
    header_icon = "history"
    filterset_class = EnrollmentPeriodFilterSet
    default_period_days = 365
    description = _(
        "Enrollments grouped by the month they started (in the period). Each month after: "
        "the share retained, meaning the client did something that month or had already "
        "completed the engagement. A client in two engagements counts twice."
    )
    paginate_by = 24

    def rows(self, queryset):
        start, end = self.period()
        if start is not None:
            queryset = queryset.filter(starts_at__gte=start)
        if end is not None:
            queryset = queryset.filter(starts_at__lt=end)
        cohorts = metrics.retention(queryset, zone(), months=RETENTION_MONTHS)
        rows = []
        for cohort in cohorts:
            row = {"month": cohort["month"], "enrolled": cohort["enrolled"]}
            for k, retained in enumerate(cohort["retained"]):
                row[f"m{k}"] = metrics.rate(retained, cohort["enrolled"])
            rows.append(row)
        return rows

    @property
    def columns(self):
        span = max((len(row) - 2 for row in self.report_rows), default=1)
        return [
            column("month", _("Enrolled in"), accessor=lambda row: row["month"].strftime("%Y-%m")),
            column("enrolled", _("Enrollments")),
            *(
                column(f"m{k}", _("Month %(k)s (%%)") % {"k": k},
                       accessor=lambda row, k=k: row.get(f"m{k}"))
                for k in range(span)
            ),
        ]

    def chart(self):
        recent = self.report_rows[-4:]
        span = max((len(row) - 2 for row in recent), default=0)
        return Chart(
            kind="line", title=_("Retention of the latest cohorts"),
            labels=[_("Month %(k)s") % {"k": k} for k in range(span)],
            series=[
                Series(row["month"].strftime("%Y-%m"),
                       [row.get(f"m{k}") for k in range(span)])
                for row in recent
            ],
            unit="%", y_max=100,
            description=_("Share of each monthly cohort retained, month by month."),
        )


# -- Time to first session ---------------------------------------------------------------------

class TimeToFirstSessionReport(CoachingReport):
    slug = "time_to_first_session"
    page_title = _("Time to first session")
    header_icon = "time"
    filterset_class = EnrollmentPeriodFilterSet
    description = _(
        "Days from the start of an enrollment (started in the period) to its first session "
        "recorded as attended, 1:1 or group. Shares are of all enrollments."
    )

    columns = [
        column("engagement", _("Engagement")),
        column("enrollments", _("Enrollments")),
        column("with_session", _("Had a session")),
        column("average_days", _("Average days")),
        column("within_7_days", _("Within 7 days (%)")),
        column("within_14_days", _("Within 14 days (%)")),
        column("within_30_days", _("Within 30 days (%)")),
        column("without_session", _("No session yet")),
    ]

    def rows(self, queryset):
        start, end = self.period()
        if start is not None:
            queryset = queryset.filter(starts_at__gte=start)
        if end is not None:
            queryset = queryset.filter(starts_at__lt=end)
        figures = metrics.time_to_first_session(queryset)
        titles = engagement_titles(figures)
        rows = []
        for engagement_id, row in figures.items():
            entry = {"engagement": titles.get(engagement_id, ""), **row}
            for _days, name in metrics.TIME_TO_FIRST_SESSION_BUCKETS:
                entry[name] = metrics.rate(row[name], row["enrollments"])
            rows.append(entry)
        return sorted(rows, key=lambda row: row["engagement"])

    def chart(self):
        return Chart(
            kind="bar", title=_("Average days to the first session"),
            labels=[row["engagement"] for row in self.report_rows],
            series=[Series(_("Average days"), [row["average_days"] for row in self.report_rows])],
            unit=_("days"),
            description=_("Average days from enrollment to the first session, per engagement."),
        )


# -- Satisfaction and outcomes -------------------------------------------------------------------

class SatisfactionReport(CoachingReport):
    slug = "satisfaction"
    page_title = _("Satisfaction")
    header_icon = "openquote"
    filterset_class = EnrollmentPeriodFilterSet
    description = _(
        "Feedback answers (1 to 5) given in the period, per engagement. CSAT: the share of "
        "answers of %(from)s or more."
    )

    def description_values(self):
        return {"from": coaching_settings.CSAT_SATISFIED_FROM}

    columns = [
        column("engagement", _("Engagement")),
        column("answers", _("Answers")),
        column("average", _("Average score")),
        column("satisfied", _("Satisfied")),
        column("csat", _("CSAT (%)")),
    ]

    def rows(self, queryset):
        start, end = self.period()
        figures = metrics.satisfaction(queryset, start=start, end=end)
        titles = engagement_titles(figures)
        return sorted(
            ({"engagement": titles.get(pk, ""), **row} for pk, row in figures.items()),
            key=lambda row: row["engagement"],
        )

    def chart(self):
        return Chart(
            kind="bar", title=_("CSAT per engagement"),
            labels=[row["engagement"] for row in self.report_rows],
            series=[Series(_("CSAT"), [row["csat"] for row in self.report_rows])],
            unit="%", y_max=100,
            description=_("Share of satisfied feedback answers in each engagement."),
        )


class OutcomesReport(CoachingReport):
    slug = "outcomes"
    page_title = _("Outcome trends")
    header_icon = "pick"
    filterset_class = EnrollmentPeriodFilterSet
    default_period_days = 365
    description = _("The average check-in score (0 to 10) per check-in and month.")
    paginate_by = 100

    columns = [
        column("engagement", _("Engagement")),
        column("checkin", _("Check-in")),
        column("month", _("Month"), accessor=lambda row: row["month"].strftime("%Y-%m")),
        column("answers", _("Answers")),
        column("average", _("Average score")),
    ]

    def rows(self, queryset):
        start, end = self.period()
        trend = metrics.outcome_trend(queryset, zone(), start=start, end=end)
        titles = engagement_titles(row["engagement_id"] for row in trend)
        return [{"engagement": titles.get(row["engagement_id"], ""), **row} for row in trend]

    def chart(self):
        months = sorted({row["month"] for row in self.report_rows})
        lines = {}
        for row in self.report_rows:
            key = f'{row["engagement"]}: {row["checkin"]}'
            lines.setdefault(key, {})[row["month"]] = row["average"]
        return Chart(
            kind="line", title=_("Average check-in score by month"),
            labels=months,
            series=[Series(key, [values.get(m) for m in months]) for key, values in lines.items()],
            unit=_("score"), y_max=10,
            description=_("Average check-in score per check-in, month by month."),
        )


REPORTS = (
    ProgressReport, RetentionReport, TimeToFirstSessionReport, SatisfactionReport,
    OutcomesReport,
)
