from django.core import mail

from wagtail_coaching.automation.dispatch import dispatch_events
from wagtail_coaching.journeys import enroll
from wagtail_coaching.models import ActivityState
from wagtail_coaching.testing.factories import make_engagement
from wagtail_coaching.testing.jobs import run_jobs


def test_enroll_copies_program_and_sends_welcome(client_user):
    page = make_engagement()
    with run_jobs():
        enrollment = enroll(client_user, page)
    with run_jobs():
        dispatch_events()  # the built-in welcome rule
    states = list(enrollment.activities.order_by("stage_position", "position")
                  .values_list("state", flat=True))
    assert len(states) == 6
    assert states[0] == ActivityState.AVAILABLE
    assert set(states[1:]) == {ActivityState.LOCKED}
    assert len(mail.outbox) == 1
    assert page.title in mail.outbox[0].subject
