"""``manage.py load_demo``: build the sandbox's demo data (safe to run again)."""

from django.core.management.base import BaseCommand

from sandbox.home import demo


class Command(BaseCommand):
    help = (
        "Create the demo coaching business: home page, two engagements, a company and "
        "cohort, role users and clients at different points of their journey. Idempotent."
    )

    def handle(self, *args, **options):
        report = demo.build_demo()
        if report.created:
            self.stdout.write(self.style.SUCCESS(f"Demo data created ({len(report.created)}):"))
            for item in report.created:
                self.stdout.write(f"  + {item}")
        else:
            self.stdout.write("Demo data already in place; nothing changed.")
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(
            f"Demo logins (password for everyone: {demo.PASSWORD}):"
        ))
        for line in demo.logins():
            self.stdout.write(line)
