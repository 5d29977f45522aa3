"""A visitor asks about an offer; the sales manager it goes to finds it in the Sales menu,
replies, and turns it into a grant in one step (the visitor is enrolled and invited)."""

import re

from helpers import axe_violations, format_violations, sign_in, unique
from playwright.sync_api import expect
from test_client_flows import PAID_OFFER


def test_a_visitor_enquires_and_the_sales_manager_grants_the_offer(new_page, sandbox):
    from wagtail_coaching.models import Enquiry, Order

    visitor = new_page("visitor")
    name = unique("Ada")
    address = f"{name.lower()}@example.com"
    question = "We are five new team leads. Could we start together in May?"

    # The offer page: every price can be asked about.
    visitor.goto(PAID_OFFER)
    pay_once = visitor.get_by_role("listitem").filter(has_text="Pay once")
    pay_once.get_by_role("link", name="Ask about this").click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text(
        "Ask about Join Leadership Foundations"
    )
    expect(visitor.get_by_label("Which price are you asking about?")).to_have_value(
        re.compile(r"^\d+$")
    )
    visitor.get_by_label("Your name").fill(f"{name} Lovelace")
    visitor.get_by_label("Your email").fill(address)
    visitor.get_by_label("Your question").fill(question)
    violations = axe_violations(visitor)
    assert not violations, format_violations(violations)
    visitor.get_by_role("button", name="Send my question").click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text(
        "Thank you, your question is on its way"
    )

    enquiry = Enquiry.objects.select_related("sales_manager").get(email=address)
    assert enquiry.price_label.startswith("Pay once")
    assert enquiry.sales_manager.username == "sales"  # the demo's one sales manager

    # The sales manager: Sales › Enquiries, the enquiry, a reply, then the grant.
    sales = new_page("sales")
    sign_in(sales, "sales", next_url="/admin/")
    sales.get_by_role("button", name="Sales").click()
    sales.get_by_role("link", name="Enquiries", exact=True).click()
    expect(sales.get_by_role("heading", level=1)).to_contain_text("Enquiries")
    sales.get_by_role("link", name=f"{name} Lovelace").first.click()
    expect(sales.locator(".coaching-enquiry__message")).to_contain_text(question)

    sales.get_by_role("textbox", name=re.compile(r"^Reply")).fill(
        "Yes: a cohort starts on 4 May. I can enroll you today."
    )
    sales.get_by_role("button", name="Send reply").click()
    expect(sales.get_by_text(f"Your reply is on its way to {address}.")).to_be_visible()
    expect(sales.locator(".coaching-enquiry__reply")).to_contain_text("a cohort starts")

    sales.get_by_role("textbox", name=re.compile(r"^Invoice or PO number")).fill("INV-2026-77")
    sales.get_by_role("button", name="Grant", exact=True).click()
    expect(sales.get_by_text(re.compile(r"Join Leadership Foundations granted to"))
           ).to_be_visible()
    expect(sales.locator(".coaching-enquiry")).to_contain_text("Won")

    order = Order.objects.select_related("buyer", "sales_manager").get(buyer__email=address)
    assert (order.status, order.source, order.sales_manager.username) == (
        "paid", "manual", "sales")
    assert order.fulfilled_at is not None and order.grants.count() == 1
    enquiry.refresh_from_db()
    assert (enquiry.status, enquiry.order_id) == ("won", order.pk)

    # The enquirer was answered by email and invited to choose a password.
    def sent_to_them(subject_part):
        return [m for m in sandbox.emails()
                if m["To"] == address and subject_part in m["Subject"]]

    from test_staff_flows import wait_for

    wait_for(lambda: sent_to_them("Re: your question"), what="the reply email")
    wait_for(lambda: len(sandbox.emails()) and any(
        m["To"] == address and "Re: your question" not in m["Subject"]
        for m in sandbox.emails()
    ), what="the invitation email")
