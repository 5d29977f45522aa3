"""Staff acting for a client who phoned: a coaching admin books a 1:1 session for them from
the client card, reassigns their coach with the booked session moving to the new coach, and
adds the first coach back as a co-coach. The client's calendar gets the invitation, then the
same event updated."""

import datetime
import re

import icalendar
from helpers import sign_in, unique
from playwright.sync_api import expect
from test_staff_flows import wait_for


def a_client_who_phoned():
    """A new client of Leadership Foundations coached by Morgan, with the kick-off 1:1 step
    open, and an afternoon twelve days ahead when both Morgan and Nina are free (this test's
    own: the demo's availability is in the mornings)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from wagtail_coaching.journeys import assign_coach, enroll, unlock_activity
    from wagtail_coaching.models import (
        AssignmentMethod,
        AvailabilitySlot,
        ClientActivity,
        EngagementPage,
    )
    from wagtail_coaching.scheduling import publish_availability

    users = get_user_model().objects
    admin, morgan, nina = (users.get(username=u) for u in ("admin", "coach", "nina"))
    name = unique("robin")
    client = users.create_user(name, f"{name}@example.com", "demo1234", first_name="Robin",
                               last_name=name.capitalize())
    enrollment = enroll(client, EngagementPage.objects.get(slug="leadership-foundations"),
                        actor=admin)
    if enrollment.assignments.filter(coach=morgan, ended_at__isnull=True).count() == 0:
        assign_coach(enrollment, coach=morgan, method=AssignmentMethod.MANUAL, actor=admin)
    kickoff = ClientActivity.objects.filter(enrollment=enrollment, kind="one_to_one").order_by(
        "stage_position", "position").first()
    if kickoff.state != "available":
        unlock_activity(kickoff, actor=admin)
    afternoon = (timezone.localtime() + datetime.timedelta(days=12)).replace(
        hour=14, minute=0, second=0, microsecond=0)
    for coach in (morgan, nina):
        if not AvailabilitySlot.objects.filter(coach=coach, starts_at=afternoon).exists():
            publish_availability(coach, start=afternoon,
                                 end=afternoon + datetime.timedelta(hours=2), slot_minutes=60)
    return client, enrollment, afternoon


def invitations_to(sandbox, address):
    """The VEVENTs of the calendar files emailed to ``address``, oldest first."""
    events = []
    for message in sandbox.emails():
        if address not in (message["To"] or ""):
            continue
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
                events += [(str(calendar.get("METHOD")), event)
                           for event in calendar.walk("VEVENT")]
    return events


def choose(select, text):
    """Pick the option of ``select`` whose label starts with ``text`` (labels go on with a
    coach's load or a stage's)."""
    option = select.locator("option", has_text=re.compile("^" + re.escape(text)))
    select.select_option(value=option.first.get_attribute("value"))


def test_admin_books_for_a_client_reassigns_and_adds_a_co_coach(new_page, sandbox):
    from wagtail_coaching.models import CoachAssignment, CoachingSession
    from wagtail_coaching.utils.admin_pages import card_url

    client, enrollment, afternoon = a_client_who_phoned()
    admin = new_page("admin")
    sign_in(admin, "admin", next_url=card_url(enrollment))
    journey = admin.get_by_role("article", name=re.compile(r"^Leadership Foundations"))

    # 1. Book a session for the client at a free time of their coach.
    journey.get_by_role("link", name="Book a session").click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text("Book")
    admin.locator("select[name=starts_at]").select_option(value=afternoon.isoformat())
    admin.get_by_role("button", name="Book the session").click()
    booked = admin.locator(".coaching-card__booked")
    expect(booked).to_contain_text("Morgan Reyes")
    session = CoachingSession.objects.get(enrollment=enrollment, status="booked")
    assert session.starts_at == afternoon and session.coach.username == "coach"
    first = wait_for(lambda: invitations_to(sandbox, client.email), what="the invitation")
    method, event = first[-1]
    assert method == "REQUEST"
    uid, sequence = str(event["UID"]), int(event.get("SEQUENCE", 0))

    # 2. Reassign the client to Nina; the booked session moves with them.
    journey = admin.get_by_role("article", name=re.compile(r"^Leadership Foundations"))
    choose(journey.get_by_label("Reassign to"), "Nina Osei")
    expect(journey.get_by_label("Move booked sessions to the new coach")).to_be_checked()
    journey.get_by_role("button", name="Review the reassignment").click()
    expect(admin.locator(".coaching-reassign__outcome--moved")).to_have_text(
        "Moves to the new coach.")
    admin.get_by_role("button", name="Confirm the reassignment").click()
    expect(admin.locator(".coaching-card__booked")).to_contain_text("Nina Osei")
    session.refresh_from_db()
    assert session.coach.username == "nina" and session.starts_at == afternoon
    assert session.status == "booked"

    def updated():
        return [(m, e) for m, e in invitations_to(sandbox, client.email)
                if str(e["UID"]) == uid and int(e.get("SEQUENCE", 0)) > sequence]
    method, event = wait_for(updated, what="the updated invitation")[-1]
    assert method == "REQUEST"
    assert event.decoded("DTSTART") == afternoon

    # 3. Morgan stays on as a co-coach for the whole engagement.
    journey = admin.get_by_role("article", name=re.compile(r"^Leadership Foundations"))
    choose(journey.get_by_role("combobox", name="Add a co-coach"), "Morgan Reyes")
    journey.get_by_role("combobox", name="For", exact=True).select_option(label="Whole engagement")
    journey.get_by_role("button", name="Add a co-coach").click()
    expect(admin.get_by_text("Morgan Reyes now co-coaches this client.")).to_be_visible()
    current = CoachAssignment.objects.filter(enrollment=enrollment, ended_at__isnull=True)
    assert sorted(current.values_list("coach__username", "role")) == [
        ("coach", "co_coach"), ("nina", "coach")]
    assert admin.js_errors == []
