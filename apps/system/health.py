"""Health of the portal's own services (database, Redis, Celery workers) and of the host tools, and the
anonymous liveness probe (``GET /healthz``)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict
from datetime import timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.core.runner import get_runner
from apps.jobs.choices import JobState
from apps.jobs.models import Job

from . import tools

__all__ = ["check_celery", "check_database", "check_redis", "check_storage_tools", "health", "liveness",
           "tool_statuses"]

TOOLS_CACHE_KEY = "system:tools"
STORAGE_CACHE_KEY = "system:storage-tools"
STORAGE_CACHE_S = 30  # each check runs a real command: health polled every second stays cheap


def _timed(func) -> dict:
    started = time.perf_counter()
    try:
        detail = func() or {}
        status = "ok"
    except Exception as exc:
        detail, status = {"error": f"{type(exc).__name__}: {exc}"[:500]}, "error"
    return {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2), **detail}


def check_database() -> dict:
    def run():
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        return {"vendor": connection.vendor}

    return _timed(run)


def check_redis() -> dict:
    def run():
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
            return {"version": client.info("server").get("redis_version")}
        finally:
            client.close()

    return _timed(run)


def _busy_workers() -> list[str]:
    """Workers whose running jobs stamped their heartbeat lately: alive, even when too busy to answer."""
    recent = timezone.now() - timedelta(seconds=3 * settings.CALYPSO_JOB_HEARTBEAT_S)
    return sorted(set(Job.objects.filter(state__in=(JobState.RUNNING, JobState.ROLLING_BACK), heartbeat__gte=recent)
                      .exclude(worker="").values_list("worker", flat=True)))


def check_celery(timeout: float | None = None) -> dict:
    """Workers answering a ping. Those that answer within half a second are all listed; when none does,
    the check waits up to ``timeout`` (CALYPSO_HEALTH_CELERY_TIMEOUT_S, 2 s) for the first answer, and a
    worker whose jobs keep their heartbeat counts as up (busy) too."""
    timeout = timeout if timeout is not None else getattr(settings, "CALYPSO_HEALTH_CELERY_TIMEOUT_S", 2.0)

    def run():
        from celery import current_app  # the project's app (calypso.celery), without importing the project

        replies = current_app.control.ping(timeout=min(0.5, timeout)) or []
        if not replies and timeout > 0.5:
            replies = current_app.control.ping(timeout=timeout, limit=1) or []
        workers = sorted(name for reply in replies for name in reply)
        if workers:
            return {"workers": workers}
        busy = _busy_workers()
        if busy:
            return {"workers": busy, "busy": True}
        raise RuntimeError("no Celery worker answered; start one with: celery -A calypso worker")

    return _timed(run)


def tool_statuses(refresh: bool = False) -> list[dict]:
    """Host tools, cached for five minutes (probing runs a dozen commands)."""
    data = None if refresh else cache.get(TOOLS_CACHE_KEY)
    if data is None:
        data = [asdict(s) for s in tools.probe(get_runner())]
        cache.set(TOOLS_CACHE_KEY, data, 300)
    return data


def check_storage_tools(refresh: bool = False) -> dict[str, dict]:
    """Each installed storage tool family (zfs, btrfs) runs a cheap real command (tools.CHECKS); a failure
    is an error with the tool's own words. Cached for STORAGE_CACHE_S seconds."""
    try:
        data = None if refresh else cache.get(STORAGE_CACHE_KEY)
    except Exception:  # the cache is Redis: without it, check without caching
        return tools.check(get_runner())
    if data is None:
        data = tools.check(get_runner())
        with contextlib.suppress(Exception):
            cache.set(STORAGE_CACHE_KEY, data, STORAGE_CACHE_S)
    return data


def health() -> dict:
    components = {"database": check_database(), "redis": check_redis(), "celery": check_celery(),
                  **check_storage_tools()}
    try:
        host_tools = tool_statuses()
    except Exception:  # the cache is Redis: without it, probe without caching
        host_tools = [asdict(s) for s in tools.probe(get_runner())]
    status = "ok" if all(c["status"] == "ok" for c in components.values()) else "error"
    return {"status": status, "version": settings.VERSION, "components": components, "tools": host_tools}


@require_safe
@never_cache
def liveness(request) -> HttpResponse:
    """``GET /healthz``, open to anonymous clients (load balancers, uptime monitors): 200 ``ok`` while this web
    process and its database answer, 503 otherwise. It runs nothing else and tells nothing more."""
    alive = check_database()["status"] == "ok"
    return HttpResponse("ok\n" if alive else "unavailable\n", status=200 if alive else 503,
                        content_type="text/plain; charset=utf-8")
