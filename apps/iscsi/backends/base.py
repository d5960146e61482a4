"""The iSCSI backend protocol and the plain values it takes and returns.

The service renders the database into an ``IscsiConfig`` (every target, LUN, group and portal: the whole
desired state); a backend makes the host match it and reports what the host has. Backends never see
models. Secrets travel in ``Chap`` values whose ``repr`` hides them, so they never reach a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Applied", "Chap", "GroupConfig", "HostLun", "HostSession", "HostTarget", "IscsiBackend", "IscsiConfig",
           "LunConfig", "PortalConfig", "TargetConfig"]


@dataclass(frozen=True)
class Chap:
    user: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class PortalConfig:
    address: str
    port: int

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


@dataclass(frozen=True)
class GroupConfig:
    name: str
    # An initiator is admitted when its name is in ``initiators`` or its address in ``networks``; a group with
    # neither admits everyone.
    initiators: tuple[str, ...] = ()  # IQNs
    networks: tuple[str, ...] = ()  # addresses or CIDRs


@dataclass(frozen=True)
class LunConfig:
    lun: int
    path: str  # the device node (/dev/zvol/...) or the file
    block_device: bool = False  # a zvol (SCST: vdisk_blockio) rather than a file (vdisk_fileio)
    block_size: int = 512
    read_only: bool = False
    serial: str = ""  # empty: the daemon's default


@dataclass(frozen=True)
class TargetConfig:
    iqn: str
    alias: str = ""
    luns: tuple[LunConfig, ...] = ()
    groups: tuple[GroupConfig, ...] = ()  # none: nobody may log in
    incoming: Chap | None = None  # initiators log in with this
    outgoing: Chap | None = None  # mutual CHAP: the target answers with this
    portals: tuple[PortalConfig, ...] = ()  # SCST only (allowed_portal); empty: all


@dataclass(frozen=True)
class IscsiConfig:
    targets: tuple[TargetConfig, ...] = ()
    portals: tuple[PortalConfig, ...] = ()  # none: leave the daemon's own listening portals alone


@dataclass(frozen=True)
class HostLun:
    lun: int
    path: str  # "" for tgt's controller LUN 0
    kind: str = "disk"  # tgt's "Type": disk, controller, ...
    size_bytes: int | None = None
    block_size: int | None = None
    read_only: bool = False
    serial: str = ""


@dataclass(frozen=True)
class HostSession:
    target: str  # IQN
    initiator: str  # IQN
    addresses: tuple[str, ...] = ()
    session_id: str = ""


@dataclass(frozen=True)
class HostTarget:
    iqn: str
    tid: int | None = None
    luns: tuple[HostLun, ...] = ()
    addresses: tuple[str, ...] = ()  # initiator-address ACL entries
    initiators: tuple[str, ...] = ()  # initiator-name ACL entries
    incoming: tuple[str, ...] = ()  # CHAP user names bound
    outgoing: tuple[str, ...] = ()
    sessions: tuple[HostSession, ...] = ()


@dataclass(frozen=True)
class Applied:
    """What an apply did: the host's target ids (tgt) by IQN, and the commands run (for the audit/logs;
    never secrets)."""

    tids: dict[str, int] = field(default_factory=dict)
    commands: int = 0


class IscsiBackend(Protocol):
    name: str  # "tgt" or "scst"
    min_lun: int  # lowest LUN number an operator may give (tgt: 1)

    def apply(self, config: IscsiConfig) -> Applied:
        """Make the host match ``config`` (all of it), persist it for the next boot, or change nothing and
        raise ``BackendError`` saying what failed and that what was done was undone."""
        ...

    def render(self, config: IscsiConfig) -> str:
        """The configuration file this backend writes for ``config`` (secrets included: show it only to
        those allowed to change targets)."""
        ...

    def config_path(self) -> str: ...

    def targets(self) -> list[HostTarget]:
        """What the host exports now."""
        ...

    def sessions(self) -> list[HostSession]:
        """Initiators logged in now."""
        ...
