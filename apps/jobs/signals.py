"""A worker that starts fails the jobs its previous process left running."""

import logging

from celery.signals import worker_ready

log = logging.getLogger("calypso.jobs")


@worker_ready.connect
def _fail_orphans(sender=None, **kwargs):
    from .services import fail_jobs_of_worker

    hostname = getattr(sender, "hostname", None)
    if hostname:
        failed = fail_jobs_of_worker(hostname)
        if failed:
            log.warning("worker %s restarted: failed orphaned jobs %s", hostname, failed)
