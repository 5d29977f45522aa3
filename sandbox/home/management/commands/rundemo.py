"""``manage.py rundemo``: the package's ``coaching_devserver`` (Django's development server
with an in-process worker and scheduler on the StubBroker), introduced by the demo logins.

The demo shows what its visitors would see: DEBUG is turned off before anything is served,
so a missing page or a failure shows the site's own 404 and 500 pages (never Django's debug
pages with their list of URLs), and static files are still served as with `runserver
--insecure`. ``--debug`` keeps the sandbox's DEBUG setting (on unless ``DEBUG=0``).

With demo payments (no Stripe keys) the Stripe library is pointed at the stand-in this very
server serves, on the address given.
"""

from django.conf import settings

from sandbox.home import demo
from wagtail_coaching.management.commands.coaching_devserver import Command as DevServer


class Command(DevServer):
    help = "Serve the sandbox and run its background jobs (worker and scheduler)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--debug", action="store_true",
            help="Keep DEBUG as the settings say: Django's debug pages instead of the "
            "site's 404 and 500 pages.",
        )

    def handle(self, *args, addrport, debug=False, **options):
        if not debug:
            serve_as_visitors_see_it()
            options["insecure"] = True
        if ":" not in addrport:
            addrport = f"127.0.0.1:{addrport}"
        if getattr(settings, "DEMO_PAYMENTS", False):
            host, _, port = addrport.rpartition(":")
            # The server calls itself: any address it listens on reaches it at 127.0.0.1.
            if host.strip("[]") in ("0.0.0.0", "::", ""):
                host = "127.0.0.1"
            settings.WAGTAIL_COACHING["STRIPE_API_BASE"] = f"http://{host}:{port}/demo-payments"
        return super().handle(*args, addrport=addrport, **options)

    def print_banner(self, base_url):
        if not demo.demo_users_exist():
            self.stdout.write("No demo users yet: run `python manage.py load_demo` first.")
            return
        self.stdout.write(self.style.MIGRATE_HEADING(
            f"Demo logins (password for everyone: {demo.PASSWORD}):"
        ))
        for line in demo.logins(base_url):
            self.stdout.write(line)
        self.stdout.write("")
        if getattr(settings, "DEMO_PAYMENTS", False):
            self.stdout.write(
                "Demo payments: paid offers are paid on a local stand-in for Stripe (no real "
                f"money); plans and their next payments: {base_url}/demo-payments/ . Set "
                "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET to use Stripe instead."
            )
            self.stdout.write("")


def serve_as_visitors_see_it():
    """DEBUG off for this process, before the first request: the 404 and 500 pages are the
    site's own. (Only this command does it: nothing is served yet, and the URLs, which read
    DEBUG, are imported at the first request.)"""
    settings.DEBUG = False
