"""Storage services and jobs end to end on real zfs-fuse pools and a real loop-mounted Btrfs (root only)."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from apps.core.runner import LocalRunner
from apps.jobs.runtime import run_job
from apps.storage import services
from apps.storage.backends import get_zfs_backend
from apps.storage.backends.base import BackendError
from apps.storage.models import Dataset, Pool, Snapshot, StorageEvent

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fast_poll(monkeypatch):
    monkeypatch.setattr(services.pools, "SCRUB_POLL_S", 0.2)


def _wait_idle(name: str, timeout: float = 60) -> None:
    backend = get_zfs_backend(LocalRunner())
    deadline = time.monotonic() + timeout
    while backend.pool_status(name).scan.running and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.mark.django_db
def test_zfs_pool_lifecycle_through_services_and_jobs(zfs_daemon, tmp_path: Path, operator_user):
    runner = LocalRunner()
    name = f"zsvc{uuid.uuid4().hex[:8]}"
    disks = [str(tmp_path / f"d{i}.img") for i in range(3)]
    for disk in disks:
        subprocess.run(["truncate", "-s", "128M", disk], check=True)
    try:
        job = services.create_pool(name, layout="mirror", disks=disks[:2], mountpoint=str(tmp_path / "mnt"),
                                   force=True, actor=operator_user, runner=runner)
        job = run_job(job.pk, runner=runner)
        assert job.state == "succeeded", job.error
        pool = Pool.objects.get(name=name)
        assert pool.health == "ONLINE" and pool.vdevs.filter(kind="mirror").exists()
        assert Dataset.objects.filter(pool=pool, name=name).exists()

        services.offline_member(pool, disks[0], actor=operator_user, runner=runner)
        pool.refresh_from_db()
        assert pool.health == "DEGRADED"
        assert StorageEvent.objects.filter(pool=pool, kind="health_changed", details__to="DEGRADED").exists()
        services.online_member(pool, disks[0], actor=operator_user, runner=runner)
        _wait_idle(name)
        services.replace_member(pool, disks[1], disks[2], actor=operator_user, runner=runner)
        _wait_idle(name)

        job = run_job(services.start_scrub(pool, actor=operator_user).pk, runner=runner)
        assert job.state == "succeeded", job.error
        assert job.progress == 100 and job.result["errors"] == 0
        pool.refresh_from_db()
        assert pool.health == "ONLINE" and pool.scan_function == "scrub" and pool.scan_state == "finished"
        assert pool.vdevs.filter(name=disks[2]).exists()

        ds = services.create_dataset(pool, f"{name}/data", properties={"quota": "64M", "compression": "on"},
                                     actor=operator_user, runner=runner)
        assert ds.prop("quota") == str(64 * 1024 * 1024)
        snap = services.create_snapshot(ds, "s1", actor=operator_user, runner=runner)
        assert Snapshot.objects.filter(pk=snap.pk, dataset=ds).exists()
        services.destroy_dataset(ds, recursive=True, actor=operator_user, runner=runner)
        assert not Dataset.objects.filter(name=f"{name}/data").exists()

        job = run_job(services.destroy_pool(pool, actor=operator_user).pk, runner=runner)
        assert job.state == "succeeded", job.error
        assert not Pool.objects.filter(name=name).exists()
    finally:
        try:
            get_zfs_backend(runner).destroy_pool(name, force=True)
        except BackendError:
            pass


@pytest.mark.django_db
def test_btrfs_subvolumes_snapshots_and_scrub(btrfs_mount, operator_user):
    runner = LocalRunner()
    pool = services.register_btrfs_pool(btrfs_mount, actor=operator_user, runner=runner)
    assert pool.backend == "btrfs" and pool.health == "ONLINE" and pool.mountpoint == btrfs_mount
    home = services.create_dataset(pool, "home", actor=operator_user, runner=runner)
    assert home.name == f"{pool.name}/home" and home.kind == "subvolume"
    snap = services.create_snapshot(home, "s1", actor=operator_user, runner=runner)
    assert snap.name == f"{pool.name}/home@s1" and snap.dataset_id == home.pk
    assert Path(btrfs_mount, "home@s1").is_dir()

    job = run_job(services.start_scrub(pool, actor=operator_user).pk, runner=runner)
    assert job.state == "succeeded", job.error
    assert job.progress == 100
    stats = services.device_stats(pool, runner=runner)
    assert stats and all("corruption_errs" in s or "corruption" in str(s) for s in stats)

    services.destroy_snapshots([snap], actor=operator_user, runner=runner)
    assert not Snapshot.objects.filter(pk=snap.pk).exists()
    services.destroy_dataset(home, actor=operator_user, runner=runner)
    assert not Dataset.objects.filter(pk=home.pk).exists()
    assert not Path(btrfs_mount, "home").exists()
