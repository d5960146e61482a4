from celery import shared_task

from apps.jobs.models import JobLocked

from . import services

__all__ = ["check_disks_task"]


@shared_task(name="monitoring.check_disks")
def check_disks_task() -> dict | None:
    """Beat: queue a disk health check job (skipped while one is still running)."""
    try:
        return {"job": services.start_check().pk}
    except JobLocked:
        return None
