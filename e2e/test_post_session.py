"""After a 1:1 session: the coach records it as held with a summary and a follow-up practice
in one form on the session's page; the client finds both beside the session in their journey,
opens the practice, and has one message about it (by email and in the app)."""

import datetime

from helpers import SCREENSHOTS, sign_in, unique
from playwright.sync_api import expect
from test_staff_flows import email_text, wait_for


def held_an_hour_ago():
    """Priya's booked 1:1 (sandbox/home/demo.py), moved to have ended an hour ago: a session
    the coach can now record."""
    from django.utils import timezone

    from wagtail_coaching.models import CoachingSession

    session = CoachingSession.objects.filter(
        enrollment__client__username="priya", status="booked"
    ).select_related("enrollment__engagement").first()
    assert session is not None, "the demo books a 1:1 session for priya"
    start = timezone.now() - datetime.timedelta(hours=2)
    CoachingSession.objects.filter(pk=session.pk).update(
        starts_at=start, ends_at=start + datetime.timedelta(hours=1)
    )
    return session


def test_coach_records_a_summary_and_a_practice_the_client_sees(new_page, sandbox):
    from django.urls import reverse

    session = held_an_hour_ago()
    practice = unique("Two-minute pause ")
    summary = "We mapped where your week goes. Next: protect one calm hour a day."

    coach = new_page("coach")
    sign_in(coach, "coach", next_url=reverse(
        "coaching_one_to_one_modeladmin_inspect", args=[session.pk]))
    expect(coach.get_by_role("heading", name="Brief before the session")).to_be_visible()
    expect(coach.get_by_role("heading", name="Record the session")).to_be_visible()
    coach.get_by_label("Held").check()
    coach.get_by_label("Summary for the client").fill(summary)
    coach.get_by_label("Practice 1: title").fill(practice)
    coach.get_by_label("Practice 1: instructions").fill(
        "Before each meeting, stop for two minutes and breathe.")
    coach.get_by_label("Practice 1: how often").select_option(label="Daily")
    coach.get_by_role("button", name="Record", exact=True).click()
    expect(coach.get_by_text("The session is recorded.")).to_be_visible()
    expect(coach.locator(".coaching-session__practices")).to_contain_text(practice)

    client = new_page("client")
    sign_in(client, "priya")
    client.goto(session.enrollment.engagement.url)
    journey = client.get_by_role("region", name="Your journey")
    held = journey.locator(".coaching-held-session").filter(has_text=summary)
    expect(held).to_be_visible()
    link = held.get_by_role("link", name=practice)
    expect(link).to_be_visible()
    held.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    client.screenshot(path=str(SCREENSHOTS / "post-session-journey.png"), full_page=True)

    client.goto("/coaching/sessions/")
    expect(client.locator(".coaching-held-session").filter(has_text=summary)).to_be_visible()
    client.screenshot(path=str(SCREENSHOTS / "post-session-my-sessions.png"), full_page=True)

    client.goto(session.enrollment.engagement.url)
    client.get_by_role("region", name="Your journey").locator(
        ".coaching-held-session").get_by_role("link", name=practice).click()
    expect(client.get_by_role("heading", level=1)).to_have_text(practice)
    expect(client.locator(".coaching-from-session")).to_contain_text(summary)
    # The client practises it: a daily practice is logged, day by day, towards its target.
    panel = client.locator(".coaching-practice-panel")
    expect(panel).to_contain_text("0 of 7 days practised")
    client.get_by_role("button", name="I practised today").click()
    expect(client.locator(".coaching-messages")).to_contain_text("Logged for today")
    expect(panel).to_contain_text("1 of 7 days practised")
    expect(panel).to_contain_text("1-day streak")

    # One message: the email (sent by the sandbox's worker) and the in-app notice.
    def sent():
        return [m for m in sandbox.emails()
                if m["To"] == "priya@example.com" and "summary" in (m["Subject"] or "")]

    (message,) = wait_for(sent, what="the after-session email")
    body = email_text(message)
    assert summary in body and practice in body
    client.goto("/coaching/")
    expect(client.get_by_role("region", name="Notifications")).to_contain_text(
        "After your session")
