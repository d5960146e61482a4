"""What the director does and reports, through its console: backup and restore jobs followed as Calypso jobs,
the job history and the volumes read back into rows, labelling from barcodes, volume changes, and the
file browser over the director's bvfs cache.

bconsole answers every command with exit status 0; the backend reads its words to tell a refusal, so every
function here either did what it says or raises ``BackendError`` with the director's own message.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ServiceError
from apps.core.runner import Runner
from apps.jobs import services as jobs
from apps.jobs.progress import JobCancelled
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage.services import dataset_at

from ..backends import get_console
from ..backends.bconsole_parse import decode_lstat
from ..choices import JobLevel
from ..models import BackupJob, Client, JobRun, Pool, Storage, Volume
from .config import RESTORE_JOB

__all__ = ["BROWSE_PAGE", "browse", "job_log", "mark_volume", "move_volume",
           "purge_volume", "refresh_history", "refresh_volumes", "start_backup", "start_label",
           "start_restore", "update_slots"]

BROWSE_PAGE = 100
MAX_BROWSE = 100_000  # rows of one directory the browser fetches at most per page (offset + limit)
BROWSE_CACHE_S = 600
BVFS_READY_S = 86_400  # a job's bvfs cache, once built, stays in the catalog
BLOCK = 1000  # file rows per cached block
FETCH = 1000  # file rows a first page fetches at least (the next pages come from them)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value)


# ------------------------------------------------------------------ rows from the console
def _save_run(record: Any, backup_job: BackupJob | None = None) -> JobRun:
    defaults = {"name": record.name, "job_type": record.type, "level": record.level, "status": record.status,
                "client": record.client or "", "started_at": _aware(record.start_time),
                "ended_at": _aware(record.end_time), "files": record.files, "bytes": record.bytes}
    if backup_job is not None:
        defaults["backup_job"] = backup_job
    run, _created = JobRun.objects.update_or_create(jobid=record.jobid, defaults=defaults)
    return run


def refresh_history(*, actor=None, runner: Runner | None = None) -> dict:
    """Read the director's job history (``list jobs``) into the job rows."""
    records = get_console(runner).jobs()
    by_name = {j.name: j for j in BackupJob.objects.all()}
    with transaction.atomic():
        for record in records:
            _save_run(record, by_name.get(record.name))
    return {"jobs": len(records)}


def refresh_volumes(*, actor=None, runner: Runner | None = None) -> dict:
    """Read the catalog's volumes (``list volumes``) into the volume rows; volumes gone from it are removed."""
    records = get_console(runner).volumes()
    pools = {p.name: p for p in Pool.objects.all()}
    with transaction.atomic():
        for record in records:
            Volume.objects.update_or_create(name=record.name, defaults={
                "pool": pools.get(record.pool), "pool_name": record.pool, "status": record.status,
                "media_type": record.media_type, "slot": record.slot, "in_changer": record.in_changer,
                "bytes": record.bytes, "last_written": _aware(record.last_written)})
        Volume.objects.exclude(name__in=[r.name for r in records]).delete()
    return {"volumes": len(records)}


# ------------------------------------------------------------------ volumes
def move_volume(volume: Volume, *, pool: Pool, actor=None, runner: Runner | None = None) -> Volume:
    """Move a volume to another pool (``update volume=... pool=...``)."""
    get_console(runner).update_volume(volume.name, pool=pool.name)
    refresh_volumes(runner=runner)
    return Volume.objects.get(pk=volume.pk)


def mark_volume(volume: Volume, *, status: str, actor=None, runner: Runner | None = None) -> Volume:
    """Mark a volume Full, Used, Append, Read-Only or Archive (``update volume=... volstatus=...``)."""
    get_console(runner).update_volume(volume.name, volstatus=status)
    refresh_volumes(runner=runner)
    return Volume.objects.get(pk=volume.pk)


def purge_volume(volume: Volume, *, actor=None, runner: Runner | None = None) -> Volume:
    """Purge the catalog's records of the jobs and files on a volume, so it can be recycled (its data stays on
    the medium until then)."""
    get_console(runner).purge_volume(volume.name)
    refresh_volumes(runner=runner)
    return Volume.objects.get(pk=volume.pk)


# ------------------------------------------------------------------ labelling from barcodes
def _slots(value: str, field: str = "slots") -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*", value):
        raise ServiceError("invalid", _("Give slots as numbers and ranges, e.g. 1-4 or 1,3,5-8."), field=field)
    for part in value.split(","):
        low, _sep, high = part.partition("-")
        if int(low) < 1 or (high and int(high) < int(low)):
            raise ServiceError("invalid", _("Slot %(part)s is out of range: slots start at 1 and a range goes "
                                            "upwards.") % {"part": part}, field=field)
    return value


def _drive(storage: Storage, drive: int) -> int:
    if not 0 <= drive < len(storage.archive_devices):
        raise ServiceError("invalid", _("%(storage)s has drives 0 to %(last)d.") % {
            "storage": storage, "last": len(storage.archive_devices) - 1}, field="drive")
    return drive


def update_slots(storage: Storage, *, drive: int = 0, actor=None, runner: Runner | None = None) -> dict:
    """Have the director read the changer's slots and barcodes (``update slots``)."""
    _drive(storage, drive)
    if not storage.autochanger:
        raise ServiceError("unsupported", _("%(storage)s has no changer.") % {"storage": storage})
    get_console(runner).update_slots(storage.name, drive=drive)
    return refresh_volumes(runner=runner)


def start_label(storage: Storage, *, pool: Pool, slots: str, drive: int = 0, actor=None):
    """Queue labelling the volumes in ``slots`` from their barcodes into ``pool``."""
    _slots(slots)
    _drive(storage, drive)
    if not storage.autochanger:
        raise ServiceError("unsupported", _("%(storage)s has no changer: label its volumes one by one.") % {
            "storage": storage}, field="slots")
    return jobs.enqueue("bacula.storage.label", target=storage, user=actor, lock_key=f"bacula:storage:{storage.pk}",
                        params={"pool": pool.pk, "slots": slots, "drive": drive})


@job_kind("bacula.storage.label", "Label volumes from barcodes")
def run_label(ctx: JobContext, target: Storage, *, pool: int, slots: str, drive: int = 0) -> dict:
    into = Pool.objects.get(pk=pool)
    console = get_console(ctx.runner)
    ctx.progress(5, _("Reading the changer's slots"))
    console.update_slots(target.name, drive=drive)
    ctx.progress(20, _("Labelling slots %(slots)s into %(pool)s") % {"slots": slots, "pool": into})
    result = console.label_barcodes(target.name, into.name, slots, drive=drive)
    for name, slot in result.labelled:
        ctx.log.info(_("Labelled %(name)s (slot %(slot)d).") % {"name": name, "slot": slot})
    failures = [f"{name} (slot {slot}): {why}" for name, slot, why in result.failed]
    for line in failures:
        ctx.log.error(line)
    refresh_volumes(runner=ctx.runner)
    if failures and not result.labelled:
        raise BackendError(_("No volume was labelled: %(why)s") % {"why": "; ".join(failures)})
    return {"labelled": [name for name, _slot in result.labelled], "failed": failures}


# ------------------------------------------------------------------ following a director job
def _rate(progress: Any) -> str:
    return f"{(progress.last_bytes_per_second or progress.bytes_per_second) / 1e6:.1f} MB/s"


def _follow(ctx: JobContext, console: Any, jobid: int, client: str, total_bytes: int = 0) -> Any:
    """Poll the director until job ``jobid`` ends, reporting files, bytes and rate; a cancel of the Calypso job
    cancels the director's job. Returns its catalog record; its log goes into the Calypso job's log."""
    while True:
        record = console.job(jobid)
        if not record.running:
            break
        try:
            ctx.check_cancelled()
        except JobCancelled:
            ctx.log.warning(_("Cancelling the director's job %(id)d.") % {"id": jobid})
            console.cancel(jobid)
            raise
        progress = None
        if record.status == "R":
            try:
                progress = console.progress(jobid, client)
            except BackendError:
                progress = None
        if progress is not None:
            percent = min(95.0, 5 + 90.0 * progress.bytes / total_bytes) if total_bytes else 50.0
            ctx.progress(percent, _("%(files)d files, %(bytes)d bytes, %(rate)s") % {
                "files": progress.files, "bytes": progress.bytes, "rate": _rate(progress)})
        else:
            ctx.progress(5, _("Director status: %(status)s") % {"status": record.status})
        time.sleep(settings.CALYPSO_BACULA_POLL_S)
    for line in console.job_log(jobid):
        ctx.log.info(line)
    return record


def _finish(record: Any, what: str) -> None:
    if not record.ok:
        raise BackendError(_("%(what)s %(id)d ended with status %(status)s: the director's job log above says why.")
                           % {"what": what, "id": record.jobid, "status": record.status})


def start_backup(job: BackupJob, *, level: str = "", actor=None):
    """Queue running ``job`` now, at its own level or ``level``."""
    if level and level not in JobLevel.values:
        raise ServiceError("invalid", _("Level is one of %(levels)s.") % {"levels": ", ".join(JobLevel.values)},
                           field="level")
    return jobs.enqueue("bacula.job.run", target=job, user=actor, lock_key=f"bacula:job:{job.pk}",
                        params={"level": level})


@job_kind("bacula.job.run", "Run a Bacula backup job", retryable=True)
def run_backup(ctx: JobContext, target: BackupJob, *, level: str = "") -> dict:
    console = get_console(ctx.runner)
    total = 0
    try:
        estimate = console.estimate(target.name)
        total = estimate.bytes
        ctx.log.info(_("The director estimates %(files)d files, %(bytes)d bytes.") % {
            "files": estimate.files, "bytes": estimate.bytes})
    except BackendError as exc:
        ctx.log.warning(_("No estimate (%(why)s): progress shows files and bytes only.") % {"why": exc.message})
    jobid = console.run_job(target.name, level=level or None)
    ctx.log.info(_("The director started job %(id)d.") % {"id": jobid})
    record = _follow(ctx, console, jobid, target.client.name, total)
    run = _save_run(record, target)
    refresh_volumes(runner=ctx.runner)
    _finish(record, _("Backup job"))
    try:  # the browsing cache now, so the first look at the job's files does not wait for it
        _bvfs_ready(console, run)
    except BackendError as exc:
        ctx.log.warning(_("The job's browsing cache was not built (%(why)s): the first browse builds it.") % {
            "why": exc.message})
    return {"jobid": jobid, "run": run.pk, "files": record.files, "bytes": record.bytes, "status": record.status}


# ------------------------------------------------------------------ browsing and restoring
def _key(run: JobRun, *parts: object) -> str:
    """A cache key of one job's listings: its JobId, its start and its row's, so neither a rebuilt catalog reusing
    JobIds nor a rebuilt database hits another job's listing."""
    started = int(run.started_at.timestamp()) if run.started_at else 0
    return ":".join(map(str, ("bacula", run.jobid, started, int(run.created.timestamp() * 1e6), *parts)))


def _bvfs_ready(console: Any, run: JobRun) -> None:
    """Build the job's browsing cache in the catalog, once (a restore by bvfs ids needs it)."""
    key = _key(run, "bvfs")
    if not cache.get(key):
        console.bvfs_update([run.jobid])
        cache.set(key, True, BVFS_READY_S)


def _dir_path(path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/") or "\n" in path or "\x00" in path or "'" in path \
            or '"' in path or "/../" in f"{path}/" or "//" in path:
        raise ServiceError("invalid", _("Give an absolute directory path, e.g. /tank/projects/."), field="path")
    return path if path.endswith("/") else path + "/"


def _fetch(run: JobRun, path: str, files: int, runner: Runner | None) -> dict:
    """Fetch a directory's listing (its subdirectories, its first ``files`` files) in one console session and
    keep it: the directories whole, the files raw in blocks of BLOCK rows (a page reads only its blocks, and
    only its rows are decoded)."""
    ready = _key(run, "bvfs")
    dirs, rows = get_console(runner).bvfs_page([run.jobid], path, dirs=MAX_BROWSE, files=files,
                                               update=not cache.get(ready))
    cache.set(ready, True, BVFS_READY_S)
    dirs = [(row[0], row[5]) for row in dirs if row[5] not in (".", "..", "")]
    # 9.6 answers limit=N with N-1 rows, its directory's own nameless row counted: fewer than that is all of it.
    complete = len(rows) < files - 1
    rows = [(row[0], row[2], row[4], row[5]) for row in rows if row[5]]
    key = _key(run, "list", path)
    blocks = {f"{key}:{i // BLOCK}": rows[i:i + BLOCK] for i in range(0, len(rows), BLOCK)}
    held = {"dirs": dirs, "files": len(rows), "complete": complete}
    cache.set_many({**blocks, key: held}, BROWSE_CACHE_S)
    return held


def _file_rows(run: JobRun, path: str, first: int, last: int) -> list:
    key = _key(run, "list", path)
    names = [f"{key}:{b}" for b in range(first // BLOCK, (last - 1) // BLOCK + 1)]
    got = cache.get_many(names)
    if len(got) != len(names):
        return []
    rows = [row for name in names for row in got[name]]
    base = (first // BLOCK) * BLOCK
    return rows[first - base:last - base]


def browse(run: JobRun, *, path: str = "/", offset: int = 0, limit: int = BROWSE_PAGE, actor=None,
           runner: Runner | None = None) -> dict:
    """One page of directory ``path`` as backed up by job ``run``: its subdirectories first, then its files.
    bvfs cannot skip rows, so the page is cut here from what one console session fetched, kept for the next
    pages; only the rows shown are decoded."""
    path = _dir_path(path)
    if not 0 <= offset <= MAX_BROWSE or not 1 <= limit <= 1000 or offset + limit > MAX_BROWSE:
        raise ServiceError("invalid", _("offset + limit is at most %(max)d, limit 1 to 1000.") % {"max": MAX_BROWSE},
                           field="offset")
    key = _key(run, "list", path)
    wanted = offset + limit + 1  # one more: whether a next page exists
    held = cache.get(key)
    for _attempt in range(2):  # a block evicted since: fetch again
        if held is None or (not held["complete"] and len(held["dirs"]) + held["files"] < wanted):
            held = _fetch(run, path, max(wanted - len(held["dirs"]) if held else wanted, FETCH) + 2, runner)
        dirs, total = held["dirs"], len(held["dirs"]) + held["files"]
        first, last = max(offset - len(dirs), 0), min(offset + limit, total) - len(dirs)
        files = _file_rows(run, path, first, last) if last > first else []
        if len(files) == max(last - first, 0):
            break
        held = None
    entries = [{"type": "dir", "name": name, "pathid": pathid, "fileid": None, "size": None, "mtime": None}
               for pathid, name in dirs[offset:offset + limit]]
    for pathid, fileid, lstat, name in files:
        try:
            attributes = decode_lstat(lstat)
        except ValueError:  # attributes the director could not tell: the file is still there to restore
            size = mtime = None
        else:
            size, mtime = attributes.size, _epoch(attributes.mtime)
        entries.append({"type": "file", "name": name, "pathid": pathid, "fileid": fileid, "size": size,
                        "mtime": mtime})
    return {"jobid": run.jobid, "path": path, "offset": offset, "limit": limit, "entries": entries,
            "more": total > offset + limit}


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def job_log(run: JobRun, *, actor=None, runner: Runner | None = None) -> dict:
    """The director's log of one job."""
    return {"jobid": run.jobid, "lines": get_console(runner).job_log(run.jobid)}


def start_restore(run: JobRun, *, client: Client, where: str, fileids: list[int] | None = None,
                  dirids: list[int] | None = None, actor=None):
    """Queue restoring the chosen files (``fileids``) and directories (``dirids``, bvfs path ids) of ``run`` to
    ``where`` on ``client``."""
    fileids, dirids = list(fileids or []), list(dirids or [])
    if not fileids and not dirids:
        raise ServiceError("invalid", _("Choose at least one file or directory."), field="fileids")
    if client.address in ("127.0.0.1", "localhost", "::1"):
        dataset_at(where, field="where")  # on this appliance: into a managed dataset, never over the system
    else:
        _dir_path(where)
    return jobs.enqueue("bacula.restore", target=run, user=actor, lock_key=f"bacula:restore:{run.pk}",
                        params={"client": client.pk, "where": where, "fileids": fileids, "dirids": dirids})


@job_kind("bacula.restore", "Restore files from a Bacula job")
def run_restore(ctx: JobContext, target: JobRun, *, client: int, where: str, fileids: list[int],
                dirids: list[int]) -> dict:
    to = Client.objects.get(pk=client)
    console = get_console(ctx.runner)
    _bvfs_ready(console, target)
    ctx.progress(5, _("Preparing the restore"))
    jobid = console.restore([target.jobid], fileids, dirids, to.name, where, restore_job=RESTORE_JOB)
    ctx.log.info(_("The director started restore job %(id)d to %(client)s:%(where)s.") % {
        "id": jobid, "client": to, "where": where})
    record = _follow(ctx, console, jobid, to.name, target.bytes)
    _save_run(record)
    _finish(record, _("Restore job"))
    return {"jobid": jobid, "files": record.files, "bytes": record.bytes, "where": where}
