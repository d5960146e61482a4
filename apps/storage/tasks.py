from celery import shared_task
from django.db import OperationalError

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


@shared_task(name="storage.run_due_policies", autoretry_for=(OperationalError,), retry_backoff=2, retry_jitter=False,
             max_retries=4)
def run_due_policies_task() -> dict:
    """Beat, every minute: queue a run of each enabled snapshot policy that has something due. A database that
    stays busy past its wait (a long write elsewhere) retries the tick after 2, 4, 8, 16 s rather than losing it;
    a run queued before the failure is not queued twice (its lock)."""
    return {"jobs": [job.pk for job in policies.run_due_policies()]}
