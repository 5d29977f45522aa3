"""A visitor becomes a client: a free offer with sign-up, then a paid one through the demo's
stand-in for Stripe's checkout, with the webhook events delivered signed."""

import re

from helpers import PASSWORD, unique
from playwright.sync_api import expect

FREE_OFFER = "/try-stress-reset/"  # sandbox/home/demo.py: Stress Reset, one free price
PAID_OFFER = "/join-leadership-foundations/"  # Leadership Foundations, €490 or 3 × €170


def sign_up(page, username, first_name="Robin"):
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill("Tester")
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()


def test_free_offer_signup_and_first_steps(new_page):
    page = new_page()
    username = unique("robin")

    # The offer page: the free price's button asks the visitor to sign in or sign up first.
    page.goto(FREE_OFFER)
    expect(page.get_by_role("heading", level=1)).to_have_text("Stress Reset, free")
    page.get_by_role("button", name="Start for free").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_role("link", name="Create an account").click()

    sign_up(page, username)
    # Signed up: the free price they asked for is theirs, without a second "Start for free".
    expect(page).to_have_url(re.compile(r"/coaching/orders/[0-9a-f-]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you!")
    expect(page.get_by_role("listitem").filter(has_text="Stress Reset")).to_be_visible()
    page.get_by_role("link", name="Start your journey").click()

    # The dashboard: enrolled, first step open, nothing done yet.
    expect(page).to_have_url(re.compile(r"/coaching/$"))
    journey = page.get_by_role("region", name="Stress Reset")
    expect(journey).to_contain_text("0 of 7 steps done")
    expect(journey.locator(".coaching-next-step")).to_contain_text("How stress works")
    expect(journey.get_by_text("Box breathing, twice a day")).to_be_visible()
    journey.locator(".coaching-next-step").get_by_role("link").click()

    # The lesson, then the check-in it opens.
    expect(page.get_by_role("heading", level=1)).to_have_text("How stress works")
    page.get_by_role("button", name="Mark lesson as done").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stress right now")
    expect(page.locator(".coaching-messages")).to_contain_text("Done: “How stress works”")
    page.get_by_label("6", exact=True).check()
    page.get_by_role("button", name="Send my check-in").click()

    # The practice that waited for the check-in is open now.
    expect(page.get_by_role("heading", level=1)).to_have_text("Box breathing, twice a day")
    page.get_by_role("link", name="My coaching").first.click()
    expect(journey).to_contain_text("2 of 7 steps done")
    expect(journey.locator(".coaching-next-step")).to_contain_text("Box breathing, twice a day")


def test_paid_offer_through_stripe_checkout(new_page, sandbox):
    from wagtail_coaching.models import Order, StripeEvent

    page = new_page()
    username = unique("kim")
    page.goto(PAID_OFFER)
    pay_once = page.get_by_role("listitem").filter(has_text="Pay once")
    expect(pay_once).to_contain_text("€490.00")
    pay_once.get_by_role("button", name="Buy now").click()
    page.get_by_role("link", name="Create an account").click()
    sign_up(page, username, first_name="Kim")

    expect(page.get_by_role("heading", level=1)).to_have_text("Join Leadership Foundations")
    expect(page.locator(".coaching-checkout__summary")).to_contain_text("Pay once")
    page.get_by_role("button", name="Continue to payment").click()

    # The demo's stand-in for Stripe's hosted page, then back to the site's success page.
    expect(page).to_have_url(re.compile(re.escape(sandbox.base_url) + r"/demo-payments/pay/cs_"))
    expect(page.get_by_role("note")).to_contain_text("Demo payment, no real money")
    expect(page.locator("#amount")).to_have_text("€490.00")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page).to_have_url(re.compile(r"/coaching/orders/[0-9a-f-]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you!")
    expect(page.get_by_role("status")).to_contain_text(
        "Your order for Join Leadership Foundations is confirmed."
    )

    # The webhook events arrived signed, were accepted and recorded once; the order is paid.
    order = Order.objects.get(buyer__username=username)
    assert order.status == "paid"
    assert (order.amount, order.currency.lower()) == (490, "eur")
    (event,) = StripeEvent.objects.filter(
        type="checkout.session.completed", payload__data__object__id=order.stripe_session_id,
    )
    assert (event.outcome, event.error) == ("fulfilled", "")
    assert order.payments.get().receipt_url

    page.get_by_role("link", name="Start your journey").click()
    journey = page.get_by_role("region", name="Leadership Foundations")
    expect(journey).to_contain_text("0 of 14 steps done")
    expect(journey.locator(".coaching-next-step")).to_contain_text("Intake questionnaire")


def focused(page):
    """What has the keyboard focus: (tag, text or value, id)."""
    return page.evaluate(
        """() => { const e = document.activeElement;
            return [e.tagName.toLowerCase(),
                    (e.innerText || e.value || e.getAttribute("aria-label") || "").trim(),
                    e.id || ""]; }"""
    )


def tab_to(page, text="", element_id="", limit=80):
    """Press Tab until the focused element's text starts with ``text`` (or its id is
    ``element_id``): the way a keyboard user reaches it."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        tag, label, found_id = focused(page)
        seen.append(f"{tag}:{label[:30]}")
        if (element_id and found_id == element_id) or (text and label.startswith(text)):
            return
    raise AssertionError(f"Tab never reached {text or element_id!r}; went through {seen}")


def test_free_offer_keyboard_only(new_page):
    """Flow 1 again with only Tab, Enter, Space and typing."""
    page = new_page()
    username = unique("kbd")
    page.goto(FREE_OFFER)

    tab_to(page, "Start for free")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    tab_to(page, "Create an account")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    for field, value in [
        ("id_first_name", "Kai"), ("id_last_name", "Keys"), ("id_email", f"{username}@example.com"),
        ("id_username", username), ("id_password1", PASSWORD), ("id_password2", PASSWORD),
    ]:
        tab_to(page, element_id=field)
        page.keyboard.type(value)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you!")
    tab_to(page, "Start your journey")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/coaching/$"))
    tab_to(page, "How stress works")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("How stress works")
    tab_to(page, "Mark lesson as done")
    page.keyboard.press("Space")

    expect(page.get_by_role("heading", level=1)).to_have_text("Stress right now")
    tab_to(page, element_id="id_score_value_0")
    page.keyboard.press("Space")
    expect(page.locator("#id_score_value_0")).to_be_checked()
    tab_to(page, "Send my check-in")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Box breathing, twice a day")
    expect(page.locator(".coaching-messages")).to_contain_text("Done: “Stress right now”")
