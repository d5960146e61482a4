from celery import shared_task

from apps.jobs.models import JobLocked

from . import policies, services

__all__ = ["run_due_policies_task", "sync_task"]


@shared_task(name="storage.sync")
def sync_task() -> dict | None:
    """Beat: queue an inventory sync job (skipped while one is still running)."""
    try:
        return {"job": services.start_sync().pk}
    except JobLocked:
        return None


@shared_task(name="storage.run_due_policies")
def run_due_policies_task() -> dict:
    """Beat, every minute: queue a run of each enabled snapshot policy that has something due."""
    return {"jobs": [job.pk for job in policies.run_due_policies()]}
