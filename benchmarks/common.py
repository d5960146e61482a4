"""What every benchmark script shares: environment, database, percentiles, API latency and query counts.

Benchmarks run as scripts (``.venv/bin/python benchmarks/<name>.py``); this module sits beside them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = [
    "ROOT",
    "TimingRunner",
    "count_queries",
    "deep_cursor_url",
    "ensure_database",
    "load1",
    "measure_http",
    "measure_http_targets",
    "pct",
    "setup_environment",
    "summary",
]

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks import the project's own helpers (apps.core.testing.live)
    sys.path.insert(0, str(ROOT))


def setup_environment(tag: str | None = None) -> None:
    """Django settings for a benchmark: its own database, data folder and (with ``tag``) Redis names."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "calypso.settings"
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/calypso_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("CALYPSO_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("CALYPSO_LOG_LEVEL", "WARNING")
    if tag:
        for name in ("CALYPSO_QUEUE", "CALYPSO_CHANNEL_PREFIX", "CALYPSO_CACHE_PREFIX"):
            os.environ[name] = tag


def ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database when it does not exist."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


STACK_ENV = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CALYPSO_DATA_DIR", "CALYPSO_QUEUE",
             "CALYPSO_CHANNEL_PREFIX", "CALYPSO_CACHE_PREFIX", "CALYPSO_LOG_LEVEL")


def start_django() -> dict[str, str]:
    """Create the benchmark database when missing, set Django up in this process, and return the environment
    a ``LiveStack`` of the same settings needs."""
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    return {k: os.environ[k] for k in STACK_ENV}


class TimingRunner:
    """A LocalRunner that notes every command it runs and how long it took (the tools' own time of a step)."""

    def __init__(self) -> None:
        from apps.core.runner import LocalRunner

        self.inner = LocalRunner()
        self.calls: list[tuple[tuple[str, ...], float]] = []

    def run(self, argv, **kwargs):
        result = self.inner.run(argv, **kwargs)
        self.calls.append((result.argv, result.duration_s))
        return result

    def stream(self, argv, **kwargs):
        return self.inner.stream(argv, **kwargs)

    def start(self, argv, **kwargs):
        return self.inner.start(argv, **kwargs)

    def tools_s(self) -> float:
        return sum(duration for _argv, duration in self.calls)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))], 2)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": pct(values, 50), "p95": pct(values, 95), "max": round(max(values), 2), "n": len(values)}


def deep_cursor_url(client, base: str, depth: int) -> str:
    """A default-size page that starts ``depth`` rows into the list (a cursor, no offset)."""
    limit = max(1, min(1000, depth))
    url = f"{base}?limit={limit}"
    for _ in range(max(1, depth // limit)):
        data = client.get(url).json()
        url = data["next"] or url
    parts = urlsplit(url)
    query = {k: v for k, v in parse_qs(parts.query).items() if k != "limit"}
    return f"{parts.path}?{urlencode(query, doseq=True)}"


def count_queries(client, urls: dict[str, str]) -> dict[str, int]:
    """SQL queries per request for each URL, through an in-process API client (after one warm-up)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, url in urls.items():
        client.get(url)  # warm caches (content types, permissions)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        counts[name] = len(ctx.captured_queries)
    return counts


def measure_http(base_url: str, key: str, urls: dict[str, str], *, warmup: int, requests: int
                 ) -> dict[str, dict[str, float]]:
    """Server latency of one server's pages over one keep-alive connection (see ``measure_http_targets``)."""
    return measure_http_targets({name: (base_url, key, url) for name, url in urls.items()},
                                warmup=warmup, requests=requests)


def measure_http_targets(targets: dict[str, tuple[str, str, str]], *, warmup: int, requests: int,
                         shuffle: bool = True) -> dict[str, dict[str, float]]:
    """Latency of ``{name: (base_url, token, path)}``, possibly on several servers, in one client.

    The standard library client (its own cost is a fraction of a millisecond; httpx adds 3-5 ms per
    request of client-side Python), one keep-alive connection per server, one request at a time, the
    same headers (``Authorization: Token <key>``) and code for every server. Targets are requested in
    interleaved rounds, each round in a new random order (fixed seed), so no target gets a quieter
    moment, or a warmer cache from the request before it, than another. Every answer must be a 200.
    Returns ``summary()`` per target, plus ``bytes`` (body size of the last answer)."""
    import http.client
    import random

    conns: dict[str, http.client.HTTPConnection] = {}
    for base_url, _key, _path in targets.values():
        if base_url not in conns:
            parts = urlsplit(base_url)
            conns[base_url] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    times: dict[str, list[float]] = {name: [] for name in targets}
    sizes: dict[str, int] = {}
    order = list(targets)
    rng = random.Random(1234)
    try:
        for round_ in range(warmup + requests):
            if shuffle:
                rng.shuffle(order)
            for name in order:
                base_url, key, path = targets[name]
                conn = conns[base_url]
                t0 = time.perf_counter()
                conn.request("GET", path, headers={"Authorization": f"Token {key}"})
                response = conn.getresponse()
                body = response.read()
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status != 200:
                    raise RuntimeError(f"{base_url}{path} answered {response.status}: {body[:300]!r}")
                sizes[name] = len(body)
                if round_ >= warmup:
                    times[name].append(elapsed)
    finally:
        for conn in conns.values():
            conn.close()
    return {name: {**summary(values), "bytes": sizes[name]} for name, values in times.items()}


def load1() -> float:
    """The 1-minute load average (the box is shared: note it beside every latency figure)."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ------------------------------------------------------------------ zfs-fuse for the storage benchmarks
ZFS_PIDFILE = "/run/calypso-bench-zfs-fuse.pid"


def zpool_answers() -> bool:
    try:
        return subprocess.run(["zpool", "list"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def start_zfs_fuse() -> subprocess.Popen | None:
    """Reuse a running zfs-fuse (there can be only one); else start ours in its own session."""
    if zpool_answers():
        return None
    proc = subprocess.Popen(["zfs-fuse", "--no-daemon", "-p", ZFS_PIDFILE], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not zpool_answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError("zfs-fuse did not start")
        time.sleep(0.2)
    print(f"started zfs-fuse (pid {proc.pid})")
    return proc


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
