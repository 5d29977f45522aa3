"""A client writes to their coach from the portal (with a worksheet attached), the coach
replies from the admin's Messages inbox, and the client reads the reply."""

import re

from helpers import axe_violations, format_violations, sign_in, unique
from playwright.sync_api import expect

WORKSHEET = {
    "name": "my-week.pdf",
    "mimeType": "application/pdf",
    "buffer": b"%PDF-1.4\n% a client's worksheet\n",
}


def test_client_writes_and_the_coach_replies(new_page):
    question = unique("Can we talk about delegation on Thursday? ")
    answer = unique("Yes: bring your delegation log. ")

    # Leo (sandbox/home/demo.py) follows Leadership Foundations; Nina coaches him.
    client = new_page("client")
    sign_in(client, "leo")
    journey = client.get_by_role("region", name="Leadership Foundations")
    journey.get_by_role("link", name=re.compile(r"^Messages with your coach")).click()
    expect(client.get_by_role("heading", level=1)).to_have_text("Messages with your coach")
    client.get_by_label("Your message").fill(question)
    client.get_by_label(re.compile(r"^Share a file")).set_input_files(WORKSHEET)
    client.get_by_role("button", name="Send").click()
    expect(client.locator(".coaching-messages")).to_contain_text("Your message was sent.")
    mine = client.locator(".coaching-thread__message--mine").last
    expect(mine).to_contain_text(question)
    expect(mine.get_by_role("link", name="my-week.pdf")).to_be_visible()
    violations = axe_violations(client)
    assert not violations, format_violations(violations)

    # The coach: "Messages" in the admin's menu counts it; the inbox opens the conversation.
    coach = new_page("coach")
    sign_in(coach, "nina", next_url="/admin/")
    expect(coach.get_by_role("link", name=re.compile(r"^Messages \(\d+ new\)"))).to_be_visible()
    coach.get_by_role("link", name=re.compile(r"^Messages")).first.click()
    expect(coach.get_by_role("heading", level=1)).to_have_text("Messages")
    coach.get_by_role("row", name=re.compile(r"^Leo Fischer")).get_by_role(
        "link", name="Leo Fischer").click()
    expect(coach.get_by_role("heading", level=1)).to_have_text("Messages with Leo Fischer")
    expect(coach.locator(".coaching-thread")).to_contain_text(question)
    with coach.expect_download() as download:
        coach.get_by_role("link", name="my-week.pdf").click()
    assert download.value.suggested_filename == "my-week.pdf"
    coach.get_by_label("Your message").fill(answer)
    coach.get_by_role("button", name="Send").click()
    expect(coach.locator(".coaching-thread__message--mine").last).to_contain_text(answer)

    # The client is told in the app at once; the notice opens the conversation.
    client.get_by_role("link", name="Your coaching").click()
    notices = client.get_by_role("region", name=re.compile(r"^Notifications"))
    notice = notices.get_by_role("link", name=re.compile(r"^New message from"))
    expect(notice).to_be_visible()
    notice.click()
    expect(client.get_by_role("heading", level=1)).to_have_text("Messages with your coach")
    expect(client.locator(".coaching-thread")).to_contain_text(answer)
    expect(client.locator(".coaching-thread")).to_contain_text(question)
