"""The Celery part of health (a busy worker is not a dead one) and the anonymous liveness probe."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.system import health


class _SlowWorker:
    """``control.ping`` of one worker that needs ``latency`` seconds to answer (a busy prefork worker)."""

    def __init__(self, latency: float, name: str = "calypso@busy") -> None:
        self.latency, self.name, self.timeouts = latency, name, []

    def __call__(self, destination=None, timeout=1.0, limit=None, **kwargs):
        self.timeouts.append(timeout)
        time.sleep(min(timeout, self.latency))
        return [{self.name: {"ok": "pong"}}] if timeout >= self.latency else []


@pytest.fixture
def ping(monkeypatch):
    def install(fake):
        monkeypatch.setattr(current_app.control, "ping", fake)
        return fake

    return install


@pytest.mark.django_db
def test_a_worker_slow_to_answer_the_ping_is_up(ping):
    ping(_SlowWorker(latency=0.8))
    result = health.check_celery()
    assert result["status"] == "ok" and result["workers"] == ["calypso@busy"], result
    assert result["latency_ms"] < 2000  # the patient ping ends at the first answer


@pytest.mark.django_db
def test_a_prompt_worker_is_found_without_waiting_longer(ping):
    worker = ping(_SlowWorker(latency=0.01))
    assert health.check_celery()["workers"] == ["calypso@busy"] and worker.timeouts == [0.5]


@pytest.mark.django_db
def test_no_answer_is_down_unless_running_jobs_keep_their_heartbeat(ping, settings):
    settings.CALYPSO_HEALTH_CELERY_TIMEOUT_S = 0.6
    ping(_SlowWorker(latency=60))
    down = health.check_celery()
    assert down["status"] == "error" and "no Celery worker answered" in down["error"]

    now = timezone.now()
    job = Job.objects.create(kind="tests.steps", state="running", worker="calypso@busy", started=now, heartbeat=now)
    busy = health.check_celery()
    assert busy["status"] == "ok" and busy["workers"] == ["calypso@busy"] and busy["busy"] is True

    Job.objects.filter(pk=job.pk).update(heartbeat=now - timedelta(seconds=4 * settings.CALYPSO_JOB_HEARTBEAT_S))
    assert health.check_celery()["status"] == "error"  # a stopped heartbeat is a dead worker


# -- GET /healthz ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_liveness_answers_anonymous_clients_ok_and_nothing_more(client):
    events = AuditEvent.objects.count()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain") and "no-cache" in response["Cache-Control"]
    assert not response.cookies and AuditEvent.objects.count() == events
    assert client.head("/healthz").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_liveness_takes_no_input(client, method):
    assert getattr(client, method)("/healthz", {"tool": "lsblk"}).status_code == 405


@pytest.mark.django_db
def test_liveness_is_503_without_a_database_and_says_why_to_nobody(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("could not connect to server at 10.0.0.5: secret detail")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.content == b"unavailable\n"


@pytest.mark.django_db
def test_the_details_still_need_a_sign_in(client):
    assert client.get("/api/v1/system/health").status_code == 401


# ------------------------------------------------------------------ storage tools
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def storage_host(monkeypatch, replay):
    """zfs and btrfs tools installed; zfs-fuse not running (its recorded answer), btrfs answering."""
    from apps.system import tools

    monkeypatch.setattr(tools, "which", lambda name: f"/usr/sbin/{name}" if name in {"zpool", "btrfs"} else None)
    replay.add_file(FIXTURES / "zpool-list-zfs-down.txt")
    replay.add(["btrfs", "filesystem", "show"], stdout="")
    cache.delete(health.STORAGE_CACHE_KEY)
    yield replay
    cache.delete(health.STORAGE_CACHE_KEY)


def test_a_storage_tool_that_cannot_work_is_an_error_in_its_own_words(storage_host):
    checks = health.check_storage_tools()
    assert checks["zfs"]["status"] == "error"
    assert "failed to initialize ZFS library" in checks["zfs"]["error"]
    assert "zfs-fuse daemon is running" in checks["zfs"]["error"]
    assert checks["btrfs"]["status"] == "ok" and "error" not in checks["btrfs"]
    assert ("zpool", "list", "-H", "-o", "name") in storage_host.calls


def test_storage_checks_are_cached_briefly(storage_host):
    health.check_storage_tools()
    health.check_storage_tools()
    assert storage_host.calls.count(("zpool", "list", "-H", "-o", "name")) == 1
    health.check_storage_tools(refresh=True)
    assert storage_host.calls.count(("zpool", "list", "-H", "-o", "name")) == 2


def test_a_family_not_installed_is_not_checked(monkeypatch, replay):
    from apps.system import tools

    monkeypatch.setattr(tools, "which", lambda name: None)
    assert tools.check(replay) == {}
    assert replay.calls == []


def test_a_storage_check_that_hangs_is_an_error(monkeypatch):
    from apps.core.runner import CommandResult, CommandTimeout
    from apps.system import tools

    class Hanging:
        def run(self, argv, **kwargs):
            raise CommandTimeout(CommandResult(tuple(argv), -9, "", "", 5.0), f"{argv[0]} timed out after 5 s")

    monkeypatch.setattr(tools, "which", lambda name: "/usr/sbin/" + name)
    result = tools.check(Hanging())
    assert result["zfs"] == result["zfs"] | {"status": "error", "error": "zpool timed out after 5 s"}


@pytest.mark.django_db
def test_health_api_and_dashboard_report_zfs_down(storage_host, admin_user, client_for, monkeypatch, settings, ping):
    settings.CALYPSO_HEALTH_CELERY_TIMEOUT_S = 0
    ping(lambda **kwargs: [{"calypso@up": {"ok": "pong"}}])
    monkeypatch.setattr(health, "tool_statuses", lambda refresh=False: [])
    response = client_for(admin_user).get("/api/v1/system/health")
    data = response.json()
    assert response.status_code == 503 and data["status"] == "error"
    assert data["components"]["celery"]["status"] == "ok"
    assert data["components"]["zfs"]["status"] == "error"
    assert "failed to initialize ZFS library" in data["components"]["zfs"]["error"]
    assert data["components"]["btrfs"]["status"] == "ok"
    # The dashboard's health card lists every component of this answer, with its error.
    browser = Client()
    browser.force_login(admin_user)
    assert b'data-url="/api/v1/system/health"' in browser.get("/admin/").content
