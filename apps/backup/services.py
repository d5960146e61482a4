"""Backup targets and tasks (desired-state resources), the replication job, its retention dry run and the
beat tick that queues due runs.

A run: check both sides -> take the task's snapshot on the source -> ``send | receive`` through OS pipes
(apps.core.pipeline: the bytes are counted in the kernel, never copied through Python) -> verify that the
target holds the snapshot with the source's identity -> record it -> prune both sides. Until verification
succeeds a failure undoes what the run did (the new source snapshot, whatever a receive left); after it,
the backup stands whatever follows.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.pipeline import PipelineCancelled, PipelineError, run_pipeline
from apps.core.resources import ResourceService
from apps.core.runner import Runner, get_runner
from apps.jobs import services as jobs
from apps.jobs.models import Job, JobLocked
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage import services as storage
from apps.storage import sync
from apps.storage.models import Dataset, Snapshot
from apps.storage.policies import register_protection_provider

from . import retention
from .backends import get_stream_backend
from .backends.base import Replica, SideSnapshot, StreamBackend
from .backends.stream_errors import classify
from .choices import SendKind
from .models import BackupTask, SentSnapshot, Target

__all__ = ["TARGETS", "TASKS", "TargetService", "TaskService", "base_protections", "in_window",
           "replica_of", "retention_dry_run", "run_backup", "run_due_tasks", "start_backup_run"]

RETRY_AFTER = timedelta(minutes=10)  # a failed scheduled run is tried again after this (or its interval)


# ------------------------------------------------------------------ targets and tasks
class TargetService(ResourceService[Target]):
    model = Target
    fields = ("name", "kind", "pool", "path", "description")

    def retire(self, obj: Target) -> None:
        names = list(obj.tasks.values_list("name", flat=True))
        if names:
            raise ServiceError("target_in_use", _("Tasks still send to %(t)s: %(n)s. Delete or move them first.") % {
                "t": obj.name, "n": ", ".join(names)})


class TaskService(ResourceService[BackupTask]):
    """A task's rows only: its snapshots and replicas stay on the hosts when it is deleted."""

    model = BackupTask
    fields = ("name", "source", "target", "enabled", "interval_minutes", "window_start", "window_end",
              "keep_source", "keep_target")

    def prepare(self, obj: BackupTask, changed: set[str]) -> None:
        obj.next_due_at = None


TARGETS, TASKS = TargetService(), TaskService()


def replica_of(task: BackupTask) -> Replica:
    """Where the task's copies go: ``<pool>/<path>/<source with / as _>`` (ZFS dataset), or that directory
    under the Btrfs target's mount."""
    source, target = task.source, task.target
    own = (source.relative_path if source.pool.backend == "btrfs" else source.name).replace("/", "_")
    if target.pool.backend == "btrfs":
        return Replica("/".join(p for p in (target.path, own) if p), mountpoint=target.pool.mountpoint)
    return Replica("/".join(p for p in (target.pool.name, target.path, own) if p))


def _backend(task: BackupTask, runner: Runner) -> StreamBackend:
    return get_stream_backend(task.source.pool, runner)


# ------------------------------------------------------------------ schedule
def in_window(task: BackupTask, moment: datetime) -> bool:
    """Whether a scheduled run may start at ``moment`` (UTC); a window may span midnight."""
    if task.window_start is None or task.window_end is None:
        return True
    now: time = moment.astimezone(UTC).time()
    start, end = task.window_start, task.window_end
    return start <= now < end if start <= end else (now >= start or now < end)


def start_backup_run(task: BackupTask, *, actor=None) -> Job:
    """Queue a run of ``task`` now (one at a time per task)."""
    _require_present(task)
    return jobs.enqueue("backup.run", target=task, user=actor, lock_key=task.lock_key)


def run_due_tasks(now: datetime | None = None) -> list[Job]:
    """Beat tick: queue a run of every enabled task that is due and inside its window."""
    now = now or timezone.now()
    queued = []
    due = BackupTask.objects.filter(enabled=True, source__gone=False, target__pool__gone=False).filter(
        Q(next_due_at__isnull=True) | Q(next_due_at__lte=now)).select_related("source__pool", "target__pool")
    for task in due:
        if not in_window(task, now):
            continue
        try:
            queued.append(jobs.enqueue("backup.run", target=task, source="system", lock_key=task.lock_key))
        except JobLocked:
            continue
    return queued


def _require_present(task: BackupTask) -> None:
    if task.source.gone:
        raise ServiceError("source_gone", _("%(n)s is no longer on the host.") % {"n": task.source.name})
    if task.target.pool.gone:
        raise ServiceError("target_gone", _("The target pool %(n)s is no longer on the host (exported or lost). "
                                            "Import it, then run again.") % {"n": task.target.pool.name})


# ------------------------------------------------------------------ the run
def _moment(now: str | None) -> datetime:
    return (parse_datetime(now) if now else timezone.now()).astimezone(UTC)


@job_kind("backup.run", "Run backup task")
def run_backup(ctx: JobContext, task: BackupTask, *, now: str | None = None, **params) -> dict:
    """Worker side: replicate the task's source to its target, verify, prune; record the outcome."""
    if task is None:
        raise ServiceError("not_found", _("The task was deleted before its run started."))
    moment = _moment(now)
    try:
        result = _replicate(ctx, task, moment)
    except Exception as exc:
        BackupTask.objects.filter(pk=task.pk).update(last_run_at=moment, last_error=str(exc)[:4000],
                                                     next_due_at=moment + min(RETRY_AFTER, _interval(task)))
        raise
    BackupTask.objects.filter(pk=task.pk).update(last_run_at=moment, last_success_at=moment, last_error="",
                                                 next_due_at=moment + _interval(task))
    return result


def _interval(task: BackupTask) -> timedelta:
    return timedelta(minutes=task.interval_minutes)


def _match(source: list[SideSnapshot], target: list[SideSnapshot]) -> SideSnapshot | None:
    """The newest source snapshot whose copy on the target has the same identity (a same-named snapshot
    with another identity is not a copy of it and cannot be a base)."""
    copies = {s.key: s.identity for s in target}
    return next((s for s in reversed(source) if copies.get(s.key) == s.identity), None)


def _preflight(ctx: JobContext, task: BackupTask, backend: StreamBackend, replica: Replica) -> SideSnapshot | None:
    """Check both sides before anything changes; the incremental base (None: a full send)."""
    _require_present(task)
    prefix = task.snapshot_prefix
    source = backend.source_snapshots(task.source.name, prefix)
    target = backend.replica_snapshots(replica, prefix)
    base = _match(source, target)
    ctx.log.info(f"Source {task.source.name}: {len(source)} snapshot(s) of this task; replica {replica.name}: "
                 f"{len(target)}; incremental base: {base.key if base else 'none (full send)'}")
    if base is None and target:
        raise ServiceError("no_common_snapshot", _(
            "%(r)s holds snapshots of this task, but none of them is still on %(s)s with the same identity, so "
            "no incremental send can follow them. Rename or destroy the replica %(r)s (after checking you do "
            "not need it), and the next run sends everything again.") % {"r": replica.name, "s": task.source.name})
    if base is None:
        free, needed = task.target.pool.free_bytes, task.source.referenced_bytes or task.source.used_bytes
        if free is not None and needed is not None and needed > free:
            raise ServiceError("target_too_small", _(
                "A full copy of %(s)s needs about %(n)s bytes and %(p)s has %(f)s free. Free space on %(p)s or "
                "choose another target.") % {"s": task.source.name, "n": needed, "p": task.target.pool.name,
                                              "f": free})
    return base


def _send(ctx: JobContext, backend: StreamBackend, new: SideSnapshot, base: SideSnapshot | None,
          replica: Replica, estimate: int | None):
    started = timezone.now()

    def progress(sent: int) -> None:
        seconds = max((timezone.now() - started).total_seconds(), 1e-3)
        rate = sent / seconds / 2**20
        percent = 10 + 80 * min(sent / estimate, 1) if estimate else 50
        ctx.progress(percent, _("Sent %(m).1f MiB at %(r).1f MiB/s") % {"m": sent / 2**20, "r": rate})

    def stop() -> bool:
        ctx.check_cancelled()
        return False

    try:
        return run_pipeline([backend.send_argv(new, base)], [backend.receive_argv(replica)], on_progress=progress,
                            should_stop=stop, log=ctx.log.command)
    except PipelineCancelled:
        raise
    except PipelineError as exc:
        failed = exc.failed
        raise classify(" ".join(failed.argv[:2]), failed.stderr, failed.returncode, failed.argv) from exc


def _replicate(ctx: JobContext, task: BackupTask, moment: datetime) -> dict:
    runner = ctx.runner
    backend, replica = _backend(task, runner), replica_of(task)
    ctx.progress(2, _("Checking %(s)s and %(r)s") % {"s": task.source.name, "r": replica.name})
    base = _preflight(ctx, task, backend, replica)
    for path in backend.discard_partial(replica):  # a run killed mid-stream (no undo ran) left it
        ctx.log.warning(f"Removed {path}: an unfinished receive of an earlier run")
    key = f"{task.snapshot_prefix}{moment:%Y%m%dT%H%M%S%fZ}"
    ctx.progress(5, _("Taking snapshot %(k)s") % {"k": key})
    row = storage.create_snapshot(task.source, key, runner=runner)
    ctx.on_undo(f"destroy the new snapshot {row.name}", lambda: storage.destroy_snapshots([row], runner=runner))
    new = next(s for s in backend.source_snapshots(task.source.name, key) if s.key == key)
    backend.prepare_replica(replica)
    ctx.on_undo(f"remove what an unfinished receive left in {replica.name}",
                lambda: [ctx.log.warning(f"Removed {p}") for p in backend.discard_partial(replica, key)])
    estimate = None if base else (task.source.referenced_bytes or None)
    result = _send(ctx, backend, new, base, replica, estimate)
    backend.after_receive(replica, first=base is None)
    ctx.progress(92, _("Verifying %(k)s on the target") % {"k": key})
    copy = {s.key: s for s in backend.replica_snapshots(replica, task.snapshot_prefix)}.get(key)
    if copy is None or copy.identity != new.identity:
        raise ServiceError("verify_failed", _(
            "The target does not hold %(k)s with the source's identity %(i)s (it reports %(c)s): the copy "
            "cannot be trusted. Run again; if it repeats, check the target pool's health.") % {
            "k": key, "i": new.identity, "c": copy.identity if copy else _("no such snapshot")})
    sent = SentSnapshot.objects.create(
        task=task, job=ctx.job, snapshot=key, kind=SendKind.INCREMENTAL if base else SendKind.FULL,
        base=base.key if base else "", source_name=new.name, target_name=copy.name, source_guid=new.identity,
        target_guid=copy.identity, bytes=result.bytes, seconds=round(result.seconds, 3), verified=True)
    ctx.forget_undo()  # verified: from here on the backup stands
    rate = result.bytes / max(result.seconds, 1e-3) / 2**20
    ctx.log.info(f"Sent {sent.kind} {key}{f' from {base.key}' if base else ''}: {result.bytes} bytes in "
                 f"{result.seconds:.2f} s ({rate:.1f} MiB/s); verified on the target ({copy.identity})")
    pruned = _prune(ctx, task, backend, replica)
    return {"snapshot": key, "kind": sent.kind, "base": sent.base, "bytes": result.bytes,
            "seconds": round(result.seconds, 3), "mib_s": round(rate, 1), "verified": True, **pruned}


def _prune(ctx: JobContext, task: BackupTask, backend: StreamBackend, replica: Replica) -> dict:
    ctx.progress(95, _("Pruning"))
    prefix = task.snapshot_prefix
    source = backend.source_snapshots(task.source.name, prefix)
    target = backend.replica_snapshots(replica, prefix)
    plan = retention.prune_plan([s.key for s in source], [s.key for s in target], task.keep_source, task.keep_target)
    for line in plan.lines:
        if "destroy" in line:
            ctx.log.info(line)
    sync.refresh_pool_contents(ctx.runner, task.source.pool, root=task.source.name)
    rows = [r for r in Snapshot.objects.filter(dataset=task.source) if r.short_name.rpartition("@")[2] in plan.source]
    if rows:
        storage.destroy_snapshots(rows, runner=ctx.runner)
    doomed = [s for s in target if s.key in plan.target]
    backend.destroy_replica_snapshots(replica, doomed)
    SentSnapshot.objects.filter(task=task, snapshot__in=plan.source).update(on_source=False)
    SentSnapshot.objects.filter(task=task, snapshot__in=plan.target).update(on_target=False)
    sync.refresh_pool_contents(ctx.runner, task.target.pool)
    return {"pruned_source": list(plan.source), "pruned_target": list(plan.target), "base_kept": plan.common}


# ------------------------------------------------------------------ read-only views
def retention_dry_run(task: BackupTask, *, actor=None, runner: Runner | None = None) -> dict:
    """What pruning would destroy now on each side, with the reason for every snapshot (reads both sides)."""
    runner = runner or get_runner()
    backend, replica = _backend(task, runner), replica_of(task)
    source = backend.source_snapshots(task.source.name, task.snapshot_prefix)
    target = backend.replica_snapshots(replica, task.snapshot_prefix)
    plan = retention.prune_plan([s.key for s in source], [s.key for s in target], task.keep_source, task.keep_target)
    return {"task": task.pk, "replica": replica.name, "base": plan.common, "destroy_source": list(plan.source),
            "destroy_target": list(plan.target), "lines": list(plan.lines)}


@register_protection_provider
def base_protections(dataset: Dataset) -> dict[str, str]:
    """Snapshot policies never prune a task's newest verified snapshot on both sides (its next base)."""
    found: dict[str, str] = {}
    for task in BackupTask.objects.filter(source=dataset):
        last = task.sent.filter(verified=True, on_source=True, on_target=True).order_by("-snapshot").first()
        if last is not None:
            found[last.snapshot] = _("incremental base of backup task %(t)s") % {"t": task.name}
    return found
