"""The Celery part of health (a busy worker is not a dead one) and the anonymous liveness probe."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery import current_app
from django.db import OperationalError, connection
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
