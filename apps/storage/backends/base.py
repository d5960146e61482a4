"""The storage backend family: what a pool backend does (``PoolBackend``) and what it returns (plain
frozen dataclasses, no Django).

ZFS and Btrfs map onto one family: a *pool* (a zpool, or a Btrfs filesystem) holds *datasets*
(ZFS filesystems and volumes, Btrfs subvolumes), and a dataset has *snapshots* (ZFS snapshots,
read-only Btrfs snapshot subvolumes). Services, sync, backup and replication use both through
``PoolBackend`` and never ask which one they hold; what one cannot do raises ``Unsupported``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from apps.core.errors import BackendError, ParseError, Unsupported

__all__ = [
    "BackendError",
    "DatasetInfo",
    "ImportablePool",
    "ParseError",
    "PoolBackend",
    "PoolInfo",
    "PropertyValue",
    "ScanProgress",
    "ScrubRun",
    "SnapshotInfo",
    "Unsupported",
    "VdevInfo",
    "unsupported",
]


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


class ScrubRun(Protocol):
    """A scrub under way: ``poll()`` gives its progress while it runs and None once it has ended (raising
    the tool's refusal if it failed); ``cancel()`` stops it."""

    def poll(self) -> ScanProgress | None: ...

    def cancel(self) -> None: ...


class PoolBackend(Protocol):
    """One pool on the host, as its backend sees it. Dataset and snapshot names are the inventory's
    (``tank/home``, ``tank/home@daily``; Btrfs ``<label>/<subvolume path>``). ``capabilities`` names
    what this backend can do at all, so pages offer only those operations; a version that lacks one
    (zvols on zfs-fuse) still raises ``Unsupported`` when asked."""

    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]

    def dataset_name(self, name: str) -> str:
        """The full name of a new dataset called ``name``; ValidationError when the backend refuses it."""
        ...

    def info(self) -> PoolInfo: ...

    def list_datasets(self, root: str | None = None) -> list[DatasetInfo]: ...

    def list_snapshots(self, root: str | None = None) -> list[SnapshotInfo]: ...

    def start_scrub(self) -> ScrubRun: ...

    def stop_scrub(self) -> None: ...

    def pause_scrub(self) -> None: ...

    def device_stats(self) -> list[dict]: ...

    def balance_status(self) -> dict: ...

    def pool_properties(self) -> list: ...  # list[PoolProperty] (backends/pool_properties.py)

    def set_pool_property(self, prop: str, value: str) -> None: ...

    def create_dataset(self, name: str, *, volume_size: int | None = None, sparse: bool = False,
                       properties: Mapping[str, Any] | None = None) -> None: ...

    def destroy_dataset(self, name: str, *, recursive: bool = False) -> None: ...

    def rename_dataset(self, name: str, new_name: str) -> None: ...

    def set_properties(self, name: str, properties: Mapping[str, Any]) -> None: ...

    def inherit_property(self, name: str, prop: str) -> None: ...

    def create_snapshot(self, dataset: str, short_name: str, *, recursive: bool = False) -> str: ...

    def destroy_snapshots(self, dataset: str, names: Sequence[str]) -> None: ...

    def rollback(self, snapshot: str, *, destroy_newer: bool = False) -> None: ...

    def clone(self, snapshot: str, target: str, properties: Mapping[str, Any] | None = None) -> None: ...

    def hold(self, snapshot: str, tag: str, *, recursive: bool = False) -> None: ...

    def release(self, snapshot: str, tag: str, *, recursive: bool = False) -> None: ...

    def offline(self, device: str, *, temporary: bool = False) -> None: ...

    def online(self, device: str) -> None: ...

    def replace(self, device: str, new_device: str | None = None) -> None: ...

    def detach(self, device: str) -> None: ...

    def add_vdevs(self, vdevs: Sequence[Mapping], *, spares: Sequence[str] = (), log: Sequence = (),
                  cache: Sequence[str] = (), force: bool = False) -> None: ...

    def export(self, *, force: bool = False) -> None: ...

    def destroy(self, *, force: bool = False) -> None: ...


def unsupported(what: str, kind: str) -> Unsupported:
    return Unsupported(f"{what} is not available on {kind}.")
