from django.utils.translation import gettext_lazy as _


def coaching_role_choices():
    """Choices for "led by": the client's own coach, or one of the coaching roles."""
    from ..conf import coaching_settings

    labels = coaching_settings.TEAM_ROLES
    return [("", _("The client's coach"))] + [
        (role, labels.get(role, role)) for role in coaching_settings.COACHING_ROLES
    ]
