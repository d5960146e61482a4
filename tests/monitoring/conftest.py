"""Monitoring fixtures: a host of five recorded disks checked once, and self-test jobs that poll without waiting."""

from __future__ import annotations

import pytest

from apps.monitoring import services
from apps.monitoring.services import disks as disk_services
from apps.storage.models import Pool, Vdev

from .notify_servers import http_server, loopback_cert, smtp_server  # noqa: F401 (loopback SMTP/HTTP servers)
from .recordings import host_with_five_disks


@pytest.fixture
def tank(db) -> Pool:
    """Pool ``tank`` whose only device is sda's partition."""
    pool = Pool.objects.create(name="tank", health="ONLINE")
    Vdev.objects.create(pool=pool, name="sda1", kind="disk", state="ONLINE")
    return pool


@pytest.fixture
def checked(tank, replay):
    """The five recorded disks, checked once."""
    host_with_five_disks(replay)
    return services.check_disks()


@pytest.fixture
def fast_self_test(monkeypatch) -> None:
    monkeypatch.setattr(disk_services, "SELF_TEST_POLL_S", 0)
