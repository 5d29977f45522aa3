"""``manage.py rundemo``: the package's ``coaching_devserver`` (Django's development server
with an in-process worker and scheduler on the StubBroker), introduced by the demo logins."""

from sandbox.home import demo
from wagtail_coaching.management.commands.coaching_devserver import Command as DevServer


class Command(DevServer):
    help = "Serve the sandbox and run its background jobs (worker and scheduler)."

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
