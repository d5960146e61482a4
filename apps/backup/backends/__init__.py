"""Backend factory of the backup app: the stream backend (send, receive, identities) of a source pool.

Services get theirs here and never ask which one they hold.
"""

from __future__ import annotations

from apps.core.runner import Runner, get_runner
from apps.storage.backends import get_btrfs_backend, get_zfs_backend

from .base import StreamBackend
from .btrfs import BtrfsStream
from .zfs import ZfsStream

__all__ = ["get_stream_backend"]


def get_stream_backend(pool, runner: Runner | None = None) -> StreamBackend:
    """The stream backend of inventory ``pool`` (a ZFS pool or a mounted Btrfs filesystem)."""
    runner = runner or get_runner()
    if pool.backend == BtrfsStream.kind:
        return BtrfsStream(get_btrfs_backend(runner), runner, pool.mountpoint)
    return ZfsStream(get_zfs_backend(runner), runner)
