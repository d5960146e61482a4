"""File-level restore: browse a sent snapshot's files and copy chosen ones back beside the live data.

Files are read from the snapshot on the source when it is still there, else from the replica on this host
(stream files hold no browsable tree: restore the chain first). Chosen files and directories are copied
into a new directory of the source dataset (``restored-<snapshot>`` by default), never over anything."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.runner import Runner, get_runner
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext

from ..backends import get_stream_backend
from ..models import SentSnapshot
from .replication import replica_of

__all__ = ["MAX_ENTRIES", "browse", "restore_files", "run_restore_files", "start_restore_files"]

MAX_ENTRIES = 1000  # a listing shows at most this many entries of one directory


def _relative(path: str, field: str = "path") -> PurePosixPath:
    pure = PurePosixPath(path.strip("/"))
    if any(part in ("..", "") for part in pure.parts if str(pure) != ".") or "\x00" in path:
        raise ServiceError("invalid", _("Give a path inside the snapshot, without \"..\"."), field=field)
    return pure


@contextlib.contextmanager
def _files(sent: SentSnapshot, runner: Runner) -> Iterator[Path]:
    """The snapshot's files: on the source if it is still there, else in the replica on this host."""
    task = sent.task
    if sent.on_source:
        backend = get_stream_backend(task.source.pool, runner)
        found = {s.key: s for s in backend.source_snapshots(task.source.name, sent.snapshot)}.get(sent.snapshot)
        if found is not None:
            with backend.files_of(found.name) as root:
                yield root
            return
    if sent.on_target and not task.target.is_repository and not task.target.is_remote:
        backend = get_stream_backend(task.target.pool, runner)
        found = {s.key: s for s in backend.replica_snapshots(replica_of(task), sent.snapshot)}.get(sent.snapshot)
        if found is not None:
            with backend.files_of(found.name) as root:
                yield root
            return
    raise ServiceError("not_browsable", _(
        "%(s)s is neither on the source nor in a replica on this host (stream files hold no browsable tree: "
        "restore the chain into a new dataset, then browse that).") % {"s": sent.snapshot})


def _inside(root: Path, relative: PurePosixPath) -> Path:
    path = (root / relative).resolve() if str(relative) != "." else root.resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        raise ServiceError("invalid", _("That path leaves the snapshot."), field="path")
    return path


def browse(sent: SentSnapshot, *, path: str = "", actor=None, runner: Runner | None = None) -> dict:
    """The entries of one directory of the snapshot (name, type, size, modification time)."""
    relative = _relative(path or ".")
    with _files(sent, runner or get_runner()) as root:
        where = _inside(root, relative)
        if not where.is_dir():
            raise ServiceError("invalid", _("%(p)s is not a directory of the snapshot.") % {"p": path}, field="path")
        entries = []
        for entry in sorted(os.scandir(where), key=lambda e: e.name)[:MAX_ENTRIES]:
            info = entry.stat(follow_symlinks=False)
            kind = "dir" if stat.S_ISDIR(info.st_mode) else "link" if stat.S_ISLNK(info.st_mode) else "file"
            entries.append({"name": entry.name, "type": kind, "size": info.st_size if kind == "file" else None,
                            "modified": datetime.fromtimestamp(info.st_mtime, UTC).isoformat()})
    return {"snapshot": sent.snapshot, "path": str(relative), "entries": entries,
            "truncated": len(entries) == MAX_ENTRIES}


def start_restore_files(sent: SentSnapshot, *, paths: list[str], destination: str = "", actor=None) -> Job:
    """Queue a copy of ``paths`` (files or directories of the snapshot) into a new directory of the source."""
    if not paths:
        raise ServiceError("invalid", _("Choose at least one file or directory."), field="paths")
    chosen = sorted({str(_relative(p, "paths")) for p in paths})
    for a in chosen:  # a path inside another chosen one would be written through what that copy put there
        if any(b != a and (b == "." or a.startswith(b + "/")) for b in chosen):
            raise ServiceError("invalid", _("%(p)s lies inside another chosen path: choose one of them.") % {"p": a},
                               field="paths")
    folder = destination or f"restored-{sent.snapshot}"
    if "/" in folder or folder in (".", "..") or folder.startswith("-"):
        raise ServiceError("invalid", _("Give a new directory name (no /)."), field="destination")
    target = Path(sent.task.source.mountpoint, folder)
    if target.exists():
        raise ServiceError("exists", _("%(p)s exists: file restores never write over anything.") % {"p": target},
                           field="destination")
    return jobs.enqueue("backup.restore_files", target=sent, user=actor, lock_key=f"restore-files:{target}",
                        params={"paths": chosen, "destination": folder})


@job_kind("backup.restore_files", "Restore files")
def run_restore_files(ctx: JobContext, sent: SentSnapshot, *, paths: list[str], destination: str, **params) -> dict:
    """Worker side: copy each chosen path (with its metadata) under the new directory; a failure removes it."""
    target = Path(sent.task.source.mountpoint, destination)
    target.mkdir()  # exclusive: fails if it appeared meanwhile
    ctx.on_undo(f"remove {target}", lambda: shutil.rmtree(target, ignore_errors=True))
    return restore_files(ctx, sent, [PurePosixPath(p) for p in paths], target)


def restore_files(ctx: JobContext, sent: SentSnapshot, paths: list[PurePosixPath], target: Path) -> dict:
    copied = 0
    with _files(sent, ctx.runner) as root:
        for i, relative in enumerate(paths):
            ctx.progress(100 * i / len(paths), _("Copying %(p)s") % {"p": relative})
            source = _inside(root, relative)
            if not source.exists() and not source.is_symlink():
                raise ServiceError("not_found", _("%(p)s is not in %(s)s.") % {"p": relative, "s": sent.snapshot})
            dest = target / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            if target.resolve() not in (dest.parent.resolve(), *dest.parent.resolve().parents):
                raise ServiceError("invalid", _("%(p)s would be written outside %(t)s.") % {"p": relative, "t": target})
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, dest, symlinks=True)
                copied += sum(len(files) for _base, _dirs, files in os.walk(dest))
            else:
                shutil.copy2(source, dest, follow_symlinks=False)
                copied += 1
            ctx.log.info(f"Copied {relative} to {dest}")
    ctx.forget_undo()
    return {"destination": str(target), "paths": [str(p) for p in paths], "files": copied}
