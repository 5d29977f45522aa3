"""The portal header in a browser: the client's places on a wide screen and behind a "Menu"
on a phone, the current place marked; and the sandbox's own 404 page."""

import re

from helpers import sign_in
from playwright.sync_api import expect


def test_the_header_on_a_wide_screen(new_page):
    page = new_page()
    sign_in(page, "client")
    row = page.locator(".coaching-portal-nav__list--row")
    expect(row.get_by_role("link", name="My coaching")).to_have_attribute("aria-current", "page")
    expect(page.locator(".coaching-portal-nav__menu")).to_be_hidden()

    row.get_by_role("link", name="Sessions").click()
    expect(page).to_have_url(re.compile(r"/coaching/sessions/$"))
    expect(row.get_by_role("link", name="Sessions")).to_have_attribute("aria-current", "page")
    expect(row.get_by_role("link", name="My coaching")).not_to_have_attribute(
        "aria-current", re.compile(".*")
    )

    row.get_by_role("link", name=re.compile(r"^Messages")).click()
    expect(page).to_have_url(re.compile(r"/coaching/messages/[0-9a-f-]+/$"))

    # The accounts pages carry the same header.
    row.get_by_role("link", name="Account").click()
    expect(page).to_have_url(re.compile(r"/accounts/profile/$"))
    expect(row.get_by_role("link", name="Account")).to_have_attribute("aria-current", "page")
    page.get_by_role("link", name="Change your password").click()
    expect(row.get_by_role("link", name="Account")).to_have_attribute("aria-current", "true")


def test_the_header_on_a_phone(new_page):
    page = new_page(width=390, height=844)
    sign_in(page, "client", next_url="/coaching/privacy/")
    expect(page.locator(".coaching-portal-nav__list--row")).to_be_hidden()
    menu = page.locator(".coaching-portal-nav__menu")
    toggle = menu.locator("summary")
    expect(toggle).to_be_visible()
    expect(toggle).to_contain_text("Menu")
    account = menu.get_by_role("link", name="Account")
    expect(account).to_be_hidden()

    toggle.click()
    expect(account).to_be_visible()
    expect(account).to_have_attribute("aria-current", "true")
    # Nothing is wider than the phone, menu open or not.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    menu.get_by_role("link", name=re.compile(r"^Notifications")).click()
    expect(page).to_have_url(re.compile(r"/coaching/notifications/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(menu.get_by_role("link", name=re.compile(r"^Notifications"))).to_be_hidden()


def test_a_missing_page_is_the_sites_own(new_page):
    page = new_page()
    response = page.goto("/coaching/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.locator("body")).not_to_contain_text("URLconf")
    expect(page.locator(".coaching-site-header")).to_be_visible()
