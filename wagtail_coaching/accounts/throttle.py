"""How often one address may try an account action (sign up, a failed sign-in, a password
reset request) before it is told to wait: counted in Django's cache, per action and address.

The limits are ``WAGTAIL_COACHING["ACCOUNT_RATE_LIMITS"]``: ``{action: (attempts, seconds)}``;
``None`` as an action's limit switches it off. The address is ``REMOTE_ADDR``: a site behind a
proxy sets it from the proxy's header (as it must for its logs too).
"""

from ..conf import coaching_settings
from ..utils import rate_limit


def _limit(action):
    return (coaching_settings.ACCOUNT_RATE_LIMITS or {}).get(action)


def _key(action, request):
    return f"wagtail_coaching:accounts:{action}:{request.META.get('REMOTE_ADDR', '')}"


def is_limited(action, request):
    """Whether the address of ``request`` has used up its attempts at ``action``."""
    return rate_limit.is_limited(_key(action, request), _limit(action))


def count_attempt(action, request):
    """Count one attempt at ``action`` from the address of ``request``."""
    rate_limit.count_attempt(_key(action, request), _limit(action))
