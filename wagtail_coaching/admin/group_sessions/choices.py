"""What the group-session forms offer the viewer to choose from: coaches, companies,
engagements, clients and time zones. Each list is what ``permissions.visible()`` lets the
viewer see or pick; nothing is decided here."""

import zoneinfo
from functools import lru_cache

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from ...models import Company
from ...permissions import visible
from ..display import person


def _users():
    return get_user_model().objects


def coaches_seen(user):
    """Active users with a coach profile the viewer may see (an admin: every coach)."""
    return _users().filter(
        is_active=True,
        pk__in=visible(user, "view_coachprofile").order_by().values("user_id"),
    ).order_by("first_name", "last_name", "pk")


def lead_coach_choices(user):
    """Who the viewer may choose to lead a new session (an admin: any coach; a coach:
    themselves)."""
    return visible(user, "pick_groupsession_coach").order_by("first_name", "last_name", "pk")


def engagement_choices(user):
    """The engagements the viewer may aim a session at (an admin: all; a coach: their
    teams' and those of the clients they coach)."""
    return visible(user, "schedule_for_engagement").order_by("title")


def companies_seen(user):
    """Companies the viewer may see, and the companies of the clients they may see."""
    return Company.objects.filter(
        Q(pk__in=visible(user, "view_company").order_by().values("pk"))
        | Q(pk__in=visible(user, "view_enrollment").order_by().values("company_id"))
    ).order_by("name")


def clients_seen(user):
    """Active clients the viewer may see (whom they may hand-pick for a session)."""
    return _users().filter(
        is_active=True,
        pk__in=visible(user, "view_enrollment").order_by().values("client_id"),
    ).order_by("first_name", "last_name", "pk")


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return person(obj)


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return person(obj)


@lru_cache(maxsize=1)
def time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]
