"""Which kinds of message a person receives: the kinds they may see on their settings page
(those for the coaching team only to staff), and switching optional kinds off and on.

A kind switched off is a ``NotificationPreference`` row with ``enabled=False``; switching it
back on deletes the row. The outbox reads these rows when it sends."""

from dataclasses import dataclass

from django.db import transaction

from ..models import NotificationPreference
from ..permissions import is_staff_role
from .kinds import is_staff_kind, notification_kinds


@dataclass
class KindChoice:
    name: str
    label: str
    optional: bool
    enabled: bool
    staff: bool


def kind_choices(user):
    """The kinds of message shown on ``user``'s settings page, with their state."""
    staff = is_staff_role(user)
    off = set(
        NotificationPreference.objects.filter(user=user, enabled=False).values_list(
            "kind", flat=True
        )
    )
    return [
        KindChoice(name, str(kind.label), kind.optional,
                   not (kind.optional and name in off), is_staff_kind(name))
        for name, kind in notification_kinds().items()
        if staff or not is_staff_kind(name)
    ]


def save_preferences(user_id, shown, enabled):
    """Record which of the ``shown`` optional kinds the user wants (``enabled``): a row
    with ``enabled=False`` for each one switched off, none for the others."""
    shown, enabled = set(shown), set(enabled) & set(shown)
    off = shown - enabled
    with transaction.atomic():
        NotificationPreference.objects.filter(user_id=user_id, kind__in=enabled).delete()
        NotificationPreference.objects.filter(user_id=user_id, kind__in=off).update(
            enabled=False
        )
        NotificationPreference.objects.bulk_create(
            [NotificationPreference(user_id=user_id, kind=kind, enabled=False)
             for kind in sorted(off)],
            ignore_conflicts=True,
        )
