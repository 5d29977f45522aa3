"""A visitor buys the demo's €490 offer in three installments on the demo payments page, then
finds the order and its receipt in "My orders", and moves the plan on to its next
installment with the demo's control."""

import re

from helpers import SCREENSHOTS, unique
from playwright.sync_api import expect
from test_client_flows import PAID_OFFER, sign_up


def test_installments_in_the_demo_then_my_orders_and_the_receipt(new_page, sandbox):
    from wagtail_coaching.models import Order

    page = new_page()
    username = unique("ines")
    page.goto(PAID_OFFER)
    plan = page.get_by_role("listitem").filter(has_text="Three payments")
    expect(plan).to_contain_text("€170.00")
    plan.get_by_role("button", name="Buy now").click()
    page.get_by_role("link", name="Create an account").click()
    sign_up(page, username, first_name="Ines")
    page.get_by_role("button", name="Continue to payment").click()

    # The stand-in's checkout: labelled, with the plan spelled out.
    expect(page).to_have_url(re.compile(r"/demo-payments/pay/cs_\w+/$"))
    expect(page.get_by_role("note")).to_contain_text("Demo payment, no real money")
    expect(page.locator("main")).to_contain_text("3 payments")
    expect(page.locator("#amount")).to_have_text("€170.00")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "demo-payments-checkout.png"), full_page=True)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you!")

    # My orders, from the dashboard.
    page.get_by_role("link", name="Start your journey").click()
    page.get_by_role("link", name="My orders and receipts").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My orders")
    order_card = page.locator(".coaching-order").filter(has_text="Join Leadership Foundations")
    expect(order_card).to_contain_text("Paid")
    expect(order_card).to_contain_text("1 of 3 installments paid")
    expect(order_card).to_contain_text("Next payment: €170.00 on")
    order_card.get_by_role("link", name=re.compile("Order details and receipt")).click()

    # The receipt: the payment with Stripe's (the stand-in's) documents, the two to come.
    expect(page.get_by_role("heading", level=1)).to_have_text("Receipt")
    payments = page.locator(".coaching-receipt__payments")
    expect(payments).to_contain_text("€170.00")
    expect(payments.get_by_role("link", name="Invoice")).to_be_visible()
    expect(payments.get_by_role("link", name="Payment receipt")).to_be_visible()
    expect(page.locator(".coaching-receipt__due li")).to_have_count(2)
    order = Order.objects.get(buyer__username=username)
    assert order.installments_paid == 1
    page.screenshot(path=str(SCREENSHOTS / "order-receipt.png"), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(SCREENSHOTS / "order-receipt-print.png"), full_page=True)
    page.emulate_media(media="screen")

    # The demo's control: the next installment is charged as Stripe would on its date.
    page.get_by_role("link", name=re.compile("charge its next payment now")).click()
    expect(page.locator(".demo-payments__next")).to_contain_text(
        "The next payment of €170.00 will be charged on"
    )
    page.screenshot(path=str(SCREENSHOTS / "demo-payments-plans.png"), full_page=True)
    page.get_by_role("button", name="Charge the next payment now (demo)").click()
    expect(page.get_by_role("status").or_(page.locator(".coaching-messages"))).to_contain_text(
        "The next payment was charged"
    )
    page.goto("/coaching/orders/")
    expect(page.locator(".coaching-order").first).to_contain_text("2 of 3 installments paid")
    order.refresh_from_db()
    assert order.installments_paid == 2

    # Another client cannot open this receipt.
    other = new_page("other")
    other_name = unique("olaf")
    other.goto("/accounts/signup/")
    sign_up(other, other_name, first_name="Olaf")
    response = other.goto(f"/coaching/orders/{order.public_id}/receipt/")
    assert response.status == 404
