"""Restore drills: proof that a task's newest copy restores, not only that it was written. A drill restores
the newest verified copy into a scratch dataset (stream files: the whole chain, each file's checksum first;
replicas: sent back from the replica), checks the received identity, compares the file tree with the source
snapshot (every name, and the bytes of a sample of files), records the outcome, raises a storage event
when it fails, and removes the scratch copy."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage import sync
from apps.storage.choices import EventKind, EventSeverity
from apps.storage.models import Pool, StorageEvent

from ..backends import get_stream_backend
from ..backends.base import SideSnapshot
from ..models import BackupTask, SentSnapshot
from .common import moment, require_present, stream
from .replication import replica_side
from .repository import open_repository, prepare_restore, remove_restored, restore_chain, restore_target
from .resources import queue_each

__all__ = ["SAMPLE_FILES", "compare_trees", "drills_due", "run_drill", "run_due_drills", "start_drill"]

SAMPLE_FILES = 20  # files compared byte for byte (every name is compared)


def start_drill(task: BackupTask, *, actor=None) -> Job:
    """Queue a restore drill of the task's newest copy (never while the task runs: one lock)."""
    require_present(task)
    if not task.sent.filter(verified=True, on_target=True).exists():
        raise ServiceError("nothing_to_drill", _("%(t)s has no verified copy yet: run it first.") % {"t": task.name})
    return jobs.enqueue("backup.drill", target=task, user=actor, lock_key=task.lock_key)


def drills_due(now: datetime):
    """Tasks whose drill is due: drills on, a verified copy present, the last drill older than the interval."""
    due = BackupTask.objects.filter(drill_interval_days__gt=0, source__gone=False,
                                    sent__verified=True, sent__on_target=True).distinct()
    return [t for t in due.filter(Q(last_drill_at__isnull=True) | Q(last_drill_at__lt=now - timedelta(days=1)))
            if t.last_drill_at is None or t.last_drill_at + timedelta(days=t.drill_interval_days) <= now]


def run_due_drills(now: datetime | None = None) -> list[Job]:
    """Beat tick: queue the drills that are due (a task that is running is skipped until the next tick)."""
    return queue_each("backup.drill", drills_due(now or timezone.now()))


@job_kind("backup.drill", "Restore drill")
def run_drill(ctx: JobContext, task: BackupTask, **params) -> dict:
    """Worker side: restore, compare, record, clean up; a failure raises a critical storage event."""
    if task is None:
        raise ServiceError("not_found", _("The task was deleted before its drill started."))
    at = moment()
    try:
        result = _drill(ctx, task)
    except Exception as exc:
        BackupTask.objects.filter(pk=task.pk).update(last_drill_at=at, last_drill_ok=False,
                                                     last_drill_error=str(exc)[:4000])
        StorageEvent.objects.create(pool=task.source.pool, kind=EventKind.BACKUP_FAILED,
                                    severity=EventSeverity.CRITICAL,
                                    message=_("Restore drill of backup task %(t)s failed: %(e)s") % {
                                        "t": task.name, "e": str(exc)[:500]},
                                    details={"task": task.pk, "job": ctx.job.pk, "subject": task.name})
        raise
    BackupTask.objects.filter(pk=task.pk).update(last_drill_at=at, last_drill_ok=True, last_drill_error="")
    return result


def _drill(ctx: JobContext, task: BackupTask) -> dict:
    newest = task.sent.filter(verified=True, on_target=True).order_by("-snapshot").first()
    if newest is None:
        raise ServiceError("nothing_to_drill", _("%(t)s has no verified copy to restore.") % {"t": task.name})
    pool = task.drill_pool or task.source.pool
    name = f"calypso-drill-{task.pk}-{uuid.uuid4().hex[:6]}"
    where = restore_target(pool, name)
    try:
        if task.target.is_repository:
            repo = ctx.hold(open_repository(task, ctx.runner, ctx.log.write, check=False))
            restored = restore_chain(ctx, newest, pool, name, repo)
        else:
            restored = _restore_from_replica(ctx, task, newest, pool, where)
        copy = {s.key: s for s in get_stream_backend(pool, ctx.runner).replica_snapshots(
            where, task.snapshot_prefix)}[newest.snapshot]
        compared = _compare_with_source(ctx, task, newest, pool, copy)
    finally:
        remove_restored(ctx.runner, pool, where)
        ctx.log.info(f"Removed the drill's scratch copy {where.name}")
        sync.refresh_pool_contents(ctx.runner, pool)
    ctx.forget_undo()
    return {"snapshot": newest.snapshot, "restored_into": where.name, "identity": newest.source_guid,
            "files": restored.get("files", 1), **compared}


def _restore_from_replica(ctx: JobContext, task: BackupTask, newest: SentSnapshot, pool: Pool, where) -> dict:
    """Send the replica's copy back into the scratch dataset and check its identity."""
    dst, there, replica = ctx.hold(replica_side(task, ctx.runner, ctx.log.write))
    copy = {s.key: s for s in dst.replica_snapshots(replica, task.snapshot_prefix)}.get(newest.snapshot)
    if copy is None:
        raise ServiceError("copy_missing", _("The replica %(r)s no longer holds %(s)s.") % {
            "r": replica.name, "s": newest.snapshot})
    local = get_stream_backend(pool, ctx.runner)
    prepare_restore(ctx, pool, where)
    stream(ctx, [there(dst.send_argv(SideSnapshot(copy.key, copy.name, copy.identity), None))],
           [local.receive_argv(where)], low=10, high=80)
    got = {s.key: s.identity for s in local.replica_snapshots(where, task.snapshot_prefix)}.get(newest.snapshot)
    if got != newest.source_guid:
        raise ServiceError("verify_failed", _("The copy restored from %(r)s reports identity %(g)s, not the source's "
                                              "%(i)s.") % {"r": replica.name, "g": got, "i": newest.source_guid})
    return {"files": 1}


def _compare_with_source(ctx: JobContext, task: BackupTask, newest: SentSnapshot, pool: Pool, copy) -> dict:
    ctx.progress(90, _("Comparing with the source snapshot"))
    source = get_stream_backend(task.source.pool, ctx.runner)
    original = {s.key: s for s in source.source_snapshots(task.source.name, task.snapshot_prefix)}.get(newest.snapshot)
    if original is None:
        ctx.log.warning(f"{newest.snapshot} is no longer on the source: the identity check stands alone")
        return {"compared_names": 0, "compared_files": 0}
    restored_backend = get_stream_backend(pool, ctx.runner)
    with source.files_of(original.name) as left, restored_backend.files_of(copy.name) as right:
        names, sampled = compare_trees(left, right)
    ctx.log.info(f"The restored tree matches the source snapshot: {names} names, {sampled} files compared byte for "
                 "byte")
    return {"compared_names": names, "compared_files": sampled}


def compare_trees(left: Path, right: Path, sample: int = SAMPLE_FILES) -> tuple[int, int]:
    """(names compared, files compared byte for byte): every relative name with its type and size, and the
    bytes of ``sample`` files spread over the tree. A difference raises, naming the first one found."""
    def listing(root: Path) -> dict[str, tuple[str, int]]:
        out = {}
        for base, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != ".zfs"]
            for entry in [*dirs, *files]:
                path = Path(base, entry)
                kind = "l" if path.is_symlink() else "d" if path.is_dir() else "f"
                out[str(path.relative_to(root))] = (kind, path.lstat().st_size if kind == "f" else 0)
        return out

    a, b = listing(left), listing(right)
    if a != b:
        diff = sorted(set(a.items()) ^ set(b.items()))[0][0]
        raise ServiceError("drill_mismatch", _("The restored tree differs from the source snapshot at %(p)s.") % {
            "p": diff})
    files = sorted(name for name, (kind, _size) in a.items() if kind == "f")
    chosen = files[:: max(1, len(files) // sample)][:sample]
    for name in chosen:
        if not _same_bytes(left / name, right / name):
            raise ServiceError("drill_mismatch", _("%(p)s differs between the restored copy and the source.") % {
                "p": name})
    return len(a), len(chosen)


def _same_bytes(a: Path, b: Path) -> bool:
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True
