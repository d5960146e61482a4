"""Replicas: a task's snapshots copied into a dataset (ZFS) or directory (Btrfs) of a pool on this host.

A run: check both sides -> take the task's snapshot on the source -> ``send | receive`` through OS pipes
(the bytes counted in the kernel, never copied through Python) -> verify that the target holds the snapshot
with the source's identity -> record it -> prune both sides. Until verification succeeds a failure undoes
what the run did (the new source snapshot, whatever a receive left); after it, the backup stands.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import PurePosixPath

from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.runner import LoggingRunner, Runner, get_runner
from apps.jobs.runtime import JobContext
from apps.storage import services as storage
from apps.storage import sync
from apps.storage.backends.btrfs import BtrfsBackend
from apps.storage.backends.zfs import ZfsBackend
from apps.storage.models import Snapshot

from .. import remote, retention
from ..backends import get_stream_backend
from ..backends.base import Replica, SideSnapshot, StreamBackend
from ..backends.btrfs import BtrfsStream
from ..backends.zfs import ZfsStream
from ..choices import SendKind
from ..models import BackupTask, SentSnapshot
from .common import flat_name, stream

__all__ = ["dry_run", "prune_source", "replica_of", "replica_side", "replicate", "take_snapshot"]


def replica_of(task: BackupTask) -> Replica:
    """Where the task's copies go: ``<pool>/<path>/<source with / as _>`` (ZFS dataset; on another host
    ``<path>/<source with / as _>``), or that directory under the Btrfs target's mount."""
    target = task.target
    if target.is_remote:  # ZFS: under the parent dataset there (a Btrfs replica there: see replica_side)
        return Replica(f"{target.path}/{flat_name(task)}")
    if target.pool.backend == "btrfs":
        return Replica("/".join(p for p in (target.path, flat_name(task)) if p), mountpoint=target.pool.mountpoint)
    return Replica("/".join(p for p in (target.pool.name, target.path, flat_name(task)) if p))


def _match(source: list[SideSnapshot], target: list[SideSnapshot]) -> SideSnapshot | None:
    """The newest source snapshot whose copy on the target has the same identity (a same-named snapshot
    with another identity is not a copy of it and cannot be a base)."""
    copies = {s.key: s.identity for s in target}
    return next((s for s in reversed(source) if copies.get(s.key) == s.identity), None)


@contextlib.contextmanager
def replica_side(task: BackupTask, runner: Runner, log: Callable[[str, str], None] | None = None, pin: bool = True
                 ) -> Iterator[tuple[StreamBackend, Callable[[list[str]], list[str]], Replica]]:
    """The backend that reads and changes the replica's side, how a command there is run from this host, and
    the replica: the target pool's here; another host's through an SSH session (its commands logged through
    ``log``), where a Btrfs replica's filesystem is found by its directory."""
    target = task.target
    if not target.is_remote:
        yield get_stream_backend(target.pool, runner), list, replica_of(task)
        return
    with remote.connect(target, runner, (lambda m: log("info", m)) if log else None, pin=pin) as ssh:
        there = LoggingRunner(ssh, log) if log else ssh
        if task.source.pool.backend != "btrfs":
            yield ZfsStream(ZfsBackend(there), there), ssh.ssh_argv, replica_of(task)
            return
        mount = there.run(["findmnt", "-n", "-o", "TARGET", "-T", target.path]).stdout.strip()
        under = str(PurePosixPath(target.path).relative_to(mount)) if mount else ""
        if not mount or (under != "." and under.startswith("..")):
            raise ServiceError("not_btrfs", _("%(p)s on %(h)s is not on a mounted filesystem.") % {
                "p": target.path, "h": target.host})
        name = "/".join(p for p in (under if under != "." else "", flat_name(task)) if p)
        yield BtrfsStream(BtrfsBackend(there), there, ""), ssh.ssh_argv, Replica(name, mountpoint=mount)


def _preflight(ctx: JobContext, task: BackupTask, backend: StreamBackend, dst: StreamBackend,
               replica: Replica) -> SideSnapshot | None:
    """Check both sides before anything changes; the incremental base (None: a full send)."""
    prefix = task.snapshot_prefix
    source = backend.source_snapshots(task.source.name, prefix)
    target = dst.replica_snapshots(replica, prefix)
    base = _match(source, target)
    ctx.log.info(f"Source {task.source.name}: {len(source)} snapshot(s) of this task; replica {replica.name}: "
                 f"{len(target)}; incremental base: {base.key if base else 'none (full send)'}")
    if base is None and target:
        raise ServiceError("no_common_snapshot", _(
            "%(r)s holds snapshots of this task, but none of them is still on %(s)s with the same identity, so "
            "no incremental send can follow them. Rename or destroy the replica %(r)s (after checking you do "
            "not need it), and the next run sends everything again.") % {"r": replica.name, "s": task.source.name})
    if base is None and not task.target.is_remote:
        free, needed = task.target.pool.free_bytes, task.source.referenced_bytes or task.source.used_bytes
        if free is not None and needed is not None and needed > free:
            raise ServiceError("target_too_small", _(
                "A full copy of %(s)s needs about %(n)s bytes and %(p)s has %(f)s free. Free space on %(p)s or "
                "choose another target.") % {"s": task.source.name, "n": needed, "p": task.target.pool.name,
                                              "f": free})
    return base


def take_snapshot(ctx: JobContext, task: BackupTask, backend: StreamBackend, key: str,
                  keep_if: Callable[[], bool] | None = None) -> SideSnapshot:
    """The run's snapshot of the source, destroyed again if the run fails before its copy is verified (unless
    ``keep_if()`` says an interrupted receive will resume from it)."""
    ctx.progress(5, _("Taking snapshot %(k)s") % {"k": key})
    row = storage.create_snapshot(task.source, key, runner=ctx.runner)

    def undo() -> None:
        if keep_if is not None and keep_if():
            ctx.log.warning(f"Kept {row.name}: the receive was saved and resumes from its token at the next run")
            return
        storage.destroy_snapshots([row], runner=ctx.runner)

    ctx.on_undo(f"destroy the new snapshot {row.name}", undo)
    return next(s for s in backend.source_snapshots(task.source.name, key) if s.key == key)


def replicate(ctx: JobContext, task: BackupTask, at: datetime) -> dict:
    # Held for the whole job: undo steps on the replica's side run after this function raised.
    dst, there, replica = ctx.hold(replica_side(task, ctx.runner, ctx.log.write))
    return _replicate(ctx, task, at, dst, there, replica)


def _replicate(ctx: JobContext, task: BackupTask, at: datetime, dst: StreamBackend,
               there: Callable[[list[str]], list[str]], replica: Replica) -> dict:
    backend = get_stream_backend(task.source.pool, ctx.runner)
    ctx.progress(2, _("Checking %(s)s and %(r)s") % {"s": task.source.name, "r": replica.name})
    base = _preflight(ctx, task, backend, dst, replica)
    for path in dst.discard_partial(replica, task.snapshot_prefix):  # a run killed mid-stream (no undo ran) left it
        ctx.log.warning(f"Removed {path}: an unfinished receive of an earlier run")
    token = dst.resume_token(replica)
    if token and (resumed := _resume(ctx, task, backend, dst, there, replica, token, base)) is not None:
        return resumed
    key = f"{task.snapshot_prefix}{at:%Y%m%dT%H%M%S%fZ}"
    new = take_snapshot(ctx, task, backend, key, keep_if=lambda: bool(dst.resume_token(replica)))
    dst.prepare_replica(replica)
    ctx.on_undo(f"remove what an unfinished receive left in {replica.name}",
                lambda: [ctx.log.warning(f"Removed {p}") for p in dst.discard_partial(replica, key)])
    result = stream(ctx, [backend.send_argv(new, base)], [there(dst.receive_argv(replica))],
                    estimate=None if base else (task.source.referenced_bytes or None),
                    rate_limit=task.target.bandwidth_limit_kib * 1024 or None)
    return _verified(ctx, task, backend, dst, replica, new, base, result)


def _resume(ctx: JobContext, task: BackupTask, backend, dst, there, replica: Replica, token: str,
            base: SideSnapshot | None) -> dict | None:
    """Finish the receive an earlier run left saved (OpenZFS ``receive -s``) from its token; None when the token
    no longer leads anywhere (its snapshot is gone from the source): then the saved state is discarded."""
    name = backend.resume_target(token)
    held = {s.key: s for s in backend.source_snapshots(task.source.name, task.snapshot_prefix)}
    dataset, _at, key = name.partition("@")
    if dataset != task.source.name or key not in held:
        dst.abort_resume(replica)
        ctx.log.warning(f"Discarded the saved partial receive in {replica.name} ({name or 'unreadable token'}): "
                        "its snapshot is no longer on the source")
        return None
    ctx.log.info(f"Resuming the interrupted receive of {key} into {replica.name} from its resume token")
    result = stream(ctx, [backend.send_resume_argv(token)], [there(dst.receive_argv(replica))],
                    rate_limit=task.target.bandwidth_limit_kib * 1024 or None)
    return _verified(ctx, task, backend, dst, replica, held[key], base, result)


def _verified(ctx: JobContext, task: BackupTask, backend: StreamBackend, dst: StreamBackend, replica: Replica,
              new: SideSnapshot, base: SideSnapshot | None, result) -> dict:
    """After the stream: check the target holds ``new`` with its identity, record it, prune both sides."""
    key = new.key
    ctx.on_undo(f"destroy the unverified copy of {key} in {replica.name}", lambda: dst.destroy_replica_snapshots(
        replica, [s for s in dst.replica_snapshots(replica, key) if s.key == key]))
    for warning in dst.after_receive(replica, first=base is None):
        ctx.log.warning(warning)
    ctx.progress(92, _("Verifying %(k)s on the target") % {"k": key})
    copy = {s.key: s for s in dst.replica_snapshots(replica, task.snapshot_prefix)}.get(key)
    if copy is None or copy.identity != new.identity:
        raise ServiceError("verify_failed", _(
            "The target does not hold %(k)s with the source's identity %(i)s (it reports %(c)s): the copy "
            "cannot be trusted. Run again; if it repeats, check the target pool's health.") % {
            "k": key, "i": new.identity, "c": copy.identity if copy else _("no such snapshot")})
    where = f"{task.target.host}:" if task.target.is_remote else ""
    sent = SentSnapshot.objects.create(
        task=task, job=ctx.job, snapshot=key, kind=SendKind.INCREMENTAL if base else SendKind.FULL,
        base=base.key if base else "", source_name=new.name, target_name=where + copy.name, source_guid=new.identity,
        target_guid=copy.identity, bytes=result.bytes, seconds=round(result.seconds, 3), verified=True)
    ctx.forget_undo()  # verified: from here on the backup stands
    rate = result.bytes / max(result.seconds, 1e-3) / 2**20
    ctx.log.info(f"Sent {sent.kind} {key}{f' from {base.key}' if base else ''}: {result.bytes} bytes in "
                 f"{result.seconds:.2f} s ({rate:.1f} MiB/s); verified on the target ({copy.identity})")
    pruned = _prune(ctx, task, backend, dst, replica)
    return {"snapshot": key, "kind": sent.kind, "base": sent.base, "bytes": result.bytes,
            "seconds": round(result.seconds, 3), "mib_s": round(rate, 1), "verified": True, **pruned}


def prune_source(ctx: JobContext, task: BackupTask, names: tuple[str, ...]) -> None:
    """Destroy the task's snapshots ``names`` (after "@") on the source, through the storage service."""
    sync.refresh_pool_contents(ctx.runner, task.source.pool, root=task.source.name)
    rows = [r for r in Snapshot.objects.filter(dataset=task.source) if r.short_name.rpartition("@")[2] in names]
    if rows:
        storage.destroy_snapshots(rows, runner=ctx.runner)
    SentSnapshot.objects.filter(task=task, snapshot__in=names).update(on_source=False)


def _prune(ctx: JobContext, task: BackupTask, backend: StreamBackend, dst: StreamBackend, replica: Replica) -> dict:
    ctx.progress(95, _("Pruning"))
    prefix = task.snapshot_prefix
    source = backend.source_snapshots(task.source.name, prefix)
    target = dst.replica_snapshots(replica, prefix)
    plan = retention.prune_plan([s.key for s in source], [s.key for s in target], task.keep_source, task.keep_target)
    for line in plan.lines:
        if "destroy" in line:
            ctx.log.info(line)
    prune_source(ctx, task, plan.source)
    dst.destroy_replica_snapshots(replica, [s for s in target if s.key in plan.target])
    SentSnapshot.objects.filter(task=task, snapshot__in=plan.target).update(on_target=False)
    if not task.target.is_remote:
        sync.refresh_pool_contents(ctx.runner, task.target.pool)
    return {"pruned_source": list(plan.source), "pruned_target": list(plan.target), "base_kept": plan.common}


def dry_run(task: BackupTask, *, runner: Runner | None = None) -> dict:
    """What pruning would destroy now on each side, with the reason for every snapshot (reads both sides)."""
    runner = runner or get_runner()
    backend = get_stream_backend(task.source.pool, runner)
    source = backend.source_snapshots(task.source.name, task.snapshot_prefix)
    with replica_side(task, runner, pin=False) as (dst, _there, replica):
        target = dst.replica_snapshots(replica, task.snapshot_prefix)
    plan = retention.prune_plan([s.key for s in source], [s.key for s in target], task.keep_source, task.keep_target)
    return {"task": task.pk, "replica": replica.name, "base": plan.common, "destroy_source": list(plan.source),
            "destroy_target": list(plan.target), "lines": list(plan.lines)}
