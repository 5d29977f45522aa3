# Enquiries from offer pages, their replies, the sales round-robin and outbox emails to an address.

import django.db.models.deletion
import django.utils.timezone
import uuid
import wagtail_coaching.models.enquiries
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('wagtail_coaching', '0016_calendar_connections'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Enquiry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('price_label', models.CharField(blank=True, max_length=200, verbose_name='price asked about')),
                ('name', models.CharField(max_length=150, verbose_name='name')),
                ('email', models.EmailField(db_index=True, max_length=254, verbose_name='email')),
                ('message', models.TextField(max_length=5000, verbose_name='message')),
                ('referral', models.CharField(blank=True, max_length=40, verbose_name='referral code')),
                ('status', models.CharField(choices=[('new', 'New'), ('contacted', 'Contacted'), ('won', 'Won'), ('lost', 'Lost')], db_index=True, default='new', max_length=12, verbose_name='status')),
                ('checkout_token', models.CharField(default=wagtail_coaching.models.enquiries.new_checkout_token, editable=False, max_length=64, unique=True)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='asked')),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('won_at', models.DateTimeField(blank=True, null=True, verbose_name='won')),
            ],
            options={
                'verbose_name': 'enquiry',
                'verbose_name_plural': 'enquiries',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='EnquiryReply',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('body', models.TextField(max_length=10000, verbose_name='reply')),
                ('reply_key', models.UUIDField(blank=True, editable=False, null=True, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='sent')),
            ],
            options={
                'verbose_name': 'reply to an enquiry',
                'verbose_name_plural': 'replies to enquiries',
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='SalesRotation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=32, unique=True)),
                ('last_sales_manager_id', models.BigIntegerField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name='notification',
            name='email',
            field=models.EmailField(blank=True, db_index=True, max_length=254),
        ),
        migrations.AlterField(
            model_name='notification',
            name='recipient',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='coaching_notifications', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='notification',
            constraint=models.CheckConstraint(condition=models.Q(('recipient__isnull', False), models.Q(('email', ''), _negated=True), _connector='OR'), name='coaching_notification_has_recipient'),
        ),
        migrations.AddField(
            model_name='enquiry',
            name='offer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='enquiries', to='wagtail_coaching.offerpage', verbose_name='offer'),
        ),
        migrations.AddField(
            model_name='enquiry',
            name='order',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='enquiries', to='wagtail_coaching.order', verbose_name='order'),
        ),
        migrations.AddField(
            model_name='enquiry',
            name='price',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='enquiries', to='wagtail_coaching.offerprice', verbose_name='price'),
        ),
        migrations.AddField(
            model_name='enquiry',
            name='sales_manager',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='coaching_enquiries', to=settings.AUTH_USER_MODEL, verbose_name='sales manager'),
        ),
        migrations.AddField(
            model_name='enquiryreply',
            name='author',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='author'),
        ),
        migrations.AddField(
            model_name='enquiryreply',
            name='enquiry',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='replies', to='wagtail_coaching.enquiry'),
        ),
        migrations.AddIndex(
            model_name='enquiry',
            index=models.Index(fields=['sales_manager', 'status'], name='coaching_enquiry_manager'),
        ),
    ]
