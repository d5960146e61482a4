"""What the replication engine needs from a snapshot-sending tool: the task's snapshots on each side with
their identity, the send and receive commands, and the cleanup of what a failed receive left."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["Replica", "SideSnapshot", "StreamBackend"]


@dataclass(frozen=True, slots=True)
class SideSnapshot:
    """One snapshot on one side. ``key`` is its name after "@" (the same on both sides); ``identity`` is
    what proves two copies are the same snapshot: the ZFS GUID (equal on both sides), or for Btrfs the
    source's UUID and, on the target, its received UUID."""

    key: str
    name: str  # ZFS "pool/ds@key"; Btrfs the absolute path of the subvolume
    identity: str


@dataclass(frozen=True, slots=True)
class Replica:
    """Where one task's replicas live on the target: ``name`` the ZFS dataset, or for Btrfs the directory
    (under the target filesystem's mount) that holds the received subvolumes."""

    name: str
    mountpoint: str = ""  # Btrfs: the target filesystem's top-level mount


class StreamBackend(Protocol):
    kind: str
    resumable: bool

    def source_snapshots(self, dataset: str, prefix: str) -> list[SideSnapshot]: ...

    def replica_snapshots(self, replica: Replica, prefix: str) -> list[SideSnapshot]: ...

    def prepare_replica(self, replica: Replica) -> None: ...

    def send_argv(self, snapshot: SideSnapshot, base: SideSnapshot | None) -> list[str]: ...

    def receive_argv(self, replica: Replica) -> list[str]: ...

    def after_receive(self, replica: Replica, first: bool) -> list[str]: ...

    def resume_token(self, replica: Replica) -> str: ...

    def discard_partial(self, replica: Replica, prefix: str) -> list[str]: ...

    def destroy_replica_snapshots(self, replica: Replica, snapshots: list[SideSnapshot]) -> None: ...

    def files_of(self, name: str) -> contextlib.AbstractContextManager[Path]: ...
