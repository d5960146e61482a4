"""The director's console (bconsole, for Bacula and Bareos alike): commands on its standard input, one a line,
then ``quit``. It exits 0 whatever happens, so every answer is read for the console's own error texts; every
argument is checked before the console runs, so a bad value never reaches the director."""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterable

from apps.core.errors import BackendError
from apps.core.runner import CommandError, Runner

from . import bconsole_parse as p
from .base import Flavour, validate_name, validate_path
from .types import (
    BvfsEntry,
    BvfsVersion,
    ClientRecord,
    Estimate,
    JobProgress,
    JobRecord,
    LabelResult,
    PoolRecord,
    SlotUpdate,
    VolumeRecord,
)

__all__ = ["VOLUME_STATUSES", "Console"]

VOLUME_STATUSES = ("Append", "Archive", "Disabled", "Full", "Used", "Cleaning", "Read-Only")
LEVELS = ("Full", "Incremental", "Differential", "VirtualFull", "Base")
_SLOTS = re.compile(r"\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*")
_PATH_TABLE = re.compile(r"b2\d{1,18}")
_counter = itertools.count(1)


def _id(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**63 - 1:
        raise BackendError(f"{field}: expected a positive whole number, got {value!r}")
    return value


def _ids(values: Iterable[int], field: str, *, empty: bool = False) -> str:
    if isinstance(values, (str, bytes, int)):
        raise BackendError(f"{field}: expected a list of ids, got {values!r}")
    ids = [_id(v, field) for v in values]
    if not ids and not empty:
        raise BackendError(f"{field}: at least one id")
    return ",".join(str(i) for i in ids)


def _count(value, field: str, low: int = 0, high: int = 1_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BackendError(f"{field}: expected a whole number from {low} to {high}, got {value!r}")
    return value


def _console_path(value, field: str) -> str:
    """A path on a console line: absolute, no quotes or control characters (spaces are quoted)."""
    validate_path(value, field)
    return f'"{value}"' if " " in value else value


def _dir_path(value, field: str) -> str:
    value = validate_path(value, field)
    return _console_path(value if value.endswith("/") else value + "/", field)


class Console:
    """A console session per call: ``call("list jobs")`` -> what the director printed."""

    def __init__(self, runner: Runner, config: str, flavour: Flavour) -> None:
        self.runner, self.config, self.flavour = runner, validate_path(config, "config"), flavour

    # --- the session -----------------------------------------------------------------------------------

    def call(self, *commands: str, timeout: float = 60) -> str:
        """Run ``commands`` in one session; BackendError when the console shows one failed."""
        for command in commands:
            if not isinstance(command, str) or not command or re.search(r"[\x00-\x1f\x7f]", command):
                raise BackendError(f"command: one console line expected, got {command!r}")
        argv = [self.flavour.console, "-n", "-c", self.config]
        try:
            result = self.runner.run(argv, stdin="\n".join([*commands, "quit"]) + "\n", timeout=timeout)
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc
        out = result.stdout
        if "1000 OK" not in out:
            raise BackendError(f"the console could not reach the director: {(out + result.stderr).strip()[:500]}",
                               argv=result.argv, returncode=result.returncode, stderr=out + result.stderr)
        error = p.find_error(self._after_greeting(out))
        if error:
            raise BackendError(error, argv=result.argv, returncode=result.returncode, stderr=error)
        return self._after_greeting(out)

    @staticmethod
    def _after_greeting(out: str) -> str:
        marker = "Enter a period to cancel a command.\n"
        return out.split(marker, 1)[1] if marker in out else out

    def _one(self, command: str, timeout: float = 60) -> str:
        return p.command_output(self.call(command, timeout=timeout), command)

    # --- jobs ------------------------------------------------------------------------------------------

    def run_job(self, name: str, level: str | None = None, client: str | None = None) -> int:
        """Queue job ``name`` now; its JobId."""
        parts = [f"run job={validate_name(name, 'job')}"]
        if level is not None:
            if level not in LEVELS:
                raise BackendError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}")
            parts.append(f"level={level}")
        if client is not None:
            parts.append(f"client={validate_name(client, 'client')}")
        return p.parse_run(self._one(" ".join([*parts, "yes"])))

    def estimate(self, job: str) -> Estimate:
        """How many files and bytes a backup of ``job`` would read now."""
        return p.parse_estimate(self._one(f"estimate job={validate_name(job, 'job')}", timeout=300))

    def job(self, jobid: int) -> JobRecord:
        """The catalog's record of job ``jobid``."""
        record = p.parse_llist_job(self._one(f"llist jobid={_id(jobid, 'jobid')}"))
        if record is None:
            raise BackendError(f"jobid: the catalog has no job {jobid}")
        return record

    def jobs(self, limit: int = 100) -> list[JobRecord]:
        """The last ``limit`` jobs of the catalog, oldest first."""
        return p.parse_list_jobs(self._one(f"list jobs limit={_count(limit, 'limit', 1)}"))

    def job_log(self, jobid: int) -> list[str]:
        """Job ``jobid``'s log as the catalog kept it (the Messages resource's ``catalog =``)."""
        return p.parse_job_log(self._one(f"list joblog jobid={_id(jobid, 'jobid')}"))

    def progress(self, jobid: int, client: str) -> JobProgress | None:
        """Files, bytes and rate of running job ``jobid`` on ``client``; None when the client is not running it."""
        text = self._one(f"status client={validate_name(client, 'client')}")
        return next((j for j in p.parse_status_client(text) if j.jobid == _id(jobid, "jobid")), None)

    def wait(self, jobid: int, *, timeout: float = 3600, interval: float = 1.0) -> JobRecord:
        """Poll job ``jobid`` until it ends; its final record."""
        deadline = time.monotonic() + timeout
        while (record := self.job(jobid)).running:
            if time.monotonic() > deadline:
                raise BackendError(f"job {jobid} still running after {timeout} s")
            time.sleep(interval)
        return record

    def cancel(self, jobid: int) -> None:
        """Cancel running job ``jobid``."""
        self._one(f"cancel jobid={_id(jobid, 'jobid')} yes")

    # --- catalog ---------------------------------------------------------------------------------------

    def volumes(self) -> list[VolumeRecord]:
        """Every volume of every pool."""
        return p.parse_list_volumes(self._one("list volumes"))

    def pools(self) -> list[PoolRecord]:
        """The catalog's pools."""
        return p.parse_list_pools(self._one("list pools"))

    def clients(self) -> list[ClientRecord]:
        """The catalog's clients."""
        return p.parse_list_clients(self._one("list clients"))

    def update_slots(self, storage: str, drive: int = 0) -> SlotUpdate:
        """Read the changer's barcodes and bring the catalog's slots up to date."""
        command = f"update slots storage={validate_name(storage, 'storage')} drive={_count(drive, 'drive', 0, 255)}"
        return p.parse_update_slots(self._one(command, timeout=300))

    def label_barcodes(self, storage: str, pool: str, slots: str, drive: int = 0) -> LabelResult:
        """Label the barcoded volumes in ``slots`` (``1-4,7``) into ``pool``; the answer says which failed."""
        if not isinstance(slots, str) or not _SLOTS.fullmatch(slots):
            raise BackendError(f"slots: expected slot numbers and ranges like 1-4,7, got {slots!r}")
        command = (f"label barcodes pool={validate_name(pool, 'pool')} slots={slots} "
                   f"storage={validate_name(storage, 'storage')} drive={_count(drive, 'drive', 0, 255)}")
        # the console still asks for confirmation with "yes" on the command line: answer on a line of its own
        return p.parse_label_barcodes(p.command_output(self.call(command, "yes", timeout=900), command))

    def update_volume(self, name: str, *, pool: str | None = None, volstatus: str | None = None) -> None:
        """Move volume ``name`` to ``pool`` and/or set its status."""
        validate_name(name, "volume")
        if pool is None and volstatus is None:
            raise BackendError("update_volume: give a pool or a volstatus")
        if volstatus is not None and volstatus not in VOLUME_STATUSES:
            raise BackendError(f"volstatus: expected one of {', '.join(VOLUME_STATUSES)}, got {volstatus!r}")
        commands = []
        if pool is not None:
            commands.append(f"update volume={name} pool={validate_name(pool, 'pool')}")
        if volstatus is not None:
            commands.append(f"update volume={name} volstatus={volstatus}")
        self.call(*commands)

    def purge_volume(self, name: str) -> None:
        """Forget every job on volume ``name`` (it can be recycled)."""
        self._one(f"purge volume={validate_name(name, 'volume')} yes")

    def reload(self) -> None:
        """Reload the director's configuration; BackendError with its words when it kept the old one."""
        text = self.call("reload", "messages")
        errors = p.parse_config_errors(p.command_output(text, "messages"))
        if errors:
            raise BackendError("\n".join(errors), stderr="\n".join(errors))

    def messages(self) -> list[str]:
        """The messages the director queued for the console (reading them empties the queue)."""
        return p.parse_messages(self._one("messages"))

    def status_dir(self) -> str:
        """The director's status report, as printed."""
        return self._one("status dir")

    # --- browsing and restoring ------------------------------------------------------------------------

    def bvfs_update(self, jobids: Iterable[int]) -> None:
        """Build the catalog's browsing cache for ``jobids``."""
        self._one(f".bvfs_update jobid={_ids(jobids, 'jobids')}", timeout=600)

    def bvfs_get_jobids(self, jobid: int) -> list[int]:
        """The jobs a restore of ``jobid`` needs (its Full, Differential and Incrementals)."""
        return p.parse_bvfs_jobids(self._one(f".bvfs_get_jobids jobid={_id(jobid, 'jobid')}"))

    def _where(self, path: str | None, pathid: int | None) -> str:
        if (path is None) == (pathid is None):
            raise BackendError("path: give a path or a pathid")
        return f"pathid={_id(pathid, 'pathid')}" if path is None else f"path={_dir_path(path, 'path')}"

    def bvfs_lsdirs(self, jobids: Iterable[int], path: str | None = None, pathid: int | None = None,
                    limit: int = 1000, offset: int = 0) -> list[BvfsEntry]:
        """The directories in a directory of the backup (``.`` and ``..`` included)."""
        command = (f".bvfs_lsdirs jobid={_ids(jobids, 'jobids')} {self._where(path, pathid)} "
                   f"limit={_count(limit, 'limit', 1)} offset={_count(offset, 'offset')}")
        return p.parse_bvfs_entries(self._one(command))

    def bvfs_lsfiles(self, jobids: Iterable[int], path: str | None = None, pathid: int | None = None,
                     limit: int = 1000) -> list[BvfsEntry]:
        """The files in a directory of the backup (the console ignores offset=: page by name on the caller's side)."""
        command = (f".bvfs_lsfiles jobid={_ids(jobids, 'jobids')} {self._where(path, pathid)} "
                   f"limit={_count(limit, 'limit', 1)}")
        return p.parse_bvfs_entries(self._one(command))

    def bvfs_page(self, jobids: Iterable[int], path: str, *, dirs: int, files: int,
                  update: bool = False) -> tuple[list[p.BvfsRow], list[p.BvfsRow]]:
        """A directory's subdirectories (up to ``dirs``) and files (up to ``files``), their lstat undecoded, in one
        console session; with ``update``, the job's browsing cache is built first in the same session."""
        ids, where = _ids(jobids, "jobids"), self._where(path, None)
        commands = [*([f".bvfs_update jobid={ids}"] if update else []),
                    f".bvfs_lsdirs jobid={ids} {where} limit={_count(dirs, 'dirs', 1)} offset=0",
                    f".bvfs_lsfiles jobid={ids} {where} limit={_count(files, 'files', 1)}"]
        outputs = p.command_outputs(self.call(*commands, timeout=600), commands)
        return p.parse_bvfs_rows(outputs[-2]), p.parse_bvfs_rows(outputs[-1])

    def bvfs_versions(self, client: str, pathid: int, filenameid: int, jobid: int | None = None) -> list[BvfsVersion]:
        """Every backed-up version of one file (by its pathid and filenameid) on ``client``."""
        parts = [".bvfs_versions", *([f"jobid={_id(jobid, 'jobid')}"] if jobid is not None else []),
                 f"client={validate_name(client, 'client')}", f"pathid={_id(pathid, 'pathid')}",
                 f"fnid={_id(filenameid, 'filenameid')}"]
        return p.parse_bvfs_versions(self._one(" ".join(parts)))

    def bvfs_restore(self, jobids: Iterable[int], fileids: Iterable[int], dirids: Iterable[int],
                     path_table: str) -> None:
        """Fill the catalog table ``path_table`` (``b2<digits>``) with the files and directories to restore."""
        if not isinstance(path_table, str) or not _PATH_TABLE.fullmatch(path_table):
            raise BackendError(f"path_table: expected b2 and digits, got {path_table!r}")
        files, dirs = _ids(fileids, "fileids", empty=True), _ids(dirids, "dirids", empty=True)
        if not files and not dirs:
            raise BackendError("fileids: choose at least one file or directory")
        parts = [f".bvfs_restore path={path_table} jobid={_ids(jobids, 'jobids')}",
                 *([f"fileid={files}"] if files else []), *([f"dirid={dirs}"] if dirs else [])]
        self._one(" ".join(parts), timeout=600)

    def restore(self, jobids: Iterable[int], fileids: Iterable[int], dirids: Iterable[int], client: str,
                where: str, restore_job: str | None = None) -> int:
        """Restore the chosen files and directories of ``jobids`` to ``where`` on ``client``; the restore's JobId."""
        jobids, fileids, dirids = list(jobids), list(fileids), list(dirids)
        validate_name(client, "client")
        where_arg = _console_path(where, "where")
        job_arg = f" restorejob={validate_name(restore_job, 'restore_job')}" if restore_job is not None else ""
        table = f"b2{os.getpid() % 100000}{next(_counter)}"
        self.bvfs_restore(jobids, fileids, dirids, table)
        try:
            return p.parse_run(self._one(f"restore file=?{table} client={client} where={where_arg}{job_arg} yes"))
        finally:
            self._one(f".bvfs_cleanup path={table}")
