"""Session series get a public id (their calendar UID), a calendar SEQUENCE and whether
invitations go out as one recurring event. Series that exist already sent one invitation
per session: they keep doing so, so no calendar ends up holding a session twice."""

import uuid

from django.db import migrations, models


def give_public_ids(apps, schema_editor):
    SessionSeries = apps.get_model("wagtail_coaching", "SessionSeries")
    for series in SessionSeries.objects.only("pk").iterator():
        SessionSeries.objects.filter(pk=series.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("wagtail_coaching", "0011_enrollment_status_erased")]

    operations = [
        migrations.AddField(
            model_name="sessionseries",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="sessionseries",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False),
        ),
        migrations.AddField(
            model_name="sessionseries",
            name="sequence",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        # Existing series: one invitation per session, as their attendees already have.
        migrations.AddField(
            model_name="sessionseries",
            name="one_invitation",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AlterField(
            model_name="sessionseries",
            name="one_invitation",
            field=models.BooleanField(default=True, editable=False),
        ),
    ]
