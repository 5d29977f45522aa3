"""The client's side of group sessions: the sessions page, a session's page, registering and
leaving, the invite link, replies to invitation emails, and the personal calendar feed."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.users.models import UserProfile

from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import (
    Audience,
    CalendarFeed,
    GroupSession,
    Registration,
    RegistrationStatus,
)
from wagtail_coaching.scheduling import (
    SessionPlan,
    cancel_sessions,
    create_sessions,
    feed_of,
    register,
    rsvp_token,
    send_invitations,
)
from wagtail_coaching.scheduling.invites import ACCEPT, DECLINE
from wagtail_coaching.testing.factories import UserFactory

from .world import build_world
from .world_sessions import add_sessions, in_days

S = RegistrationStatus
SESSIONS = reverse("wagtail_coaching:sessions")


def build_shared_world():
    return add_sessions(build_world())


@pytest.fixture
def w(shared):
    return shared


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def page(client, user, url=SESSIONS):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def detail_url(session):
    return reverse("wagtail_coaching:group_session", args=[session.public_id])


def action_url(name, session):
    return reverse(f"wagtail_coaching:{name}", args=[session.public_id])


def new_session(w, *, title="Open circle", capacity=None, audience=Audience.OPEN, days=5,
                **extra):
    (session,) = create_sessions(
        SessionPlan(title=title, coach=w.coach_a, team=w.team_a, starts_at=in_days(days, 17),
                    duration=timedelta(hours=1), capacity=capacity, audience=audience,
                    **extra),
        [in_days(days, 17)], invite=False,
    )
    return session


def set_zone(user, name):
    profile, _ = UserProfile.objects.get_or_create(user=user)
    profile.current_time_zone = name
    profile.save()


def identities(w, except_user):
    return [t for u in w.users() if u != except_user for t in (u.get_full_name(), u.email) if t]


# -- The sessions page -----------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_sign_in(client, w):
    response = client.get(SESSIONS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_page_lists_the_clients_sessions_allotments_and_calendar_link(client, w):
    html = page(client, w.client_a1)
    # Their group session, registered, with a way out.
    assert "Team A circle" in html
    assert "Registered" in html
    assert action_url("leave", w.session_a) in html
    # Not a session of another company's clients.
    assert "Globex circle" not in html
    # Their 1:1 allotment and booked session, with Reschedule and Cancel.
    assert "1 of 3 sessions used, 2 left." in html
    allotment = w.one_to_one[w.enrollment_a1.pk]
    assert reverse("wagtail_coaching:book", args=[allotment.public_id]) in html
    assert reverse("wagtail_coaching:reschedule", args=[w.booking_a1.public_id]) in html
    assert reverse("wagtail_coaching:cancel_booking", args=[w.booking_a1.public_id]) in html
    # The calendar link: absolute, secret, resettable.
    token = CalendarFeed.objects.get(user=w.client_a1).token
    assert f"http://testserver/coaching/calendar/{token}.ics" in html
    assert f"webcal://testserver/coaching/calendar/{token}.ics" in html
    assert "Keep this link secret" in html
    assert reverse("wagtail_coaching:calendar_reset") in html


def test_a_session_open_to_the_client_has_a_register_button(client, w):
    html = page(client, w.client_a2)
    assert "Group sessions you can join" in html
    assert "Team A circle" in html
    assert action_url("register", w.session_a) in html
    assert "9 seats left" in html  # a1 holds one of the 10
    # a2 has no 1:1 booked yet, but can book.
    assert "0 of 3 sessions used, 3 left." in html
    assert "No 1:1 session booked." in html


def test_an_invitation_has_register_and_decline_buttons(client, w):
    session = new_session(w, title="Invite only", audience=Audience.LIST, invitees=[w.client_b1])
    send_invitations(session.pk)
    html = page(client, w.client_b1)
    assert "Invite only" in html
    assert "Invited" in html
    assert action_url("register", session) in html
    assert action_url("leave", session) in html
    assert ">Decline<" in html


def test_a_waitlisted_client_sees_their_place(client, w):
    session = new_session(w, capacity=1)
    register(session, w.client_b1)
    register(session, w.client_a2)
    register(session, w.client_a1)
    assert "On the waitlist: number 2" in page(client, w.client_a1)
    assert "On the waitlist: number 1" in page(client, w.client_a2)


def test_past_sessions_show_the_coachs_summary(client, w):
    from wagtail_coaching.scheduling import record_session

    booking = w.booking_a1
    record_session(booking, outcome="completed", summary="We worked on <delegation>.",
                   actor=w.coach_a, now=booking.starts_at + timedelta(hours=1))
    html = page(client, w.client_a1)
    assert "Summary from your coach" in html
    assert "We worked on &lt;delegation&gt;." in html
    assert "Held" in html


def test_times_are_shown_in_the_clients_time_zone(client, w):
    set_zone(w.client_a1, "America/New_York")
    html = page(client, w.client_a1)
    local = w.session_a.starts_at.astimezone(ZoneInfo("America/New_York"))
    assert f'datetime="{local.isoformat()}"' in html
    assert "America/New_York" in html


def _count(client, user):
    client.force_login(user)
    client.get(SESSIONS)  # the first visit creates the calendar feed
    with CaptureQueriesContext(connection) as queries:
        response = client.get(SESSIONS)
    assert response.status_code == 200
    return len(queries)


def test_the_page_runs_a_fixed_number_of_queries(client, w):
    few = _count(client, w.client_a1)
    # Many more sessions, registrations of every kind, 1:1 sessions past and upcoming.
    others = [UserFactory(username=f"other{i}") for i in range(3)]
    for i in range(6):
        session = new_session(w, title=f"Circle {i}", capacity=2, days=3 + i)
        for other in others:
            register(session, other)
        if i % 2:
            register(session, w.client_a1)
    new_session(w, title="Not yet joined", days=9)
    from wagtail_coaching.scheduling import book_session, publish_availability

    publish_availability(w.coach_a, start=in_days(4), end=in_days(4, 12), slot_minutes=60)
    book_session(w.one_to_one[w.enrollment_a1.pk], in_days(4), actor=w.client_a1)
    many = _count(client, w.client_a1)
    html = client.get(SESSIONS).content.decode()
    assert "Not yet joined" in html and "On the waitlist" in html
    assert few == many, (few, many)


# -- One session -----------------------------------------------------------------------------

def test_the_video_link_is_only_for_those_registered(client, w):
    GroupSession.objects.filter(pk=w.session_a.pk).update(video_link="https://video.example/a")
    assert "https://video.example/a" in page(client, w.client_a1, detail_url(w.session_a))
    html = page(client, w.client_a2, detail_url(w.session_a))
    assert "https://video.example/a" not in html
    assert action_url("register", w.session_a) in html
    assert "9 of 10" in html


def test_a_session_outside_ones_audience_does_not_exist(client, w):
    client.force_login(w.client_b1)
    assert client.get(detail_url(w.session_a)).status_code == 404
    assert client.post(action_url("register", w.session_a)).status_code == 404
    assert not Registration.objects.filter(session=w.session_a, user=w.client_b1).exists()


def test_a_coach_sees_their_session_without_a_register_button(client, w):
    html = page(client, w.coach_a, detail_url(w.session_a))
    assert "Team A circle" in html
    assert action_url("register", w.session_a) not in html


# -- Register and leave ----------------------------------------------------------------------

def test_registering_takes_a_seat(client, w):
    client.force_login(w.client_a2)
    response = client.post(action_url("register", w.session_a))
    assert response.status_code == 302
    assert response["Location"] == detail_url(w.session_a)
    assert any("You're registered" in t for t in texts(response))
    assert Registration.objects.get(session=w.session_a, user=w.client_a2).status == S.REGISTERED


def test_a_full_session_puts_the_client_on_the_waitlist(client, w):
    GroupSession.objects.filter(pk=w.session_a.pk).update(capacity=1)
    client.force_login(w.client_a2)
    response = client.post(action_url("register", w.session_a), {"next": SESSIONS})
    assert response["Location"] == SESSIONS
    assert any("The session is full: you are number 1 on the waitlist" in t
               for t in texts(response))
    assert Registration.objects.get(session=w.session_a, user=w.client_a2).status == S.WAITLISTED


def test_registering_for_a_cancelled_session_is_refused_with_a_message(client, w):
    cancel_sessions(w.session_a)
    client.force_login(w.client_a1)  # still listed, so the session is found
    response = client.post(action_url("register", w.session_a))
    assert response.status_code == 302
    assert "This session has been cancelled." in texts(response)


def test_staff_cannot_register_and_the_page_names_nobody(client, w):
    for user in (w.coach_a, w.admin):
        client.force_login(user)
        response = client.post(action_url("register", w.session_a))
        assert response.status_code == 403
        html = response.content.decode()
        assert "Registering is for clients" in html
        assert not [t for t in identities(w, user) if t in html]
    assert not Registration.objects.filter(user__in=[w.coach_a, w.admin]).exists()


def test_an_offsite_next_is_ignored(client, w):
    client.force_login(w.client_a2)
    response = client.post(action_url("register", w.session_a),
                           {"next": "https://evil.example/"})
    assert response["Location"] == detail_url(w.session_a)


def test_leaving_frees_the_seat_for_the_waitlist(client, w):
    GroupSession.objects.filter(pk=w.session_a.pk).update(capacity=1)
    register(w.session_a, w.client_a2)  # waitlisted behind a1
    client.force_login(w.client_a1)
    response = client.post(action_url("leave", w.session_a))
    assert response["Location"] == SESSIONS
    assert any("no longer registered" in t for t in texts(response))
    assert Registration.objects.get(session=w.session_a, user=w.client_a1).status == S.CANCELLED
    assert Registration.objects.get(session=w.session_a, user=w.client_a2).status == S.REGISTERED


def test_leaving_an_invitation_declines_it(client, w):
    session = new_session(w, audience=Audience.LIST, invitees=[w.client_b1])
    send_invitations(session.pk)
    client.force_login(w.client_b1)
    response = client.post(action_url("leave", session))
    assert any("You declined" in t for t in texts(response))
    assert Registration.objects.get(session=session, user=w.client_b1).status == S.DECLINED


def test_leaving_without_a_registration_says_so(client, w):
    client.force_login(w.client_a2)
    response = client.post(action_url("leave", w.session_a))
    assert "You are not registered for this session." in texts(response)


# -- The invite link -------------------------------------------------------------------------

def join_url(session):
    return reverse("wagtail_coaching:join", args=[session.invite_token])


def test_the_invite_link_needs_a_sign_in(client, w):
    response = client.get(join_url(w.session_a))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert w.session_a.invite_token in response["Location"]


def test_an_unknown_invite_link_is_not_found(client, w):
    client.force_login(w.client_a1)
    assert client.get(reverse("wagtail_coaching:join", args=["nope"])).status_code == 404


def test_the_invite_link_lets_an_eligible_client_register(client, w):
    session = new_session(w)  # open to any client
    newcomer = UserFactory(username="newcomer")
    client.force_login(newcomer)
    response = client.get(join_url(session))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Open circle" in html
    assert f'action="{join_url(session)}"' in html
    assert Registration.objects.filter(session=session).count() == 0  # GET changes nothing
    response = client.post(join_url(session))
    assert response.status_code == 302
    assert response["Location"] == detail_url(session)
    assert Registration.objects.get(session=session, user=newcomer).status == S.REGISTERED
    # Now registered, the session is theirs to see.
    assert client.get(detail_url(session)).status_code == 200


def test_the_invite_link_refuses_an_ineligible_client_naming_nobody(client, w):
    client.force_login(w.client_b1)
    for send in (client.get, client.post):
        response = send(join_url(w.session_a))
        assert response.status_code == 403
        html = response.content.decode()
        assert ("This session is for the clients of one engagement only; ask your coach "
                "for an invitation") in html
        assert not [t for t in identities(w, w.client_b1) if t in html]
    assert not Registration.objects.filter(session=w.session_a, user=w.client_b1).exists()


# -- Replies to the invitation email ---------------------------------------------------------

@pytest.fixture
def invited(w):
    session = new_session(w, title="Invite only", audience=Audience.LIST,
                          invitees=[w.client_a2, w.client_b1])
    send_invitations(session.pk)
    regs = {r.user_id: r for r in Registration.objects.filter(session=session)}
    return session, regs[w.client_a2.pk], regs[w.client_b1.pk]


def rsvp_url(token):
    return reverse("wagtail_coaching:rsvp", args=[token])


def test_a_reply_link_asks_before_acting(client, w, invited):
    session, reg, _other = invited
    response = client.get(rsvp_url(rsvp_token(reg, ACCEPT)))  # signed out
    assert response.status_code == 200
    html = response.content.decode()
    assert "Invite only" in html
    assert "Yes, register me" in html
    assert "<button" in html
    reg.refresh_from_db()
    assert reg.status == S.INVITED  # a GET (a mail scanner) changes nothing


def test_accepting_registers_and_declining_declines(client, w, invited):
    session, reg, other = invited
    url = rsvp_url(rsvp_token(reg, ACCEPT))
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == url
    reg.refresh_from_db()
    assert reg.status == S.REGISTERED
    assert "You're registered" in client.get(url).content.decode()

    response = client.post(rsvp_url(rsvp_token(other, DECLINE)))
    other.refresh_from_db()
    assert other.status == S.DECLINED


def test_the_reply_page_shows_the_invitees_time_zone(client, w, invited):
    session, reg, _other = invited
    set_zone(w.client_a2, "Asia/Tokyo")
    html = client.get(rsvp_url(rsvp_token(reg, ACCEPT))).content.decode()
    local = session.starts_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f'datetime="{local.isoformat()}"' in html


def _swap(a, b):
    """The payload of token ``a`` with the timestamp and signature of token ``b``."""
    payload_a = a.rsplit(":", 2)[0]
    stamp_b, signature_b = b.rsplit(":", 2)[1:]
    return f"{payload_a}:{stamp_b}:{signature_b}"


def test_a_tampered_reply_link_is_refused(client, w, invited):
    session, reg, other = invited
    mine_accept = rsvp_token(reg, ACCEPT)
    theirs_decline = rsvp_token(other, DECLINE)
    mine_decline = rsvp_token(reg, DECLINE)
    forged = [
        _swap(theirs_decline, mine_accept),  # their registration, my signature
        _swap(mine_decline, mine_accept),  # my registration, the other answer
        mine_accept[:-2] + ("aa" if not mine_accept.endswith("aa") else "bb"),
        "not-a-token",
    ]
    for token in forged:
        for send in (client.get, client.post):
            response = send(rsvp_url(token))
            assert response.status_code == 400, token
            assert "This link is not valid." in response.content.decode()
    statuses = set(Registration.objects.filter(session=session).values_list("status", flat=True))
    assert statuses == {S.INVITED}


def test_an_expired_reply_link_is_refused(client, w, invited):
    session, reg, _other = invited
    token = rsvp_token(reg, ACCEPT)
    with override_settings(WAGTAIL_COACHING={"RSVP_MAX_AGE": -1}):
        response = client.post(rsvp_url(token))
    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()
    reg.refresh_from_db()
    assert reg.status == S.INVITED


def test_accepting_a_cancelled_session_says_so(client, w, invited):
    session, reg, _other = invited
    cancel_sessions(session)
    url = rsvp_url(rsvp_token(reg, ACCEPT))
    assert "This session has been cancelled." in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 409
    reg.refresh_from_db()
    assert reg.status == S.INVITED


# -- The calendar feed -----------------------------------------------------------------------

def feed_url(token):
    return reverse("wagtail_coaching:calendar_feed", args=[token])


def test_the_feed_holds_the_persons_sessions(client, w):
    token = feed_of(w.client_a1).token
    response = client.get(feed_url(token))  # no sign-in: calendar apps have none
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private"
    calendar = icalendar.Calendar.from_ical(response.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert w.session_a.uid in events
    assert str(events[w.session_a.uid]["SUMMARY"]) == "Team A circle"
    assert w.booking_a1.uid in events
    assert w.session_b.uid not in events and w.booking_b1.uid not in events


def test_an_unknown_feed_is_not_found(client, w):
    assert client.get(feed_url("unknown")).status_code == 404


def test_resetting_the_link_retires_the_old_one(client, w):
    old = feed_of(w.client_a1).token
    client.force_login(w.client_a1)
    response = client.post(reverse("wagtail_coaching:calendar_reset"))
    assert response.status_code == 302 and response["Location"] == SESSIONS
    assert any("reset" in t for t in texts(response))
    new = CalendarFeed.objects.get(user=w.client_a1).token
    assert new != old
    client.logout()
    assert client.get(feed_url(old)).status_code == 404
    assert client.get(feed_url(new)).status_code == 200
    assert re.search(re.escape(new), page(client, w.client_a1))


def test_resetting_needs_a_sign_in_and_a_post(client, w):
    url = reverse("wagtail_coaching:calendar_reset")
    assert client.post(url)["Location"].startswith("/accounts/login/")
    client.force_login(w.client_a1)
    assert client.get(url).status_code == 405


def test_a_client_without_an_enrollment_has_a_sessions_page(client, w):
    newcomer = UserFactory(username="newcomer")
    html = page(client, newcomer)
    assert "You are not registered for any group session." in html
    assert "Team A circle" not in html
    enroll(newcomer, w.engagement_a)
    assert "Team A circle" in page(client, newcomer)


# -- The dashboard ---------------------------------------------------------------------------

DASHBOARD = reverse("wagtail_coaching:dashboard")


def test_the_dashboard_shows_allotments_and_upcoming_sessions(client, w):
    html = page(client, w.client_a1, DASHBOARD)
    assert "Your 1:1 sessions" in html
    assert "1 of 3 sessions used, 2 left" in html
    allotment = w.one_to_one[w.enrollment_a1.pk]
    assert reverse("wagtail_coaching:book", args=[allotment.public_id]) in html
    assert "Your upcoming sessions" in html
    assert "Team A circle" in html
    assert "1:1 · Engagement A" in html
    assert SESSIONS in html
    # Soonest first: the 1:1 in two days before the circle in a week.
    assert html.index("1:1 · Engagement A") < html.index("Team A circle")


def test_the_dashboard_of_a_used_up_allotment_offers_no_booking(client, w):
    from wagtail_coaching.scheduling import book_session, publish_availability

    activity = w.one_to_one[w.enrollment_a1.pk]
    publish_availability(w.coach_a, start=in_days(5), end=in_days(5, 12), slot_minutes=60)
    for hour in (10, 11):
        book_session(activity, in_days(5, hour), actor=w.client_a1)
    html = page(client, w.client_a1, DASHBOARD)
    assert "3 of 3 sessions used, 0 left" in html
    assert reverse("wagtail_coaching:book", args=[activity.public_id]) not in html


def _dashboard_count(client, user):
    client.force_login(user)
    client.get(DASHBOARD)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(DASHBOARD)
    assert response.status_code == 200
    return len(queries)


def test_the_dashboard_query_count_does_not_grow_with_sessions(client, w):
    few = _dashboard_count(client, w.client_a1)
    from wagtail_coaching.scheduling import book_session, publish_availability

    publish_availability(w.coach_a, start=in_days(5), end=in_days(5, 12), slot_minutes=60)
    for hour in (10, 11):
        book_session(w.one_to_one[w.enrollment_a1.pk], in_days(5, hour), actor=w.client_a1)
    for i in range(4):
        register(new_session(w, title=f"Circle {i}", days=3 + i), w.client_a1)
    many = _dashboard_count(client, w.client_a1)
    assert few == many, (few, many)


def test_the_group_session_step_page_links_to_the_sessions_page(client, w):
    from wagtail_coaching.journeys import add_extra_activity

    step = add_extra_activity(w.enrollment_a2, "group_session", {"title": "Circle step"})
    html = page(client, w.client_a2, reverse("wagtail_coaching:activity", args=[step.public_id]))
    assert "See group sessions open to you" in html
    assert f'href="{SESSIONS}"' in html
