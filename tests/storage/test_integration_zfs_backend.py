"""ZfsBackend against real zfs-fuse pools on sparse files, through LocalRunner (root only)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from apps.core.testing import require_root, require_tools
from apps.storage.backends.base import BackendError, PoolInfo
from apps.storage.backends.zfs import ZfsBackend

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _zfs_host() -> None:
    require_root()
    require_tools("zpool", "zfs", "zfs-fuse")


def wait_for(backend: ZfsBackend, pool: str, done: Callable[[PoolInfo], bool], timeout: float = 60) -> PoolInfo:
    deadline = time.monotonic() + timeout
    while True:
        status = backend.pool_status(pool)
        if done(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def leaves(status: PoolInfo) -> list[str]:
    return [d.name for d in status.vdevs[0].children]


def test_mirror_offline_online_replace_scrub(zfs_backend: ZfsBackend, zfs_mirror_pool: tuple[str, Path]) -> None:
    pool, disk_dir = zfs_mirror_pool
    a, b = str(disk_dir / "d0.img"), str(disk_dir / "d1.img")
    status = zfs_backend.pool_status(pool)
    assert (status.health, status.vdevs[0].kind, leaves(status)) == ("ONLINE", "mirror", [a, b])

    zfs_backend.offline(pool, b)
    degraded = zfs_backend.pool_status(pool)
    assert degraded.health == "DEGRADED" and degraded.vdevs[0].children[1].state == "OFFLINE"
    zfs_backend.online(pool, b)
    assert wait_for(zfs_backend, pool, lambda s: s.health == "ONLINE").health == "ONLINE"

    c = str(disk_dir / "d2.img")
    subprocess.run(["truncate", "-s", "128M", c], check=True)
    zfs_backend.replace(pool, b, c)
    replaced = wait_for(zfs_backend, pool, lambda s: leaves(s) == [a, c] and not s.scan.running)
    assert leaves(replaced) == [a, c]

    zfs_backend.start_scrub(pool)
    scrubbed = wait_for(zfs_backend, pool, lambda s: s.scan.function == "scrub" and s.scan.state == "finished")
    assert (scrubbed.scan.state, scrubbed.scan.percent, scrubbed.scan.errors) == ("finished", 100.0, 0)
    assert scrubbed.scan.finished_at is not None
    with pytest.raises(BackendError, match="unsupported"):
        zfs_backend.pause_scrub(pool)


def test_export_list_importable_import(zfs_backend: ZfsBackend, zfs_mirror_pool: tuple[str, Path]) -> None:
    pool, disk_dir = zfs_mirror_pool
    listed = {p.name: p for p in zfs_backend.list_pools()}
    assert listed[pool].size_bytes and listed[pool].health == "ONLINE" and listed[pool].mountpoint
    zfs_backend.export_pool(pool)
    assert pool not in {p.name for p in zfs_backend.list_pools()}
    (found,) = [p for p in zfs_backend.list_importable([str(disk_dir)]) if p.name == pool]
    assert found.state == "ONLINE" and found.guid == listed[pool].guid
    zfs_backend.import_pool(pool, [str(disk_dir)])
    assert zfs_backend.pool_status(pool).health == "ONLINE"


def test_pool_errors_carry_stderr(zfs_backend: ZfsBackend, zfs_mirror_pool: tuple[str, Path]) -> None:
    pool, disk_dir = zfs_mirror_pool
    with pytest.raises(BackendError, match="no such pool") as err:
        zfs_backend.pool_status(f"{pool}x")
    assert err.value.returncode == 1
    other = disk_dir / "other.img"
    subprocess.run(["truncate", "-s", "128M", str(other)], check=True)
    with pytest.raises(BackendError, match="pool already exists"):
        zfs_backend.create_pool(pool, [{"type": "stripe", "devices": [str(other)]}], force=True)


def test_datasets_create_set_inherit_rename_destroy(zfs_backend: ZfsBackend, zfs_mirror_pool: tuple[str, Path]) -> None:
    pool, _ = zfs_mirror_pool
    zfs_backend.create_dataset(f"{pool}/data", {"compression": "on", "com.example:owner": "alice"})
    zfs_backend.set_properties(f"{pool}/data", {"atime": "off", "quota": 50 * 1024**2})
    data = {d.name: d for d in zfs_backend.list_datasets(pool)}[f"{pool}/data"]
    assert data.properties["compression"].source == "local"
    assert data.properties["com.example:owner"].value == "alice"
    assert data.properties["quota"].value == str(50 * 1024**2)
    assert data.used_bytes is not None and data.available_bytes is not None
    zfs_backend.inherit_property(f"{pool}/data", "atime")
    data = zfs_backend.list_datasets(f"{pool}/data")[0]
    assert data.properties["atime"].source == "default"
    zfs_backend.rename(f"{pool}/data", f"{pool}/renamed")
    assert [d.name for d in zfs_backend.list_datasets(pool)] == [pool, f"{pool}/renamed"]
    zfs_backend.destroy_dataset(f"{pool}/renamed")  # right after create: zfs-fuse may say "busy" at first
    assert [d.name for d in zfs_backend.list_datasets(pool)] == [pool]
    with pytest.raises(BackendError, match="zvols"):
        zfs_backend.create_volume(f"{pool}/vol", 10 * 1024**2)


def test_snapshots_hold_release_rollback_clone_destroy(
    zfs_backend: ZfsBackend, zfs_mirror_pool: tuple[str, Path]
) -> None:
    pool, _ = zfs_mirror_pool
    ds = f"{pool}/ds"
    zfs_backend.create_dataset(ds)
    zfs_backend.create_snapshot(ds, "first")
    zfs_backend.create_snapshots([f"{ds}@a", f"{ds}@b", f"{pool}@a"])
    zfs_backend.hold(f"{ds}@first", "keep")
    snaps = {s.name: s for s in zfs_backend.list_snapshots(pool)}
    assert set(snaps) == {f"{ds}@first", f"{ds}@a", f"{ds}@b", f"{pool}@a"}
    assert snaps[f"{ds}@first"].extra["userrefs"] == 1 and snaps[f"{ds}@a"].extra["userrefs"] == 0
    assert snaps[f"{ds}@first"].created_at is not None and snaps[f"{ds}@first"].guid
    with pytest.raises(BackendError, match="busy"):
        zfs_backend.destroy_snapshots(ds, ["first"])
    zfs_backend.release(f"{ds}@first", "keep")

    zfs_backend.rollback(f"{ds}@first", destroy_newer=True)
    assert {s.short_name for s in zfs_backend.list_snapshots(ds)} == {"first"}
    zfs_backend.clone(f"{ds}@first", f"{pool}/clone", {"com.example:from": "first"})
    clone = {d.name: d for d in zfs_backend.list_datasets(pool)}[f"{pool}/clone"]
    assert clone.properties["com.example:from"].value == "first"
    zfs_backend.destroy_dataset(f"{pool}/clone")
    zfs_backend.create_snapshots([f"{ds}@x", f"{ds}@y"])
    zfs_backend.destroy_snapshots(ds, ["first", "x", "y"])
    assert zfs_backend.list_snapshots(ds) == []
