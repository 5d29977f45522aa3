"""Enrollments get the status "Ended (data erased)" when their client's data is erased.

Clients anonymised before this status existed kept their enrollments active or paused, so
reports counted them as active clients and automation could still act on them: their open
enrollments end now (``erased``) and lose any at-risk flag. Their timelines already record
the erasure. An anonymised client is one ``erase_client`` left behind: the username
``erased-<id>`` on an inactive account.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models

OPEN = ("active", "paused")


def end_erased_clients_enrollments(apps, schema_editor):
    Enrollment = apps.get_model("wagtail_coaching", "Enrollment")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    username_field = get_user_model().USERNAME_FIELD
    erased = [
        pk for pk, username in User.objects.filter(
            is_active=False, **{f"{username_field}__startswith": "erased-"}
        ).values_list("pk", username_field)
        if username == f"erased-{pk}"
    ]
    for start in range(0, len(erased), 500):
        Enrollment.objects.filter(
            client_id__in=erased[start : start + 500], status__in=OPEN
        ).update(status="erased", at_risk_since=None, at_risk_reason="")


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("wagtail_coaching", "0010_session_coach_changed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="enrollment",
            name="status",
            field=models.CharField(
                choices=[
                    ("active", "Active"),
                    ("paused", "Paused"),
                    ("completed", "Completed"),
                    ("cancelled", "Cancelled"),
                    ("erased", "Ended (data erased)"),
                ],
                default="active",
                max_length=20,
                verbose_name="status",
            ),
        ),
        migrations.RunPython(end_erased_clients_enrollments, migrations.RunPython.noop),
    ]
