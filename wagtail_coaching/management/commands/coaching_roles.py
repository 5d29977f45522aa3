from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS

from wagtail_coaching.roles import ensure_role_groups


class Command(BaseCommand):
    help = (
        "Create the coaching role groups (ROLE_GROUPS) that are missing, each with Wagtail "
        "admin access. migrate does the same; running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database, **options):
        result = ensure_role_groups(using=database)
        for role, group in result.groups.items():
            if group.name in result.created:
                state = "created, with admin access"
            elif group.name in result.granted:
                state = "given admin access"
            else:
                state = "already set up"
            self.stdout.write(f"{role}: group “{group.name}” {state}")
        if not result.changed:
            self.stdout.write("Nothing to do.")
