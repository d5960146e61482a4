"""What the share backends take (plain, frozen descriptions rendered from the database) and return (what
the host reports). Backends never see a model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = ["ExportedClient", "NfsBackend", "NfsClientSpec", "NfsExportSpec", "NfsStatus", "OpenFile", "ShadowCopies",
           "SmbAccount", "SmbConnection", "SmbSession", "SmbShareSpec", "SmbStatus"]


@dataclass(frozen=True)
class ShadowCopies:
    """vfs shadow_copy2: where the snapshots are and how their names carry the time."""

    snapdir: str  # ".zfs/snapshot" (relative to the dataset's mountpoint) or an absolute directory
    format: str  # strftime format of the time part, e.g. "_%Y-%m-%d_%H:%M:%S"
    snapprefix: str = ""  # POSIX basic regex the part before the delimiter must match
    delimiter: str = ""  # where the time part starts


@dataclass(frozen=True)
class SmbShareSpec:
    name: str
    path: str
    comment: str = ""
    available: bool = True
    read_only: bool = False
    browseable: bool = True
    guest_ok: bool = False
    valid_users: tuple[str, ...] = ()
    admin_users: tuple[str, ...] = ()
    hosts_allow: tuple[str, ...] = ()
    hosts_deny: tuple[str, ...] = ()
    case_sensitive: str = "auto"
    shadow: ShadowCopies | None = None
    recycle: bool = False
    audit: bool = False
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SmbSession:
    session_id: str
    pid: int
    username: str
    group: str
    machine: str
    address: str
    dialect: str
    encryption: str
    signing: str


@dataclass(frozen=True)
class SmbConnection:
    share: str
    session_id: str
    pid: int
    machine: str
    connected_at: str


@dataclass(frozen=True)
class OpenFile:
    path: str
    share_path: str
    name: str
    pid: int
    uid: int | None
    access: str
    sharemode: str
    opened_at: str


@dataclass(frozen=True)
class SmbStatus:
    version: str
    sessions: tuple[SmbSession, ...] = ()
    connections: tuple[SmbConnection, ...] = ()
    open_files: tuple[OpenFile, ...] = ()
    running: bool = True


@dataclass(frozen=True)
class SmbAccount:
    username: str
    uid: int | None
    flags: str = ""
    disabled: bool = False
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- NFS
@dataclass(frozen=True)
class NfsClientSpec:
    host: str  # an address, a network, a host name, a wildcard or @netgroup (validated before it gets here)
    access: str = "ro"  # "rw" | "ro"
    sync: bool = True
    squash: str = "root_squash"  # "root_squash" | "no_root_squash" | "all_squash"
    anonuid: int | None = None
    anongid: int | None = None
    sec: tuple[str, ...] = ("sys",)


@dataclass(frozen=True)
class NfsExportSpec:
    export_id: int  # stable and unique (the row's id): NFS-Ganesha's Export_Id
    path: str
    clients: tuple[NfsClientSpec, ...]
    enabled: bool = True
    description: str = ""


@dataclass(frozen=True)
class ExportedClient:
    """One client of one path as the NFS server reports it is exporting now."""

    path: str
    host: str
    access: str
    sync: bool
    squash: str
    anonuid: int | None = None
    anongid: int | None = None
    sec: tuple[str, ...] = ("sys",)
    options: tuple[str, ...] = ()  # every option as reported, in its order


@dataclass(frozen=True)
class NfsStatus:
    backend: str  # "kernel" | "ganesha"
    running: bool
    exports: tuple[ExportedClient, ...] = ()
    source: str = ""  # where ``exports`` comes from (``exportfs -v``, the installed file)


class NfsBackend(Protocol):
    """The kernel server (exports file + ``exportfs``) and NFS-Ganesha (EXPORT blocks + SIGHUP), one shape."""

    name: str

    def config_path(self) -> Path:
        """The file Calypso renders all its exports into."""

    def render(self, exports: Sequence[NfsExportSpec]) -> str: ...

    def validate(self, candidate: Path) -> None:
        """Raise ``BackendError`` when the candidate file would not be read as rendered."""

    def main_with_include(self) -> tuple[Path, str] | None:
        """(main configuration, its text with Calypso's include line) when it lacks that line, else None."""

    def activate(self) -> bool:
        """Make the server read the file; False when it is not running (it reads it when it starts)."""

    def status(self) -> NfsStatus: ...
