"""The engagement: the coaching service itself, composed as a Wagtail page."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from ..blocks import ProgramBlock
from ..utils.time_zones import user_time_zone
from .pages import PackageTemplateMixin
from .teams import AssignmentMethod


class EngagementPageMixin(PackageTemplateMixin, models.Model):
    """The fields and behaviour ``EngagementPage`` is made of.

    The program is only ever shown to enrolled clients and editors; visitors see the intro.
    Its content is deliberately left out of the search index.

    A site's own engagement subclasses ``EngagementPage`` (multi-table inheritance): the
    enrollments, offers, cohorts, sessions and rules all point at that model. A page built
    on this mixin or ``AbstractEngagementPage`` alone gets the fields and the template but
    nobody can be enrolled in it (system check ``wagtail_coaching.W005``).
    """

    summary = models.CharField(
        _("summary"), max_length=300, blank=True, help_text=_("One line shown in listings.")
    )
    intro = RichTextField(_("public introduction"), blank=True)
    program = StreamField(ProgramBlock(), blank=True, verbose_name=_("program"))
    team = models.ForeignKey(
        "wagtail_coaching.Team", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("team"),
    )
    assignment_policy = models.CharField(
        _("coach assignment"), max_length=20, choices=AssignmentMethod.choices,
        default=AssignmentMethod.ROUND_ROBIN,
        help_text=_("How a coach is found for each new client."),
    )
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True,
        help_text=_("Most clients enrolled at once; empty for no limit."),
    )

    engagement_content_panels = [
        FieldPanel("summary"),
        FieldPanel("intro"),
        FieldPanel("program"),
    ]
    engagement_settings_panels = [
        FieldPanel("team"),
        FieldPanel("assignment_policy"),
        FieldPanel("capacity"),
    ]
    engagement_search_fields = [
        index.SearchField("summary"),
        index.SearchField("intro"),
    ]

    # A subclass without a template of its own is shown with this one.
    package_template = "wagtail_coaching/engagement_page.html"

    class Meta:
        abstract = True

    def get_context(self, request, *args, **kwargs):
        from ..charts.journeys import add_charts
        from ..continuity.history import attach_to_outline, client_session_history
        from ..journeys.queries import enrollment_outline, open_stage_from_query

        context = super().get_context(request, *args, **kwargs)
        enrollment = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            enrollment = (
                self.enrollments.filter(client=user).exclude(status="cancelled")
                .order_by("-created_at")
                .first()
            )
        context["enrollment"] = enrollment
        outline = enrollment_outline(enrollment) if enrollment else None
        if outline is not None:
            # The journey in pictures: progress by stage and the check-in trend (one query,
            # only when the journey has a check-in). The dashboard links here.
            with timezone.override(user_time_zone(user)):  # the client's days
                add_charts([outline])
            open_stage_from_query(outline, request.GET.get("stage"))
            # Each held session's summary, shared notes and practices beside its step.
            attach_to_outline(outline, client_session_history(user, [enrollment.pk]))
        context["outline"] = outline
        # Editors previewing a draft see the program they are building; nobody else does
        # unless enrolled (and then through their own rows, see the outline).
        context["show_program_preview"] = bool(getattr(request, "is_preview", False))
        # Where a visitor can join: the live offers selling this engagement (a page class of
        # a site's own has no such relation unless it adds one).
        offers = getattr(self, "offers", None)
        context["offers"] = (
            list(offers.live().public().order_by("title"))
            if offers is not None and enrollment is None else []
        )
        return context


class AbstractEngagementPage(EngagementPageMixin, Page):
    """``EngagementPageMixin`` on Wagtail's page, with its panels and search fields: the
    base of ``EngagementPage``. Subclass ``EngagementPage`` for a page of your own."""

    content_panels = Page.content_panels + EngagementPageMixin.engagement_content_panels
    settings_panels = Page.settings_panels + EngagementPageMixin.engagement_settings_panels
    search_fields = Page.search_fields + EngagementPageMixin.engagement_search_fields

    class Meta:
        abstract = True


class EngagementPage(AbstractEngagementPage):
    class Meta:
        verbose_name = _("engagement")
        verbose_name_plural = _("engagements")
