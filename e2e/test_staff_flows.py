"""The staff side in the Wagtail admin: an admin composing an engagement, a coach adapting one
client's journey, group sessions with invitations and attendance, an HR partner's view."""

import datetime
import re
import time

from helpers import sign_in, unique
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

# -- 3. An admin builds an engagement in the page editor -----------------------------------

# The page editor saves itself: the form posts in the background a moment after each change
# (the first save creates the page, moves the form to the edit URL and swaps the header and
# side panels in). The tests wait on that machinery's own state, never on the clock.
EDITOR_SAVED = """() => {
    const form = document.querySelector("form[data-edit-form]");
    const app = window.wagtail && window.wagtail.app;
    if (!form || !app) return false;
    if (!app.getControllerForElementAndIdentifier(form, "w-autosave")) return true;
    // Wagtail's unsaved-changes tracker keeps the form data of the last save; the indicator
    // says "saving" from the moment a save is asked for until the server has answered.
    const unsaved = app.getControllerForElementAndIdentifier(form, "w-unsaved");
    const indicator = document.getElementById("w-autosave-indicator");
    return Boolean(unsaved && unsaved.initialFormData !== undefined)
        && unsaved.formData === unsaved.initialFormData
        && indicator.getAttribute("data-w-autosave-state-value") !== "saving";
}"""


def wait_until_saved(page):
    """Until everything the editor shows has been autosaved and no save is in flight."""
    try:
        page.wait_for_function(EDITOR_SAVED)
    except PlaywrightTimeoutError:
        indicator = page.locator("#w-autosave-indicator")
        state = indicator.get_attribute("data-w-autosave-state-value", timeout=1000)
        raise AssertionError(f"The editor never finished saving (autosave: {state})") from None


def insert_buttons(container):
    return container.get_by_role("button", name="Insert a block")


def add_stage(page, title):
    program = page.get_by_role("region", name="Program")
    stages = program.get_by_role("region", name=re.compile(r"^Stage"))
    count = stages.count()
    wait_until_saved(page)
    insert_buttons(program).last.click()  # one block type: inserted without a menu
    expect(stages).to_have_count(count + 1)
    stage = stages.last
    stage.get_by_role("textbox", name="Stage title*").fill(title)
    return stage


def choose_block(page, container, label):
    """Open the block menu of ``container``'s last "Insert a block" button and pick ``label``.

    Only once the editor is saved: a save re-draws parts of the page, and a click landing
    while it does is lost. The StreamField's script makes the button a menu toggle (it gains
    ``aria-expanded``); the menu is a combobox whose options render when it opens.
    """
    wait_until_saved(page)
    button = insert_buttons(container).last
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    menu = page.locator("[data-tippy-root]").filter(has=page.locator(".w-combobox"))
    expect(menu.get_by_role("listbox")).to_be_visible()
    option = menu.get_by_role("option", name=label, exact=True)
    expect(option).to_be_visible()
    option.click()
    expect(button).to_have_attribute("aria-expanded", "false")


def add_activity(page, stage, kind, title, rule, days=None, rich_text="", **textboxes):
    """Insert an activity of ``kind`` (its label in the block menu) at the end of ``stage``."""
    blocks = stage.get_by_role("region", name=re.compile("^" + re.escape(kind)))
    count = blocks.count()
    choose_block(page, stage, kind)
    expect(blocks).to_have_count(count + 1)
    block = blocks.last
    block.get_by_role("textbox", name="Title*", exact=True).fill(title)
    block.get_by_role("combobox", name="Unlocks*").select_option(label=rule)
    if days is not None:
        block.get_by_role("spinbutton", name="Days", exact=True).fill(str(days))
    if rich_text:
        block.locator("[contenteditable='true']").first.click()
        page.keyboard.type(rich_text)
    for label, value in textboxes.items():
        block.get_by_role("textbox", name=label).fill(value)
    return block


def publish(page):
    # Publishing while an autosave is in flight would race it, as it would for a person (and
    # before the first save has created the page, it would create a second one).
    wait_until_saved(page)
    page.get_by_role("button", name="More actions").click()
    page.get_by_role("button", name="Publish").click()


def test_admin_builds_and_publishes_an_engagement(new_page):
    from sandbox.home.models import HomePage
    from wagtail_coaching.models import AssignmentMethod, EngagementPage, Team

    title = unique("Resilience Sprint ")
    home = HomePage.objects.get()
    page = new_page()
    sign_in(page, "admin", next_url="/admin/")

    page.goto(f"/admin/pages/{home.pk}/")
    page.get_by_role("link", name="Add child page").first.click()
    page.get_by_role("link", name="Engagement", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New: Engagement")

    page.locator("#id_title").fill(title)
    page.get_by_role("textbox", name="Summary").fill("Two weeks to build habits that last.")
    start = add_stage(page, "Start here")
    add_activity(page, start, "Lesson", "Why habits beat willpower", "Immediately",
                 rich_text="Small steps, every day.")
    add_activity(page, start, "Check-in (0-10)", "Energy today",
                 "After the previous activity is completed", **{"What is measured*": "Energy"})
    practice = add_stage(page, "Build the habit")
    add_activity(page, practice, "Practice", "Daily walk", "N days after enrollment", days=3,
                 rich_text="Walk ten minutes after lunch.")
    add_activity(page, practice, "Feedback (1-5)", "How was the sprint?",
                 "Manually, by a coach")
    publish(page)
    expect(page.get_by_role("status")).to_contain_text(f"Page '{title}' has been published.")

    # Its team and how clients get a coach, in the Settings tab, published again.
    engagement = EngagementPage.objects.get(title=title)
    team = Team.objects.get(name="Bright Path coaches")
    page.goto(f"/admin/pages/{engagement.pk}/edit/")
    page.get_by_role("tab", name="Settings").click()
    page.get_by_role("combobox", name="Team").select_option(label=team.name)
    page.get_by_role("combobox", name="Coach assignment").select_option(
        value=AssignmentMethod.LEAST_LOADED
    )
    publish(page)
    expect(page.get_by_role("status")).to_contain_text(f"Page '{title}' has been published.")

    engagement = EngagementPage.objects.get(pk=engagement.pk)
    assert engagement.live and not engagement.has_unpublished_changes
    assert (engagement.team_id, engagement.assignment_policy) == (
        team.pk, AssignmentMethod.LEAST_LOADED
    )
    stages = [
        (stage.value["title"], [
            (a.block_type, a.value["title"], a.value["unlock"]["rule"], a.value["unlock"]["days"])
            for a in stage.value["activities"]
        ])
        for stage in engagement.program
    ]
    assert stages == [
        ("Start here", [("lesson", "Why habits beat willpower", "immediately", None),
                        ("check_in", "Energy today", "after_previous", None)]),
        ("Build the habit", [("practice", "Daily walk", "days_after_enrollment", 3),
                             ("feedback", "How was the sprint?", "manual", None)]),
    ]

    # Visitors see the published introduction with its stages.
    page.goto(engagement.url)
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_role("region", name="How the journey unfolds")).to_contain_text(
        "Start here"
    )


# -- 4. A coach adds an extra activity for one client ---------------------------------------

def test_coach_adds_an_extra_activity_the_client_sees(new_page):
    title = unique("Delegation log ")
    coach = new_page("coach")
    sign_in(coach, "coach", next_url="/admin/")
    coach.get_by_role("button", name="Coaching").click()
    coach.get_by_role("link", name="Clients", exact=True).click()
    expect(coach.get_by_role("heading", level=1)).to_have_text("Clients")
    # Leo (sandbox/home/demo.py) started Leadership Foundations yesterday; Nina coaches him
    # and Morgan, in the same team, may adapt his journey too.
    row = coach.get_by_role("row", name=re.compile(r"^Leo Fischer Leadership Foundations"))
    row.get_by_role("link", name="Leo Fischer").click()

    card = coach.get_by_role("dialog", name="Client card")
    journey = card.get_by_role("article", name=re.compile(r"^Leadership Foundations"))
    journey.get_by_text("Add a step for this client").click()
    journey.get_by_label("Type").select_option(label="Practice")
    journey.get_by_label("Title").fill(title)
    journey.get_by_label("Text").fill("Each evening, note one task you handed over and how.")
    # (By role: the progress chart, "Progress by stage", is labelled "Stage" too.)
    journey.get_by_role("combobox", name="Stage").select_option(label="Leading others")
    journey.get_by_role("button", name="Add to the journey").click()
    expect(journey.locator(".coaching-card__step").filter(has_text=title)).to_contain_text(
        "Available"
    )

    client = new_page("client")
    sign_in(client, "leo")
    mine = client.get_by_role("region", name="Leadership Foundations")
    # The dashboard lists the steps of the stage in progress and links to the others'.
    mine.get_by_role("link", name="See the steps (Leading others)").click()
    step = client.get_by_role("region", name="Your journey").get_by_role("link", name=title)
    expect(step).to_be_visible()
    step.click()
    expect(client.get_by_role("heading", level=1)).to_have_text(title)
    expect(client.locator(".coaching-activity__content")).to_contain_text(
        "note one task you handed over"
    )
    client.get_by_role("link", name="My coaching").first.click()
    expect(client.get_by_role("region", name="Recent activity")).to_contain_text(
        f"Your coach added “{title}” for you"
    )


# -- 5. A weekly series for a cohort: invitations, registration, attendance ----------------

def wait_for(check, seconds=30, what="the worker"):
    """Poll ``check()`` until it returns something truthy: jobs run on the sandbox's worker."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"Timed out waiting for {what}")


def email_text(message):
    return "".join(
        part.get_payload(decode=True).decode() for part in message.walk()
        if part.get_content_type() == "text/plain"
    )


def test_weekly_group_sessions_for_a_cohort(new_page, sandbox):
    from django.utils import timezone

    from wagtail_coaching.models import GroupSession, Notification, Registration

    title = unique("Spring circle ")
    first_day = timezone.localdate() + datetime.timedelta(days=8)

    admin = new_page("admin")
    sign_in(admin, "admin", next_url="/admin/")
    admin.get_by_role("button", name="Coaching").click()
    admin.get_by_role("link", name="Group sessions").click()
    admin.get_by_role("link", name="Add sessions").click()
    admin.get_by_role("textbox", name="Title*").fill(title)
    admin.get_by_role("combobox", name="Coach*").select_option(label="Morgan Reyes")
    admin.get_by_role("textbox", name="Date*").fill(first_day.isoformat())
    admin.get_by_role("textbox", name="Start time*").fill("18:00")
    admin.get_by_role("spinbutton", name="Duration (minutes)*").fill("90")
    admin.get_by_role("combobox", name="Time zone*").select_option("Europe/London")
    admin.get_by_role("radio", name="Weekly").check()
    admin.get_by_role("spinbutton", name="Number of sessions").fill("3")
    admin.get_by_role("spinbutton", name="Seats").fill("10")
    admin.get_by_role("textbox", name="Video link").fill("https://meet.example.com/spring")
    admin.get_by_role("combobox", name="Audience*").select_option(label="A cohort")
    admin.get_by_role("combobox", name="Cohort").select_option(label="Acme Spring Leaders")
    expect(admin.get_by_role("checkbox", name="Send invitations now")).to_be_checked()
    admin.get_by_role("button", name=re.compile(r"^(Create|Save|Add)")).click()
    expect(admin.get_by_role("status")).to_contain_text(
        f"3 sessions of “{title}” created. The invitations are on their way."
    )

    sessions = list(GroupSession.objects.filter(title=title).order_by("starts_at"))
    local_starts = [timezone.localtime(s.starts_at).strftime("%Y-%m-%d %H:%M") for s in sessions]
    assert local_starts == [
        f"{first_day + datetime.timedelta(weeks=week)} 18:00" for week in range(3)
    ]

    # The outbox: the four cohort members (sandbox/home/demo.py) each invited once to the
    # whole series, every invitation sent by the worker with its calendar file: one
    # recurring event for the three sessions.
    def invitations_sent():
        rows = Notification.objects.filter(kind="session_invitation", payload__title=title)
        return list(rows) if rows.count() == 4 and not rows.filter(sent_at=None) else None

    invitations = wait_for(invitations_sent, what="the 4 invitations to be sent")
    assert sorted(n.recipient.username for n in invitations) == [
        "client", "omar", "priya", "sam",
    ]
    def invitation_emails():
        found = [m for m in sandbox.emails() if title in m["Subject"]
                 and m["To"] != "coach@example.com"]
        return found if len(found) == 4 else None

    emails = wait_for(invitation_emails, what="the 4 invitation emails")
    for message in emails:
        (ics,) = [part for part in message.walk()
                  if part.get_content_type() == "text/calendar"]
        text = ics.get_payload(decode=True).decode()
        assert "METHOD:REQUEST" in text and f"SUMMARY:{title}" in text
        assert "RRULE:FREQ=WEEKLY;COUNT=3" in text and text.count("BEGIN:VEVENT") == 1

    # Sam registers for the first session through its invite link, shared by the admin.
    # (Casey and Priya, whom the HR partner may see, are left as the demo has them.)
    expect(admin.get_by_role("heading", level=1)).to_contain_text(title)
    invite_url = admin.get_by_role("textbox", name="Invite link").input_value()
    client = new_page("sam")
    sign_in(client, "sam")
    client.goto(invite_url)
    expect(client.get_by_role("heading", level=1)).to_have_text(title)
    client.get_by_role("button", name=re.compile(r"^(Register|Take a seat)")).click()
    expect(client.locator(".coaching-messages")).to_contain_text("registered")

    # Omar answers his emailed invitation ("Take a seat") without signing in.
    (omar_row,) = [n for n in invitations if n.recipient.username == "omar"]
    first_date = omar_row.payload["occurrences"][0]
    assert first_date["starts_at"] == sessions[0].starts_at.isoformat()
    accept_url = sandbox.url(first_date["accept_path"])
    assert any(
        m["To"] == "omar@example.com" and accept_url in email_text(m) for m in emails
    ), "Omar's invitation email has no link to take a seat"
    visitor = new_page("omar")
    visitor.goto(accept_url)
    visitor.get_by_role("button", name="Yes, register me").click()
    expect(visitor.locator(".coaching-notice--success")).to_contain_text("You're registered.")

    statuses = dict(Registration.objects.filter(session=sessions[0]).values_list(
        "user__username", "status"
    ))
    assert statuses == {"client": "invited", "priya": "invited", "sam": "registered",
                        "omar": "registered"}

    # A week later the session has been held (its time moved into the past: the server's
    # clock cannot be), and the coach takes attendance.
    now = timezone.now()
    GroupSession.objects.filter(pk=sessions[0].pk).update(
        starts_at=now - datetime.timedelta(hours=2), ends_at=now - datetime.timedelta(minutes=30)
    )
    coach = new_page("coach")
    sign_in(coach, "coach", next_url="/admin/")
    coach.goto(f"/admin/coaching/sessions/inspect/{sessions[0].pk}/")
    coach.get_by_role("row", name=re.compile("^Sam Turner")).get_by_role(
        "radio", name="Attended").check()
    coach.get_by_role("row", name=re.compile("^Omar Haddad")).get_by_role(
        "radio", name="No-show").check()
    coach.get_by_role("button", name="Save attendance").click()
    expect(coach.get_by_role("status")).to_contain_text("Attendance saved (2 changes).")
    statuses = dict(Registration.objects.filter(session=sessions[0]).values_list(
        "user__username", "status"
    ))
    assert (statuses["sam"], statuses["omar"]) == ("attended", "no_show")

    # Sam's sessions: the two of the series still ahead (the held one is past).
    client.goto("/coaching/sessions/")
    expect(client.get_by_role("listitem").filter(
        has=client.get_by_role("link", name=title, exact=True))).to_have_count(2)


# -- 6. An HR partner: their company's consented clients, never notes -----------------------

COMPANY_REPORT = "/admin/coaching/reports/company/"  # wagtail_coaching_admin:report_company


def table_rows(table):
    """The rows of a listing table as dicts keyed by its column headings."""
    return table.evaluate(
        """table => {
            const clean = cell => cell.innerText.replace(/\\s+/g, " ").trim();
            const headings = [...table.querySelectorAll("thead th")].map(clean);
            return [...table.querySelectorAll("tbody tr")].map(row => Object.fromEntries(
                [...row.querySelectorAll("td")].map((cell, i) => [headings[i], clean(cell)])
            ));
        }"""
    )


def test_hr_partner_sees_the_company_but_not_notes(new_page):
    import csv
    import io

    from django.contrib.auth import get_user_model

    from wagtail_coaching.admin.company_panel import company_rows
    from wagtail_coaching.models import CoachingSession, Company, Enrollment

    note = unique("Talked about the reorganisation at home ")
    casey = Enrollment.objects.get(client__username="client",
                                   engagement__title="Leadership Foundations")
    sam = Enrollment.objects.get(client__username="sam")
    acme = Company.objects.get(name="Acme Corp")
    # Sam and Omar are in Acme's cohort but did not agree to share their progress.
    hidden = [get_user_model().objects.get(username=name).get_full_name()
              for name in ("sam", "omar")]
    assert hidden == ["Sam Turner", "Omar Haddad"]

    # Casey's coach writes a note the whole coaching team can read.
    coach = new_page("coach")
    sign_in(coach, "coach", next_url=f"/admin/coaching/client/{casey.public_id}/")
    journey = coach.get_by_role("article", name=re.compile(r"^Leadership Foundations"))
    journey.get_by_text("Write a note").click()
    journey.get_by_label("Note").fill(note)
    journey.get_by_label("Visible to").select_option(label="The coaching team")
    journey.get_by_role("button", name="Add the note").click()
    expect(coach.get_by_role("main")).to_contain_text(note)

    # The HR partner's admin home: their company at a glance, leading to its report.
    hr = new_page("hr")
    sign_in(hr, "hr", next_url="/admin/")
    companies = hr.get_by_role("region", name="Your companies")
    # The demo's figures: 7 of 14 steps (Casey, Leadership) + 1 of 7 (Casey, Stress Reset) +
    # 4 of 14 (Priya) = 34.3%, and three sessions attended: Casey and Priya at last week's
    # circle and Casey's first kick-off session (sandbox/home/demo.py).
    # Other browser tests share this database and may have held Priya's 1:1 and given her a
    # follow-up practice: the page must show the figures as the panel's own query counts them.
    (figures,) = company_rows(get_user_model().objects.get(username="hr"))
    untouched = not CoachingSession.objects.filter(
        enrollment__client__username="priya", status="completed").exists()
    if untouched:
        assert (figures["progress"], figures["attended"]) == (34.3, 3)
    assert table_rows(companies.get_by_role("table")) == [{
        "Company": "Acme Corp", "Clients sharing their progress": "2",
        "Progress (steps done)": f"{figures['progress']}%",
        "Sessions attended, last 30 days": str(figures["attended"]),
    }]
    expect(companies.get_by_role("link", name="Acme Corp")).to_have_attribute(
        "href", f"{COMPANY_REPORT}?company={acme.pk}"
    )

    # The company report, found in the Reports menu: consented clients only (Casey and
    # Priya agreed to share their progress in the demo), with progress and attendance.
    hr.get_by_role("button", name="Reports").click()
    hr.get_by_role("link", name="Company report", exact=True).click()
    expect(hr).to_have_url(re.compile(re.escape(COMPANY_REPORT) + "$"))
    expect(hr.get_by_role("heading", level=1)).to_have_text("Company report")
    listing = hr.get_by_role("main")
    report = listing.get_by_role("table")
    expect(report).to_be_visible()
    rows = table_rows(report)
    assert sorted({row["Client"] for row in rows}) == ["Casey Morgan", "Priya Shah"]
    (casey_row,) = [row for row in rows if row["Client"] == "Casey Morgan"
                    and row["Engagement"] == "Leadership Foundations"]
    assert casey_row == {
        "Client": "Casey Morgan", "Company": "Acme Corp",
        "Engagement": "Leadership Foundations", "Cohort": "Acme Spring Leaders",
        # Casey has held one of her two kick-off sessions (the demo plays 1:1 steps out with
        # real sessions), so that step is still open.
        "Status": "Active", "Progress (%)": "50.0", "Steps done": "7", "Steps": "14",
        "Sessions attended": "2", "Sessions missed": "0",
    }
    for name in hidden:
        expect(listing).not_to_contain_text(name)

    # The CSV export leaves them out too.
    response = hr.context.request.get(COMPANY_REPORT + "?export=csv")
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(response.text().lstrip("\ufeff"))))
    assert sorted({row["Client"] for row in exported}) == ["Casey Morgan", "Priya Shah"]
    (casey_line,) = [row for row in exported if row["Client"] == "Casey Morgan"
                     and row["Engagement"] == "Leadership Foundations"]
    assert (casey_line["Progress (%)"], casey_line["Sessions attended"]) == ("50.0", "2")
    assert not any(name in response.text() for name in hidden)

    # Casey's card: progress, but no notes, answers or timeline.
    listing.get_by_role("link", name="Casey Morgan").first.click()
    card = hr.get_by_role("region", name="Casey Morgan")
    expect(card).to_contain_text("50% done (7 of 14 steps)")
    expect(card).not_to_contain_text(note)
    expect(card).not_to_contain_text("Engineering team lead")  # an intake answer
    expect(card.get_by_role("heading", name="Timeline")).to_have_count(0)
    expect(card.get_by_role("heading", name="Notes")).to_have_count(0)

    # Sam did not consent: his card does not open for the HR partner.
    response = hr.goto(f"/admin/coaching/client/{sam.public_id}/")
    assert response.status in (403, 404)
    expect(hr.get_by_role("main")).not_to_contain_text(hidden[0])
