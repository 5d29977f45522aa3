"""A week of free times, as the booking page shows them: seven days in the client's time
zone, the weeks one can move to, and the next free time when the week shown has none.

Pure functions over the start times ``booking.bookable_times`` gives (all of them inside the
booking window, read in a fixed number of queries), so a week costs no query of its own,
however many slots the coach publishes.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from .booking import booking_window

DAYS_IN_WEEK = 7


@dataclass(frozen=True)
class WeekDay:
    day: date
    times: tuple  # aware start times (as given; templates show them in the current zone)

    @property
    def is_free(self):
        return bool(self.times)


@dataclass(frozen=True)
class FreeWeek:
    """One week (Monday to Sunday, local) of free start times."""

    monday: date
    days: tuple  # seven WeekDay
    previous: date | None  # the Monday before, if times can be booked in that week
    next: date | None  # the Monday after, likewise
    next_free: datetime | None  # the first free time after this week (local), when it has none

    @property
    def sunday(self):
        return self.monday + timedelta(days=DAYS_IN_WEEK - 1)

    @property
    def has_times(self):
        return any(d.times for d in self.days)

    @property
    def next_free_monday(self):
        return None if self.next_free is None else monday_of(self.next_free.date())


def monday_of(day):
    return day - timedelta(days=day.weekday())


def bookable_weeks(zone, now=None):
    """The first and last Monday (in ``zone``) of the weeks that hold bookable times."""
    earliest, latest = booking_window(now or timezone.now())
    return (monday_of(earliest.astimezone(zone).date()),
            monday_of(latest.astimezone(zone).date()))


class WeekOutOfRange(ValueError):
    """A week before the first or after the last one that can be booked."""


def choose_week(times, zone, requested=None, now=None):
    """The Monday of the week to show: ``requested`` (any day of it), else the week of the
    first free time, else the first bookable week. Raises WeekOutOfRange (with the Monday to
    show instead as its argument) for a week outside the booking window."""
    first, last = bookable_weeks(zone, now)
    if requested is None:
        if times:
            return max(first, min(last, monday_of(times[0].astimezone(zone).date())))
        return first
    monday = monday_of(requested)
    if monday < first:
        raise WeekOutOfRange(first)
    if monday > last:
        raise WeekOutOfRange(last)
    return monday


def free_week(times, monday, zone, now=None):
    """The week starting ``monday`` of ``times`` (sorted aware start times), in ``zone``.

    Days are grouped by their local date, so a week across a daylight-saving change still has
    seven days and each time sits on the day the client sees on their clock.
    """
    first, last = bookable_weeks(zone, now)
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=DAYS_IN_WEEK), time(0), tzinfo=zone)
    by_day = {}
    for moment in times:
        if start <= moment < end:
            by_day.setdefault(moment.astimezone(zone).date(), []).append(moment)
    days = tuple(
        WeekDay(day, tuple(by_day.get(day, ())))
        for day in (monday + timedelta(days=i) for i in range(DAYS_IN_WEEK))
    )
    later = next((moment.astimezone(zone) for moment in times if moment >= end), None)
    return FreeWeek(
        monday=monday,
        days=days,
        previous=monday - timedelta(days=DAYS_IN_WEEK) if monday > first else None,
        next=monday + timedelta(days=DAYS_IN_WEEK) if monday < last else None,
        next_free=None if by_day else later,
    )
