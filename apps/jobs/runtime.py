"""Running a service inside a job: state, progress, log lines, undo stack, cancel, heartbeat."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.audit import context as audit_context
from apps.audit import services as audit
from apps.audit.choices import AuditSource, Outcome
from apps.core.runner import LoggingRunner, Runner, get_runner

from .choices import JobState, LogLevel
from .models import Job, JobLogEntry
from .progress import JobCancelled, ProgressReporter
from .publish import publish
from .registry import get_kind

T = TypeVar("T")

__all__ = ["JobContext", "JobLog", "describe_error", "run_job"]

logger = logging.getLogger("calypso.jobs")


class JobLog:
    """``ctx.log.info(...)``: a JobLogEntry row written at once, and a live event for the log tail."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def write(self, level: str, message: str) -> None:
        entry = JobLogEntry.objects.create(job_id=self.job.pk, level=level, message=str(message)[:20000])
        publish(self.job.pk, {"event": "log", "level": level, "message": entry.message,
                              "time": entry.time.isoformat(), "id": entry.pk})
        logger.log(logging.ERROR if level == LogLevel.ERROR else logging.INFO, "job %s: %s", self.job.pk, message)

    def debug(self, message: str) -> None:
        self.write(LogLevel.DEBUG, message)

    def info(self, message: str) -> None:
        self.write(LogLevel.INFO, message)

    def command(self, message: str) -> None:
        self.write(LogLevel.COMMAND, message)

    def warning(self, message: str) -> None:
        self.write(LogLevel.WARNING, message)

    def error(self, message: str) -> None:
        self.write(LogLevel.ERROR, message)


@dataclass
class _Undo:
    description: str
    func: Callable[[], Any]


class JobContext:
    """What a service gets when it runs as a job."""

    def __init__(self, job: Job, runner: Runner | None = None) -> None:
        self.job = job
        self.log = JobLog(job)
        self.runner: Runner = LoggingRunner(runner or get_runner(), self.log.write)
        self.progress = ProgressReporter(job)
        self._undo: list[_Undo] = []
        self._held = contextlib.ExitStack()

    @property
    def params(self) -> dict:
        return self.job.params

    def on_undo(self, description: str, func: Callable[[], Any]) -> None:
        """Push an undo step; on failure the steps run in reverse order (LIFO)."""
        self._undo.append(_Undo(description, func))

    def check_cancelled(self) -> None:
        self.progress.check_cancelled()

    def hold(self, manager: contextlib.AbstractContextManager[T]) -> T:
        """Enter ``manager`` (an SSH session, a private key file) for the rest of the job: it is exited after
        the job ended and its undo steps ran, so they can still use it."""
        return self._held.enter_context(manager)

    def release(self) -> None:
        """Exit what ``hold`` entered, newest first (the runtime calls this when the job has ended)."""
        self._held.close()

    def forget_undo(self) -> None:
        """What was done stands from here on (e.g. a backup verified on its target): a later failure
        undoes none of it."""
        self._undo.clear()

    def rollback(self) -> list[str]:
        """Run the undo stack newest first; returns the errors of steps that failed."""
        errors = []
        while self._undo:
            step = self._undo.pop()
            self.log.warning(f"Rolling back: {step.description}")
            try:
                step.func()
            except Exception as exc:
                errors.append(f"{step.description}: {describe_error(exc)}")
                self.log.error(f"Rollback step failed: {step.description}: {describe_error(exc)}")
        return errors

    @property
    def has_undo(self) -> bool:
        return bool(self._undo)


def describe_error(exc: BaseException) -> str:
    """What failed, in the tool's or service's own words."""
    stderr = getattr(exc, "stderr", "")
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if stderr and " ".join(stderr.split()) not in " ".join(message.split()):  # not already in it, however wrapped
        message = f"{message}: {stderr.strip()}"
    return message[:4000]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


class _Heartbeat:
    """Stamps ``Job.heartbeat`` every few seconds so the reaper can tell a dead worker from a slow job."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.CALYPSO_JOB_HEARTBEAT_S):
                Job.objects.filter(pk=self.job_id).update(heartbeat=timezone.now())
        finally:
            connection.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def _target_of(job: Job):
    if not job.target_type_id:
        return None
    model = job.target_type.model_class()
    return model.objects.filter(pk=job.target_id).first() if model else None


def _finish(job: Job, state: str, **fields) -> None:
    job.transition(state, **fields)
    publish(job.pk, {"event": "state", "state": job.state, "progress": job.progress, "step": job.step,
                     "error": job.error}, wait=True)


def _fail(ctx: JobContext, exc: BaseException) -> None:
    job = ctx.job
    message = describe_error(exc)
    job.progress, job.step = ctx.progress.percent, ctx.progress.step  # where it stopped, kept on the row
    ctx.log.error(f"Failed: {message}")
    fields = {"error": message, "traceback": traceback.format_exc()[-20000:], "progress": job.progress,
              "step": job.step}
    if not ctx.has_undo:
        _finish(job, JobState.FAILED, **fields)
        return
    job.transition(JobState.ROLLING_BACK, **fields)
    publish(job.pk, {"event": "state", "state": job.state, "progress": job.progress, "step": job.step})
    undo_errors = ctx.rollback()
    if undo_errors:
        _finish(job, JobState.FAILED, error=f"{message}\nRollback incomplete: " + "; ".join(undo_errors))
    else:
        ctx.log.info("Rollback complete: every step done so far was undone.")
        _finish(job, JobState.ROLLED_BACK)


def run_job(job_id: int, *, task_id: str = "", runner: Runner | None = None, worker: str | None = None) -> Job | None:
    """Run a queued job to a terminal state. A job that is no longer queued (cancelled before it
    started, or redelivered after a worker died) is left as it is."""
    # The conditional UPDATE first and "running" published at once: clients see the job start without
    # waiting for the row to be read. A queued job has not progressed (progress 0, no step).
    now = timezone.now()
    fields = {"started": now, "heartbeat": now, "worker": worker or socket.gethostname()}
    if task_id:
        fields["celery_task_id"] = task_id
    started = Job(pk=job_id).transition(JobState.RUNNING, **fields)
    if started:
        publish(job_id, {"event": "state", "state": JobState.RUNNING, "progress": 0, "step": ""})
    job = Job.objects.select_related("target_type", "user").filter(pk=job_id).first()
    if job is None:
        logger.warning("job %s vanished before it ran", job_id)
        return None
    if not started:
        logger.info("job %s is %s, not queued: not run", job_id, job.state)
        return job
    ctx = JobContext(job, runner)
    with audit_context.use(audit_context.AuditContext(source=AuditSource.JOB, job_id=job.pk)):
        with _Heartbeat(job.pk):
            try:
                _execute(ctx)
            finally:
                ctx.release()
        job.refresh_from_db()
        outcome = Outcome.OK if job.state == JobState.SUCCEEDED else Outcome.FAILED
        audit.record(job.user, job.kind, _target_of(job) or ("jobs.job", job.pk, job.target_label or str(job)),
                     job=job, outcome=outcome, message=job.error or job.get_state_display(),
                     duration_ms=(job.duration_s or 0) * 1000)
    return job


def _execute(ctx: JobContext) -> None:
    job = ctx.job
    try:
        kind = get_kind(job.kind)
        ctx.log.info(f"Started {kind.label}" + (f" on {job.target_label}" if job.target_label else ""))
        result = kind.func(ctx, _target_of(job), **job.params)
    except JobCancelled as exc:
        message = str(exc) or "Cancelled by request."
        ctx.log.warning(message)
        if exc.undo:
            ctx.rollback()
        job.progress, job.step = ctx.progress.percent, ctx.progress.step  # where it stopped, not where it began
        _finish(job, JobState.CANCELLED, error=message, progress=job.progress, step=job.step)
    except Exception as exc:
        _fail(ctx, exc)
    else:
        ctx.progress.percent = 100
        ctx.progress._dirty_publish = ctx.progress._dirty_persist = False
        ctx.log.info("Finished.")
        job.progress = 100
        _finish(job, JobState.SUCCEEDED, progress=100, step="", result=_jsonable(result))
