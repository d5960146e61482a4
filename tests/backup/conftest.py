"""Backup test fixtures: two throwaway zfs-fuse pools, the first with a dataset to back up."""

from __future__ import annotations

import subprocess

import pytest

from apps.core.runner import LocalRunner
from apps.storage import sync
from apps.storage.models import Dataset, Pool

__all__ = ["zfs_pair"]


@pytest.fixture
def zfs_pair(zfs_pool_factory):
    """(runner, the source dataset ``<pool>/data``, the other pool), both pools in the inventory."""
    runner = LocalRunner()
    src, _ = zfs_pool_factory("mirror", 2, "256M")
    dst, _ = zfs_pool_factory("mirror", 2, "256M")
    subprocess.run(["zfs", "create", f"{src}/data"], check=True)
    sync.sync_zfs(runner)
    return runner, Dataset.objects.get(name=f"{src}/data"), Pool.objects.get(name=dst)
