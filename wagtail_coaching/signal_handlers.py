"""Publishing an engagement re-syncs its enrollments in the background."""

from django.dispatch import receiver
from wagtail.signals import page_published

from .models import EngagementPageMixin


@receiver(page_published)
def resync_enrollments_on_publish(sender, instance, **kwargs):
    if not issubclass(sender, EngagementPageMixin):
        return
    from .tasks import enqueue, sync_program

    enqueue(sync_program, instance.pk)
