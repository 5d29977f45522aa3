"""Calendar passwords encrypted at rest (Fernet: AES with an HMAC, from ``cryptography``).

The key is ``WAGTAIL_COACHING["CALENDAR_ENCRYPTION_KEY"]``: one Fernet key, or a list of
them to rotate (the first encrypts, every one decrypts; ``reencrypt_passwords()`` then moves
every stored password to the first key). Without one, a key is derived from ``SECRET_KEY``;
the keys derived from ``SECRET_KEY_FALLBACKS`` still decrypt, so rotating the secret key
the Django way keeps the calendars connected until the passwords are re-encrypted.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..conf import coaching_settings
from ..models import CalendarConnection

# Domain separation: the derived key is good for this purpose only.
_SALT = b"wagtail-coaching calendar passwords"


class UnreadableSecret(Exception):
    """The stored password cannot be decrypted with any configured key."""


def _derived(secret_key):
    digest = hashlib.sha256(_SALT + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _keys():
    configured = coaching_settings.CALENDAR_ENCRYPTION_KEY
    if configured:
        keys = [configured] if isinstance(configured, str | bytes) else list(configured)
    else:
        keys = [_derived(settings.SECRET_KEY)] + [
            _derived(key) for key in getattr(settings, "SECRET_KEY_FALLBACKS", [])
        ]
    try:
        return [Fernet(key) for key in keys]
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CALENDAR_ENCRYPTION_KEY must be a Fernet key (Fernet.generate_key()) or a list "
            "of them."
        ) from exc


def _fernet():
    return MultiFernet(_keys())


def encrypt(password):
    return _fernet().encrypt(password.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecret(
            "The calendar password cannot be decrypted with the configured keys."
        ) from exc


def reencrypt_passwords():
    """Encrypt every stored calendar password with the first key (after adding a key, or
    changing SECRET_KEY). Returns how many were re-encrypted; those no key can read are left
    as they are (their owners connect again)."""
    fernet = _fernet()
    done = 0
    for connection in CalendarConnection.objects.only("pk", "secret").iterator():
        try:
            rotated = fernet.rotate(connection.secret.encode()).decode()
        except InvalidToken:
            continue
        CalendarConnection.objects.filter(pk=connection.pk).update(secret=rotated)
        done += 1
    return done
