"""New clients made by the team (a B2B grant for someone who has no account yet): an account
without a password, and one invitation to choose it.

The invitation carries a link made with Django's password-reset tokens, to the
``password_reset_confirm`` page (the package's accounts pages, or the host's own page of that
name). The token stops working once the password is set, and after
``PASSWORD_RESET_TIMEOUT``. Django's "forgot password" form ignores accounts that never had a
password, so a client whose link expired asks the team (who can set a password in Wagtail's
Users).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from ..notifications.outbox import Message, queue_notifications
from ..utils.people import display_name
from .errors import JourneyError

INVITATION_KIND = "client_invitation"
# The page the invitation links to (Django's name; the package's accounts pages use it).
SET_PASSWORD_URL_NAME = "password_reset_confirm"


class AccountExists(JourneyError):
    """The email address already belongs to an account."""


def account_with_email(email):
    """The accounts whose email (or username) is ``email``, whatever its case."""
    model = get_user_model()
    condition = Q(**{f"{model.get_email_field_name()}__iexact": email})
    condition |= Q(**{f"{model.USERNAME_FIELD}__iexact": email})
    return model._default_manager.filter(condition)


def set_password_path(user):
    """The path of ``user``'s link to choose a password, or "" where the site has no such
    page."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    try:
        return reverse(SET_PASSWORD_URL_NAME, kwargs={"uidb64": uid, "token": token})
    except NoReverseMatch:
        return ""


def create_invited_client(email, *, first_name="", last_name="", invited_by=None):
    """A new client account for ``email`` with no usable password, and one invitation (through
    the outbox, sent after commit) to choose one. Raises AccountExists if an account already
    has this email address or username."""
    model = get_user_model()
    email = email.strip()
    with transaction.atomic():
        if account_with_email(email).exists():
            raise AccountExists(_("An account with this email address already exists."))
        fields = {model.get_email_field_name(): email, model.USERNAME_FIELD: email}
        for name, value in (("first_name", first_name), ("last_name", last_name)):
            if value and any(f.name == name for f in model._meta.get_fields()):
                fields[name] = value.strip()
        user = model(**fields)
        user.set_unusable_password()
        user.save()
        queue_notifications([
            Message(
                recipient_id=user.pk,
                kind=INVITATION_KIND,
                dedup_key=f"{INVITATION_KIND}:{user.pk}",
                payload={
                    "set_password_path": set_password_path(user),
                    "invited_by": display_name(invited_by),
                },
            )
        ])
    return user

