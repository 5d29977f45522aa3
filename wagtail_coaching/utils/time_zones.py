"""Time zones: which zone a person's times are shown in, and the fallback when none is set.

The fallback is decided here only: the first known zone of those given, else the coaching
default (``WAGTAIL_COACHING["TIME_ZONE"]``, else Django's ``TIME_ZONE``), else UTC. A name
that is no zone (empty, misspelt, a path) is skipped, never an error.
"""

import zoneinfo

from ..conf import coaching_settings

UTC = zoneinfo.ZoneInfo("UTC")


def known_zone(name):
    """The zone called ``name``, or None if there is none by that name."""
    if not name or not isinstance(name, str):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def time_zone(*names):
    """The first of ``names`` that is a known zone, else the coaching default, else UTC."""
    for name in (*names, coaching_settings.time_zone_name):
        zone = known_zone(name)
        if zone is not None:
            return zone
    return UTC


def coaching_time_zone():
    """The coaching business's own zone: the default for anyone who has not chosen one."""
    return time_zone()


def user_time_zone(user):
    """The zone to show ``user`` times in: their Wagtail profile's, else the coaching default.

    Reads the profile without creating one (a GET never writes).
    """
    name = None
    if user is not None and user.is_authenticated:
        profile = getattr(user, "wagtail_userprofile", None)
        if profile is not None:
            name = profile.current_time_zone
    return time_zone(name)


def coach_time_zone(coach_profile):
    """The zone a coach's 1:1 sessions are held in: their coach profile's, else the coaching
    default. ``coach_profile`` may be None."""
    return time_zone(getattr(coach_profile, "time_zone", ""))
