"""How a slot's length and a 1:1 session's time read in the admin (a time in the viewer's
zone is ``display.local_time``)."""

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ...utils import time_zones
from ..display import local_time


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


def time_for_both(start, client_zone):
    """A time in the viewer's zone (the active one), and in the client's when it differs:
    staff booking by phone read the time back to the client in theirs."""
    mine = local_time(start)
    if client_zone is None or client_zone.key == timezone.get_current_timezone_name():
        return mine
    theirs = timezone.localtime(start, client_zone)
    return _("%(mine)s · for the client %(theirs)s") % {
        "mine": mine, "theirs": f"{date_format(theirs, 'D j M, H:i')} {theirs.tzname()}",
    }
