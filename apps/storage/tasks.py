from celery import shared_task

__all__ = ["sync_task"]


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
