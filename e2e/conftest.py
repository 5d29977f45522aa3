"""Browser tests: the sandbox served on localhost with its worker, driven by Chromium.

One sandbox for the whole run: a throwaway SQLite database in a temporary folder, migrated
and loaded with the demo data, served by ``manage.py rundemo`` (Django's server, an
in-process dramatiq worker and the scheduler) on a free port. Without Stripe keys it runs
its demo payments (``sandbox/demo_payments``): the browser pays on the stand-in's checkout
page, which delivers Stripe's signed events to the sandbox's webhook. Emails go to files.
The test process reads the same database through the ORM to check what the pages cannot
show (the outbox, orders).

Chromium is Debian's (``/usr/bin/chromium``, or ``E2E_CHROMIUM``): Playwright never
downloads a browser here. Each test leaves a screenshot of its final page(s) in
``e2e/screenshots/`` (or ``E2E_SCREENSHOTS``).
"""

import email
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import SCREENSHOTS, slug
from playwright.sync_api import expect, sync_playwright

E2E = Path(__file__).resolve().parent
ROOT = E2E.parent
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# CI runs these beside another lane on two cores: a busy moment must not fail a click.
TIMEOUT_MS = 45_000

expect.set_options(timeout=TIMEOUT_MS)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox:
    """The running sandbox: its base URL, its outbox folder and its server log."""

    def __init__(self, base_url, workdir):
        self.base_url = base_url
        self.workdir = workdir
        self.mail_dir = workdir / "mail"
        self.log = workdir / "server.log"

    def url(self, path="/"):
        return self.base_url + path

    def emails(self):
        """Every email sent so far (file-based backend: messages separated by a line of
        dashes), as ``email.message.Message`` objects."""
        messages = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    messages.append(email.message_from_bytes(chunk.lstrip()))
        return messages

    def log_tail(self, lines=60):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _run(args, env, log):
    with open(log, "ab") as out:
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True,
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=300,
        )


def _wait_until_up(url, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


@pytest.fixture(scope="session")
def sandbox():
    workdir = Path(tempfile.mkdtemp(prefix="coaching-e2e-"))
    (workdir / "mail").mkdir()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in (
        "REDIS_URL", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE", "DEMO_PAYMENTS", "DEMO_PAYMENTS_STATE",
    )}
    env.update({
        "DJANGO_SETTINGS_MODULE": "sandbox.settings",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "BASE_URL": base_url,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(workdir / "mail"),
        "PYTHONUNBUFFERED": "1",
    })
    site = Sandbox(base_url, workdir)
    started = time.monotonic()
    _run(["migrate", "--noinput", "-v", "0"], env, site.log)
    _run(["load_demo"], env, site.log)
    log = open(site.log, "ab")
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "rundemo", "--addrport",
         f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    try:
        if not _wait_until_up(site.url("/"), server):
            pytest.fail(f"The sandbox did not start.\n{site.log_tail()}")
        print(f"\nSandbox up at {base_url} in {time.monotonic() - started:.1f}s "
              f"(data in {workdir})")
        # This process reads the same database through the ORM.
        os.environ.update({k: env[k] for k in (
            "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "BASE_URL",
        )})
        os.environ.pop("REDIS_URL", None)
        # Playwright's sync API keeps an event loop in this thread; the ORM calls made
        # between page actions are plain blocking reads, which is what this allows.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        import django

        django.setup()
        yield site
    finally:
        server.send_signal(signal.SIGTERM)  # rundemo stops its worker and scheduler too
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        if os.environ.get("E2E_KEEP"):
            print(f"Sandbox data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: apt-get install chromium (or set E2E_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots():
    """Screenshots of this run only: last run's are removed first."""
    for old in list(SCREENSHOTS.glob("*.png")) + list(SCREENSHOTS.glob("*/*.png")):
        old.unlink()


@pytest.fixture
def new_page(browser, sandbox, request):
    """``new_page(actor="", width=1280)``: a page in a fresh browser context (its own
    cookies). When the test ends, each page's final state is saved as a screenshot."""
    pages = []

    def make(actor="", width=1280, height=900):
        context = browser.new_context(
            base_url=sandbox.base_url, viewport={"width": width, "height": height},
            locale="en-GB", timezone_id="Europe/London",
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        pages.append((actor, page))
        return page

    yield make
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = slug(request.node.name)
    for actor, page in pages:
        suffix = f"--{slug(actor)}" if actor and len(pages) > 1 else ""
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"No screenshot for {name}{suffix}: {exc}")
        page.context.close()


@pytest.fixture(autouse=True)
def _server_errors_fail_the_test(request, sandbox):
    """A traceback in the sandbox's log (a view, a job of the worker) during a test fails it,
    even if the page looked fine; a failing test shows the end of the log."""
    start = sandbox.log.stat().st_size
    yield
    with open(sandbox.log, "rb") as log:
        log.seek(start)
        written = log.read().decode(errors="replace")
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"\n--- sandbox log (last lines) ---\n{sandbox.log_tail()}")
    elif "Traceback (most recent call last)" in written:
        pytest.fail(f"The sandbox logged an error during the test:\n{written[-4000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
