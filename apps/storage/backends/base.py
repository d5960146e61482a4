"""What every storage backend returns: plain frozen dataclasses, no Django.

ZFS and Btrfs map onto one family: a *pool* (a zpool, or a Btrfs filesystem) holds *datasets*
(ZFS filesystems and volumes, Btrfs subvolumes), and a dataset has *snapshots* (ZFS snapshots,
read-only Btrfs snapshot subvolumes). Backup and replication treat both alike through this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from apps.core.runner import CommandError

__all__ = [
    "BackendError",
    "DatasetInfo",
    "ImportablePool",
    "PoolInfo",
    "PropertyValue",
    "ScanProgress",
    "SnapshotInfo",
    "VdevInfo",
]


class BackendError(Exception):
    """A storage tool refused or failed; ``stderr`` holds the tool's own words."""

    def __init__(self, message: str, *, argv: tuple[str, ...] = (), returncode: int | None = None,
                 stderr: str = "") -> None:
        super().__init__(message)
        self.argv, self.returncode, self.stderr = argv, returncode, stderr

    @classmethod
    def from_command(cls, exc: CommandError, message: str | None = None) -> BackendError:
        detail = exc.stderr.strip() or exc.stdout.strip() or str(exc)
        return cls(message or detail, argv=exc.argv, returncode=exc.returncode, stderr=exc.stderr)


@dataclass(frozen=True, slots=True)
class PropertyValue:
    value: str
    source: str  # "local", "inherited from tank", "default", "-", "temporary", "received"


@dataclass(frozen=True, slots=True)
class ScanProgress:
    function: str = "none"  # "scrub", "resilver", "none"
    state: str = "none"  # "scanning", "finished", "canceled", "paused", "none"
    percent: float = 0.0
    examined_bytes: int | None = None
    total_bytes: int | None = None
    errors: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    text: str = ""  # the tool's own scan line(s)
    processed_bytes: int | None = None  # repaired (scrub) or resilvered (resilver) bytes

    @property
    def running(self) -> bool:
        return self.state == "scanning"


@dataclass(frozen=True, slots=True)
class VdevInfo:
    name: str  # "mirror-0", "/srv/a.img", "sdb"
    kind: str  # "root" | "mirror" | "raidz1" | "raidz2" | "raidz3" | "draid" | "disk" | "file" | "spare" | "replacing"
    state: str  # ONLINE, DEGRADED, OFFLINE, FAULTED, UNAVAIL, REMOVED, AVAIL, INUSE
    role: str = "data"  # "data" | "log" | "cache" | "spare" | "special" | "dedup"
    read_errors: int = 0
    write_errors: int = 0
    checksum_errors: int = 0
    note: str = ""
    children: tuple[VdevInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolInfo:
    name: str
    backend: str  # "zfs" | "btrfs"
    health: str  # ONLINE, DEGRADED, FAULTED, OFFLINE, UNAVAIL, REMOVED (btrfs: ONLINE / DEGRADED)
    size_bytes: int | None = None
    allocated_bytes: int | None = None
    free_bytes: int | None = None
    fragmentation_percent: int | None = None
    capacity_percent: int | None = None
    dedup_ratio: float | None = None
    guid: str = ""
    mountpoint: str = ""
    scan: ScanProgress = field(default_factory=ScanProgress)
    vdevs: tuple[VdevInfo, ...] = ()
    status_text: str = ""  # "status:"/"action:" advice, shown verbatim to the operator
    errors_text: str = ""  # "errors: No known data errors"
    extra: dict = field(default_factory=dict)  # btrfs profiles, device list, usage detail


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    name: str  # "tank/home" or, for btrfs, "<fs>/<subvolume path>"
    pool: str
    kind: str  # "filesystem" | "volume" | "subvolume"
    used_bytes: int | None = None
    available_bytes: int | None = None
    referenced_bytes: int | None = None
    mountpoint: str = ""
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # btrfs: id, parent id, uuid, path


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    name: str  # "tank/home@daily-2026-11-24_0000" ; btrfs "<fs>/<snapshot path>"
    dataset: str  # "tank/home"
    short_name: str  # "daily-2026-11-24_0000"
    created_at: datetime | None = None
    used_bytes: int | None = None
    referenced_bytes: int | None = None
    holds: tuple[str, ...] = ()  # hold tags
    guid: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportablePool:
    name: str
    guid: str
    state: str
    status_text: str = ""
    vdevs: tuple[VdevInfo, ...] = ()
