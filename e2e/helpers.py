"""Helpers of the browser tests: signing in, accessibility checks, unique names."""

import itertools
import os
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

E2E = Path(__file__).resolve().parent
AXE_JS = E2E / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS") or E2E / "screenshots")
PASSWORD = "demo1234"  # the demo's (sandbox/home/demo.py)


def sign_in(page, username, password=PASSWORD, next_url=""):
    """Sign in through the site's login page (then follow ``next_url``)."""
    path = "/accounts/login/" + (f"?next={quote(next_url)}" if next_url else "")
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def axe_violations(page, impacts=("serious", "critical")):
    """axe-core's violations on the current page, of the given impacts, as short dicts."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` in e2e/")
    page.add_script_tag(path=str(AXE_JS))
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: "
                    + (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 200)),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in impacts]


def format_violations(violations):
    return "\n".join(
        f"- [{v['impact']}] {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in violations
    )


def slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


_counter = itertools.count(1)


def unique(prefix):
    """A name no other test (or run) uses."""
    return f"{prefix}{int(time.time()) % 1_000_000}{os.getpid() % 1000}{next(_counter)}"
