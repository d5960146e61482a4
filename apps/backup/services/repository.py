"""Stream files: each run writes ``send | compress | age -r <key>`` into a repository file through a tap
that hashes it, reads the file back whole before it counts, keeps chains (a full stream and its
incrementals; the seeds' monthly full + daily incremental by default) and prunes whole chains only.
Restores verify every file of the chain before receiving anything; "verify now" re-reads every file."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.runner import LoggingRunner, Runner, get_runner
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage import sync
from apps.storage.models import Pool

from .. import keys, remote, retention
from ..backends import get_stream_backend
from ..backends.base import Replica, SideSnapshot
from ..choices import SendKind, Strategy
from ..models import BackupTask, SentSnapshot
from ..repository import (
    RemoteRepository,
    Repository,
    StreamFile,
    UnreadableManifest,
    chain_to,
    chains,
    prune_chains,
    stream_name,
)
from .common import flat_name, moment, stream
from .replication import prune_source, take_snapshot

__all__ = ["COMPRESS", "DECOMPRESS", "back_up", "client_name", "dry_run", "incremental_base", "open_repository",
           "prepare_restore", "remove_restored", "restore_chain", "restore_target", "run_restore", "run_verify", "start_restore", "start_verify",
           "task_streams"]

# zstd -2: on this host's own binaries, libraries and documents its output is ~3 % smaller than gzip -6's at
# about ten times the speed; -1 is no faster on two cores but ~2 % larger than gzip, -3 costs a third more CPU
# for 5 % less (benchmarks/backup_pipeline.py).
COMPRESS = {"zstd": ["zstd", "-2", "-T0", "-q", "-c"], "gzip": ["gzip", "-6", "-c"]}
DECOMPRESS = {"zstd": ["zstd", "-d", "-q", "-c"], "gzip": ["gzip", "-d", "-c"]}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


def client_name() -> str:
    """This appliance's directory in repositories (CALYPSO_BACKUP_CLIENT, else the host name)."""
    name = settings.CALYPSO_BACKUP_CLIENT or socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name) or "calypso"


@contextlib.contextmanager
def open_repository(task: BackupTask, runner: Runner, log: Callable[[str, str], None] | None = None,
                    check: bool = True, pin: bool = True) -> Iterator[Repository | RemoteRepository]:
    """The task's repository: a directory here, or on another host through an SSH session held open while
    it is used (its commands logged to the job through ``log(level, message)``)."""
    target = task.target
    with contextlib.ExitStack() as stack:
        if target.is_remote:
            ssh = stack.enter_context(remote.connect(target, runner, (lambda m: log("info", m)) if log else None,
                                                     pin=pin))
            repo = RemoteRepository(ssh, LoggingRunner(ssh, log) if log else ssh, target.path)
        else:
            repo = Repository(target.path)
        why = repo.check() if check else None
        if why:
            raise ServiceError("repository_unavailable", _(
                "The repository %(t)s cannot be written: %(w)s. Mount or create it, then run again.") % {
                "t": target.name, "w": why})
        yield repo


def task_streams(repo: Repository | RemoteRepository, task: BackupTask) -> list[StreamFile]:
    """The task's complete stream files (its own snapshot names only: other tasks, or other appliances with the
    same source names, never count), oldest first; an unreadable manifest stops everything with the fix."""
    try:
        return repo.streams(client_name(), _stem(task))
    except UnreadableManifest as exc:
        raise ServiceError("manifest_unreadable", _(
            "A manifest of %(t)s in %(r)s cannot be read (%(e)s): nothing is pruned or chained while a chain is "
            "uncertain. Check the repository's storage, restore the manifest from a copy or move the damaged "
            "files away, then run again.") % {"t": task.name, "r": repo.root, "e": exc}) from exc


def _stem(task: BackupTask) -> str:
    return f"{flat_name(task)}@{task.snapshot_prefix}"


def _rate(task: BackupTask) -> int | None:
    return task.target.bandwidth_limit_kib * 1024 or None


def incremental_base(task: BackupTask, streams: list[StreamFile], source: list[SideSnapshot],
                     at: datetime) -> StreamFile | None:
    """The end of the newest chain, if the source still holds its snapshot (same identity): the next
    incremental's base. Only a chain's end: a stream from the middle would start a branch no chain holds.
    None: a full stream (also at the start of each month with monthly fulls)."""
    held = {s.key: s.identity for s in source}
    every = chains(streams)
    if not every:
        return None
    last = every[-1]
    if held.get(last[-1].snapshot) != last[-1].source_identity:
        return None
    if task.strategy == Strategy.MONTHLY_FULL and last[0].month != f"{at:%Y%m}":
        return None
    return last[-1]


def back_up(ctx: JobContext, task: BackupTask, at: datetime) -> dict:
    # Held for the whole job: an undo step (removing the .partial over SSH) runs after this function raised.
    return _back_up(ctx, task, at, ctx.hold(open_repository(task, ctx.runner, ctx.log.write)))


def _back_up(ctx: JobContext, task: BackupTask, at: datetime, repo: Repository | RemoteRepository) -> dict:
    client, flat = client_name(), flat_name(task)
    for path in repo.leftovers(client, _stem(task)):  # an interrupted run's: never complete, so never kept
        repo.discard(path)
        ctx.log.warning(f"Removed {path}: an unfinished write of an earlier run")
    backend = get_stream_backend(task.source.pool, ctx.runner)
    source = backend.source_snapshots(task.source.name, task.snapshot_prefix)
    streams = task_streams(repo, task)
    base = incremental_base(task, streams, source, at)
    estimate = None if base else (task.source.referenced_bytes or task.source.used_bytes)
    if estimate and estimate > repo.free_bytes():
        raise ServiceError("target_too_small", _("A full stream of %(s)s may need up to %(n)s bytes and %(r)s has "
                                                 "%(f)s free. Free space there, then run again.") % {
            "s": task.source.name, "n": estimate, "r": repo.root, "f": repo.free_bytes()})
    ctx.log.info(f"{len(streams)} stream file(s) of {task.source.name} in {repo.root}; "
                 f"{f'incremental from {base.snapshot}' if base else 'full stream'}")
    key = keys.backup_key(ctx.runner)
    name = f"{task.snapshot_prefix}{at:%Y%m%dT%H%M%S%fZ}"
    new = take_snapshot(ctx, task, backend, name)
    kind = SendKind.INCREMENTAL if base else SendKind.FULL
    relative = stream_name(client, f"{at:%Y%m}", kind, flat, name, backend.kind, task.compression)
    partial = repo.partial_for(relative)
    ctx.on_undo(f"remove {partial}", lambda: repo.discard(partial))
    base_side = next((s for s in source if base and s.key == base.snapshot), None)
    sink = repo.sink_options(partial)
    result = stream(ctx, [backend.send_argv(new, base_side), COMPRESS[task.compression], ["age", "-r", key.recipient]],
                    sink.get("consumers", ()), sink=sink.get("sink"), digest=True, estimate=estimate,
                    rate_limit=_rate(task))
    ctx.progress(92, _("Reading %(f)s back") % {"f": relative})
    written, size = repo.readback(partial)
    if written != result.sha256 or size != result.bytes:
        raise ServiceError("verify_failed", _(
            "%(f)s reads back as %(n)s bytes with SHA-256 %(w)s, but %(m)s bytes with %(s)s were written: the "
            "repository's storage cannot be trusted. Check it, then run again.") % {
            "f": relative, "n": size, "w": written, "m": result.bytes, "s": result.sha256})
    record = StreamFile(path=relative, source=task.source.name, snapshot=name, base=base.snapshot if base else "",
                        kind=kind, tool=backend.kind, compression=task.compression, recipient=key.recipient,
                        source_identity=new.identity, stream_bytes=size, sha256=written,
                        created=timezone.now().isoformat())
    repo.complete(relative, record)
    SentSnapshot.objects.create(
        task=task, job=ctx.job, snapshot=name, kind=kind, base=record.base, source_name=new.name,
        target_name=f"{task.target.host + ':' if task.target.is_remote else ''}{repo.path(relative)}",
        source_guid=new.identity, bytes=size, seconds=round(result.seconds, 3), verified=True,
        verified_at=timezone.now(), path=relative, sha256=written, compression=task.compression,
        recipient=key.recipient)
    ctx.forget_undo()  # written, read back and complete: from here on the backup stands
    rate = result.bytes / max(result.seconds, 1e-3) / 2**20
    ctx.log.info(f"Wrote {kind} {relative}: {size} bytes in {result.seconds:.2f} s ({rate:.1f} MiB/s), "
                 f"SHA-256 {written}, read back and verified")
    pruned = _prune(ctx, task, repo, relative)
    return {"snapshot": name, "kind": kind, "base": record.base, "file": relative, "bytes": size, "sha256": written,
            "seconds": round(result.seconds, 3), "mib_s": round(rate, 1), "verified": True, **pruned}


def _plan(task: BackupTask, source: list[SideSnapshot], streams: list[StreamFile]):
    doomed = prune_chains(streams, task.keep_target)
    kept = [s.snapshot for s in streams if s not in doomed]
    source_plan = retention.prune_plan([s.key for s in source], kept, task.keep_source, max(len(kept), 1))
    return doomed, source_plan


def _prune(ctx: JobContext, task: BackupTask, repo: Repository | RemoteRepository, written: str) -> dict:
    """Whole chains beyond the newest ``keep_target``, then the source's snapshots; the file just written is
    never among them (checked, not assumed). A failure here leaves the verified backup standing: it is
    logged and kept on the task, and the job succeeds."""
    ctx.progress(95, _("Pruning"))
    try:
        backend = get_stream_backend(task.source.pool, ctx.runner)
        source = backend.source_snapshots(task.source.name, task.snapshot_prefix)
        doomed, source_plan = _plan(task, source, task_streams(repo, task))
        if any(s.path == written for s in doomed):
            raise ServiceError("prune_refused", _("Pruning would remove %(f)s, just written: nothing was pruned.") % {
                "f": written})
        for old in doomed:
            repo.remove(old)
            ctx.log.info(f"Removed {old.path} (a chain beyond the newest {task.keep_target})")
        SentSnapshot.objects.filter(task=task, path__in=[s.path for s in doomed]).update(on_target=False)
        prune_source(ctx, task, source_plan.source)
    except Exception as exc:
        ctx.log.error(f"Pruning failed; the backup itself stands: {exc}")
        return {"pruned_source": [], "pruned_files": [], "prune_error": str(exc)}
    return {"pruned_source": list(source_plan.source), "pruned_files": [s.path for s in doomed],
            "base_kept": source_plan.common}


def dry_run(task: BackupTask, *, runner: Runner | None = None) -> dict:
    """Which chains (whole) and source snapshots pruning would remove now, and why the rest stays."""
    runner = runner or get_runner()
    backend = get_stream_backend(task.source.pool, runner)
    source = backend.source_snapshots(task.source.name, task.snapshot_prefix)
    with open_repository(task, runner, check=False, pin=False) as repo:
        streams, root = task_streams(repo, task), str(repo.root)
    doomed, plan = _plan(task, source, streams)
    lines = [line for line in plan.lines if line.startswith("source")]
    lines += [f"repository: {'destroy' if s in doomed else 'keep'} {s.path}" for s in streams]
    return {"task": task.pk, "repository": root, "base": plan.common, "destroy_source": list(plan.source),
            "destroy_target": [s.path for s in doomed], "lines": lines}


# ------------------------------------------------------------------ verify now
def start_verify(task: BackupTask, *, actor=None) -> Job:
    """Queue a read-back of every stream file of the task (its checksum against the manifest)."""
    if not task.target.is_repository:
        raise ServiceError("not_a_repository", _("Verify reads stream files back; %(t)s holds replicas, which "
                                                 "every run verifies.") % {"t": task.target.name})
    return jobs.enqueue("backup.verify", target=task, user=actor, lock_key=task.lock_key)


@job_kind("backup.verify", "Verify backup files")
def run_verify(ctx: JobContext, task: BackupTask, **params) -> dict:
    """Worker side: every file the task's records say is on the target must be there, complete, in a chain
    that restores, and read back whole with its manifest's SHA-256."""
    with open_repository(task, ctx.runner, ctx.log.write) as repo:
        streams = task_streams(repo, task)
        restorable = {s.path for chain in chains(streams) for s in chain}
        problems: dict[str, str] = {}
        for i, item in enumerate(streams):
            ctx.progress(100 * i / max(len(streams), 1), _("Reading %(f)s") % {"f": item.path})
            if repo.sha256(item.path) != item.sha256:
                problems[item.path] = "its SHA-256 differs from its manifest's: the file is damaged"
            elif item.path not in restorable:
                problems[item.path] = f"its base {item.base} is in no chain: it cannot be restored"
    present = {s.path for s in streams}
    for path in task.sent.filter(on_target=True).exclude(path="").values_list("path", flat=True):
        if path not in present:
            problems[path] = "recorded as sent, but the file or its manifest is missing"
    for path, why in problems.items():
        ctx.log.error(f"{path}: {why}")
    SentSnapshot.objects.filter(task=task, path__in=list(problems)).update(verified=False)
    SentSnapshot.objects.filter(task=task, path__in=list(present - set(problems))).update(
        verified=True, verified_at=timezone.now())
    if problems:
        raise ServiceError("corrupt_stream", _(
            "%(n)s stream file(s) of %(t)s cannot be trusted: %(f)s. Restores through them refuse; run the task "
            "(a new full chain is written at the next month, or delete the damaged chain's files to force it).") % {
            "n": len(problems), "t": task.name, "f": "; ".join(f"{p} ({w})" for p, w in problems.items())})
    ctx.log.info(f"{len(streams)} stream file(s) read back whole: every checksum matches its manifest and every "
                 "file is in a chain that restores")
    return {"files": len(streams), "damaged": []}


# ------------------------------------------------------------------ restore
def start_restore(sent: SentSnapshot, *, pool: Pool, name: str, actor=None) -> Job:
    """Queue a restore of the stream chain ending at ``sent`` into a new dataset ``name`` of ``pool``."""
    task = sent.task
    if not sent.path or not task.target.is_repository:
        raise ServiceError("not_a_stream", _("%(s)s was replicated, not written to a repository: its copy is the "
                                             "replica itself.") % {"s": sent.snapshot})
    if not _NAME.fullmatch(name) or ".." in name:
        raise ServiceError("invalid", _("Give a new name: letters, digits, _ . : - (it is created)."), field="name")
    if pool.gone or pool.backend != task.source.pool.backend:
        raise ServiceError("invalid", _("Restore into a %(b)s pool on this host.") % {
            "b": task.source.pool.get_backend_display()}, field="pool")
    where = restore_target(pool, name)
    if (pool.backend == "zfs" and pool.datasets.filter(name=where.name, gone=False).exists()) or (
            pool.backend == "btrfs" and Path(pool.mountpoint, name).exists()):
        raise ServiceError("exists", _("%(n)s exists: a restore never writes over data. Choose a new name.") % {
            "n": where.name}, field="name")
    return jobs.enqueue("backup.restore", target=sent, user=actor, lock_key=f"restore:{pool.pk}:{name}",
                        params={"pool": pool.pk, "name": name})


def restore_target(pool: Pool, name: str) -> Replica:
    if pool.backend == "btrfs":
        return Replica(name, mountpoint=pool.mountpoint)
    return Replica(f"{pool.name}/{name}")


@job_kind("backup.restore", "Restore from stream files", retryable=True)
def run_restore(ctx: JobContext, sent: SentSnapshot, *, pool: int, name: str, **params) -> dict:
    """Worker side: verify every file of the chain, then ``age -d | decompress | receive`` each in order into
    the new dataset, and check the result's identity. A failure removes what was received."""
    repo = ctx.hold(open_repository(sent.task, ctx.runner, ctx.log.write, check=False))
    return restore_chain(ctx, sent, Pool.objects.get(pk=pool), name, repo)


def restore_chain(ctx: JobContext, sent: SentSnapshot, target_pool: Pool, name: str,
             repo: Repository | RemoteRepository) -> dict:
    task = sent.task
    chain = chain_to(task_streams(repo, task), sent.snapshot)
    if not chain:
        raise ServiceError("chain_broken", _("No complete chain of stream files leads to %(s)s in %(r)s (a file or "
                                             "manifest is missing).") % {"s": sent.snapshot, "r": repo.root})
    for i, item in enumerate(chain):  # every file first: nothing is received from a damaged chain
        ctx.progress(2 + 18 * i / len(chain), _("Checking %(f)s") % {"f": item.path})
        if repo.sha256(item.path) != item.sha256:
            raise ServiceError("corrupt_stream", _("%(f)s is damaged (its SHA-256 differs from its manifest's): "
                                                   "nothing was restored.") % {"f": item.path})
    ctx.log.info(f"{len(chain)} stream file(s) checked: " + ", ".join(s.path for s in chain))
    where = restore_target(target_pool, name)
    backend = get_stream_backend(target_pool, ctx.runner)
    prepare_restore(ctx, target_pool, where)
    total = 0
    with keys.identity_file(chain[0].recipient) as identity:
        for i, item in enumerate(chain):
            ctx.log.info(f"Receiving {item.path} ({item.kind})")
            options = repo.source_options(item.path)
            result = stream(ctx, options.pop("producers", []), [["age", "-d", "-i", str(identity)],
                                                                 DECOMPRESS[item.compression],
                                                                 backend.receive_argv(where)],
                            estimate=item.stream_bytes, low=20 + 70 * i / len(chain),
                            high=20 + 70 * (i + 1) / len(chain), **options)
            total += result.bytes
    got = {s.key: s.identity for s in backend.replica_snapshots(where, task.snapshot_prefix)}
    if got.get(sent.snapshot) != chain[-1].source_identity:
        raise ServiceError("verify_failed", _("The restored %(s)s reports identity %(g)s, not the source's %(i)s.") % {
            "s": sent.snapshot, "g": got.get(sent.snapshot, _("none")), "i": chain[-1].source_identity})
    ctx.forget_undo()
    sync.refresh_pool_contents(ctx.runner, target_pool)
    ctx.log.info(f"Restored {sent.snapshot} into {where.name} from {len(chain)} file(s), {total} bytes; identity "
                 f"{chain[-1].source_identity} verified")
    return {"restored": where.name, "snapshot": sent.snapshot, "files": len(chain), "bytes": total,
            "identity": chain[-1].source_identity, "restored_at": moment().isoformat()}


def prepare_restore(ctx: JobContext, pool: Pool, where: Replica) -> None:
    """Make room for a restore (or a drill's copy) and undo it on failure; the target must not exist now (the
    inventory may be stale): an undo never removes what this job did not create."""
    if pool.backend == "btrfs":
        ctx.runner.run(["mkdir", str(Path(pool.mountpoint, where.name))])  # no -p: fails if it exists
    elif get_stream_backend(pool, ctx.runner).exists(where.name):
        raise ServiceError("exists", _("%(n)s exists: a restore never writes over data. Choose a new name.") % {
            "n": where.name}, field="name")
    ctx.on_undo(f"remove {where.name} (what was received)", lambda: remove_restored(ctx.runner, pool, where))


def remove_restored(runner: Runner, pool: Pool, where: Replica) -> None:
    """Remove a restore's copy: ZFS destroys the dataset; Btrfs deletes the received subvolumes and the directory."""
    backend = get_stream_backend(pool, runner)
    if pool.backend != "btrfs":
        backend.destroy(where.name)
        return
    for sub in sorted(backend.btrfs.list_subvolumes(pool.mountpoint), key=lambda d: -len(d.extra["path"])):
        if sub.extra["path"].startswith(f"{where.name}/"):
            backend.btrfs.delete_subvolume(pool.mountpoint, sub.extra["path"])
    runner.run(["rmdir", str(Path(pool.mountpoint, where.name))], check=False)
