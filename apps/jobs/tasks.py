from celery import shared_task

from . import runtime, services

__all__ = ["reap_stale_jobs_task", "run_job_task"]


# No Celery result: the job's row holds its state and result. Without one, enqueueing subscribes to no
# result channel and the worker stores no STARTED or SUCCESS state (Redis round trips before the job starts).
@shared_task(bind=True, name="jobs.run", acks_late=True, reject_on_worker_lost=False, ignore_result=True)
def run_job_task(self, job_id: int) -> None:
    """Run one Calypso job of any kind."""
    runtime.run_job(job_id, task_id=self.request.id or "", worker=self.request.hostname)


@shared_task(name="jobs.reap_stale")
def reap_stale_jobs_task() -> list[int]:
    """Fail running jobs whose worker died."""
    return services.reap_stale_jobs()
