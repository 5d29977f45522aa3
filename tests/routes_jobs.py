"""Rows of the URL × role table for "Failed jobs": the list, a failed job's page and its
retry button, coaching admins only (see tests/test_admin_matrix.py)."""

from django.db import OperationalError
from django.utils import timezone

from wagtail_coaching.models import FailedJob

from .routes import Route


def failed_jobs(setup):
    """Two jobs that failed for good (a retry sends them again through the job outbox)."""
    setup.failed_jobs = [
        FailedJob.objects.create(
            message_id=f"matrix-{n}", actor_name="sync_program", queue_name="coaching_bulk",
            args=[n], error=repr(OperationalError("gone")), failed_at=timezone.now(),
        )
        for n in (1, 2)
    ]


def job_route(action, method="get"):
    return Route(method=method, targets="failed_jobs", lookup="view_failedjob", action=action,
                 prepare=failed_jobs)


JOB_ROUTES = {
    "coaching_failed_jobs_modeladmin_index": Route(action="view_failedjob"),
    "coaching_failed_jobs_modeladmin_inspect": job_route("view_failedjob"),
    "coaching_failed_jobs_modeladmin_retry": job_route("retry_failedjob", method="post"),
}
