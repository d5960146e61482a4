"""What the director's console reports, as plain frozen dataclasses (no Django)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "OK_STATUSES",
    "TERMINAL_STATUSES",
    "BvfsEntry",
    "BvfsVersion",
    "ClientRecord",
    "Estimate",
    "FileAttributes",
    "JobProgress",
    "JobRecord",
    "LabelResult",
    "PoolRecord",
    "SlotUpdate",
    "VolumeRecord",
]

# JobStatus letters of a job that has ended (T ok, W ok with warnings, E error, e non-fatal, f fatal, A canceled,
# D verify differs, I incomplete), and those of a job that did its work.
TERMINAL_STATUSES = frozenset("TWEefADI")
OK_STATUSES = frozenset("TW")


@dataclass(frozen=True, slots=True)
class JobRecord:
    jobid: int
    name: str
    type: str  # B backup, R restore, ...
    level: str  # F, I, D, ...
    status: str  # JobStatus letter
    files: int
    bytes: int
    start_time: datetime | None = None
    end_time: datetime | None = None
    job: str = ""  # the unique Job name (BackupData.2026-12-02_09.42.32_45)
    client: str = ""
    pool: str = ""
    fileset: str = ""
    errors: int = 0
    fields: dict[str, str] = field(default_factory=dict, compare=False)  # every llist field as printed

    @property
    def running(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    media_id: int
    name: str
    pool: str
    status: str  # Append, Full, Used, Purged, Recycle, Error, Archive, Read-Only...
    bytes: int
    slot: int
    in_changer: bool
    media_type: str
    enabled: bool = True
    last_written: datetime | None = None
    retention_s: int = 0


@dataclass(frozen=True, slots=True)
class PoolRecord:
    pool_id: int
    name: str
    volumes: int
    max_volumes: int
    max_volume_bytes: int
    retention_s: int
    pool_type: str
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: int
    name: str
    file_retention_s: int
    job_retention_s: int


@dataclass(frozen=True, slots=True)
class Estimate:
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class JobProgress:
    jobid: int
    files: int
    bytes: int
    bytes_per_second: int  # average since the start
    last_bytes_per_second: int = 0
    errors: int = 0
    examined: int = 0
    current_file: str = ""


@dataclass(frozen=True, slots=True)
class FileAttributes:
    """The fields of Bacula's base64 lstat Calypso shows."""

    mode: int
    uid: int
    gid: int
    size: int
    mtime: datetime | None

    @property
    def is_dir(self) -> bool:
        return (self.mode & 0o170000) == 0o040000


@dataclass(frozen=True, slots=True)
class BvfsEntry:
    """A row of ``.bvfs_lsdirs`` (a directory: name ends with /, or . and ..) or ``.bvfs_lsfiles``."""

    pathid: int
    filenameid: int
    fileid: int
    jobid: int
    name: str
    attributes: FileAttributes

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/") or self.name in (".", "..")


@dataclass(frozen=True, slots=True)
class BvfsVersion:
    pathid: int
    filenameid: int
    fileid: int
    jobid: int
    attributes: FileAttributes
    checksum: str
    volume: str
    in_changer: bool


@dataclass(frozen=True, slots=True)
class LabelResult:
    labelled: tuple[tuple[str, int], ...]  # (volume, slot)
    failed: tuple[tuple[str, int, str], ...]  # (volume, slot, the daemon's reason)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True, slots=True)
class SlotUpdate:
    slots: int  # the changer's slot count
    up_to_date: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    not_in_catalog: tuple[tuple[str, int], ...] = ()  # (volume, slot) barcodes with no catalog record
