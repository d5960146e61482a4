"""Backend factory: services and sync get their backend here, never by constructing it."""

from __future__ import annotations

from django.conf import settings

from apps.core.runner import Runner

from .btrfs import BtrfsBackend
from .zfs import ZfsBackend

__all__ = ["get_btrfs_backend", "get_zfs_backend"]


def get_zfs_backend(runner: Runner) -> ZfsBackend:
    """A ZfsBackend on ``runner``; the flavour comes from CALYPSO_ZFS_FLAVOUR or is probed once."""
    return ZfsBackend(runner, flavour=getattr(settings, "CALYPSO_ZFS_FLAVOUR", None) or None)


def get_btrfs_backend(runner: Runner) -> BtrfsBackend:
    """A BtrfsBackend on ``runner``."""
    return BtrfsBackend(runner)
