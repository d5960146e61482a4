"""Backup targets and tasks as desired-state resources, the schedule, the run job (replicas or stream
files, by target), its dry run, and the protection of each task's incremental base from snapshot policies."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.resources import ResourceService
from apps.core.runner import BASE_ENV, Runner
from apps.jobs import services as jobs
from apps.jobs.models import Job, JobLocked
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage.choices import EventKind, EventSeverity
from apps.storage.models import Dataset, StorageEvent
from apps.storage.policies import register_protection_provider

from ..choices import Strategy
from ..models import BackupTask, Target
from . import replication, repository
from .common import moment, require_present
from .repository import COMPRESS

__all__ = ["OVERDUE_GRACE", "PACKAGES", "RETRY_AFTER", "TARGETS", "TASKS", "TargetService", "TaskService", "base_protections", "flag_overdue", "in_window",
           "preflight_tools", "queue_each", "retention_dry_run", "run_backup", "run_due_tasks", "start_backup_run"]

OVERDUE_GRACE = timedelta(hours=1)  # beyond twice its interval without a success, a task is overdue

RETRY_AFTER = timedelta(minutes=10)  # a failed run is tried again after this, doubled per failure in a row (at
# most the task's interval)
PACKAGES = {"zfs": "zfsutils-linux", "btrfs": "btrfs-progs", "age-keygen": "age", "ssh": "openssh-client",
            "ssh-keyscan": "openssh-client", "ssh-keygen": "openssh-client"}


class TargetService(ResourceService[Target]):
    model = Target
    fields = ("name", "kind", "pool", "path", "host", "port", "username", "host_key", "bandwidth_limit_kib",
              "description")

    def retire(self, obj: Target) -> None:
        names = list(obj.tasks.values_list("name", flat=True))
        if names:
            raise ServiceError("target_in_use", _("Tasks still send to %(t)s: %(n)s. Delete or move them first.") % {
                "t": obj.name, "n": ", ".join(names)})


class TaskService(ResourceService[BackupTask]):
    """A task's rows only: its snapshots, replicas and stream files stay where they are when it is deleted."""

    model = BackupTask
    fields = ("name", "source", "target", "enabled", "interval_minutes", "window_start", "window_end", "strategy",
              "compression", "keep_source", "keep_target", "drill_interval_days", "drill_pool")

    def prepare(self, obj: BackupTask, changed: set[str]) -> None:
        obj.next_due_at = None
        if "strategy" not in changed and obj.target_id is not None and obj.target.is_repository and obj.pk is None:
            obj.strategy = Strategy.MONTHLY_FULL  # the seeds' chains: a month of files at most per restore


TARGETS, TASKS = TargetService(), TaskService()


# ------------------------------------------------------------------ schedule
def in_window(task: BackupTask, at: datetime) -> bool:
    """Whether a scheduled run may start at ``at`` (UTC); a window may span midnight."""
    if task.window_start is None or task.window_end is None:
        return True
    now: time = at.astimezone(UTC).time()
    start, end = task.window_start, task.window_end
    return start <= now < end if start <= end else (now >= start or now < end)


def start_backup_run(task: BackupTask, *, actor=None) -> Job:
    """Queue a run of ``task`` now (one at a time per task)."""
    require_present(task)
    return jobs.enqueue("backup.run", target=task, user=actor, lock_key=task.lock_key)


def run_due_tasks(now: datetime | None = None) -> list[Job]:
    """Beat tick: queue a run of every enabled task that is due and inside its window."""
    now = now or timezone.now()
    due = BackupTask.objects.filter(enabled=True, source__gone=False).exclude(target__pool__gone=True).filter(
        Q(next_due_at__isnull=True) | Q(next_due_at__lte=now)).select_related("source__pool", "target__pool")
    return queue_each("backup.run", [task for task in due if in_window(task, now)])


def flag_overdue(now: datetime | None = None) -> list[StorageEvent]:
    """Beat tick: a critical storage event, once, for each enabled task without a successful run for more than
    twice its interval (and an hour of grace): failing runs, a window never open, a worker that is down."""
    now = now or timezone.now()
    events = []
    for task in BackupTask.objects.filter(enabled=True).select_related("source__pool"):
        since = task.last_success_at or task.created
        if since is None or now - since <= 2 * timedelta(minutes=task.interval_minutes) + OVERDUE_GRACE:
            continue
        if StorageEvent.objects.filter(kind=EventKind.BACKUP_FAILED, details__task=task.pk, details__overdue=True,
                                       time__gte=since).exists():
            continue  # already said since the last success
        events.append(StorageEvent.objects.create(
            pool=task.source.pool, kind=EventKind.BACKUP_FAILED, severity=EventSeverity.CRITICAL, time=now,
            message=_("Backup task %(t)s is overdue: no successful run since %(since)s (due every %(n)d minutes). "
                      "%(error)s") % {"t": task.name, "since": f"{since:%Y-%m-%d %H:%M} UTC", "n": task.interval_minutes,
                                      "error": task.last_error[:300] or ""},
            details={"task": task.pk, "overdue": True, "subject": task.name}))
    return events


def queue_each(kind: str, tasks) -> list[Job]:
    """Queue a ``kind`` job for each task (the beat's own), skipping a task whose run or drill still holds its lock."""
    queued = []
    for task in tasks:
        try:
            queued.append(jobs.enqueue(kind, target=task, source="system", lock_key=task.lock_key))
        except JobLocked:
            continue
    return queued


# ------------------------------------------------------------------ the run
@job_kind("backup.run", "Run backup task")
def run_backup(ctx: JobContext, task: BackupTask, *, now: str | None = None, **params) -> dict:
    """Worker side: one run of the task (replica or stream file), verified; the outcome on the task's row."""
    if task is None:
        raise ServiceError("not_found", _("The task was deleted before its run started."))
    at = moment(now)
    interval = timedelta(minutes=task.interval_minutes)
    try:
        require_present(task)
        preflight_tools(task)
        run = repository.back_up if task.target.is_repository else replication.replicate
        result = run(ctx, task, at)
    except Exception as exc:
        BackupTask.objects.filter(pk=task.pk).update(
            last_run_at=at, last_error=str(exc)[:4000], failures=task.failures + 1,
            next_due_at=at + min(RETRY_AFTER * 2**min(task.failures, 10), interval))
        raise
    BackupTask.objects.filter(pk=task.pk).update(last_run_at=at, last_success_at=at, last_error="", failures=0,
                                                 next_due_at=at + interval)
    return result


def preflight_tools(task: BackupTask) -> None:
    """Every program the run needs on this host, before anything changes; the missing ones named with the fix."""
    needed = [task.source.pool.backend]  # zfs or btrfs
    if task.target.is_repository:
        needed += [COMPRESS[task.compression][0], "age", "age-keygen"]
    if task.target.is_remote:
        needed += ["ssh", "ssh-keyscan", "ssh-keygen"]
    missing = [tool for tool in needed if shutil.which(tool, path=BASE_ENV["PATH"]) is None]
    if missing:
        raise ServiceError("tools_missing", _("This host lacks %(t)s, which this task needs. Install them (Debian: "
                                              "apt install %(p)s), then run again.") % {
            "t": ", ".join(missing), "p": " ".join(sorted({PACKAGES.get(t, t) for t in missing}))})


def retention_dry_run(task: BackupTask, *, actor=None, runner: Runner | None = None) -> dict:
    """What pruning would destroy now on each side, with the reason for every snapshot or file."""
    dry = repository.dry_run if task.target.is_repository else replication.dry_run
    return dry(task, runner=runner)


@register_protection_provider
def base_protections(dataset: Dataset) -> dict[str, str]:
    """Snapshot policies never prune a task's newest verified snapshot still on both sides (its next base)."""
    found: dict[str, str] = {}
    for task in BackupTask.objects.filter(source=dataset):
        last = task.sent.filter(verified=True, on_source=True, on_target=True).order_by("-snapshot").first()
        if last is not None:
            found[last.snapshot] = _("incremental base of backup task %(t)s") % {"t": task.name}
    return found
