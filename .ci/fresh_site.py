"""The install guide, proven: a new ``wagtail start`` site set up by docs/install.md alone.

    python .ci/fresh_site.py SERIES [--dist DIR] [--python PYTHON] [--workdir DIR] [--keep]

SERIES is the Wagtail series of the host site: ``7.4`` (``wagtail>=7.4,<7.5`` with
``django>=5.2,<6``) or ``8`` (``wagtail>=8,<9``, with the newest Django it accepts). In a
temporary folder it:

1. makes a virtualenv (``--python``, default this interpreter's ``python3``) and installs
   Wagtail of that series into it; runs ``wagtail start mysite``;
2. finds the wheel in ``--dist`` (or builds one from this checkout with ``python -m build
   --wheel``), then applies, in order, every captioned code block of docs/install.md and
   nothing else (the convention is at the top of the guide):
   - ``PATH (create)``: writes the file; ``PATH (append)``: adds the block at its end;
     ``PATH (after `LINE`)``: adds the block below the one line of the file that reads LINE
     (leading and trailing spaces aside);
   - ``shell``: runs the commands in the folder of ``manage.py`` with the site's virtualenv
     first on PATH; ``path/to/dist`` stands for the folder of the wheel;
   - ``shell (serve)``: the development server, started last, on a free port instead of
     8000;
3. checks that the installed package is this checkout's (every file of ``git ls-files
   wagtail_coaching``, byte for byte, and nothing else), that ``manage.py check`` finds no
   error and no ``wagtail_coaching.*`` warning, that the production settings check too (with
   Redis at ``FRESH_SITE_REDIS_URL``, default ``redis://127.0.0.1:6379/15``), and that no
   migration is missing;
4. serves the site with the guide's command and drives it with Playwright and the system's
   Chromium (headless): the guide's superuser signs in to /admin/, finds the role groups,
   builds and publishes an engagement (a stage with a lesson) and an offer with a free price
   granting it in the page editor; a new visitor signs up through the accounts pages, takes
   the offer, opens the lesson and completes it; the development worker delivers the welcome
   email exactly once (the guide's file-based email backend, counted).

Screenshots go to ``FRESH_SITE_SCREENSHOTS`` (default ``ci-artifacts/fresh-site/SERIES``).
The site's folder is removed at the end unless ``--keep`` (or ``FRESH_SITE_KEEP_FAILED=1``
and the run failed).
Prints the guide's step count, the Wagtail and Django versions of the site, and the time of
each phase. Exits 1 on the first failure, with the server's log. Needs Playwright in this
interpreter (the ``e2e`` extra) and Chromium at /usr/bin/chromium (or ``E2E_CHROMIUM``).
"""

import argparse
import email
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "install.md"
PACKAGE = "wagtail_coaching"
PROJECT = "mysite"
SERIES = {
    "7.4": ["wagtail>=7.4,<7.5", "django>=5.2,<6"],
    "8": ["wagtail>=8,<9"],
}
# What the guide writes and this script replaces: the wheel's folder, the server's address.
DIST_PLACEHOLDER = "path/to/dist"
GUIDE_ADDRPORT = "127.0.0.1:8000"
# Two cores shared with the other CI lanes: a busy moment must not fail a click.
TIMEOUT_MS = 45_000
WELCOME_DEADLINE = 240  # seconds: the rules dispatcher runs once a minute
# Variables of the calling environment that would point the site at something else (this
# checkout on PYTHONPATH, the CI's database or broker).
SCRUBBED_ENV = (
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "DATABASE_URL",
    "REDIS_URL", "EMAIL_BACKEND", "EMAIL_FILE_PATH", "BASE_URL",
)


class Failed(Exception):
    pass


def log(message):
    print(f"[fresh-site] {message}", flush=True)


# -- The guide ------------------------------------------------------------------------------

@dataclass
class Block:
    line: int  # where the block starts in the guide
    caption: str
    language: str
    text: str

    @property
    def where(self):
        return f"docs/install.md:{self.line} ({self.caption})"


FENCE = re.compile(r"^(`{3,}|:{3,})\{code-block\}\s*(\S*)\s*$")
CAPTION = re.compile(r"^(?P<target>\S+) \((?P<action>create|append|after `(?P<anchor>.+)`)\)$")
STEP = re.compile(r"^## (\d+)\. ")


def read_guide(path=GUIDE):
    """The guide's numbered steps and its captioned ``{code-block}`` directives, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    steps = [line for line in lines if STEP.match(line)]
    blocks = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, language, start = opening.group(1), opening.group(2), i + 1
        options = {}
        i += 1
        while i < len(lines) and lines[i].startswith(":"):
            key, _, value = lines[i][1:].partition(":")
            options[key.strip()] = value.strip()
            i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != fence:
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise Failed(f"docs/install.md:{start}: the code block is never closed")
        i += 1
        while body and not body[0].strip():  # the blank line after the options
            body.pop(0)
        if "caption" in options:
            blocks.append(Block(start, options["caption"], language, "\n".join(body) + "\n"))
    return steps, blocks


# -- Commands -------------------------------------------------------------------------------

def site_env(venv):
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update({
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "PYTHONUNBUFFERED": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        # Python compiles what it imports anyway; compiling all of Wagtail at install time
        # costs as long again as the install, and as long again to remove.
        "PIP_NO_COMPILE": "1",
    })
    return env


def run(command, *, cwd, env, what, timeout=900):
    """Run a shell command; its output is printed only when it fails."""
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
    )
    if result.returncode != 0:
        raise Failed(f"{what} failed ({result.returncode}):\n$ {command}\n{result.stdout}")
    log(f"{what}: ok ({time.monotonic() - started:.1f}s)")
    return result.stdout


def memory_folder():
    """/dev/shm where it has room for a site (some 300 MB) and runs programs, else None (the
    system's temporary folder). In memory, making the virtualenv, migrating SQLite and removing
    it all are many times quicker than on a disk that other CI lanes keep busy."""
    try:
        stats = os.statvfs("/dev/shm")
    except OSError:
        return None
    room = stats.f_bavail * stats.f_frsize
    noexec = stats.f_flag & getattr(os, "ST_NOEXEC", 0)
    if room < 2 * 1024**3 or noexec or not os.access("/dev/shm", os.W_OK):
        return None
    return "/dev/shm"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- The site -------------------------------------------------------------------------------

class Site:
    def __init__(self, workdir, venv):
        self.workdir = workdir
        self.venv = venv
        self.folder = workdir / PROJECT
        self.env = site_env(venv)
        self.server = None
        self.server_log = workdir / "server.log"
        self.base_url = ""
        self.superuser = {}

    def manage(self, *args, what, env=None):
        command = "python manage.py " + " ".join(shlex.quote(a) for a in args)
        return run(command, cwd=self.folder, env=env or self.env, what=what)

    def query(self, code):
        """A JSON value computed by ``code`` (which sets ``result``) in the site's Django."""
        program = f"import json\n{code}\nprint('RESULT=' + json.dumps(result))"
        out = self.manage("shell", "-c", program, what="query the site's database")
        for line in reversed(out.splitlines()):
            if line.startswith("RESULT="):
                return json.loads(line.removeprefix("RESULT="))
        raise Failed(f"the query printed no result:\n{out}")

    # Applying the guide's blocks.

    def apply(self, block, dist):
        if block.caption in ("shell", "shell (serve)"):
            command = block.text.replace(DIST_PLACEHOLDER, shlex.quote(str(dist)))
            if block.caption == "shell (serve)":
                return self.serve(command)
            self.remember_superuser(command)
            return run(command, cwd=self.folder, env=self.env, what=block.where)
        match = CAPTION.match(block.caption)
        if not match:
            raise Failed(f"{block.where}: a caption this script does not know")
        target = self.folder / match["target"]
        if not target.resolve().is_relative_to(self.folder.resolve()):
            raise Failed(f"{block.where}: outside the site")
        action = match["action"]
        if action == "create":
            if target.exists():
                raise Failed(f"{block.where}: {match['target']} already exists")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text, encoding="utf-8")
        elif action == "append":
            text = target.read_text(encoding="utf-8")
            target.write_text(text.rstrip("\n") + "\n\n" + block.text, encoding="utf-8")
        else:
            lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
            anchor = match["anchor"].strip()
            found = [i for i, line in enumerate(lines) if line.strip() == anchor]
            if len(found) != 1:
                raise Failed(
                    f"{block.where}: {match['target']} has {len(found)} lines reading "
                    f"{anchor!r}, not one"
                )
            lines[found[0] + 1:found[0] + 1] = [block.text]
            target.write_text("".join(lines), encoding="utf-8")
        log(f"{block.where}: applied")

    def remember_superuser(self, command):
        """The superuser the guide creates: its name and password, to sign in with."""
        if "createsuperuser" in command:
            found = dict(re.findall(r"DJANGO_SUPERUSER_(USERNAME|PASSWORD)=(\S+)", command))
            self.superuser = {k.lower(): v for k, v in found.items()}

    def serve(self, command):
        if GUIDE_ADDRPORT not in command:
            raise Failed(f"the guide's server command does not serve on {GUIDE_ADDRPORT}")
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        command = command.replace(GUIDE_ADDRPORT, f"127.0.0.1:{port}")
        log(f"serving: {command.strip()}")
        self.server = subprocess.Popen(
            ["bash", "-c", "exec " + command.strip()], cwd=self.folder, env=self.env,
            stdin=subprocess.DEVNULL, stdout=self.server_log.open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise Failed(f"the server exited ({self.server.returncode})")
            try:
                with urllib.request.urlopen(self.base_url + "/", timeout=5) as response:
                    if response.status == 200:
                        log(f"server up at {self.base_url}")
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise Failed("the server did not answer in 120s")

    def stop(self):
        if self.server is None or self.server.poll() is not None:
            return
        started = time.monotonic()
        self.server.send_signal(signal.SIGTERM)  # stops its worker and scheduler too
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log("the server did not stop in 30s: killed")
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
        log(f"server stopped ({self.server.returncode}) in {time.monotonic() - started:.1f}s")

    def log_tail(self, lines=80):
        try:
            text = self.server_log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def emails(self):
        """Every email the file-based backend wrote (messages separated by 79 dashes)."""
        folder = self.folder / "sent-emails"
        messages = []
        for path in sorted(folder.glob("*.log")) if folder.is_dir() else []:
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    messages.append(email.message_from_bytes(chunk.lstrip()))
        return messages


# -- The wheel ------------------------------------------------------------------------------

# Wheel folders this run made (removed at the end).
BUILT = []


def find_or_build_wheel(dist):
    if dist:
        wheels = sorted(Path(dist).glob(f"{PACKAGE}-*.whl"))
        if len(wheels) == 1:
            log(f"wheel: {wheels[0]}")
            return wheels[0].parent
        log(f"no single wheel in {dist} ({len(wheels)}): building one")
    out = Path(tempfile.mkdtemp(prefix="coaching-wheel-"))
    BUILT.append(out)
    run(f"{shlex.quote(sys.executable)} -m build --wheel --outdir {shlex.quote(str(out))} .",
        cwd=ROOT, env=dict(os.environ), what="build the wheel")
    return out


def check_installed_package(site):
    """The package pip installed is this checkout's: same files, same bytes."""
    folder = Path(site.query(
        f"import {PACKAGE}, os\nresult = os.path.dirname({PACKAGE}.__file__)"
    ))
    if ROOT in folder.resolve().parents:
        raise Failed(f"the site imports {PACKAGE} from the checkout ({folder}), not the wheel")
    tracked = subprocess.run(
        ["git", "ls-files", "-z", PACKAGE], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    expected = {
        name.removeprefix(PACKAGE + "/") for name in tracked if name and (ROOT / name).is_file()
    }
    installed = {
        str(path.relative_to(folder)) for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    missing = sorted(expected - installed)
    extra = sorted(installed - expected)
    differ = sorted(
        name for name in expected & installed
        if (folder / name).read_bytes() != (ROOT / PACKAGE / name).read_bytes()
    )
    if missing or extra or differ:
        raise Failed(
            "the installed package is not this checkout's:\n"
            + "".join(f"  missing {n}\n" for n in missing[:20])
            + "".join(f"  not in the checkout {n}\n" for n in extra[:20])
            + "".join(f"  differs {n}\n" for n in differ[:20])
        )
    log(f"installed package = checkout: {len(expected)} files, byte for byte ({folder})")


# -- The browser ----------------------------------------------------------------------------

def published(title):
    """Wagtail's message once a page is published: after an autosave had created it, or
    created by the publication itself (when the editor saved nothing before)."""
    return re.compile(re.escape(f"Page '{title}' ") + "(has been|created and) published")


def drive(site, shots):
    """A superuser builds an engagement and an offer; a visitor signs up and takes it."""
    sys.path.insert(0, str(ROOT / "e2e"))
    from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
    from playwright.sync_api import expect, sync_playwright
    from test_staff_flows import add_activity, add_stage, publish  # noqa: E402

    expect.set_options(timeout=TIMEOUT_MS)
    if not site.superuser.get("username") or not site.superuser.get("password"):
        raise Failed("the guide creates no superuser with DJANGO_SUPERUSER_* variables")
    tag = secrets.token_hex(3)
    engagement = f"Calm Start {tag}"
    offer = f"Try Calm Start {tag}"
    visitor = f"visitor{tag}"
    visitor_email = f"{visitor}@example.com"
    password = "Fresh-site-" + secrets.token_urlsafe(9)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def new_page():
            context = browser.new_context(
                base_url=site.base_url, viewport={"width": 1280, "height": 900},
                locale="en-GB", timezone_id="Europe/London",
            )
            context.set_default_timeout(TIMEOUT_MS)
            return context.new_page()

        def shot(page, name):
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        admin = new_page()
        try:
            # The superuser signs in; migrate made the role groups.
            admin.goto("/admin/login/")
            admin.get_by_label("Username").fill(site.superuser["username"])
            admin.get_by_label("Password").fill(site.superuser["password"])
            admin.get_by_role("button", name="Sign in").click()
            expect(admin).to_have_url(re.compile(r"/admin/$"))
            admin.goto("/admin/groups/")
            for group in ("Coaching admins", "Coaches", "Sales managers", "HR partners"):
                expect(admin.get_by_role("link", name=group, exact=True)).to_be_visible()
            shot(admin, "01-admin-role-groups")

            # An engagement with one stage and a lesson, under the home page.
            home_id = site.query(
                "from wagtail.models import Site\n"
                "result = Site.objects.get(is_default_site=True).root_page_id"
            )
            admin.goto(f"/admin/pages/{home_id}/")
            admin.get_by_role("link", name="Add child page").first.click()
            admin.get_by_role("link", name="Engagement", exact=True).click()
            expect(admin.get_by_role("heading", level=1)).to_have_text("New: Engagement")
            admin.locator("#id_title").fill(engagement)
            admin.get_by_role("textbox", name="Summary").fill("Five quiet minutes a day.")
            stage = add_stage(admin, "Begin")
            add_activity(admin, stage, "Lesson", "Breathing basics", "Immediately",
                         rich_text="Breathe in for four, out for six.")
            publish(admin)
            expect(admin.get_by_role("status")).to_contain_text(published(engagement))
            shot(admin, "02-engagement-published")

            # An offer granting it, with a free price.
            admin.goto(f"/admin/pages/{home_id}/")
            admin.get_by_role("link", name="Add child page").first.click()
            admin.get_by_role("link", name="Offer", exact=True).click()
            expect(admin.get_by_role("heading", level=1)).to_have_text("New: Offer")
            admin.locator("#id_title").fill(offer)
            admin.get_by_role("textbox", name="Summary").fill("Free: try it for a week.")
            admin.get_by_role("checkbox", name=engagement).check()
            admin.get_by_role("button", name="Add price").click()
            label = admin.get_by_role("textbox", name="Label*")
            expect(label).to_have_count(1)
            label.fill("Free")
            admin.get_by_role("combobox", name="Payment model*").select_option(label="Free")
            publish(admin)
            expect(admin.get_by_role("status")).to_contain_text(published(offer))
            shot(admin, "03-offer-published")
            offer_url = site.query(
                "from wagtail_coaching.models import OfferPage\n"
                f"result = OfferPage.objects.get(title={offer!r}).url"
            )
        except Exception:
            shot(admin, "failed-admin")
            raise

        client = new_page()
        try:
            # A visitor finds the offer; the site's header has the account links.
            client.goto(offer_url)
            expect(client.get_by_role("heading", level=1)).to_have_text(offer)
            sign_in = client.get_by_role("navigation", name="Account").get_by_role(
                "link", name="Sign in")
            expect(sign_in).to_be_visible()
            # Readable on the host's light header (the package's own header is dark).
            expect(sign_in).not_to_have_css("color", "rgb(255, 255, 255)")
            shot(client, "04-visitor-offer")
            client.get_by_role("button", name="Start for free").click()
            expect(client).to_have_url(re.compile(r"/accounts/login/\?next="))
            client.get_by_role("link", name="Create an account").click()
            client.get_by_label("First name").fill("Robin")
            client.get_by_label("Last name").fill("Fresh")
            client.get_by_label("Email").fill(visitor_email)
            client.get_by_label("Username").fill(visitor)
            client.get_by_label("Password", exact=True).fill(password)
            client.get_by_label("Password confirmation").fill(password)
            shot(client, "05-visitor-signup")
            client.get_by_role("button", name="Create my account").click()

            # Signed up: the free price they pressed is theirs, with no second press.
            expect(client.get_by_role("heading", level=1)).to_have_text("Thank you!")
            client.get_by_role("link", name="Start your journey").click()
            expect(client).to_have_url(re.compile(r"/coaching/$"))
            journey = client.get_by_role("region", name=engagement)
            expect(journey).to_contain_text("0 of 1 step done")
            shot(client, "06-client-dashboard")

            # The lesson: open it, complete it.
            journey.locator(".coaching-next-step").get_by_role("link").click()
            expect(client.get_by_role("heading", level=1)).to_have_text("Breathing basics")
            client.get_by_role("button", name="Mark lesson as done").click()
            # The only step: the journey is complete (a Django message, in the site's base).
            expect(client.locator(".coaching-messages")).to_contain_text(
                f"You have completed every step of {engagement}."
            )
            client.get_by_role("navigation", name="Your coaching").get_by_role(
                "link", name="My coaching").click()
            expect(journey).to_contain_text("1 of 1 step done")
            shot(client, "07-lesson-done")
        except Exception:
            shot(client, "failed-client")
            raise
        browser.close()

    # The welcome email, by the development worker, once.
    subject = f"Welcome to {engagement}"
    deadline = time.monotonic() + WELCOME_DEADLINE
    state = {}
    while time.monotonic() < deadline:
        state = site.query(
            "from wagtail_coaching.models import Notification\n"
            f"rows = Notification.objects.filter(recipient__username={visitor!r}, "
            "kind='welcome', channel='email')\n"
            "result = {'rows': rows.count(), "
            "'sent': rows.filter(sent_at__isnull=False).count()}"
        )
        if state["rows"] and state["sent"] == state["rows"]:
            break
        time.sleep(2)
    else:
        raise Failed(f"no welcome email sent within {WELCOME_DEADLINE}s (outbox: {state})")
    welcomes = [
        m for m in site.emails() if m["To"] == visitor_email and m["Subject"] == subject
    ]
    if state != {"rows": 1, "sent": 1} or len(welcomes) != 1:
        raise Failed(f"welcome emails: outbox {state}, {len(welcomes)} written (want 1 and 1)")
    log(f"welcome email delivered once to {visitor_email}: {subject!r}")


# -- The run --------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("series", choices=sorted(SERIES))
    parser.add_argument("--dist", help="a folder holding the wheel (built if missing)")
    parser.add_argument("--python", default="python3", help="the site's Python")
    parser.add_argument(
        "--workdir", help="where to make the site (default: a new folder in /dev/shm if it "
        "has room, else in the system's temporary folder)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the site's folder")
    args = parser.parse_args(argv)

    timings = []
    started = time.monotonic()
    last = [started]

    def phase(name):
        now = time.monotonic()
        timings.append((name, now - last[0]))
        last[0] = now

    shots = Path(os.environ.get("FRESH_SITE_SCREENSHOTS")
                 or ROOT / "ci-artifacts" / "fresh-site" / args.series)
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    workdir = Path(args.workdir or tempfile.mkdtemp(
        prefix=f"coaching-fresh-{args.series}-", dir=memory_folder()
    ))
    workdir.mkdir(parents=True, exist_ok=True)
    venv = workdir / "venv"
    site = Site(workdir, venv)
    failed = False
    try:
        steps, blocks = read_guide()
        log(f"docs/install.md: {len(steps)} numbered steps, {len(blocks)} captioned blocks")
        dist = find_or_build_wheel(args.dist)
        phase("wheel")

        run(f"{shlex.quote(args.python)} -m venv {shlex.quote(str(venv))}", cwd=workdir,
            env=site.env, what="virtualenv")
        requirements = " ".join(shlex.quote(r) for r in SERIES[args.series])
        run(f"python -m pip install --quiet {requirements}", cwd=workdir, env=site.env,
            what=f"install Wagtail {args.series}")
        run(f"wagtail start {PROJECT}", cwd=workdir, env=site.env, what="wagtail start")
        phase("host site (venv, Wagtail, wagtail start)")

        serve = None
        for block in blocks:
            if block.caption == "shell (serve)":
                serve = block
                continue
            site.apply(block, dist)
        if serve is None:
            raise Failed("the guide has no `shell (serve)` block")
        versions = run(
            'python -c \'import sys, django, wagtail; print("Wagtail", wagtail.__version__, '
            '"Django", django.__version__, "Python", sys.version.split()[0])\'',
            cwd=site.folder, env=site.env, what="versions",
        ).strip()
        log(versions)
        phase("the guide's blocks (install, settings, urls, migrate, templates)")

        check_installed_package(site)
        checked = site.manage("check", what="manage.py check")
        ours = sorted(set(re.findall(r"wagtail_coaching\.[EW]\d+", checked)))
        if ours:
            raise Failed(f"manage.py check warns: {', '.join(ours)}\n{checked}")
        production = dict(site.env, REDIS_URL=os.environ.get(
            "FRESH_SITE_REDIS_URL", "redis://127.0.0.1:6379/15"))
        checked = site.manage("check", "--settings", f"{PROJECT}.settings.production",
                              what="manage.py check (production settings)", env=production)
        ours = sorted(set(re.findall(r"wagtail_coaching\.[EW]\d+", checked)))
        if ours:
            raise Failed(f"manage.py check (production) warns: {', '.join(ours)}\n{checked}")
        site.manage("makemigrations", "--check", "--dry-run", what="no migration missing")
        phase("checks (package = checkout, check, production check, migrations)")

        site.apply(serve, dist)
        phase("serve")
        drive(site, shots)
        phase("browser: admin, offer, visitor, lesson, welcome email")
    except (Failed, AssertionError, subprocess.TimeoutExpired) as exc:
        failed = True
        phase("(failed)")
        print(f"\n[fresh-site] FAILED: {exc}", flush=True)
    except Exception as exc:  # Playwright's errors and timeouts among them
        failed = True
        phase("(failed)")
        print(f"\n[fresh-site] FAILED: {type(exc).__name__}: {exc}", flush=True)
    finally:
        site.stop()
        if failed and site.server_log.exists():
            print(f"--- the server's log (last lines) ---\n{site.log_tail()}", flush=True)
        phase("stop the server")
        if args.keep or failed and os.environ.get("FRESH_SITE_KEEP_FAILED"):
            log(f"site kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            phase("remove the site's folder")
        for folder in BUILT:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nFresh site, Wagtail {args.series}: {'FAILED' if failed else 'passed'} "
          f"in {time.monotonic() - started:.0f}s")
    for name, seconds in timings:
        print(f"  {name:<66} {seconds:6.1f}s")
    print(f"Screenshots: {shots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
