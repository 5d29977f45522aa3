"""How a slot's length and a 1:1 session's time read in the admin (a time in the viewer's
zone is ``display.local_time``)."""

from django.utils import timezone
from django.utils.formats import date_format

from ...utils import time_zones


def minutes_between(start, end):
    return int((end - start).total_seconds() // 60)


def session_zone_time(session):
    """The time in the session's own zone (the coach's), when it is not the viewer's."""
    zone = time_zones.known_zone(session.time_zone)
    if zone is None:
        return ""
    if zone.key == timezone.get_current_timezone_name():
        return ""
    local = timezone.localtime(session.starts_at, zone)
    return f"{date_format(local, 'D j M Y, H:i')} ({session.time_zone})"
