from celery import shared_task
from django.db import OperationalError

from . import services

__all__ = ["run_due_backups_task"]


@shared_task(name="backup.run_due", autoretry_for=(OperationalError,), retry_backoff=2, retry_jitter=False,
             max_retries=4)
def run_due_backups_task() -> dict:
    """Beat, every minute: queue a run of each enabled backup task that is due and inside its window, and the
    restore drills that are due, and say which tasks are overdue (a busy database retries the tick, as the
    snapshot policies' tick does)."""
    return {"jobs": [job.pk for job in services.run_due_tasks()],
            "drills": [job.pk for job in services.run_due_drills()],
            "overdue": [event.details["task"] for event in services.flag_overdue()]}
