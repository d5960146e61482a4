"""Btrfs management end to end on loop devices (root only): create, quotas, devices, balance, subvolume
delete with its snapshots, destroy; every step through the services and their jobs, as the portal runs them."""

from __future__ import annotations

import io
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from apps.core.errors import ServiceError
from apps.core.runner import LocalRunner
from apps.core.testing import require_root, require_tools
from apps.jobs.models import Job
from apps.jobs.runtime import run_job
from apps.storage import services
from apps.storage.backends import get_btrfs_backend
from apps.storage.models import Dataset, Pool, Snapshot

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fast_poll(monkeypatch, settings, tmp_path):
    monkeypatch.setattr(services.btrfs, "BTRFS_POLL_S", 0.1)
    settings.CALYPSO_BTRFS_MOUNT_ROOT = str(tmp_path / "mnt")


def _mounted(path: str) -> bool:
    return subprocess.run(["findmnt", "--mountpoint", path], capture_output=True).returncode == 0


def _signature(device: str) -> str:
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def loop_devices(tmp_path: Path) -> Iterator[Callable[[int, str], list[str]]]:
    """make(n, size) -> n loop devices over sparse images; afterwards whatever is mounted under tmp_path is
    unmounted and the devices detached."""
    require_root()
    require_tools("btrfs", "mkfs.btrfs", "losetup", "mount", "wipefs", "blkid", "findmnt")
    made: list[str] = []

    def make(n: int, size: str = "1G") -> list[str]:
        out = []
        for _i in range(n):
            image = tmp_path / f"disk-{uuid.uuid4().hex[:8]}.img"
            subprocess.run(["truncate", "-s", size, str(image)], check=True)
            out.append(subprocess.run(["losetup", "--find", "--show", str(image)], check=True, capture_output=True,
                                      text=True).stdout.strip())
        made.extend(out)
        return out

    yield make
    for line in reversed(Path("/proc/mounts").read_text().splitlines()):
        target = line.split()[1]
        if target.startswith(str(tmp_path)):
            subprocess.run(["umount", "-l", target], check=False)
    for dev in made:
        subprocess.run(["losetup", "-d", dev], check=False)


def _run(job: Job, runner) -> Job:
    done = run_job(job.pk, runner=runner)
    assert done is not None
    return done


def _one_device_filesystem(label: str, loop_devices, user, runner) -> Pool:
    [device] = loop_devices(1, "512M")
    job = _run(services.create_btrfs(label, devices=[device], actor=user, runner=runner), runner)
    assert job.state == "succeeded", job.error
    return Pool.objects.get(pk=job.result["pool"])


@pytest.mark.django_db
def test_a_btrfs_filesystem_from_create_to_destroy(loop_devices, operator_user, settings):
    runner = LocalRunner()
    a, b, c, d = loop_devices(4, "1G")
    label = f"calymk{uuid.uuid4().hex[:6]}"
    job = _run(services.create_btrfs(label, devices=[a, b], data_profile="raid1", actor=operator_user,
                                     runner=runner), runner)
    assert job.state == "succeeded", job.error
    pool = Pool.objects.get(backend="btrfs", name=label)
    mnt = f"{settings.CALYPSO_BTRFS_MOUNT_ROOT}/{label}"
    assert pool.mountpoint == mnt and _mounted(mnt) and pool.health == "ONLINE"
    assert (pool.extra["data_profile"], pool.extra["metadata_profile"]) == ("raid1", "raid1")
    assert job.result["uuid"] == pool.guid and job.target_id == str(pool.pk)

    home = services.create_dataset(pool, "home", actor=operator_user, runner=runner)
    Path(mnt, "home", "blob").write_bytes(b"\x5a" * (8 << 20))
    snap = services.create_snapshot(home, "s1", actor=operator_user, runner=runner)
    with pytest.raises(ServiceError) as off:
        services.subvolume_sizes(pool, runner=runner)
    assert off.value.status_code == 409 and "turn them on" in off.value.message

    job = _run(services.enable_quota(pool, actor=operator_user, runner=runner), runner)
    assert job.state == "succeeded", job.error
    home.refresh_from_db()
    assert home.referenced_bytes >= 8 << 20 and home.used_bytes is not None  # exclusive: shared with s1
    sizes = {s["name"]: s for s in services.subvolume_sizes(pool, runner=runner)}
    assert sizes[home.name]["referenced_bytes"] == home.referenced_bytes and snap.name in sizes

    pool = services.add_btrfs_device(pool, device=c, actor=operator_user, runner=runner)
    assert {dev["path"] for dev in services.device_stats(pool, runner=runner)} == {a, b, c}
    assert [dev["devid"] for dev in services.device_stats(pool, runner=runner)] == [1, 2, 3]
    with pytest.raises(ServiceError) as busy:
        services.add_btrfs_device(pool, device=c, actor=operator_user, runner=runner)
    assert busy.value.field == "device"

    job = _run(services.start_balance(pool, data_usage=100, actor=operator_user, runner=runner), runner)
    assert job.state == "succeeded", job.error
    assert job.result["outcome"] == "done" and job.progress == 100
    assert "btrfs balance start -dusage=100" in "\n".join(line.message for line in job.log_entries.all())

    job = _run(services.remove_btrfs_device(pool, device=c, actor=operator_user, runner=runner), runner)
    assert job.state == "succeeded", job.error
    assert {dev["path"] for dev in services.device_stats(pool, runner=runner)} == {a, b}
    job = _run(services.replace_btrfs_device(pool, device=b, new_device=d, actor=operator_user, runner=runner),
               runner)
    assert job.state == "succeeded", job.error
    assert {dev["path"] for dev in services.device_stats(pool, runner=runner)} == {a, d}

    services.destroy_dataset(home, snapshots="keep", actor=operator_user, runner=runner)
    assert not Path(mnt, "home").exists() and Path(mnt, "home@s1", "blob").stat().st_size == 8 << 20
    kept = Snapshot.objects.get(name=snap.name)
    assert kept.dataset.name == label and kept.extra["source_missing"]  # under the top level now
    assert not Dataset.objects.filter(name=home.name).exists()

    job = _run(services.destroy_pool(pool, actor=operator_user), runner)
    assert job.state == "succeeded", job.error
    assert not _mounted(mnt) and not Path(mnt).exists()
    assert [_signature(dev) for dev in (a, d)] == ["", ""]
    assert not Pool.objects.filter(pk=pool.pk).exists()


@pytest.mark.django_db
def test_a_failed_create_erases_what_it_made(loop_devices, operator_user, settings, tmp_path):
    runner = LocalRunner()
    [a] = loop_devices(1, "512M")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    job = _run(services.create_btrfs("calyfail", devices=[a], mountpoint=str(blocker / "mnt"), actor=operator_user,
                                     runner=runner), runner)
    assert job.state == "rolled_back" and "mkdir" in job.error
    assert _signature(a) == ""  # the new filesystem was erased again
    assert "Rollback complete" in "\n".join(line.message for line in job.log_entries.all())
    assert not Pool.objects.filter(name="calyfail").exists()


@pytest.mark.django_db
def test_subvolume_delete_with_its_snapshots_and_nested_subvolumes(loop_devices, operator_user):
    runner = LocalRunner()
    pool = _one_device_filesystem("calydel", loop_devices, operator_user, runner)
    home = services.create_dataset(pool, "home", actor=operator_user, runner=runner)
    services.create_dataset(pool, "home/alice", actor=operator_user, runner=runner)
    services.create_snapshot(home, "s1", actor=operator_user, runner=runner)
    with pytest.raises(ServiceError) as nested:
        services.destroy_dataset(home, actor=operator_user, runner=runner)
    assert nested.value.field == "recursive" and "calydel/home/alice" in nested.value.message
    services.destroy_dataset(home, recursive=True, snapshots="delete", actor=operator_user, runner=runner)
    tool = get_btrfs_backend(runner)
    assert tool.list_subvolumes(pool.mountpoint) == [] and tool.list_snapshots(pool.mountpoint) == []
    assert not Dataset.objects.filter(pool=pool).exclude(name="calydel").exists()
    assert not Snapshot.objects.filter(dataset__pool=pool).exists()


def _wait_balance(tool, mnt: str, state: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while tool.balance_status(mnt)["state"] != state:
        assert time.monotonic() < deadline, f"no {state} balance on {mnt}"
        time.sleep(0.02)


def _in_thread(job: Job, runner) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def work() -> None:
        try:
            out["job"] = run_job(job.pk, runner=runner)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=work)
    thread.start()
    return thread, out


@pytest.mark.django_db(transaction=True)
def test_balance_pause_resume_and_cancel(loop_devices, operator_user):
    runner = LocalRunner()
    a, b = loop_devices(2, "2G")
    job = _run(services.create_btrfs("calybal", devices=[a, b], data_profile="raid1", actor=operator_user,
                                     runner=runner), runner)
    pool = Pool.objects.get(pk=job.result["pool"])
    for i in range(12):
        Path(pool.mountpoint, f"f{i}").write_bytes(b"\0" * (25 << 20))
    subprocess.run(["sync"], check=True)
    tool = get_btrfs_backend(runner)

    thread, out = _in_thread(services.start_balance(pool, actor=operator_user, runner=runner), runner)
    _wait_balance(tool, pool.mountpoint, "running")
    with pytest.raises(ServiceError) as twice:
        services.start_balance(pool, actor=operator_user, runner=runner)
    assert twice.value.status_code == 409
    services.pause_balance(pool, actor=operator_user, runner=runner)
    thread.join(60)
    assert out["job"].state == "cancelled" and "paused" in out["job"].error
    assert tool.balance_status(pool.mountpoint)["state"] == "paused"

    thread, out = _in_thread(services.resume_balance(pool, actor=operator_user, runner=runner), runner)
    _wait_balance(tool, pool.mountpoint, "running")
    services.cancel_balance(pool, actor=operator_user, runner=runner)
    thread.join(60)
    assert out["job"].state == "cancelled", out["job"].error
    assert tool.balance_status(pool.mountpoint)["state"] == "none"
    with pytest.raises(ServiceError) as none:
        services.resume_balance(pool, actor=operator_user, runner=runner)
    assert none.value.status_code == 409


@pytest.mark.django_db
def test_managed_filesystems_are_mounted_again_at_start(loop_devices, operator_user):
    runner = LocalRunner()
    pool = _one_device_filesystem("calyboot", loop_devices, operator_user, runner)
    with pytest.raises(ServiceError) as mounted:
        services.mount_btrfs_pool(pool, runner=runner)
    assert mounted.value.status_code == 409
    subprocess.run(["umount", pool.mountpoint], check=True)  # as after a reboot
    out = io.StringIO()
    call_command("mount_storage", stdout=out)
    assert out.getvalue().strip() == f"calyboot: mounted at {pool.mountpoint}" and _mounted(pool.mountpoint)
    subprocess.run(["umount", pool.mountpoint], check=True)
    pool = services.mount_btrfs_pool(pool, actor=operator_user, runner=runner)
    assert _mounted(pool.mountpoint) and pool.health == "ONLINE"
