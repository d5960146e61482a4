"""ZFS replication: ``zfs send [-i base] ds@snap | zfs receive replica``; identities are snapshot GUIDs,
which a receive keeps. Listing, creating and destroying go through the storage app's ZfsBackend."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

from apps.core.errors import BackendError
from apps.core.runner import Runner
from apps.storage.backends.zfs import ZfsBackend, validate_names

from .base import Replica, SideSnapshot

__all__ = ["ZfsStream", "parse_resume_target"]

_TOKEN = re.compile(r"[0-9]+-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+")  # version-checksum-length-compressed payload
_TONAME = re.compile(r"^\s*toname = (\S+@\S+)\s*$", re.MULTILINE)


def parse_resume_target(text: str) -> str:
    """``toname`` from ``zfs send -nvt TOKEN``'s "resume token contents" (OpenZFS prints the nvlist)."""
    found = _TONAME.search(text)
    return found.group(1) if found else ""


class ZfsStream:
    kind = "zfs"

    def __init__(self, zfs: ZfsBackend, runner: Runner) -> None:
        self.zfs, self.runner = zfs, runner

    def _snapshots(self, dataset: str, prefix: str) -> list[SideSnapshot]:
        found = [s for s in self.zfs.list_snapshots(dataset) if s.dataset == dataset and s.short_name.startswith(prefix)]
        return sorted((SideSnapshot(s.short_name, s.name, s.guid) for s in found), key=lambda s: s.key)

    def source_snapshots(self, dataset: str, prefix: str) -> list[SideSnapshot]:
        """The task's snapshots of ``dataset``, oldest first (names carry their UTC time)."""
        return self._snapshots(dataset, prefix)

    def exists(self, name: str) -> bool:
        validate_names(name)
        return self.runner.run(["zfs", "list", "-H", "-o", "name", name], check=False).returncode == 0

    def replica_snapshots(self, replica: Replica, prefix: str) -> list[SideSnapshot]:
        """The replica's snapshots from this task, oldest first; none while the replica does not exist."""
        if not self.exists(replica.name):
            return []
        return self._snapshots(replica.name, prefix)

    def prepare_replica(self, replica: Replica) -> None:
        """Create the replica's parent datasets when missing (the receive creates the replica itself)."""
        parent = replica.name.rpartition("/")[0]
        chain = parent.split("/")
        for depth in range(2, len(chain) + 1):  # the pool itself exists
            name = "/".join(chain[:depth])
            if not self.exists(name):
                self.zfs.create_dataset(name)

    def send_argv(self, snapshot: SideSnapshot, base: SideSnapshot | None) -> list[str]:
        return ["zfs", "send", *(["-i", base.name] if base else []), snapshot.name]

    @property
    def resumable(self) -> bool:
        """OpenZFS keeps an interrupted receive (``receive -s``) and resumes it from a token; zfs-fuse cannot."""
        return self.zfs.is_openzfs

    def receive_argv(self, replica: Replica) -> list[str]:
        """``-u``: the replica is not mounted, so nothing on this host can change it between runs (a mounted
        file system changes when merely read, and a changed replica refuses the next incremental). ``-s`` where
        the version has it: an interrupted receive is kept, to be resumed."""
        return ["zfs", "receive", *(["-s"] if self.resumable else []), "-u", replica.name]

    def resume_token(self, replica: Replica) -> str:
        """The replica's ``receive_resume_token`` ("" when none, or where receives cannot resume)."""
        if not self.resumable:
            return ""
        validate_names(replica.name)
        got = self.runner.run(["zfs", "get", "-H", "-o", "value", "receive_resume_token", replica.name], check=False)
        token = got.stdout.strip() if got.returncode == 0 else ""
        return "" if token in ("", "-") else token

    def resume_target(self, token: str) -> str:
        """The snapshot a resume token continues (``zfs send -nvt``: its ``toname``), "" if unreadable."""
        if not _TOKEN.fullmatch(token):
            return ""
        got = self.runner.run(["zfs", "send", "-nvt", token], check=False)
        return parse_resume_target(got.stdout + got.stderr)

    def send_resume_argv(self, token: str) -> list[str]:
        if not _TOKEN.fullmatch(token):
            raise BackendError(f"not a resume token: {token[:40]!r}")
        return ["zfs", "send", "-t", token]

    def abort_resume(self, replica: Replica) -> None:
        """Discard an interrupted receive's saved state (``zfs receive -A``)."""
        validate_names(replica.name)
        self.runner.run(["zfs", "receive", "-A", replica.name])

    def after_receive(self, replica: Replica, first: bool) -> list[str]:
        """A new replica is also made read-only, for whoever mounts it later (zfs-fuse shows the property
        but does not apply it to its FUSE mounts). Receiving into a read-only dataset still works. A refusal
        (a remote user without that right) is a warning: the copy itself is fine."""
        if not first:
            return []
        try:
            self.zfs.set_properties(replica.name, {"readonly": "on"})
        except BackendError as exc:
            return [f"Could not make {replica.name} read-only ({exc.message}); the copy is fine, but keep it "
                    "unchanged: a changed replica refuses the next incremental."]
        return []

    def discard_partial(self, replica: Replica, prefix: str) -> list[str]:
        """Nothing to do: a failed ``zfs receive`` (without -s) leaves no snapshot behind."""
        return []

    def destroy_replica_snapshots(self, replica: Replica, snapshots: list[SideSnapshot]) -> None:
        if snapshots:
            self.zfs.destroy_snapshots(replica.name, [s.key for s in snapshots])

    @contextlib.contextmanager
    def files_of(self, name: str) -> Iterator[Path]:
        """The files of snapshot ``name`` (through a temporary clone beside its dataset) or of dataset ``name``
        (mounted for the while), read-only use; everything is undone afterwards."""
        validate_names(name)
        if "@" in name:
            # Under the pool's top (valid whatever the dataset, the pool's root included), one name per use.
            clone = f"{name.partition('/')[0].partition('@')[0]}/calypso-read-{uuid.uuid4().hex[:10]}"
            self.zfs.clone(name, clone, {"readonly": "on"})
            try:
                yield self._mountpoint(clone)
            finally:
                self.zfs.destroy_dataset(clone)  # retried while zfs-fuse says "busy"
            return
        self.runner.run(["zfs", "mount", name], check=False)  # already mounted is fine
        try:
            yield self._mountpoint(name)
        finally:
            self.runner.run(["zfs", "umount", name], check=False)

    def _mountpoint(self, name: str) -> Path:
        return Path(self.runner.run(["zfs", "get", "-H", "-o", "value", "mountpoint", name]).stdout.strip())

    def destroy(self, name: str) -> None:
        """Destroy dataset ``name`` and its snapshots, if it exists (a restore's or a drill's copy)."""
        if self.exists(name):
            self.zfs.destroy_dataset(name, recursive=True)
