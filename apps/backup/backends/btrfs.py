"""Btrfs replication: ``btrfs send [-p base] snapshot | btrfs receive dir``. A received subvolume keeps
the sent snapshot's name and records the sent one's UUID as its received UUID, which is what proves the
copy; ``btrfs receive`` sets it last, so a subvolume without one is a receive that did not finish."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from apps.core.runner import Runner
from apps.storage.backends.btrfs import BtrfsBackend, safe_join

from .base import Replica, SideSnapshot

__all__ = ["BtrfsStream", "snapshot_key"]


def snapshot_key(name: str) -> str:
    """A Btrfs snapshot's name after "@" (``home@calypso-3-...`` -> ``calypso-3-...``)."""
    return PurePosixPath(name).name.rpartition("@")[2]


class BtrfsStream:
    kind = "btrfs"

    def __init__(self, btrfs: BtrfsBackend, runner: Runner, source_mount: str) -> None:
        self.btrfs, self.runner, self.source_mount = btrfs, runner, source_mount

    def source_snapshots(self, dataset: str, prefix: str) -> list[SideSnapshot]:
        """The task's read-only snapshots of subvolume ``dataset``, oldest first."""
        found = [s for s in self.btrfs.list_snapshots(self.source_mount) if s.dataset == dataset]
        snaps = [SideSnapshot(snapshot_key(s.short_name), safe_join(self.source_mount, s.extra["path"]), s.guid)
                 for s in found if snapshot_key(s.short_name).startswith(prefix)]
        return sorted(snaps, key=lambda s: s.key)

    def _in_replica(self, replica: Replica) -> list:
        return [d for d in self.btrfs.list_subvolumes(replica.mountpoint)
                if str(PurePosixPath(d.extra["path"]).parent) == replica.name]

    def replica_snapshots(self, replica: Replica, prefix: str) -> list[SideSnapshot]:
        """Completely received copies of the task's snapshots in the replica directory, oldest first."""
        snaps = [SideSnapshot(snapshot_key(d.extra["path"]), safe_join(replica.mountpoint, d.extra["path"]),
                              d.extra["received_uuid"])
                 for d in self._in_replica(replica)
                 if d.extra.get("received_uuid") and snapshot_key(d.extra["path"]).startswith(prefix)]
        return sorted(snaps, key=lambda s: s.key)

    def prepare_replica(self, replica: Replica) -> None:
        """Create the replica directory when missing."""
        self.runner.run(["mkdir", "-p", safe_join(replica.mountpoint, replica.name)])

    def send_argv(self, snapshot: SideSnapshot, base: SideSnapshot | None) -> list[str]:
        return ["btrfs", "send", *(["-p", base.name] if base else []), snapshot.name]

    def receive_argv(self, replica: Replica) -> list[str]:
        return ["btrfs", "receive", safe_join(replica.mountpoint, replica.name)]

    resumable = False  # btrfs receive keeps no resumable state: an unfinished receive is deleted instead

    def resume_token(self, replica: Replica) -> str:
        return ""

    def after_receive(self, replica: Replica, first: bool) -> list[str]:
        """Nothing to do: a received subvolume is read-only."""
        return []

    def discard_partial(self, replica: Replica, prefix: str) -> list[str]:
        """Delete what an unfinished receive of a snapshot named ``prefix``... (one task's, or one snapshot's)
        left in the replica directory: a subvolume without a received UUID."""
        gone = []
        for sub in self._in_replica(replica):
            if snapshot_key(sub.extra["path"]).startswith(prefix) and not sub.extra.get("received_uuid"):
                self.btrfs.delete_subvolume(replica.mountpoint, sub.extra["path"])
                gone.append(safe_join(replica.mountpoint, sub.extra["path"]))
        return gone

    def destroy_replica_snapshots(self, replica: Replica, snapshots: list[SideSnapshot]) -> None:
        for snap in snapshots:
            self.btrfs.delete_subvolume(replica.mountpoint, str(PurePosixPath(snap.name).relative_to(
                replica.mountpoint)))

    @contextlib.contextmanager
    def files_of(self, path: str) -> Iterator[Path]:
        """The files of subvolume or snapshot ``path`` (a directory already)."""
        yield Path(path)
