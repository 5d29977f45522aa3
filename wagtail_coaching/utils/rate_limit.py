"""Counting attempts in Django's cache: how often one key (an action and an address, an
email address...) was used within a window of seconds. A limit is ``(attempts, seconds)``;
``None`` means no limit. With several web processes the site needs a shared cache."""

from django.core.cache import cache


def is_limited(key, limit):
    """Whether ``key`` has used up the attempts ``limit`` allows."""
    if not limit:
        return False
    return (cache.get(key) or 0) >= limit[0]


def count_attempt(key, limit):
    """Count one attempt for ``key`` (the window starts at the first one)."""
    if not limit:
        return
    # add() does nothing if the key exists.
    if not cache.add(key, 1, timeout=limit[1]):
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=limit[1])
