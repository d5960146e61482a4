"""Backend factory: services and sync get their backend here, never by constructing it.

``get_backend(pool)`` gives the ``PoolBackend`` of an inventory pool, whatever its kind; the tool-level
backends (``get_zfs_backend``/``get_btrfs_backend``) are for what no pool row exists for yet (creating
or importing a zpool, listing every pool on the host).
"""

from __future__ import annotations

from django.conf import settings

from apps.core.runner import Runner, get_runner

from .base import PoolBackend
from .btrfs import BtrfsBackend
from .pools import BtrfsPool, ZfsPool
from .zfs import ZfsBackend

__all__ = ["capabilities", "get_backend", "get_btrfs_backend", "get_zfs_backend", "supports"]

_POOLS = {ZfsPool.kind: ZfsPool, BtrfsPool.kind: BtrfsPool}


def get_zfs_backend(runner: Runner | None = None) -> ZfsBackend:
    """A ZfsBackend on ``runner`` (default: this host); the flavour comes from CALYPSO_ZFS_FLAVOUR or is
    probed once."""
    return ZfsBackend(runner or get_runner(), flavour=getattr(settings, "CALYPSO_ZFS_FLAVOUR", None) or None)


def get_btrfs_backend(runner: Runner | None = None) -> BtrfsBackend:
    """A BtrfsBackend on ``runner`` (default: this host)."""
    return BtrfsBackend(runner or get_runner())


def get_backend(pool, runner: Runner | None = None) -> PoolBackend:
    """The backend of an inventory ``pool`` (anything with ``backend``, ``name`` and ``mountpoint``)."""
    if pool.backend == BtrfsPool.kind:
        return BtrfsPool(get_btrfs_backend(runner), pool.name, pool.mountpoint, settings.CALYPSO_BTRFS_MOUNT_ROOT)
    return ZfsPool(get_zfs_backend(runner), pool.name)


def capabilities(kind: str) -> frozenset[str]:
    """What a backend kind can do at all (no command runs): pages offer only these operations."""
    return _POOLS[kind].capabilities


def supports(capability: str, pool_of=lambda obj: obj):
    """A predicate for ``Operation(when=...)``: the object's pool's backend has ``capability``."""
    return lambda obj: capability in capabilities(pool_of(obj).backend)
