"""Storage test fixtures: pools synced from recorded outputs (``tank``) and the storage ``replay`` runner.
The host fixtures (zfs-fuse pools, loop-mounted Btrfs) are shared by every app: tests/hosts.py."""

from __future__ import annotations

import pytest

from apps.core.runner import ReplayRunner
from apps.storage import services, sync
from apps.storage.models import Pool

from .recordings import fuse_sync_runner

__all__ = ["fast_scrub", "replay", "tank"]

@pytest.fixture
def replay(replay: ReplayRunner, settings) -> ReplayRunner:
    """The root ``replay`` runner, speaking to zfs-fuse (the flavour of the recordings)."""
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    return replay


@pytest.fixture
def tank(db, settings) -> Pool:
    """Pools zrectank (mirror, 4 datasets, 4 snapshots) and zrecbig, synced from recorded zfs-fuse output."""
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    sync.sync_zfs(fuse_sync_runner())
    return Pool.objects.get(name="zrectank")


@pytest.fixture
def fast_scrub(monkeypatch) -> None:
    """Scrub jobs re-read the scan state without waiting between reads."""
    monkeypatch.setattr(services.pools, "SCRUB_POLL_S", 0)
