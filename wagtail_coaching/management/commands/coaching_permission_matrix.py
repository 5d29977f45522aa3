from django.core.management.base import BaseCommand

from wagtail_coaching.permissions import matrix_markdown


class Command(BaseCommand):
    help = "Print the coaching permission matrix as a Markdown table (as in docs/permissions.md)."

    def handle(self, *args, **options):
        self.stdout.write(matrix_markdown())
