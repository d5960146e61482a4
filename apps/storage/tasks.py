from celery import shared_task

from . import policies  # noqa: F401 - registers the storage.policy.run job kind in the worker

__all__ = ["run_due_policies_task", "sync_task"]


@shared_task(name="storage.sync")
def sync_task() -> dict | None:
    """Beat: queue an inventory sync job (skipped while one is still running)."""
    from apps.jobs import services as jobs
    from apps.jobs.models import JobLocked

    try:
        job = jobs.enqueue("storage.sync", source="system", lock_key="storage:sync")
    except JobLocked:
        return None
    return {"job": job.pk}


@shared_task(name="storage.run_due_policies")
def run_due_policies_task() -> dict:
    """Beat, every minute: queue a run of each enabled snapshot policy that has something due."""
    return {"jobs": [job.pk for job in policies.run_due_policies()]}
