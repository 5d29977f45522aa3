"""Manual grants name a company and cohort and carry the grant form's one-time key; referral
codes keep their case but are unique whatever it is.

Codes that differ only in case (possible before) are told apart first: the oldest keeps its
code, each later one gets a numbered suffix ("Spring" and "SPRING" become "Spring" and
"SPRING-2"), so the new constraint can be added and no link silently credits someone else.
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models


def separate_codes_differing_in_case(apps, schema_editor):
    SalesManagerProfile = apps.get_model("wagtail_coaching", "SalesManagerProfile")
    profiles = list(SalesManagerProfile.objects.order_by("created_at", "pk"))
    taken = {p.referral_code.lower() for p in profiles}
    seen = set()
    for profile in profiles:
        code = profile.referral_code
        if code.lower() not in seen:
            seen.add(code.lower())
            continue
        number = 2
        while f"{code}-{number}".lower() in taken:
            number += 1
        profile.referral_code = f"{code}-{number}"
        taken.add(profile.referral_code.lower())
        seen.add(profile.referral_code.lower())
        profile.save(update_fields=["referral_code"])


class Migration(migrations.Migration):

    dependencies = [
        ("wagtail_coaching", "0013_staff_booking_outside_availability"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="cohort",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                related_name="orders", to="wagtail_coaching.cohort", verbose_name="cohort",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="company",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                related_name="orders", to="wagtail_coaching.company", verbose_name="company",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="grant_key",
            field=models.UUIDField(blank=True, editable=False, null=True, unique=True),
        ),
        migrations.RunPython(separate_codes_differing_in_case, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="salesmanagerprofile",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("referral_code"),
                name="coaching_referral_code_unique_any_case",
                violation_error_message=(
                    "This referral code is already taken (codes are the same whatever "
                    "their case)."
                ),
            ),
        ),
    ]
