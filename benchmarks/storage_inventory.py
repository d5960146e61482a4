"""Storage inventory at 10,000 snapshots: raw ZFS listing vs Calypso's sync, and the snapshot list API.

Run from the checkout as root: ``.venv/bin/python benchmarks/storage_inventory.py``. The last line of
the output is one JSON object with the results (keys end with their unit).

It starts zfs-fuse when none answers (its own session; stopped by PID at the end only if started
here), builds a pool with a unique name on a sparse file under ``CALYPSO_DATA_DIR``, takes
``BENCH_SNAPSHOTS`` snapshots over ``BENCH_DATASETS`` datasets, then measures in one run: the raw
listing commands, Calypso's full sync (first, then unchanged), and the snapshot list API. The pool,
its file and every database row are removed at the end, also on failure.

Environment: ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/calypso_bench, created and
migrated when missing; every row in it is deleted at the start and at the end), ``REDIS_URL``
(default redis://127.0.0.1:6379/0), ``BENCH_SNAPSHOTS`` (10000), ``BENCH_DATASETS`` (4),
``BENCH_REQUESTS`` (300), ``BENCH_HTTP`` (1: over HTTP to a uvicorn; 0: in-process APIClient).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import (
    TimingRunner,
    count_queries,
    deep_cursor_url,
    ensure_database,
    measure_http,
    setup_environment,
    start_zfs_fuse,
    stop_process,
    summary,
)

TAG = f"calypso-bench-{uuid.uuid4().hex[:8]}"
setup_environment(TAG)

SNAPSHOTS = int(os.environ.get("BENCH_SNAPSHOTS", "10000"))
DATASETS = int(os.environ.get("BENCH_DATASETS", "4"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
OVER_HTTP = os.environ.get("BENCH_HTTP", "1") != "0"
WARMUP = 30
REPEATS = 3  # raw listings and the unchanged re-sync: median of this many runs
SMALL = 100  # rows for the "queries at 100 rows" count
SYNC_TARGET = 1.5
API_TARGET_MS = 30.0
RAW_LIST = ["zfs", "list", "-H", "-t", "snapshot", "-o", "name,creation,used,referenced"]


# ------------------------------------------------------------------ helpers
def timed(argv: list[str]) -> tuple[float, str]:
    """Wall time of one command run the way LocalRunner runs it (C locale, output captured)."""
    from apps.core.runner import BASE_ENV

    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=BASE_ENV, timeout=600, check=True)  # noqa: S603
    return time.perf_counter() - t0, done.stdout


# ------------------------------------------------------------------ zfs-fuse and the pool
def make_pool(backend, name: str, disk_dir: Path) -> list[str]:
    """A one-file pool with ``DATASETS`` filesystems; returns the dataset names."""
    disk_dir.mkdir(parents=True, exist_ok=True)
    image = disk_dir / "disk.img"
    subprocess.run(["truncate", "-s", "2G", str(image)], check=True)  # noqa: S607
    backend.create_pool(name, [{"type": "stripe", "devices": [str(image)]}], mountpoint=str(disk_dir / "mnt"),
                        force=True)
    names = [f"{name}/d{i}" for i in range(DATASETS)]
    for ds in names:
        backend.create_dataset(ds)
    return names


def take_snapshots(datasets: list[str], total: int) -> float:
    """``total`` snapshots spread over the datasets, one thread per dataset (zfs-fuse serialises the
    rest, so more threads than a few buys nothing)."""

    def work(index: int) -> None:
        ds = datasets[index]
        for i in range(index, total, len(datasets)):
            subprocess.run(["zfs", "snapshot", f"{ds}@bench-{i:06d}"], check=True, capture_output=True,  # noqa: S607
                           timeout=60)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(datasets)) as pool:
        list(pool.map(work, range(len(datasets))))
    return time.perf_counter() - t0


def destroy_pool(backend, name: str, disk_dir: Path) -> None:
    from apps.storage.backends.base import BackendError

    try:
        backend.destroy_pool(name, force=True)
    except BackendError as exc:
        if "no such pool" not in exc.stderr:
            print(f"could not destroy pool {name}: {exc}", file=sys.stderr)
    shutil.rmtree(disk_dir, ignore_errors=True)


# ------------------------------------------------------------------ sync
def sync_once(runner: TimingRunner, *, empty: bool) -> float:
    """One full sync (``services.sync_inventory``); ``empty``: into empty tables, as a first sync."""
    from apps.storage import services
    from apps.storage.models import Pool

    if empty:
        Pool.objects.all().delete()  # cascades to vdevs, datasets and snapshots
    runner.calls.clear()
    t0 = time.perf_counter()
    services.sync_inventory(runner=runner)
    return time.perf_counter() - t0


def measure_listing_and_sync() -> dict:
    """Rounds of: raw `zfs list`, the backend's own listing command, a first sync, an unchanged
    re-sync. Interleaved, so a busy moment of the shared zfs-fuse daemon hits every figure alike;
    medians of ``REPEATS`` rounds."""
    from apps.storage.models import Snapshot

    runner = TimingRunner()
    sync_once(runner, empty=True)  # learn the backend's listing command (and warm imports)
    listing = next(argv for argv, _ in runner.calls if "creation" in ",".join(argv))
    raw, backend, first, again, out = [], [], [], [], ""
    for _ in range(REPEATS):
        seconds, out = timed(RAW_LIST)
        raw.append(seconds)
        backend.append(timed(list(listing))[0])
        first.append(sync_once(runner, empty=True))
        again.append(sync_once(runner, empty=False))
    return {"snapshots": len(out.splitlines()), "raw_s": statistics.median(raw),
            "backend_s": statistics.median(backend), "backend_cmd": listing,
            "first_s": statistics.median(first), "again_s": statistics.median(again),
            "commands": list(runner.calls), "commands_s": sum(d for _, d in runner.calls),
            "rows": Snapshot.objects.count()}


# ------------------------------------------------------------------ API
def api_client(key: str):
    from rest_framework.test import APIClient

    client = APIClient(SERVER_NAME="localhost")  # a host the portal answers to (not the test client's own)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def page_urls(client, dataset_id: int, rows: int) -> dict[str, str]:
    base = "/api/v1/storage/snapshots/"
    return {"list": base, "filtered": f"{base}?dataset={dataset_id}",
            "deep": deep_cursor_url(client, base, int(rows * 0.9))}


def count_queries_small(client, dataset_id: int) -> dict[str, int]:
    """The same pages with only ``SMALL`` snapshot rows (the rest deleted inside a rolled-back transaction)."""
    from django.db import transaction

    from apps.storage.models import Snapshot

    with transaction.atomic():
        keep = list(Snapshot.objects.filter(dataset_id=dataset_id).order_by("-created_at", "-id")
                    .values_list("pk", flat=True)[:SMALL])
        Snapshot.objects.exclude(pk__in=keep).delete()
        counts = count_queries(client, page_urls(client, dataset_id, SMALL))
        transaction.set_rollback(True)
    return counts


def measure_in_process(client, urls: dict[str, str]) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {name: [] for name in urls}
    for round_ in range(WARMUP + REQUESTS):
        for name, url in urls.items():
            t0 = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - t0) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
            if round_ >= WARMUP:
                times[name].append(elapsed)
    return {name: summary(values) for name, values in times.items()}


def measure_api(key: str, urls: dict[str, str]) -> tuple[str, dict[str, dict[str, float]]]:
    if not OVER_HTTP:
        return "in-process APIClient", measure_in_process(api_client(key), urls)
    from django.conf import settings

    from apps.core.testing.live import LiveStack

    env = {k: os.environ[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CALYPSO_DATA_DIR",
                                      "CALYPSO_QUEUE", "CALYPSO_CHANNEL_PREFIX", "CALYPSO_CACHE_PREFIX",
                                      "CALYPSO_LOG_LEVEL")}
    stack = LiveStack(env, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    try:
        stack.start_server()  # the list needs no worker
        return "HTTP keep-alive to uvicorn", measure_http(stack.base_url, key, urls, warmup=WARMUP, requests=REQUESTS)
    finally:
        stack.stop()


# ------------------------------------------------------------------ report
def report(raw: dict, api: dict, via: str, q_small: dict, q_big: dict, urls: dict, extra: dict) -> None:
    snaps = raw["snapshots"]
    backend_cmd = raw["backend_cmd"]
    print(f"\nListing {snaps} snapshots (zfs-fuse, median of {REPEATS})")
    print(f"  {'zfs list -t snapshot (raw)':<34}{raw['raw_s']:>8.2f} s   $ {shlex.join(RAW_LIST)}")
    print(f"  {'backend listing command':<34}{raw['backend_s']:>8.2f} s   $ {shlex.join(backend_cmd)}")
    print(f"  {'all commands of one sync':<34}{raw['commands_s']:>8.2f} s   ({len(raw['commands'])} commands)")
    print(f"\nSync into PostgreSQL ({raw['rows']} snapshot rows)")
    for label, key in (("first sync (creates rows)", "first_s"), ("unchanged re-sync", "again_s")):
        ratio = raw[key] / raw["backend_s"]
        verdict = "ok" if ratio <= SYNC_TARGET else "MISSED"
        print(f"  {label:<34}{raw[key]:>8.2f} s   {ratio:.2f}x backend listing, "
              f"{raw[key] / raw['raw_s']:.2f}x zfs list  {verdict} (<= {SYNC_TARGET}x)")
    print(f"\nGET /api/v1/storage/snapshots/ ({via}, token auth, {REQUESTS} requests after {WARMUP} warm-up)")
    print(f"  {'page':<10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  {'SQL @' + str(SMALL):>9}"
          f"{'SQL @' + str(raw['rows']):>11}  verdict")
    for name, url in urls.items():
        s = api[name]
        ok = s["p95"] < API_TARGET_MS and q_small[name] == q_big[name]
        print(f"  {name:<10}{s['p50']:>9}{s['p95']:>9}{s['max']:>9}  {q_small[name]:>9}{q_big[name]:>11}  "
              f"{'ok' if ok else 'MISSED'} (p95 < {API_TARGET_MS:.0f} ms, constant queries)  {url}")
    print(json.dumps({
        "snapshots": snaps, "snapshot_rows": raw["rows"], "datasets": DATASETS,
        "create_snapshots_s": round(extra["create_s"], 2),
        "raw_list_s": round(raw["raw_s"], 3), "backend_list_s": round(raw["backend_s"], 3),
        "sync_commands_s": round(raw["commands_s"], 3),
        "sync_first_s": round(raw["first_s"], 3), "sync_again_s": round(raw["again_s"], 3),
        "sync_ratio": round(max(raw["first_s"], raw["again_s"]) / raw["backend_s"], 2),
        "sync_first_ratio": round(raw["first_s"] / raw["backend_s"], 2),
        "sync_again_ratio": round(raw["again_s"] / raw["backend_s"], 2),
        "sync_ratio_vs_zfs_list": round(max(raw["first_s"], raw["again_s"]) / raw["raw_s"], 2),
        "api_transport": "http" if OVER_HTTP else "in_process", "requests_per_page": REQUESTS,
        "api_p50_ms": api["list"]["p50"], "api_p95_ms": api["list"]["p95"], "api_max_ms": api["list"]["max"],
        "filtered_p50_ms": api["filtered"]["p50"], "filtered_p95_ms": api["filtered"]["p95"],
        "deep_page_p50_ms": api["deep"]["p50"], "deep_page_p95_ms": api["deep"]["p95"],
        "queries_100_rows": max(q_small.values()), "queries_10000_rows": max(q_big.values()),
        "queries_constant": q_small == q_big,
    }))


# ------------------------------------------------------------------ main
def run(backend, datasets: list[str], pool_name: str) -> None:
    from django.db import connection

    from apps.accounts.models import ApiToken, User
    from apps.storage.models import Dataset

    print(f"taking {SNAPSHOTS} snapshots over {len(datasets)} datasets of {pool_name} ...", flush=True)
    create_s = take_snapshots(datasets, SNAPSHOTS)
    print(f"took {SNAPSHOTS} snapshots in {create_s:.1f} s", flush=True)

    raw = measure_listing_and_sync()
    print("commands of the last (unchanged) sync:")
    for argv, duration in raw["commands"]:
        print(f"  {duration:7.3f} s  $ {shlex.join(argv)[:150]}")

    with connection.cursor() as cursor:  # planner statistics, as autovacuum keeps them on a live table
        cursor.execute("VACUUM ANALYZE storage_snapshot, storage_dataset, storage_pool")
    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "correct horse battery")
    key = ApiToken.issue(admin, "benchmark")[1]
    client = api_client(key)
    dataset_id = Dataset.objects.get(name=datasets[0]).pk
    q_small = count_queries_small(client, dataset_id)
    urls = page_urls(client, dataset_id, raw["rows"])
    q_big = count_queries(client, urls)
    via, api = measure_api(key, urls)
    report(raw, api, via, q_small, q_big, urls, {"create_s": create_s})


def main() -> int:
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from apps.core.runner import LocalRunner
    from apps.storage.backends.zfs import ZfsBackend

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    daemon = start_zfs_fuse()
    backend = ZfsBackend(LocalRunner())
    pool_name = f"zbench{uuid.uuid4().hex[:8]}"
    disk_dir = Path(os.environ["CALYPSO_DATA_DIR"]).resolve() / pool_name
    try:
        datasets = make_pool(backend, pool_name, disk_dir)
        run(backend, datasets, pool_name)
    finally:
        destroy_pool(backend, pool_name, disk_dir)
        call_command("flush", verbosity=0, interactive=False)
        if daemon is not None:
            stop_process(daemon)
    return 0


if __name__ == "__main__":
    sys.exit(main())
