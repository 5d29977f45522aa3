from django.core.management.base import BaseCommand

from wagtail_coaching.calendars.credentials import reencrypt_passwords


class Command(BaseCommand):
    help = (
        "Encrypt every stored calendar password with the first CALENDAR_ENCRYPTION_KEY (after "
        "adding a key to rotate, or changing SECRET_KEY). Running it again changes nothing."
    )

    def handle(self, *args, **options):
        done = reencrypt_passwords()
        self.stdout.write(f"Re-encrypted {done} calendar password(s).")
