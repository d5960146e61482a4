"""BtrfsBackend against a real loop-mounted Btrfs filesystem through LocalRunner (root only)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apps.core.runner import LocalRunner
from apps.core.testing import require_root, require_tools
from apps.storage.backends.base import BackendError
from apps.storage.backends.btrfs import BtrfsBackend

from .recordings import BTRFS_IMAGE_BYTES as IMAGE_BYTES
from .recordings import BTRFS_LABEL as LABEL

pytestmark = pytest.mark.integration



@pytest.fixture
def backend() -> BtrfsBackend:
    return BtrfsBackend(LocalRunner())


def test_filesystem_info_of_fresh_filesystem(backend, btrfs_mount):
    info = backend.filesystem_info(btrfs_mount)
    assert (info.name, info.backend, info.health) == (LABEL, "btrfs", "ONLINE")
    assert info.extra["data_profile"] == "single"
    assert info.extra["metadata_profile"] == "dup"
    [dev] = info.extra["devices"]
    assert dev["path"].startswith("/dev/loop")
    assert dev["size_bytes"] == IMAGE_BYTES
    assert info.size_bytes and info.free_bytes and 0 < info.free_bytes < info.size_bytes < IMAGE_BYTES
    assert info.scan.state == "none"


def test_nested_subvolumes_and_readonly_snapshots(backend, btrfs_mount):
    mnt = btrfs_mount
    backend.create_subvolume(mnt, "home")
    backend.create_subvolume(mnt, "home/alice")
    Path(mnt, "srv", "sites").mkdir(parents=True)
    backend.create_subvolume(mnt, "srv/sites/www")
    Path(mnt, "home/alice/note.txt").write_text("hello\n")
    Path(mnt, "snaps").mkdir()
    before = datetime.now(UTC) - timedelta(seconds=2)
    backend.snapshot(mnt, "home", "snaps/home@1")
    backend.snapshot(mnt, "home/alice", "snaps/alice@1")
    backend.snapshot(mnt, "home/alice", "alice-work", readonly=False)

    subs = {d.name: d for d in backend.list_subvolumes(mnt)}
    assert sorted(subs) == [f"{LABEL}/alice-work", f"{LABEL}/home", f"{LABEL}/home/alice", f"{LABEL}/srv/sites/www"]
    assert subs[f"{LABEL}/home/alice"].extra["parent_id"] == subs[f"{LABEL}/home"].extra["id"]
    assert subs[f"{LABEL}/srv/sites/www"].extra["parent_id"] == 5
    assert subs[f"{LABEL}/alice-work"].extra["parent_uuid"] == subs[f"{LABEL}/home/alice"].extra["uuid"]

    snaps = {s.name: s for s in backend.list_snapshots(mnt)}
    assert {n: s.dataset for n, s in snaps.items()} == {
        f"{LABEL}/snaps/home@1": f"{LABEL}/home",
        f"{LABEL}/snaps/alice@1": f"{LABEL}/home/alice",
    }
    created = snaps[f"{LABEL}/snaps/alice@1"].created_at
    assert created is not None and before <= created <= datetime.now(UTC) + timedelta(seconds=2)
    assert Path(mnt, "snaps/alice@1/note.txt").read_text() == "hello\n"
    assert backend.is_readonly(f"{mnt}/snaps/alice@1") is True
    assert backend.is_readonly(f"{mnt}/alice-work") is False


def test_set_readonly_round_trip(backend, btrfs_mount):
    backend.create_subvolume(btrfs_mount, "data")
    path = f"{btrfs_mount}/data"
    backend.set_readonly(path, True)
    assert backend.is_readonly(path) is True
    with pytest.raises(OSError):
        Path(path, "x").write_text("no")
    backend.set_readonly(path, False)
    Path(path, "x").write_text("yes")


def test_delete_snapshots_and_subvolumes(backend, btrfs_mount):
    mnt = btrfs_mount
    backend.create_subvolume(mnt, "home")
    backend.create_subvolume(mnt, "home/alice")
    backend.snapshot(mnt, "home", "home@1")
    with pytest.raises(BackendError) as err:
        backend.delete_subvolume(mnt, "home")  # still holds home/alice
    assert "Directory not empty" in err.value.stderr
    backend.delete_subvolume(mnt, "home@1", commit_after=True)
    backend.delete_subvolume(mnt, "home/alice")
    backend.delete_subvolume(mnt, "home", commit_after=True)
    assert backend.list_subvolumes(mnt) == []
    assert backend.list_snapshots(mnt) == []
    with pytest.raises(BackendError) as err:
        backend.delete_subvolume(mnt, "home")
    assert "No such file or directory" in err.value.stderr


def test_scrub_runs_to_finished(backend, btrfs_mount):
    backend.create_subvolume(btrfs_mount, "data")
    with Path(btrfs_mount, "data", "blob").open("wb") as fh:
        for _ in range(32):
            fh.write(bytes(range(256)) * 4096)  # 32 MiB
    os.sync()  # scrub reads what is on disk
    handle = backend.start_scrub(btrfs_mount)
    while handle.poll() is None:
        assert backend.scrub_status(btrfs_mount).state in ("scanning", "none", "finished")
        time.sleep(0.05)
    scan = backend.finish_scrub(btrfs_mount, handle)
    assert (scan.function, scan.state, scan.percent, scan.errors) == ("scrub", "finished", 100.0, 0)
    assert scan.examined_bytes and scan.examined_bytes >= 32 * 1024 * 1024
    assert scan.started_at is not None and scan.finished_at is not None
    assert abs(scan.started_at - datetime.now(UTC)) < timedelta(minutes=2)
    assert backend.filesystem_info(btrfs_mount).scan.state == "finished"
    with pytest.raises(BackendError) as err:
        backend.cancel_scrub(btrfs_mount)
    assert "not running" in err.value.stderr


def test_balance_status_and_device_stats(backend, btrfs_mount):
    status = backend.balance_status(btrfs_mount)
    assert (status["state"], status["percent"]) == ("none", 0.0)
    [stats] = backend.device_stats(btrfs_mount)
    assert stats["device"].startswith("/dev/loop")
    assert stats["errors"] == 0
    assert set(stats) >= {"write_io_errs", "read_io_errs", "flush_io_errs", "corruption_errs", "generation_errs"}


def test_tool_errors_on_a_plain_directory(backend, tmp_path):
    require_root()
    require_tools("btrfs")
    with pytest.raises(BackendError) as err:
        backend.balance_status(str(tmp_path))
    assert "not a btrfs filesystem" in err.value.stderr
