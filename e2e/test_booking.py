"""The demo's client books her second kick-off session in the week view of her coach's
free times, then adds it to her calendar from the sessions page: the file is that one
session, with the UID of its invitation. The test cancels it again at the end, so the
other browser tests find the demo as it was."""

import re

import icalendar
from helpers import axe_violations, format_violations, sign_in
from playwright.sync_api import expect


def test_the_demo_client_books_a_session_in_the_week_view(new_page, sandbox):
    from wagtail_coaching.models import ClientActivity, CoachingSession
    from wagtail_coaching.scheduling import cancel_session
    from wagtail_coaching.utils.time_zones import user_time_zone

    kickoff = ClientActivity.objects.get(
        enrollment__client__username="client", title="Kick-off sessions with your coach"
    )
    page = new_page("client")
    sign_in(page, "client", next_url="/coaching/sessions/")
    page.get_by_role("link", name=re.compile("Book a session.*Kick-off")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Book a 1:1 session")
    expect(page.get_by_text("1 of 2 sessions used, 1 left.")).to_be_visible()

    # A week of days as columns; each free time a labelled radio button drawn as a button.
    week = page.locator(".coaching-week__days")
    expect(week.locator("fieldset")).to_have_count(7)
    first = week.locator(".coaching-slot").first
    day = first.locator("xpath=ancestor::fieldset").get_attribute("data-day")
    starts_at = first.locator("input").get_attribute("value")
    assert not axe_violations(page), format_violations(axe_violations(page))
    # The keyboard reaches the times: focus the first and choose it with Space.
    first.locator("input").focus()
    page.keyboard.press("Space")
    expect(first.locator("input")).to_be_checked()
    page.get_by_role("button", name="Book this time").click()

    expect(page).to_have_url(re.compile(r"/coaching/sessions/$"))
    expect(page.locator(".coaching-message, .coaching-messages").first).to_contain_text(
        "is booked")
    session = CoachingSession.objects.get(activity=kickoff, status="booked")
    assert session.starts_at.isoformat() == starts_at.replace("Z", "+00:00")
    zone = user_time_zone(session.enrollment.client)
    assert session.starts_at.astimezone(zone).date().isoformat() == day

    # Add to calendar: the session's own file, the same event as its invitation.
    link = page.get_by_role("link", name=re.compile("Add to calendar"))
    expect(link).to_have_count(1)
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200
    (event,) = icalendar.Calendar.from_ical(response.body()).walk("VEVENT")
    assert str(event["UID"]) == session.uid and int(event["SEQUENCE"]) == session.sequence

    # The step page offers it too.
    page.goto(f"/coaching/activity/{kickoff.public_id}/")
    expect(page.get_by_role("link", name=re.compile("Add to calendar"))).to_have_count(1)

    cancel_session(session, actor=session.coach)
