"""Job operations: enqueue, cancel, retry, and failing jobs whose worker died."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit import services as audit
from apps.core.errors import ServiceError

from .choices import JobState
from .models import Job
from .publish import publish
from .registry import get_kind

__all__ = ["cancel_job", "enqueue", "fail_jobs_of_worker", "reap_stale_jobs", "retry_job", "warm_up_sender"]

log = logging.getLogger("calypso.jobs")


def enqueue(kind: str, *, target=None, user=None, params: dict | None = None, lock_key: str | None = None,
            source: str | None = None, queue: str | None = None, retry_of: Job | None = None) -> Job:
    """Create a queued job and send it to a worker once the transaction commits. The operation that
    asked for it writes the audit event; the job's outcome is audited when it ends."""
    from apps.audit import context

    from .tasks import run_job_task

    get_kind(kind)  # an unknown kind fails here, not in the worker
    # create_locked() is atomic itself: its own transaction (no savepoint round trips), or a savepoint in the
    # caller's; the task is sent at once in the first case, when the caller's transaction commits in the other.
    job = Job.objects.create_locked(
        kind=kind, target=target, target_label=str(target)[:255] if target is not None else "",
        user=user if getattr(user, "is_authenticated", False) else None, params=params or {},
        lock_key=lock_key, source=source or context.current().source,
        queue=queue or settings.CELERY_TASK_DEFAULT_QUEUE, celery_task_id=f"job-{uuid.uuid4().hex}",
        retry_of=retry_of)
    transaction.on_commit(lambda: run_job_task.apply_async((job.pk,), task_id=job.celery_task_id, queue=job.queue))
    return job


def warm_up_sender() -> bool:
    """Do now what a process's first enqueue would otherwise wait for (~30 ms): load Celery's result
    backend, connect to the broker and declare the jobs' queue. False (and a warning) when the broker is
    unreachable; the first enqueue then connects, as it would have anyway."""
    from .tasks import run_job_task

    app = run_job_task.app
    try:
        app.backend  # noqa: B018 - built on first use otherwise
        with app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
            producer.maybe_declare(app.amqp.queues[settings.CELERY_TASK_DEFAULT_QUEUE])
    except Exception:
        log.warning("could not connect to the job queue's broker yet", exc_info=True)
        return False
    return True


def cancel_job(job: Job, *, actor=None) -> Job:
    """Cancel a queued job at once; ask a running one to stop at its next progress report."""
    if job.is_terminal:
        raise ServiceError("job_finished", _("Job #%(id)s already ended (%(state)s).") % {
            "id": job.pk, "state": job.get_state_display()})
    if job.state == JobState.QUEUED and job.transition(JobState.CANCELLED, error=_("Cancelled before it started.")):
        from .tasks import run_job_task

        run_job_task.app.control.revoke(job.celery_task_id)
        publish(job.pk, {"event": "state", "state": job.state, "progress": job.progress, "step": job.step})
    else:
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        job.cancel_requested = True
    return job


def retry_job(job: Job, *, actor=None) -> Job:
    """Run an ended job's kind again on the same target with the same parameters, as a new job."""
    if not job.ended_without_success:
        raise ServiceError("not_retryable", _("Only a failed, cancelled or rolled-back job can be retried."))
    if not get_kind(job.kind).retryable:
        raise ServiceError("not_retryable", _("Jobs of kind %(kind)s cannot be retried.") % {"kind": job.kind})
    return enqueue(job.kind, target=job.target, user=actor, params=job.params, lock_key=job.lock_key,
                   queue=job.queue, retry_of=job)


def _fail_lost(jobs, reason: str) -> list[int]:
    failed = []
    for job in jobs:
        if job.transition(JobState.FAILED, error=reason):
            failed.append(job.pk)
            job.log_entries.create(level="error", message=reason)
            publish(job.pk, {"event": "state", "state": job.state, "progress": job.progress, "step": job.step,
                             "error": reason})
            audit.record(None, f"{job.kind}", ("jobs.job", job.pk, str(job)), job=job, outcome="failed",
                         message=reason, source="system")
    return failed


def reap_stale_jobs(stale_after_s: float | None = None) -> list[int]:
    """Fail running jobs whose heartbeat stopped: their worker died. Returns the failed job ids."""
    limit = timezone.now() - timedelta(seconds=stale_after_s or settings.CALYPSO_JOB_STALE_AFTER_S)
    stale = list(Job.objects.filter(state__in=(JobState.RUNNING, JobState.ROLLING_BACK), heartbeat__lt=limit))
    results = []
    for job in stale:
        results += _fail_lost([job], _(
            "The worker running this job (%(worker)s) stopped: no heartbeat since %(beat)s. Host changes it "
            "made may be incomplete; check the log below, then retry.") % {
            "worker": job.worker or "unknown", "beat": f"{job.heartbeat:%Y-%m-%d %H:%M:%S} UTC"})
    return results


def fail_jobs_of_worker(worker: str, *, died: str = "") -> list[int]:
    """Fail the jobs still marked running on ``worker``: it (re)started, so they died with its previous
    process; or its process supervisor saw that process end (``died``: how, e.g. "signal SIGKILL")."""
    jobs = Job.objects.filter(state__in=(JobState.RUNNING, JobState.ROLLING_BACK), worker=worker)
    if died:
        reason = _("The worker process %(worker)s died (%(how)s); the job was interrupted. Host changes it made "
                   "may be incomplete; check the log below, then retry.") % {"worker": worker, "how": died}
    else:
        reason = _("The worker %(worker)s restarted while this job was running; the job did not finish. Check "
                   "the log, then retry.") % {"worker": worker}
    return _fail_lost(list(jobs), reason)
