"""A series of group sessions in people's calendars: one invitation for the whole series.

Every calendar file is read twice: with ``icalendar`` (which wrote it) and with ``vobject``,
an independent parser whose recurrence expansion (dateutil's rruleset) turns the RRULE,
RDATEs and EXDATEs back into dates; the overrides (RECURRENCE-ID) are applied on top, and
the result must be exactly the sessions as they are.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wagtail_coaching.models import (
    Audience,
    GroupSession,
    Notification,
    Recurrence,
    Registration,
    RegistrationStatus,
    SessionSeries,
)
from wagtail_coaching.notifications.emails import render_email
from wagtail_coaching.scheduling import (
    SessionPlan,
    cancel_registration,
    cancel_sessions,
    change_coach,
    create_sessions,
    edit_session,
    register,
    send_invitations,
    series_starts,
    update_sessions,
)
from wagtail_coaching.scheduling.feeds import feed_calendar
from wagtail_coaching.scheduling.messages import calendar_attachment
from wagtail_coaching.scheduling.series import send_series_invitations
from wagtail_coaching.scheduling.sessions import FUTURE
from wagtail_coaching.testing.factories import UserFactory

from .world import build_world

BERLIN = ZoneInfo("Europe/Berlin")
LINK = "https://video.example/series-room"
SINGLE_LINK = "https://video.example/single-room"


def dst_crossing_days():
    """Four Tuesdays, the two first before Berlin's next daylight-saving change and the two
    last after it (whatever day the suite runs)."""
    day = timezone.now().astimezone(BERLIN).date() + timedelta(days=14)
    noon = datetime.combine(day, time(12), tzinfo=BERLIN)
    while True:
        later = noon + timedelta(days=1)
        if later.utcoffset() != noon.utcoffset():
            break
        noon = later
    change = noon.date()
    first = change - timedelta(days=(change.weekday() - 1) % 7 or 7) - timedelta(days=7)
    return [first + timedelta(days=7 * i) for i in range(4)]


def build_shared_world():
    w = build_world()
    w.days = dst_crossing_days()
    first = datetime.combine(w.days[0], time(18), tzinfo=BERLIN)
    starts = series_starts(first, Recurrence.WEEKLY, count=4, time_zone="Europe/Berlin")
    w.sessions = create_sessions(
        SessionPlan(title="Evening circle", coach=w.coach_a, team=w.team_a, starts_at=first,
                    duration=timedelta(minutes=90), time_zone="Europe/Berlin", capacity=1,
                    audience=Audience.LIST, invitees=[w.client_a1, w.client_a2],
                    video_link=LINK),
        starts, recurrence=Recurrence.WEEKLY, invite=False,
    )
    w.series = SessionSeries.objects.get(pk=w.sessions[0].series_id)
    send_series_invitations(w.series.pk)
    (w.single,) = create_sessions(
        SessionPlan(title="One-off", coach=w.coach_a, team=w.team_a, starts_at=starts[0],
                    duration=timedelta(hours=1), time_zone="Europe/Berlin",
                    audience=Audience.LIST, invitees=[w.client_a1], video_link=SINGLE_LINK),
        [starts[0] + timedelta(days=1)], invite=False,
    )
    send_invitations(w.single.pk)
    return w


@pytest.fixture
def w(shared):
    return shared


# -- Reading the calendar files ----------------------------------------------------------------

def series_mail(w, user, newest=True):
    """The series' notifications to ``user``, oldest first (or the newest one)."""
    rows = list(Notification.objects.filter(
        recipient=user, dedup_key__startswith=f"series:{w.series.pk}:"
    ).order_by("pk"))
    return rows[-1] if newest else rows


def ics_of(notification):
    return calendar_attachment(notification.payload).get_payload(decode=True)


def parse(data):
    """(METHOD, icalendar VEVENTs, vobject calendar)."""
    cal = icalendar.Calendar.from_ical(data)
    # vobject keeps the first VTIMEZONE it read for a TZID for the whole process; a mail
    # client reads each file on its own, with the zone that file carries.
    vars(vobject.icalendar)["__tzidMap"].clear()
    return str(cal["METHOD"]), cal.walk("VEVENT"), vobject.readOne(data.decode("utf-8"))


def master_of(events):
    (master,) = [e for e in events if "RECURRENCE-ID" not in e]
    return master


def expanded(vcal):
    """The occurrences (start, end) as vobject and dateutil expand them, overrides applied."""
    masters = [v for v in vcal.vevent_list if not hasattr(v, "recurrence_id")]
    (master,) = masters
    length = master.dtend.value - master.dtstart.value
    starts = {dt: (dt, dt + length) for dt in master.getrruleset(addRDate=True)}
    for override in vcal.vevent_list:
        if hasattr(override, "recurrence_id"):
            rid = override.recurrence_id.value
            assert rid in starts, f"RECURRENCE-ID {rid} is not an instance of the rule"
            starts[rid] = (override.dtstart.value, override.dtend.value)
    return sorted(starts.values())


def live_sessions(w, user=None):
    """(start, end) of the scheduled sessions of the series (that ``user`` is in)."""
    sessions = GroupSession.objects.filter(series=w.series, status="scheduled")
    if user is not None:
        sessions = sessions.filter(registrations__user=user, registrations__status__in=(
            RegistrationStatus.INVITED, RegistrationStatus.REGISTERED))
    return [(s.starts_at, s.ends_at) for s in sessions.order_by("starts_at")]


def sequence_of(notification):
    return int(icalendar.Calendar.from_ical(ics_of(notification)).walk("VEVENT")[0]["SEQUENCE"])


# -- The invitation ----------------------------------------------------------------------------

def test_one_invitation_per_person_for_the_whole_series(w):
    for person in (w.client_a1, w.client_a2, w.coach_a):
        (only,) = series_mail(w, person, newest=False)
        assert only.kind == ("coach_session_assigned" if person == w.coach_a
                             else "session_invitation")
    # Nothing per session of the series: those are for sessions on their own.
    keys = Notification.objects.filter(
        dedup_key__regex=rf"^group:({'|'.join(str(s.pk) for s in w.sessions)}):"
    )
    assert not keys.exists()
    # Everyone invited to every occurrence.
    assert Registration.objects.filter(session__series=w.series).count() == 8


def test_the_invitation_is_one_recurring_event_both_parsers_agree(w):
    method, events, vcal = parse(ics_of(series_mail(w, w.client_a1)))
    assert method == "REQUEST"
    assert len(events) == 1
    master = master_of(events)
    assert str(master["UID"]) == w.series.uid
    rule = master["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["COUNT"] == [4]
    assert "EXDATE" not in master
    # The other parser expands the rule to exactly the sessions.
    assert expanded(vcal) == live_sessions(w)
    assert str(vcal.vevent.uid.value) == w.series.uid


def test_the_rule_keeps_18_00_berlin_across_the_daylight_saving_change(w):
    data = ics_of(series_mail(w, w.client_a1))
    assert b"DTSTART;TZID=Europe/Berlin:" in data
    assert b"BEGIN:VTIMEZONE" in data and b"TZID:Europe/Berlin" in data
    _method, _events, vcal = parse(data)
    starts = [start for start, _end in expanded(vcal)]
    assert [s.astimezone(BERLIN).time() for s in starts] == [time(18)] * 4
    # ... which is a different hour in UTC before and after the change.
    utc_hours = [s.astimezone(ZoneInfo("UTC")).hour for s in starts]
    assert utc_hours[0] != utc_hours[-1]
    assert [s.astimezone(BERLIN).date() for s in starts] == w.days


def test_the_invitation_email_lists_the_dates_with_their_links_but_no_video_link(w):
    notification = series_mail(w, w.client_a1)
    subject, text, _html = render_email(notification)
    assert "Evening circle" in subject
    assert text.count("Take a seat:") == 4
    assert text.count("Decline:") == 4
    # Invited is not a seat: the video link is nowhere, neither in the email nor the file.
    assert LINK not in text
    assert LINK.encode() not in ics_of(notification)


def test_running_the_invitations_again_sends_nothing(w):
    before = Notification.objects.count()
    assert send_series_invitations(w.series.pk) == 0
    assert send_invitations(w.sessions[1].pk) == 0
    assert Notification.objects.count() == before


# -- One person and one occurrence -------------------------------------------------------------

def test_registering_for_one_occurrence_puts_its_link_in_that_occurrence_only(w):
    first = series_mail(w, w.client_a1)
    register(w.sessions[1], w.client_a1)
    update = series_mail(w, w.client_a1)
    assert update.pk != first.pk and update.kind == "session_confirmed"
    assert sequence_of(update) > sequence_of(first)
    method, events, vcal = parse(ics_of(update))
    assert method == "REQUEST"
    master = master_of(events)
    assert str(master["UID"]) == w.series.uid
    assert LINK not in str(master.get("DESCRIPTION", "")) + str(master.get("URL", ""))
    (override,) = [e for e in events if "RECURRENCE-ID" in e]
    assert override["RECURRENCE-ID"].dt == w.sessions[1].starts_at
    assert str(override["URL"]) == LINK and LINK in str(override["DESCRIPTION"])
    assert expanded(vcal) == live_sessions(w)
    _subject, text, _html = render_email(update)
    assert text.count(LINK) == 1
    assert text.count("(your seat is booked)") == 1
    assert text.count("Take a seat:") == 3  # the dates they are only invited to
    # The other invitee heard nothing.
    assert len(series_mail(w, w.client_a2, newest=False)) == 1


def test_leaving_one_occurrence_removes_it_from_that_persons_copy_only(w):
    cancel_registration(w.sessions[2], w.client_a2, declined=True)
    update = series_mail(w, w.client_a2)
    method, events, vcal = parse(ics_of(update))
    assert method == "REQUEST"
    master = master_of(events)
    assert [d.dt for d in master["EXDATE"].dts] == [w.sessions[2].starts_at]
    assert expanded(vcal) == [
        (s.starts_at, s.ends_at) for s in w.sessions if s.pk != w.sessions[2].pk
    ]
    assert len(series_mail(w, w.client_a1, newest=False)) == 1


def test_leaving_the_last_occurrence_cancels_that_persons_copy_once(w):
    for session in w.sessions:
        cancel_registration(session, w.client_a2, declined=True)
    rows = series_mail(w, w.client_a2, newest=False)
    assert len(rows) == 1 + 4
    method, events, _vcal = parse(ics_of(rows[-1]))
    assert method == "CANCEL"
    (master,) = events
    assert str(master["UID"]) == w.series.uid and "RECURRENCE-ID" not in master
    assert [parse(ics_of(r))[0] for r in rows[1:-1]] == ["REQUEST"] * 3


def test_someone_in_some_occurrences_only_gets_just_those(w):
    outsider = UserFactory(username="outsider")
    register(w.sessions[1], outsider, check_eligible=False)
    register(w.sessions[3], outsider, check_eligible=False)
    rows = series_mail(w, outsider, newest=False)
    assert len(rows) == 2  # one per registration, each the whole series
    method, events, vcal = parse(ics_of(rows[-1]))
    master = master_of(events)
    assert master["DTSTART"].dt == w.sessions[1].starts_at
    assert [d.dt for d in master["EXDATE"].dts] == [w.sessions[2].starts_at]
    assert expanded(vcal) == [
        (w.sessions[1].starts_at, w.sessions[1].ends_at),
        (w.sessions[3].starts_at, w.sessions[3].ends_at),
    ]


def test_a_waitlisted_person_has_no_link_and_gets_it_with_the_seat(w):
    register(w.sessions[0], w.client_a1)  # the only seat
    waiting = register(w.sessions[0], w.client_a2)
    assert waiting.status == RegistrationStatus.WAITLISTED
    update = series_mail(w, w.client_a2)
    assert update.kind == "session_waitlisted"
    assert LINK.encode() not in ics_of(update)
    _m, _e, vcal = parse(ics_of(update))
    assert expanded(vcal) == live_sessions(w)[1:]  # waiting is not in the calendar
    cancel_registration(w.sessions[0], w.client_a1)
    promoted = series_mail(w, w.client_a2)
    assert promoted.kind == "session_promoted"
    _m, events, vcal = parse(ics_of(promoted))
    assert expanded(vcal) == live_sessions(w)
    (override,) = [e for e in events if "RECURRENCE-ID" in e]
    assert str(override["URL"]) == LINK


# -- Changes to the series ---------------------------------------------------------------------

def holders_mail_count(w):
    return {p.username: len(series_mail(w, p, newest=False))
            for p in (w.client_a1, w.client_a2, w.coach_a)}


def test_moving_one_occurrence_is_an_override_in_one_update_per_person(w):
    before = {p: series_mail(w, p) for p in (w.client_a1, w.client_a2, w.coach_a)}
    moved = w.sessions[2]
    update_sessions(moved, {"starts_at": moved.starts_at + timedelta(hours=1)})
    assert holders_mail_count(w) == {"client_a1": 2, "client_a2": 2, "coach_a": 2}
    for person, old in before.items():
        new = series_mail(w, person)
        assert new.kind == ("coach_session_updated" if person == w.coach_a
                            else "session_updated")
        assert sequence_of(new) > sequence_of(old)
        method, events, vcal = parse(ics_of(new))
        assert method == "REQUEST"
        assert str(master_of(events)["UID"]) == w.series.uid
        (override,) = [e for e in events if "RECURRENCE-ID" in e]
        assert override["RECURRENCE-ID"].dt == moved.starts_at  # the slot it had
        assert override["DTSTART"].dt.astimezone(BERLIN).time() == time(19)
        assert expanded(vcal) == live_sessions(w)
    # The coach's copy carries the link in every occurrence.
    assert LINK.encode() in ics_of(series_mail(w, w.coach_a))


def test_a_new_title_for_one_occurrence_is_an_override(w):
    update_sessions(w.sessions[3], {"title": "Evening circle: closing"})
    _m, events, vcal = parse(ics_of(series_mail(w, w.client_a1)))
    assert str(master_of(events)["SUMMARY"]) == "Evening circle"
    (override,) = [e for e in events if "RECURRENCE-ID" in e]
    assert str(override["SUMMARY"]) == "Evening circle: closing"
    titles = {v.recurrence_id.value: v.summary.value for v in vcal.vevent_list
              if hasattr(v, "recurrence_id")}
    assert titles == {w.sessions[3].starts_at: "Evening circle: closing"}


def test_all_future_occurrences_moved_is_one_update_per_person(w):
    update_sessions(w.sessions[1], {"starts_at": w.sessions[1].starts_at + timedelta(
        minutes=30)}, scope=FUTURE)
    assert holders_mail_count(w) == {"client_a1": 2, "client_a2": 2, "coach_a": 2}
    _m, _e, vcal = parse(ics_of(series_mail(w, w.client_a1)))
    assert expanded(vcal) == live_sessions(w)


def test_cancelling_one_occurrence_is_an_exdate_in_one_update(w):
    before = series_mail(w, w.client_a1)
    cancel_sessions(w.sessions[1])
    assert holders_mail_count(w) == {"client_a1": 2, "client_a2": 2, "coach_a": 2}
    update = series_mail(w, w.client_a1)
    assert update.kind == "session_cancelled"
    assert sequence_of(update) > sequence_of(before)
    method, events, vcal = parse(ics_of(update))
    assert method == "REQUEST"
    master = master_of(events)
    assert str(master["UID"]) == w.series.uid
    assert master["RRULE"]["COUNT"] == [4]
    assert [d.dt for d in master["EXDATE"].dts] == [w.sessions[1].starts_at]
    assert expanded(vcal) == live_sessions(w)
    assert len(live_sessions(w)) == 3
    _subject, text, _html = render_email(update)
    assert "Some dates of “Evening circle” have been cancelled" in text
    assert text.count("(cancelled)") == 1 and text.count("Take a seat:") == 3


def test_cancelling_the_whole_series_sends_one_cancel_per_person(w):
    register(w.sessions[0], w.client_a1)
    cancel_sessions(w.sessions[0], scope=FUTURE)
    for person in (w.client_a1, w.client_a2, w.coach_a):
        rows = series_mail(w, person, newest=False)
        cancels = [r for r in rows if parse(ics_of(r))[0] == "CANCEL"]
        assert len(cancels) == 1
        method, events, _vcal = parse(ics_of(cancels[0]))
        (master,) = events
        assert str(master["UID"]) == w.series.uid
        assert str(master["STATUS"]) == "CANCELLED"
        assert "RECURRENCE-ID" not in master
        assert sequence_of(cancels[0]) > sequence_of(rows[0])
    # Running it again cancels nothing more and sends nothing.
    before = Notification.objects.count()
    assert cancel_sessions(w.sessions[0], scope=FUTURE) == []
    assert Notification.objects.count() == before


def test_another_coach_for_one_occurrence(w):
    change_coach(w.sessions[2], w.coach_a2)
    new = series_mail(w, w.coach_a2)
    assert new.kind == "coach_session_assigned"
    _m, _e, vcal = parse(ics_of(new))
    assert expanded(vcal) == [(w.sessions[2].starts_at, w.sessions[2].ends_at)]
    previous = series_mail(w, w.coach_a)
    method, _e, vcal = parse(ics_of(previous))
    assert method == "REQUEST"
    assert expanded(vcal) == [(s.starts_at, s.ends_at) for s in w.sessions
                              if s.pk != w.sessions[2].pk]


def test_handing_later_sessions_to_another_coach_is_one_email_per_coach(w):
    before = len(series_mail(w, w.coach_a, newest=False))
    edit_session(w.sessions[1], {}, coach=w.coach_a2, co_coaches=[w.coach_a], actor=w.admin,
                 scope=FUTURE)
    (new,) = series_mail(w, w.coach_a2, newest=False)
    _m, _e, vcal = parse(ics_of(new))
    assert expanded(vcal) == [(s.starts_at, s.ends_at) for s in w.sessions[1:]]
    # coach_a now co-leads the later ones: still every occurrence, one email.
    assert len(series_mail(w, w.coach_a, newest=False)) == before + 1
    _m, _e, vcal = parse(ics_of(series_mail(w, w.coach_a)))
    assert expanded(vcal) == live_sessions(w)


def test_a_retried_change_never_doubles_an_email(w):
    update_sessions(w.sessions[0], {"title": "Renamed"})
    count = Notification.objects.count()
    # The same change again changes nothing; the invitation job again finds every key taken.
    update_sessions(w.sessions[0], {"title": "Renamed"})
    send_series_invitations(w.series.pk)
    assert Notification.objects.count() == count


# -- A list of dates, and sessions on their own -------------------------------------------------

def test_irregular_dates_are_rdates(w):
    base = datetime.combine(w.days[0], time(9), tzinfo=BERLIN) + timedelta(days=1)
    starts = [base, base + timedelta(days=3), base + timedelta(days=10)]
    sessions = create_sessions(
        SessionPlan(title="Workshop days", coach=w.coach_a, team=w.team_a, starts_at=base,
                    duration=timedelta(hours=2), time_zone="Europe/Berlin",
                    audience=Audience.LIST, invitees=[w.client_a1]),
        starts, recurrence=Recurrence.DATES, invite=False,
    )
    series = sessions[0].series
    send_series_invitations(series.pk)
    cancel_sessions(sessions[1])
    (row,) = Notification.objects.filter(
        recipient=w.client_a1, dedup_key__startswith=f"series:{series.pk}:",
        kind="session_cancelled")
    method, events, vcal = parse(ics_of(row))
    master = master_of(events)
    assert "RRULE" not in master and "RDATE" in master
    assert [d.dt for d in master["EXDATE"].dts] == [sessions[1].starts_at]
    assert expanded(vcal) == [(s.starts_at, s.ends_at) for s in (sessions[0], sessions[2])]


def test_a_session_on_its_own_keeps_its_single_invitation(w):
    (row,) = Notification.objects.filter(recipient=w.client_a1,
                                         dedup_key__startswith=f"group:{w.single.pk}:")
    method, events, _vcal = parse(ics_of(row))
    (event,) = events
    assert method == "REQUEST" and str(event["UID"]) == w.single.uid
    assert "RRULE" not in event and "RDATE" not in event
    # Invited only: no video link in the file or the email.
    assert SINGLE_LINK.encode() not in ics_of(row)
    assert SINGLE_LINK not in render_email(row)[1]


def test_a_series_from_before_keeps_one_invitation_per_session(w):
    SessionSeries.objects.filter(pk=w.series.pk).update(one_invitation=False)
    update_sessions(GroupSession.objects.get(pk=w.sessions[0].pk), {"title": "Renamed"})
    rows = Notification.objects.filter(dedup_key__startswith=f"group:{w.sessions[0].pk}:")
    assert {r.recipient_id for r in rows} == {w.client_a1.pk, w.client_a2.pk, w.coach_a.pk}
    assert all("event" in r.payload["calendar"] for r in rows)


# -- The video link: only with a seat ----------------------------------------------------------

def test_a_single_sessions_update_gives_the_link_to_seats_only(w):
    register(w.single, w.client_a1)
    invited = UserFactory(username="invited_only")
    Registration.objects.create(session=w.single, user=invited)
    update_sessions(w.single, {"location": "Room 2"})
    (seat,) = Notification.objects.filter(recipient=w.client_a1, kind="session_updated",
                                          dedup_key__startswith=f"group:{w.single.pk}:")
    (other,) = Notification.objects.filter(recipient=invited, kind="session_updated")
    assert SINGLE_LINK.encode() in ics_of(seat) and SINGLE_LINK in render_email(seat)[1]
    assert SINGLE_LINK.encode() not in ics_of(other)
    assert SINGLE_LINK not in render_email(other)[1]


def test_feeds_show_the_series_as_one_event_with_the_link_for_seats(w):
    register(w.sessions[1], w.client_a1)
    cal = icalendar.Calendar.from_ical(feed_calendar(w.client_a1))
    events = cal.walk("VEVENT")
    series_events = [e for e in events if str(e["UID"]) == w.series.uid]
    assert len(series_events) == 1  # one seat: a recurring event of one occurrence
    _m, _e, vcal = (None, None, vobject.readOne(feed_calendar(w.client_a1).decode()))
    assert [(o.dtstart.value) for o in vcal.vevent_list
            if o.uid.value == w.series.uid] == [w.sessions[1].starts_at]
    assert LINK in str(series_events[0]["URL"])
    # Invited only: nothing of the series in the feed, so no link either.
    assert LINK.encode() not in feed_calendar(w.client_a2)


# -- Queries -----------------------------------------------------------------------------------

def _invite_queries(w, occurrences, invitees):
    people = [UserFactory(username=f"p{occurrences}-{i}") for i in range(invitees)]
    first = datetime.combine(w.days[0], time(7), tzinfo=BERLIN)
    sessions = create_sessions(
        SessionPlan(title="Big", coach=w.coach_a, team=w.team_a, starts_at=first,
                    duration=timedelta(hours=1), time_zone="Europe/Berlin",
                    audience=Audience.LIST, invitees=people, video_link=LINK),
        series_starts(first, Recurrence.WEEKLY, count=occurrences, time_zone="Europe/Berlin"),
        recurrence=Recurrence.WEEKLY, invite=False,
    )
    with CaptureQueriesContext(connection) as queries:
        sent = send_series_invitations(sessions[0].series_id, batch_size=500)
    assert sent == invitees + 1  # one per person and one for the coach
    assert Registration.objects.filter(session__series=sessions[0].series).count() == (
        occurrences * invitees)
    # One registration insert per batch of people; SQLite's limit of bound parameters splits
    # a large one into several statements, which is the database's doing, not ours.
    return len([q for q in queries.captured_queries
                if 'INTO "wagtail_coaching_registration"' not in q["sql"]])


def test_invitation_queries_stay_flat_with_occurrences_and_invitees(w):
    small = _invite_queries(w, 2, 3)
    large = _invite_queries(w, 12, 40)
    assert large == small


def test_a_change_to_a_series_costs_the_same_queries_for_many_invitees(w):
    def cancel_one(occurrences, invitees):
        people = [UserFactory(username=f"c{occurrences}-{i}") for i in range(invitees)]
        first = datetime.combine(w.days[0], time(8), tzinfo=BERLIN)
        sessions = create_sessions(
            SessionPlan(title="Big", coach=w.coach_a, team=w.team_a, starts_at=first,
                        duration=timedelta(hours=1), time_zone="Europe/Berlin",
                        audience=Audience.LIST, invitees=people),
            series_starts(first, Recurrence.WEEKLY, count=occurrences,
                          time_zone="Europe/Berlin"),
            recurrence=Recurrence.WEEKLY, invite=False,
        )
        send_series_invitations(sessions[0].series_id, batch_size=500)
        with CaptureQueriesContext(connection) as queries:
            cancel_sessions(sessions[1])
        return len(queries)

    assert cancel_one(3, 3) == cancel_one(12, 40)


def test_the_sessions_pages_show_the_link_with_a_seat_only(client, w):
    from django.urls import reverse

    client.force_login(w.client_a1)
    listing = reverse("wagtail_coaching:sessions")
    detail = reverse("wagtail_coaching:group_session", args=[w.sessions[1].public_id])
    assert LINK not in client.get(listing).content.decode()
    assert LINK not in client.get(detail).content.decode()
    register(w.sessions[1], w.client_a1)
    assert client.get(listing).content.decode().count(LINK) == 1
    assert LINK in client.get(detail).content.decode()
    other = reverse("wagtail_coaching:group_session", args=[w.sessions[2].public_id])
    assert LINK not in client.get(other).content.decode()


# -- The calendar builder alone (no database) --------------------------------------------------

def _series(occurrences, interval_days=14):
    from wagtail_coaching.scheduling.calendar import SeriesEvent

    return SeriesEvent(uid="series-x@test", sequence=3, occurrences=occurrences,
                       organizer_email="team@example.com", time_zone="America/New_York",
                       interval_days=interval_days)


def _occurrence(day, hour=9, title="Circle", **kw):
    from wagtail_coaching.scheduling.calendar import Occurrence

    start = datetime(2030, 1, day, hour, tzinfo=ZoneInfo("America/New_York"))
    return Occurrence(start=start, end=start + timedelta(hours=1), summary=title, **kw)


def test_a_fortnightly_rule_with_its_first_date_changed():
    from wagtail_coaching.scheduling.calendar import build_series_ics

    occurrences = [_occurrence(1, title="Kick-off"), _occurrence(15), _occurrence(29)]
    _method, events, vcal = parse(build_series_ics(_series(occurrences), "REQUEST"))
    master = master_of(events)
    assert master["RRULE"]["INTERVAL"] == [2] and master["RRULE"]["COUNT"] == [3]
    assert str(master["SUMMARY"]) == "Circle"  # the most common title is the rule's
    (override,) = [e for e in events if "RECURRENCE-ID" in e]
    assert override["RECURRENCE-ID"].dt == occurrences[0].start
    assert str(override["SUMMARY"]) == "Kick-off"
    assert expanded(vcal) == [(o.start, o.end) for o in occurrences]


def test_occurrences_off_the_rhythm_fall_back_to_rdates():
    from wagtail_coaching.scheduling.calendar import build_series_ics

    # Two dates in the same fortnight cannot both be slots of the rule.
    occurrences = [_occurrence(1), _occurrence(3), _occurrence(15, cancelled=True)]
    _method, events, vcal = parse(build_series_ics(_series(occurrences), "REQUEST"))
    master = master_of(events)
    assert "RRULE" not in master
    assert [d.dt for d in master["EXDATE"].dts] == [occurrences[2].start]
    assert expanded(vcal) == [(o.start, o.end) for o in occurrences[:2]]


def test_a_series_needs_occurrences_and_a_whole_number_of_weeks():
    with pytest.raises(ValueError):
        _series([])
    with pytest.raises(ValueError):
        _series([_occurrence(1)], interval_days=10)
