"""Against the real smartctl: a loop device (and this host's own disks, virtual ones here) has no SMART that
smartctl can reach, and is shown as "SMART unsupported", never as an error; a self-test on it is refused."""

from __future__ import annotations

import subprocess

import pytest

from apps.core.errors import BackendError, ServiceError
from apps.core.runner import LocalRunner
from apps.core.testing import require_root, require_tools
from apps.monitoring import services
from apps.monitoring.backends import get_backend
from apps.monitoring.models import Disk, DiskSample
from apps.monitoring.operations import DISK

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def loop_device(tmp_path):
    require_root()
    require_tools("smartctl", "losetup", "lsblk")
    image = tmp_path / "disk.img"
    with image.open("wb") as f:
        f.truncate(64 << 20)  # sparse
    loop = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True,
                          check=True).stdout.strip()
    try:
        yield loop
    finally:
        subprocess.run(["losetup", "-d", loop], check=False)


def test_a_loop_device_is_smart_unsupported(loop_device, operator_user):
    report = get_backend(LocalRunner()).read(loop_device)
    assert (report.supported, report.health, report.error) == (False, "unsupported", "")
    assert report.exit_status & 1 and f"{loop_device}: Unable to detect device type" in report.messages
    disk = services.refresh_device(loop_device, LocalRunner())
    assert (disk.name, disk.path, disk.smart_supported, disk.health) == (
        loop_device.removeprefix("/dev/"), loop_device, False, "unsupported")
    assert (disk.capacity_bytes, disk.last_error, disk.in_use) == (64 << 20, "", "")
    assert not DiskSample.objects.filter(disk=disk).exists()
    with pytest.raises(ServiceError, match="no SMART"):
        DISK["self_test"].run(actor=operator_user, obj=disk, data={"kind": "short"})
    with pytest.raises(BackendError, match="Unable to detect device type"):
        get_backend(LocalRunner()).start_self_test(loop_device, "short")


def test_checking_this_host_reads_every_disk(loop_device):
    result = services.check_disks(LocalRunner())
    disks = Disk.objects.filter(gone=False)
    assert result["disks"] == disks.count() >= 1
    assert all(d.last_checked and (d.smart_supported or d.health == "unsupported") for d in disks)
    assert not disks.filter(name=loop_device.removeprefix("/dev/")).exists()  # a loop device is no disk
