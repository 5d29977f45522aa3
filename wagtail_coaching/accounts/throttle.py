"""How often one address may try an account action (sign up, a failed sign-in, a password
reset request) before it is told to wait: counted in Django's cache, per action and address.

The limits are ``WAGTAIL_COACHING["ACCOUNT_RATE_LIMITS"]``: ``{action: (attempts, seconds)}``;
``None`` as an action's limit switches it off. The address is ``REMOTE_ADDR``: a site behind a
proxy sets it from the proxy's header (as it must for its logs too).
"""

from django.core.cache import cache

from ..conf import coaching_settings


def _limit(action):
    return (coaching_settings.ACCOUNT_RATE_LIMITS or {}).get(action)


def _key(action, request):
    return f"wagtail_coaching:accounts:{action}:{request.META.get('REMOTE_ADDR', '')}"


def is_limited(action, request):
    """Whether the address of ``request`` has used up its attempts at ``action``."""
    limit = _limit(action)
    if not limit:
        return False
    return (cache.get(_key(action, request)) or 0) >= limit[0]


def count_attempt(action, request):
    """Count one attempt at ``action`` from the address of ``request``."""
    limit = _limit(action)
    if not limit:
        return
    key = _key(action, request)
    # The window starts at the first attempt: add() does nothing if the key exists.
    if not cache.add(key, 1, timeout=limit[1]):
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=limit[1])
