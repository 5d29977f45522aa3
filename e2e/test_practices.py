"""A client keeps up a daily practice: logs it from the step and from the dashboard, once a
day, and sees the week's ticks and the streak on the dashboard and in their journey."""

import datetime
import re

from helpers import SCREENSHOTS, axe_violations, format_violations, unique
from playwright.sync_api import expect
from test_client_flows import FREE_OFFER, sign_up

PRACTICE = "Box breathing, twice a day"  # Stress Reset's daily practice (sandbox demo data)


def start_stress_reset(page):
    """Sign up for the free offer and do the two steps before the practice."""
    page.goto(FREE_OFFER)
    page.get_by_role("button", name="Start for free").click()
    page.get_by_role("link", name="Create an account").click()
    username = unique("pat")
    sign_up(page, username, first_name="Pat")
    page.get_by_role("link", name="Start your journey").click()
    page.locator(".coaching-next-step").get_by_role("link").click()
    page.get_by_role("button", name="Mark lesson as done").click()
    page.get_by_label("6", exact=True).check()
    page.get_by_role("button", name="Send my check-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PRACTICE)
    return username


def test_a_client_keeps_up_a_practice(new_page):
    from django.utils import timezone

    from wagtail_coaching.journeys import add_extra_activity
    from wagtail_coaching.models import ClientActivity, Enrollment, PracticeLog

    page = new_page()
    username = start_stress_reset(page)

    # From the step: one tap logs today; the step stays open (7 days make the target).
    panel = page.locator(".coaching-practice-panel")
    expect(panel).to_contain_text("0 of 7 days practised")
    page.get_by_role("button", name="I practised today").click()
    expect(page.locator(".coaching-messages")).to_contain_text("Logged for today")
    expect(panel).to_contain_text("1 of 7 days practised")
    expect(panel).to_contain_text("1-day streak")
    expect(panel.locator(".coaching-practice__tick--done")).to_have_count(1)
    expect(page.get_by_text("Logged for today. Come back tomorrow")).to_be_visible()
    expect(page.get_by_role("button", name="I practised today")).to_have_count(0)
    assert not axe_violations(page), format_violations(axe_violations(page))

    # The two days before were practised too (as if the client had been here then), and
    # their coach adds a second daily practice for them.
    enrollment = Enrollment.objects.get(client__username=username)
    breathing = ClientActivity.objects.get(enrollment=enrollment, title=PRACTICE)
    today = timezone.localdate()  # the client's zone: the site's, Europe/London
    for n in (1, 2):
        PracticeLog.objects.create(
            activity=breathing, day=today - datetime.timedelta(days=n),
            done_at=timezone.now() - datetime.timedelta(days=n),
        )
    add_extra_activity(enrollment, "practice", {
        "title": "Evening walk", "instructions": "<p>Twenty minutes, no phone.</p>",
        "cadence": "daily", "weeks": 2,
    })

    # From the dashboard: each open practice with its week, streak and a button.
    page.get_by_role("link", name="My coaching").first.click()
    journey = page.get_by_role("region", name="Stress Reset")
    breathing_item = journey.locator(".coaching-practices__item").filter(has_text=PRACTICE)
    walk_item = journey.locator(".coaching-practices__item").filter(has_text="Evening walk")
    expect(breathing_item).to_contain_text("3-day streak")
    expect(breathing_item).to_contain_text("3 of 7 days practised")
    expect(breathing_item).to_contain_text("Logged for today.")
    expect(walk_item).to_contain_text("0 of 14 days practised")
    walk_item.get_by_role("button", name="I practised today").click()
    expect(page).to_have_url(re.compile(r"/coaching/#practice-"))
    expect(page.locator(".coaching-messages")).to_contain_text("Logged for today: “Evening walk”")
    expect(walk_item).to_contain_text("1 of 14 days practised")
    expect(walk_item).to_contain_text("Logged for today.")
    expect(page.get_by_text("You practised “Evening walk”")).to_be_visible()
    assert not axe_violations(page), format_violations(axe_violations(page))
    assert PracticeLog.objects.filter(activity__enrollment=enrollment).count() == 4
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    journey.screenshot(path=str(SCREENSHOTS / "practice-dashboard-week.png"))

    # The journey: each practice's streak and days beside its step.
    page.get_by_role("link", name="Every step, your progress and your check-ins").click()
    outline = page.locator(".coaching-outline")
    expect(outline.locator(".coaching-step").filter(has_text=PRACTICE)).to_contain_text(
        "3-day streak, 3 of 7 days practised"
    )
    expect(outline.locator(".coaching-step").filter(has_text="Evening walk")).to_contain_text(
        "1-day streak, 1 of 14 days practised"
    )
    page.screenshot(path=str(SCREENSHOTS / "practice-journey-with-streak.png"), full_page=True)
    assert not page.js_errors
