"""Health of the portal's own services (database, Redis, Celery workers) and of the host tools."""

from __future__ import annotations

import time
from dataclasses import asdict

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from apps.core.runner import get_runner

from . import tools

__all__ = ["check_celery", "check_database", "check_redis", "health", "tool_statuses"]

TOOLS_CACHE_KEY = "system:tools"


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


def check_celery(timeout: float = 0.5) -> dict:
    def run():
        from celery import current_app  # the project's app (calypso.celery), without importing the project

        replies = current_app.control.ping(timeout=timeout) or []
        workers = sorted(name for reply in replies for name in reply)
        if not workers:
            raise RuntimeError("no Celery worker answered; start one with: celery -A calypso worker")
        return {"workers": workers}

    return _timed(run)


def tool_statuses(refresh: bool = False) -> list[dict]:
    """Host tools, cached for five minutes (probing runs a dozen commands)."""
    data = None if refresh else cache.get(TOOLS_CACHE_KEY)
    if data is None:
        data = [asdict(s) for s in tools.probe(get_runner())]
        cache.set(TOOLS_CACHE_KEY, data, 300)
    return data


def health() -> dict:
    components = {"database": check_database(), "redis": check_redis(), "celery": check_celery()}
    try:
        host_tools = tool_statuses()
    except Exception:  # the cache is Redis: without it, probe without caching
        host_tools = [asdict(s) for s in tools.probe(get_runner())]
    status = "ok" if all(c["status"] == "ok" for c in components.values()) else "error"
    return {"status": status, "version": settings.VERSION, "components": components, "tools": host_tools}
