"""End to end on the real tools: a zfs-fuse pool filled past 80 % and a degraded mirror each raise one alert,
one email (a real SMTP server on loopback) and one signed webhook (a real HTTP server on loopback), and
resolve, with one more message each, when the pool is back to normal."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time

import pytest

from apps.core.runner import LocalRunner
from apps.core.testing import require_tools
from apps.monitoring.models import Alert, NotificationChannel
from apps.monitoring.services import alerts, metrics, notify
from apps.storage import sync
from apps.storage.models import Pool

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
SECRET = "webhook-shared-secret"


@pytest.fixture
def channels(smtp_server, http_server):
    require_tools("zpool", "zfs")
    box = smtp_server()
    NotificationChannel.objects.create(name="ops mail", kind="email", recipients="ops@example.net",
                                       smtp_host="127.0.0.1", smtp_port=box.port, smtp_security="none")
    NotificationChannel.objects.create(name="ops hook", kind="webhook", url=f"{http_server.url}/hook", secret=SECRET)
    return box, http_server


def _tick(name: str) -> list:
    """What the beat does every 30 s: the inventory (every 2 min), the metrics, the rules, the notifications."""
    runner = LocalRunner()
    sync.sync_zfs_pool(runner, name)
    metrics.collect(runner)
    alerts.evaluate()
    deliveries = notify.dispatch()
    for delivery in deliveries:
        notify.deliver(delivery.pk, retry=False)
    return deliveries


def _wait_capacity(name: str, test, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        sync.sync_zfs_pool(LocalRunner(), name)
        if test(Pool.objects.get(name=name).capacity_percent or 0):
            return
        assert time.monotonic() < deadline, f"capacity stayed at {Pool.objects.get(name=name).capacity_percent} %"
        time.sleep(0.5)


def _retry(argv: list[str], attempts: int = 20) -> None:
    """zfs-fuse answers "dataset is busy" for a moment after a file in it was written."""
    for _ in range(attempts - 1):
        if subprocess.run(argv, capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    subprocess.run(argv, check=True, capture_output=True)


def _check_hook(request: dict, state: str, rule: str) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Calypso-Signature"] == expected
    body = json.loads(request["body"])
    assert [(a["rule"], a["state"]) for a in body["alerts"]] == [(rule, state)]


def _messages(box, hook) -> tuple[int, int]:
    return len(box.messages), len(hook.requests)


def test_a_pool_filled_past_80_percent_alerts_once_and_resolves(zfs_pool_factory, channels):
    box, hook = channels
    name, _disks = zfs_pool_factory("mirror", 2, size="300M")  # zfs-fuse keeps ~30 MB of a pool to itself
    subprocess.run(["zfs", "create", f"{name}/fill"], check=True)
    mountpoint = subprocess.run(["zfs", "get", "-H", "-o", "value", "mountpoint", f"{name}/fill"],
                                capture_output=True, text=True, check=True).stdout.strip()
    _tick(name)
    assert _messages(box, hook) == (0, 0)
    subprocess.run(["dd", "if=/dev/zero", f"of={mountpoint}/fill", "bs=1M", "count=240", "conv=fsync"],
                   check=True, capture_output=True)
    _wait_capacity(name, lambda pct: pct >= 80)
    _tick(name)
    _tick(name)  # the condition still holds: nothing new
    alert = Alert.objects.get(rule__name="Pool capacity above 80 %", subject=name)
    assert alert.state == "firing" and alert.value >= 80
    assert Alert.objects.filter(subject=name).count() == 1
    assert _messages(box, hook) == (1, 1)
    assert name in box.messages[0]["message"]["Subject"] and box.messages[0]["to"] == ["ops@example.net"]
    _check_hook(hook.requests[0], "firing", "Pool capacity above 80 %")

    # zfs-fuse keeps a deleted file's blocks while FUSE caches it: the dataset holding the data goes instead
    _retry(["zfs", "destroy", "-f", f"{name}/fill"])
    _wait_capacity(name, lambda pct: pct < 80)
    _tick(name)
    assert Alert.objects.get(pk=alert.pk).state == "resolved"
    assert _messages(box, hook) == (2, 2)
    assert "resolved" in box.messages[1]["message"]["Subject"].lower()
    _check_hook(hook.requests[1], "resolved", "Pool capacity above 80 %")


def test_a_degraded_mirror_alerts_once_and_resolves(zfs_pool_factory, channels):
    box, hook = channels
    name, disks = zfs_pool_factory("mirror", 2, size="128M")
    device = str(sorted(disks.iterdir())[1])
    _tick(name)
    subprocess.run(["zpool", "offline", name, device], check=True, capture_output=True)
    _tick(name)
    _tick(name)
    alert = Alert.objects.get(rule__name="Pool not healthy", subject=name)
    assert (alert.state, alert.severity, alert.value) == ("firing", "critical", 1.0)
    assert _messages(box, hook) == (1, 1)
    _check_hook(hook.requests[0], "firing", "Pool not healthy")

    subprocess.run(["zpool", "online", name, device], check=True, capture_output=True)
    _tick(name)
    assert Alert.objects.get(pk=alert.pk).state == "resolved"
    assert _messages(box, hook) == (2, 2)
    _check_hook(hook.requests[1], "resolved", "Pool not healthy")
