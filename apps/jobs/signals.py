"""A worker that starts fails the jobs its previous process left running; its processes start warm."""

import logging

from celery.signals import worker_init, worker_process_init, worker_ready

log = logging.getLogger("calypso.jobs")


@worker_init.connect
def _prepare_worker(sender=None, **kwargs):
    """Load every job kind once, before the pool forks, and warm each pool process as it starts.

    Connected here, so it runs after Celery's Django fixup, which connects its own handler (closing the
    connections a process inherited) at this same signal."""
    from .registry import kinds

    kinds()
    worker_process_init.connect(_warm_process, weak=False, dispatch_uid="calypso.jobs.warm_process")


def _warm_process(**kwargs):
    """Open the database connection and the job events publisher of a new pool process, so its first
    job does not wait for them (~30 ms)."""
    try:
        from .models import Job
        from .publish import warm_up

        warm_up()
        Job.objects.select_related("target_type", "user").filter(pk=0).first()
    except Exception:  # the first job connects then, as it would have anyway
        log.warning("could not warm up the worker process", exc_info=True)


@worker_ready.connect
def _fail_orphans(sender=None, **kwargs):
    from .services import fail_jobs_of_worker

    hostname = getattr(sender, "hostname", None)
    if hostname:
        failed = fail_jobs_of_worker(hostname)
        if failed:
            log.warning("worker %s restarted: failed orphaned jobs %s", hostname, failed)
