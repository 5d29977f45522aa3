"""Editing goes through Wagtail revisions and workflows; clients only see published content."""

import pytest
from django.contrib.auth.models import Group

from wagtail_coaching.journeys import EngagementNotAvailable, enroll
from wagtail_coaching.models import EngagementPage
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement
from wagtail_coaching.testing.jobs import run_jobs


def one_stage(*titles):
    return [
        programs.stage(
            "Start", [programs.activity("lesson", t, rule="immediately") for t in titles],
            block_id="stage-1",
        )
    ]


def titles(enrollment):
    return sorted(
        enrollment.activities.exclude(state="removed").values_list("title", flat=True)
    )


def test_a_draft_reaches_no_client(client_user):
    page = make_engagement(program=one_stage("Welcome"))
    enrollment = enroll(client_user, page)
    draft = EngagementPage.objects.get(pk=page.pk)
    draft.program = one_stage("Welcome", "Draft only")
    with run_jobs():
        draft.save_revision()
    assert titles(enrollment) == ["Welcome"]
    live = EngagementPage.objects.get(pk=page.pk)
    assert [a.value["title"] for s in live.program for a in s.value["activities"]] == ["Welcome"]
    assert live.has_unpublished_changes


def test_an_unpublished_engagement_cannot_be_joined(client_user):
    page = make_engagement(program=one_stage("Welcome"), publish=False)
    with pytest.raises(EngagementNotAvailable):
        enroll(client_user, page)
    assert not page.enrollments.exists()


def test_moderation_workflow_publishes_on_approval_and_then_syncs(client_user):
    moderators = Group.objects.get(name="Moderators")
    editor = UserFactory(username="editor", is_staff=True)
    moderator = UserFactory(username="moderator", is_staff=True)
    moderator.groups.add(moderators)
    page = make_engagement(program=one_stage("Welcome"))
    enrollment = enroll(client_user, page)

    draft = EngagementPage.objects.get(pk=page.pk)
    draft.program = one_stage("Welcome", "Added after review")
    with run_jobs():
        draft.save_revision(user=editor)
        workflow = draft.get_workflow()
        assert workflow is not None, "Wagtail's default moderation workflow applies"
        workflow_state = workflow.start(draft, editor)
    # Submitted, not yet approved: the client still has the published program.
    assert workflow_state.status == "in_progress"
    assert titles(enrollment) == ["Welcome"]

    with run_jobs():
        task_state = workflow_state.current_task_state
        task_state.task.specific.on_action(task_state, moderator, "approve")
    workflow_state.refresh_from_db()
    assert workflow_state.status == "approved"
    assert titles(enrollment) == ["Added after review", "Welcome"]
    enrollment.refresh_from_db()
    assert enrollment.program_revision_id == EngagementPage.objects.get(pk=page.pk).live_revision_id
