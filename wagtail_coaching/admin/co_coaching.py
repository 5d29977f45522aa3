"""Co-coaches on the client card: who they are, and the forms that add or remove one.

Adding or removing a co-coach needs ``manage_co_coaches`` (coaching admins, and the client's
main coach for their own client). Every id a form accepts is looked up among this
enrollment's possibilities: a coach outside the team, one who already coaches the client,
a stage of another program or a co-coach of another enrollment is refused as bad input.
The changes themselves are ``journeys.co_coaching``'s.
"""

from dataclasses import dataclass, field

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..conf import coaching_settings
from ..journeys.assignment import MAIN_ROLE
from ..journeys.co_coaching import co_coach_candidates, stage_titles
from ..models import CO_COACH_ROLE
from ..permissions import allowed
from .display import person


def _stage_options(engagement):
    return [("", _("Whole engagement"))] + list(stage_titles(engagement).items())


class AddCoCoachForm(forms.Form):
    coach = forms.TypedChoiceField(label=_("Co-coach"), coerce=int)
    stage = forms.ChoiceField(label=_("For"), required=False)

    def __init__(self, *args, enrollment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coach"].choices = [
            (c.pk, person(c)) for c in co_coach_candidates(enrollment)
        ]
        self.fields["coach"].error_messages["invalid_choice"] = _(
            "Only an active coach of the engagement's team who does not coach this client "
            "yet can be added."
        )
        self.fields["stage"].choices = _stage_options(enrollment.engagement)
        self.fields["stage"].error_messages["invalid_choice"] = _(
            "That stage is not part of the program."
        )


class RemoveCoCoachForm(forms.Form):
    coach = forms.TypedChoiceField(label=_("Co-coach"), coerce=int)

    def __init__(self, *args, enrollment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coach"].choices = [
            (a.coach_id, person(a.coach))
            for a in enrollment.assignments.filter(
                role=CO_COACH_ROLE, ended_at__isnull=True
            ).select_related("coach")
        ]
        self.fields["coach"].error_messages["invalid_choice"] = _(
            "This coach is not a co-coach of this client."
        )


@dataclass
class CoCoaching:
    """The co-coaching part of one enrollment's card."""

    can_manage: bool = False
    has_main_coach: bool = False
    co_coaches: list = field(default_factory=list)  # current co-coach assignments
    candidates: list = field(default_factory=list)  # (id, name) of coaches who may be added
    stages: list = field(default_factory=list)  # (block id or "", label)


def role_label(assignment, stages):
    """How the card names an assignment: "Coach", "Co-coach (whole engagement)",
    "Co-coach: <stage>", or the team role leading a stage."""
    if assignment.role == CO_COACH_ROLE:
        stage = stages.get(assignment.stage_block_id)
        if stage:
            return gettext("Co-coach: %(stage)s") % {"stage": stage}
        return gettext("Co-coach (whole engagement)")
    return str(coaching_settings.TEAM_ROLES.get(assignment.role, assignment.role))


def add_co_coaching(user, cards):
    """Give each card its ``co_coaching`` and a ``role_label`` on each coach listed.
    Two queries per enrollment the viewer may manage, none for the others."""
    for card in cards:
        enrollment = card.enrollment
        stages = stage_titles(enrollment.engagement)
        for a in [*card.current_coaches, *card.past_coaches]:
            a.role_label = role_label(a, stages)
        can_manage = enrollment.is_open and allowed(user, "manage_co_coaches", enrollment)
        card.co_coaching = CoCoaching(
            can_manage=can_manage,
            has_main_coach=any(a.role == MAIN_ROLE for a in card.current_coaches),
            co_coaches=[a for a in card.current_coaches if a.role == CO_COACH_ROLE],
            candidates=[(c.pk, person(c)) for c in co_coach_candidates(enrollment)]
            if can_manage else [],
            stages=_stage_options(enrollment.engagement) if can_manage else [],
        )
    return cards

