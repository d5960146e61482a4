"""API latency of Calypso's list pages beside the bare Django + DRF yardstick, and live progress latency.

Run from the checkout with the portal's virtualenv: ``.venv/bin/python benchmarks/api_latency.py``.
It needs only ``requirements/prod.txt`` (the standard library's http.client is the HTTP client). The
last line of the output is one JSON object with the results (keys end with their unit).

In one run, on the same box at the same moment, through the same client code: Calypso's jobs list at
``BENCH_JOBS`` rows and snapshot list at ``BENCH_SNAPSHOTS`` rows (a live uvicorn + Celery worker), and
the bare stackbase cursor list (``shared/stackbase``, its own uvicorn and database) at the same two row
counts. Each Calypso page's p95 is divided by the bare cursor page's p95 at the same rows; the worst
ratio is ``list_vs_bare_ratio`` (target <= 1.3).

Environment: ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/calypso_bench, created and
migrated when missing; every row in it is deleted at the start and at the end), ``REDIS_URL``
(default redis://127.0.0.1:6379/0), ``BENCH_JOBS`` (100000), ``BENCH_SNAPSHOTS`` (10000),
``BENCH_REQUESTS`` (300), ``STACKBASE_DIR`` (default <repo>/../shared/stackbase),
``BENCH_BARE_DB_PREFIX`` (calypso_bench_bare: databases <prefix>_100k and <prefix>_10k, kept between
runs; seeding is skipped when the row count already matches).

``--progress-only``: only the live progress part (a minute, no list pages, no yardstick), with the short
jobs' enqueue -> first event split into enqueue() / -> the worker's publish / -> the client.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from common import (
    ROOT,
    count_queries,
    deep_cursor_url,
    ensure_database,
    load1,
    measure_http_targets,
    setup_environment,
    start_django,
    summary,
)
from stackbase import BareServer, StackbaseMissing, bare_db_name, locate_stackbase

TAG = f"calypso-bench-{uuid.uuid4().hex[:8]}"
setup_environment(TAG)

JOBS = int(os.environ.get("BENCH_JOBS", "100000"))
SNAPSHOTS = int(os.environ.get("BENCH_SNAPSHOTS", "10000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
BARE_PREFIX = os.environ.get("BENCH_BARE_DB_PREFIX", "calypso_bench_bare")
WARMUP = 30
SMALL = 100  # rows for the "queries at 100 rows" count
PROGRESS_RUNS = 3
FIRST_EVENT_RUNS = int(os.environ.get("BENCH_FIRST_EVENT_RUNS", "20"))  # short jobs: enqueue -> first event
P95_TARGET_MS = 30.0
RATIO_TARGET = 1.3
KINDS = [("storage.snapshot", 30), ("storage.pool.scrub", 10), ("storage.replicate", 15), ("backup.run", 20),
         ("shares.reload", 10), ("system.hostinventory.collect", 10), ("tape.load", 5)]
STATES = [("succeeded", 80), ("failed", 9), ("cancelled", 5), ("rolled_back", 3), ("running", 2), ("queued", 1)]
TARGETS = ["tank", "tank/home", "tank/vm", "backup", "backup/offsite", "archive", "share:public", "lun:db01"]
DATASETS = ["tank/home", "tank/vm", "tank/db", "tank/share"]
JOBS_URL = "/api/v1/jobs/"
SNAPSHOTS_URL = "/api/v1/storage/snapshots/"

# Calypso page -> (table, the bare cursor page it is compared with); "table" picks the bare row count.
PAGES = {
    "jobs_list": ("jobs", "cursor_first"),
    "jobs_filtered": ("jobs", "cursor_first"),
    "jobs_deep": ("jobs", "cursor_deep"),
    "snapshots_list": ("snapshots", "cursor_first"),
    "snapshots_deep": ("snapshots", "cursor_deep"),
}


# ------------------------------------------------------------------ Calypso data
def fill(total: int, users: list) -> None:
    """Add jobs (with log lines) until the table holds ``total`` rows."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.utils import timezone

    from apps.jobs.models import Job, JobLogEntry
    from apps.system.models import HostInventory

    have = Job.objects.count()
    rng = random.Random(have)
    kinds, kind_w = zip(*KINDS, strict=True)
    states, state_w = zip(*STATES, strict=True)
    ct = ContentType.objects.get_for_model(HostInventory)
    now = timezone.now()
    for start in range(have, total, 10000):  # in slices: 100,000 model instances at once is ~1 GB
        jobs = []
        for i in range(start, min(total, start + 10000)):
            state = rng.choices(states, state_w)[0]
            created = now - timedelta(seconds=(total - i) * 600)
            started = created + timedelta(seconds=rng.uniform(0.01, 2))
            ended = state not in ("running", "queued")
            jobs.append(Job(
                kind=rng.choices(kinds, kind_w)[0], state=state,
                progress=100 if state == "succeeded" else rng.randint(0, 99),
                step="" if ended else "Working", target_label=rng.choice(TARGETS),
                target_type=ct if i % 5 == 0 else None, target_id=str(i) if i % 5 == 0 else None,
                user=rng.choice(users) if i % 4 else None, source=rng.choice(["api", "admin", "schedule", "system"]),
                params={"recursive": bool(i % 2)}, result={"ok": True} if state == "succeeded" else None,
                error="cannot open 'tank': no such pool" if state == "failed" else "", queue="calypso",
                celery_task_id=f"job-{uuid.uuid4().hex}", worker="calypso@bench", created=created,
                started=None if state == "queued" else started,
                finished=started + timedelta(seconds=rng.uniform(1, 600)) if ended else None,
                heartbeat=started if state == "running" else None))
        created_jobs = Job.objects.bulk_create(jobs, batch_size=2000)
        lines = []
        for job in created_jobs:
            lines += [JobLogEntry(job=job, time=job.created, level="info", message=f"Started {job.kind}"),
                      JobLogEntry(job=job, time=job.created, level="command",
                                  message=f"$ zfs list -H -p {job.target_label}"),
                      JobLogEntry(job=job, time=job.created, level="info", message="Finished.")]
        JobLogEntry.objects.bulk_create(lines, batch_size=5000)
    with connection.cursor() as cursor:  # planner statistics, as autovacuum keeps them on a live table
        cursor.execute("VACUUM ANALYZE jobs_job, jobs_joblogentry, accounts_user")


def fill_snapshots(total: int) -> None:
    """One pool, four datasets and snapshots spread over them (as a 90 s policy would take them) until
    ``storage_snapshot`` holds ``total`` rows. Rows only: no ZFS is involved."""
    from django.db import connection
    from django.utils import timezone

    from apps.storage.models import Dataset, Pool, Snapshot

    now = timezone.now()
    pool, _ = Pool.objects.get_or_create(backend="zfs", name="tank", defaults={
        "health": "ONLINE", "size_bytes": 8 << 40, "allocated_bytes": 3 << 40, "free_bytes": 5 << 40,
        "capacity_percent": 37, "last_seen": now})
    datasets = [Dataset.objects.get_or_create(pool=pool, name=name, defaults={
        "used_bytes": 1 << 40, "available_bytes": 5 << 40, "referenced_bytes": 1 << 39,
        "mountpoint": f"/{name}", "last_seen": now})[0] for name in DATASETS]
    have = Snapshot.objects.count()
    rng = random.Random(have)
    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    snaps = []
    for i in range(have, total):
        dataset = datasets[i % len(datasets)]
        taken = epoch + timedelta(seconds=90 * i)
        short = f"autosnap_{taken:%Y-%m-%d_%H:%M:%S}_frequently"
        held = i % 100 == 0
        snaps.append(Snapshot(
            dataset=dataset, name=f"{dataset.name}@{short}", short_name=short, created_at=taken,
            used_bytes=rng.randrange(0, 1 << 32), referenced_bytes=rng.randrange(1 << 30, 1 << 40),
            holds=["keep"] if held else [], userrefs=1 if held else 0, guid=str(rng.getrandbits(63))))
    Snapshot.objects.bulk_create(snaps, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE storage_pool, storage_dataset, storage_snapshot")


# ------------------------------------------------------------------ live progress
class EventRecorder(threading.Thread):
    """Receives every job event over /ws/jobs/ (batch frames unpacked) and notes when each arrived."""

    def __init__(self, stack, key: str) -> None:
        super().__init__(daemon=True)
        from websockets.sync.client import connect

        self.ws = connect(f"{stack.ws_url}/ws/jobs/", additional_headers={"Authorization": f"Token {key}"},
                          origin=stack.base_url, open_timeout=5)
        self.events: list[tuple[float, dict]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for message in self.ws:
                now, frame = time.time(), json.loads(message)
                for event in frame["events"] if frame.get("type") == "batch" else [frame]:
                    self.events.append((now, event))
        except Exception as exc:
            self.error = exc

    def wait_end(self, job_id: int, timeout: float = 60) -> list[tuple[float, dict]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mine = [(t, e) for t, e in list(self.events) if e.get("job") == job_id]
            if mine and mine[-1][1].get("event") == "state" and mine[-1][1]["state"] not in ("queued", "running"):
                return mine
            if self.error is not None:
                raise RuntimeError(f"WebSocket closed while job {job_id} ran: {self.error!r}")
            time.sleep(0.02)
        from apps.jobs.models import Job

        row = Job.objects.filter(pk=job_id).values("kind", "state", "progress", "worker", "started", "error").first()
        seen = [e for _t, e in list(self.events) if e.get("job") == job_id]
        raise RuntimeError(f"job {job_id} did not end within {timeout} s: {len(seen)} events received "
                           f"(last {seen[-1] if seen else None}); row {row}")


def post_json(base_url: str, key: str, path: str) -> dict:
    """POST with no body (standard library client); the answer must be a 2xx JSON object."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", path, headers={"Authorization": f"Token {key}", "Content-Length": "0"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"POST {path} answered {response.status}: {body[:300]!r}")
    return json.loads(body)


def measure_progress(stack, key: str, user) -> dict:
    from apps.jobs.services import enqueue

    recorder = EventRecorder(stack, key)
    recorder.start()
    lags: list[float] = []
    first: list[float] = []
    # Each job's first event, split: the enqueue call / its return -> the worker's publish / -> the client.
    parts: list[tuple[float, float, float]] = []

    def note(sent: float, queued: float, events: list[tuple[float, dict]]) -> None:
        arrived, event = events[0]
        first.append((arrived - sent) * 1000)
        parts.append(((queued - sent) * 1000, (event["ts"] - queued) * 1000, (arrived - event["ts"]) * 1000))

    try:
        # As a running portal's are: the worker process and this process's broker connection (it enqueues
        # as the web server does) are warm before anything is measured; that first job is reported apart.
        sent = time.time()
        job = enqueue("bench.progress", user=user, params={"steps": 1, "delay": 0})
        note(sent, time.time(), recorder.wait_end(job.pk))
        cold, cold_parts = first.pop(), parts.pop()
        time.sleep(0.05)
        sent = time.time()
        job_id = post_json(stack.base_url, key, "/api/v1/system/inventory/collect/")["id"]
        queued = time.time()
        inventory = recorder.wait_end(job_id)
        note(sent, queued, inventory)
        lags += [(t - e["ts"]) * 1000 for t, e in inventory]
        bench_events = 0
        for _ in range(PROGRESS_RUNS):
            sent = time.time()
            job = enqueue("bench.progress", user=user, params={"steps": 200, "delay": 0.02})
            queued = time.time()
            events = recorder.wait_end(job.pk)
            assert events[-1][1]["state"] == "succeeded", events[-1]
            note(sent, queued, events)
            lags += [(t - e["ts"]) * 1000 for t, e in events]
            bench_events += len(events)
        for _ in range(FIRST_EVENT_RUNS):
            sent = time.time()
            job = enqueue("bench.progress", user=user, params={"steps": 1, "delay": 0})
            queued = time.time()
            note(sent, queued, recorder.wait_end(job.pk))
            time.sleep(0.05)
    finally:
        recorder.ws.close()
        recorder.join(5)
    short = parts[1 + PROGRESS_RUNS:]
    return {"lag": summary(lags), "first": summary(first), "inventory_events": len(inventory),
            "bench_events": bench_events, "cold": cold, "cold_parts": tuple(round(v, 1) for v in cold_parts), "first_parts": [tuple(round(v, 1) for v in p) for p in parts],
            "split": {name: summary([p[i] for p in short]) for i, name in
                      enumerate(("enqueue", "to_publish", "to_client"))}}


# ------------------------------------------------------------------ the bare yardstick
def prepare_bare() -> tuple[dict[int, BareServer], str | None]:
    """One seeded stackbase database per row count ({jobs, snapshots}); (servers, why not) if absent."""
    try:
        home = locate_stackbase(ROOT)
    except StackbaseMissing as exc:
        return {}, str(exc)
    log_dir = ROOT / "var" / "bench" / "log"
    servers = {}
    for rows in sorted({JOBS, SNAPSHOTS}):
        server = BareServer(home, bare_db_name(BARE_PREFIX, rows), rows, log_dir=log_dir)
        t0 = time.monotonic()
        line = server.prepare(ensure_database)
        print(f"stackbase {server.db}: {line} ({time.monotonic() - t0:.1f} s, from {home})")
        servers[rows] = server
    return servers, None


# ------------------------------------------------------------------ main
def _api_client(key: str):
    from rest_framework.test import APIClient

    client = APIClient(SERVER_NAME="localhost")  # a host the portal answers to (not the test client's own)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def prepare_database():
    """Migrate and empty the benchmark database; an administrator, four operators and the admin's token."""
    from django.core.management import call_command

    from apps.accounts.models import ApiToken, User

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "correct horse battery")
    users = [admin] + [User.objects.create_user(f"operator{i}", password="correct horse battery") for i in range(4)]
    return admin, users, ApiToken.issue(admin, "benchmark")[1]


def _terminate(signum, frame):  # SIGTERM ends the run through the finally blocks (servers stopped by PID)
    raise SystemExit(128 + signum)


def main_progress_only() -> int:
    """``--progress-only``: only the live progress part (no list pages, no yardstick), in a minute."""
    env = start_django()
    from django.conf import settings
    from django.core.management import call_command

    from apps.core.testing.live import LiveStack

    try:
        admin, _users, key = prepare_database()
        with LiveStack(env, queue=settings.CELERY_TASK_DEFAULT_QUEUE, include=["benchmarks.bench_tasks"]) as stack:
            import benchmarks.bench_tasks  # noqa: F401 - "bench.progress" for enqueue() in this process

            load_before = load1()
            progress = measure_progress(stack, key, admin)
            load_after = load1()
    finally:
        call_command("flush", verbosity=0, interactive=False)
    lag, first, split = progress["lag"], progress["first"], progress["split"]
    print("first event (enqueue, -> publish, -> client) in ms: cold", progress["cold_parts"], "then, in order:",
          progress["first_parts"])
    print(json.dumps({
        "load1_before": load_before, "load1_after": load_after,
        "progress_p50_ms": lag["p50"], "progress_p95_ms": lag["p95"], "progress_events": lag["n"],
        "enqueue_to_first_event_p50_ms": first["p50"], "enqueue_to_first_event_p95_ms": first["p95"],
        "enqueue_to_first_event_max_ms": first["max"], "cold_enqueue_to_first_event_ms": round(progress["cold"], 2),
        # The short jobs' first event, split: enqueue() returns / the worker publishes / the client has it.
        **{f"first_{part}_{stat}_ms": s[stat] for part, s in split.items() for stat in ("p50", "p95")},
    }))
    return 0


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    if "--progress-only" in sys.argv[1:]:
        return main_progress_only()
    env = start_django()
    from django.conf import settings
    from django.core.management import call_command

    from apps.core.testing.live import LiveStack

    try:
        admin, users, key = prepare_database()
        client = _api_client(key)

        started = time.monotonic()
        fill(SMALL, users)
        fill_snapshots(SMALL)
        small_urls = {"jobs_list": JOBS_URL, "jobs_filtered": f"{JOBS_URL}?state=succeeded",
                      "jobs_deep": deep_cursor_url(client, JOBS_URL, 60),
                      "snapshots_list": SNAPSHOTS_URL, "snapshots_deep": deep_cursor_url(client, SNAPSHOTS_URL, 60)}
        queries_small = count_queries(client, small_urls)
        fill(JOBS, users)
        fill_snapshots(SNAPSHOTS)
        print(f"filled {JOBS} jobs ({3 * JOBS} log lines) and {SNAPSHOTS} snapshots in "
              f"{time.monotonic() - started:.1f} s")
        urls = {"jobs_list": JOBS_URL, "jobs_filtered": f"{JOBS_URL}?state=succeeded",
                "jobs_deep": deep_cursor_url(client, JOBS_URL, int(JOBS * 0.9)),
                "snapshots_list": SNAPSHOTS_URL,
                "snapshots_deep": deep_cursor_url(client, SNAPSHOTS_URL, int(SNAPSHOTS * 0.9))}
        queries_big = count_queries(client, urls)

        bare, bare_missing = prepare_bare()
        if bare_missing:
            print(f"\n*** {bare_missing}\n*** measuring Calypso only: the ratio keys will be null\n")

        with contextlib.ExitStack() as stop_all, \
                LiveStack(env, queue=settings.CELERY_TASK_DEFAULT_QUEUE, include=["benchmarks.bench_tasks"]) as stack:
            import benchmarks.bench_tasks  # noqa: F401 - "bench.progress" for enqueue() in this process

            targets = {name: (stack.base_url, key, url) for name, url in urls.items()}
            for rows, server in bare.items():
                stop_all.enter_context(server)  # started now, stopped by PID when the block ends
                server.check()
                for page in ("cursor_first", "cursor_deep"):
                    targets[f"bare_{rows}_{page}"] = (server.base_url, server.token, server.paths[page])
            load_before = load1()
            http = measure_http_targets(targets, warmup=WARMUP, requests=REQUESTS)
            load_after = load1()
            rss = {rows: server.rss_mb() for rows, server in bare.items()}
            stop_all.close()  # the bare servers are not needed for the progress measurement
            progress = measure_progress(stack, key, admin)
    finally:
        call_command("flush", verbosity=0, interactive=False)

    report(urls, targets, http, queries_small, queries_big, bare, bare_missing, progress,
           load_before, load_after, rss)
    return 0


def report(urls, targets, http, queries_small, queries_big, bare, bare_missing, progress,
           load_before, load_after, rss) -> None:
    rows_of = {"jobs": JOBS, "snapshots": SNAPSHOTS}
    ratios: dict[str, float | None] = {}
    for name, (table, bare_page) in PAGES.items():
        ref = http.get(f"bare_{rows_of[table]}_{bare_page}")
        ratios[name] = round(http[name]["p95"] / ref["p95"], 2) if ref else None
    known = {k: v for k, v in ratios.items() if v is not None}
    worst = max(known, key=known.get) if known else None

    print(f"\nGET over HTTP keep-alive, one client (http.client), {REQUESTS} requests per URL after {WARMUP} "
          f"warm-up, interleaved rounds in random order; load average {load_before:.2f} -> {load_after:.2f}, "
          f"{os.cpu_count()} cores")
    print(f"{'page':<26}{'rows':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'bytes':>8}"
          f"{'SQL@' + str(SMALL):>8}{'SQL@full':>9}{'p95/bare':>10}  verdict")
    for name, (table, _bare_page) in PAGES.items():
        s = http[name]
        ratio = ratios[name]
        ok = s["p95"] < P95_TARGET_MS and queries_small[name] == queries_big[name] and (
            ratio is None or ratio <= RATIO_TARGET)
        why = f"p95 < {P95_TARGET_MS:.0f} ms, constant SQL" + ("" if ratio is None else f", <= {RATIO_TARGET}x bare")
        print(f"{'calypso ' + name:<26}{rows_of[table]:>8}{s['p50']:>9}{s['p95']:>9}{s['max']:>9}{s['bytes']:>8}"
              f"{queries_small[name]:>8}{queries_big[name]:>9}{'-' if ratio is None else f'{ratio:.2f}x':>10}  "
              f"{'ok' if ok else 'MISSED'} ({why})  {urls[name]}")
    for rows, server in bare.items():
        for page in ("cursor_first", "cursor_deep"):
            s = http[f"bare_{rows}_{page}"]
            print(f"{'bare ' + page:<26}{rows:>8}{s['p50']:>9}{s['p95']:>9}{s['max']:>9}{s['bytes']:>8}"
                  f"{'':>8}{server.queries[page]:>9}{'1.00x':>10}  yardstick ({server.db}, RSS {rss[rows]} MB)  "
                  f"{server.paths[page][:60]}")
    if bare_missing:
        print(f"no bare yardstick: {bare_missing}")
    else:
        print(f"worst Calypso page vs the bare cursor list at the same rows: {worst} {ratios[worst]}x "
              f"({'ok' if ratios[worst] <= RATIO_TARGET else 'MISSED'}, target <= {RATIO_TARGET}x)")

    lag, first = progress["lag"], progress["first"]
    print(f"\nJob events over /ws/jobs/ (publish in the worker -> received here), {lag['n']} events: "
          f"p50 {lag['p50']} ms, p95 {lag['p95']} ms, max {lag['max']} ms  "
          f"{'ok' if lag['p95'] < 100 else 'MISSED'} (p95 < 100 ms)")
    print(f"Enqueue -> first event ({first['n']} jobs: 1 system.hostinventory.collect, "
          f"{PROGRESS_RUNS + FIRST_EVENT_RUNS} bench.progress): p50 {first['p50']} ms, p95 {first['p95']} ms, "
          f"max {first['max']} ms  {'ok' if first['p95'] <= 20 else 'MISSED'} (p95 <= 20 ms); the stack's first "
          f"job, cold, not counted: {progress['cold']:.1f} ms")

    def bare_stat(rows: int, page: str, key: str):
        s = http.get(f"bare_{rows}_{page}")
        return s[key] if s else None

    jobs_q = ("jobs_list", "jobs_filtered", "jobs_deep")
    snap_q = ("snapshots_list", "snapshots_deep")
    print(json.dumps({
        "jobs": JOBS, "snapshots": SNAPSHOTS, "requests_per_page": REQUESTS,
        "list_p50_ms": http["jobs_list"]["p50"], "list_p95_ms": http["jobs_list"]["p95"],
        "list_max_ms": http["jobs_list"]["max"],
        "filtered_p50_ms": http["jobs_filtered"]["p50"], "filtered_p95_ms": http["jobs_filtered"]["p95"],
        "deep_page_p50_ms": http["jobs_deep"]["p50"], "deep_page_p95_ms": http["jobs_deep"]["p95"],
        # Key names kept for CI history: "10000_rows" is the count at the full BENCH_JOBS rows.
        "queries_per_request_100_rows": max(queries_small[n] for n in jobs_q),
        "queries_per_request_10000_rows": max(queries_big[n] for n in jobs_q),
        "queries_constant": all(queries_small[n] == queries_big[n] for n in jobs_q),
        "snapshot_list_p50_ms": http["snapshots_list"]["p50"], "snapshot_list_p95_ms": http["snapshots_list"]["p95"],
        "snapshot_list_max_ms": http["snapshots_list"]["max"],
        "snapshot_deep_page_p50_ms": http["snapshots_deep"]["p50"],
        "snapshot_deep_page_p95_ms": http["snapshots_deep"]["p95"],
        "snapshot_queries_per_request_100_rows": max(queries_small[n] for n in snap_q),
        "snapshot_queries_per_request_full_rows": max(queries_big[n] for n in snap_q),
        "snapshot_queries_constant": all(queries_small[n] == queries_big[n] for n in snap_q),
        # The yardstick: stackbase's /api/items-cursor/ at BENCH_JOBS rows (first page), the deep page,
        # and both at BENCH_SNAPSHOTS rows. null when stackbase is absent.
        "bare_cursor_p50_ms": bare_stat(JOBS, "cursor_first", "p50"),
        "bare_cursor_p95_ms": bare_stat(JOBS, "cursor_first", "p95"),
        "bare_cursor_deep_p95_ms": bare_stat(JOBS, "cursor_deep", "p95"),
        "bare_cursor_snapshot_rows_p95_ms": bare_stat(SNAPSHOTS, "cursor_first", "p95"),
        "bare_cursor_deep_snapshot_rows_p95_ms": bare_stat(SNAPSHOTS, "cursor_deep", "p95"),
        "bare_queries_per_request": max(bare[JOBS].queries[p] for p in ("cursor_first", "cursor_deep")) if bare else None,
        "list_ratio": ratios["jobs_list"], "filtered_ratio": ratios["jobs_filtered"],
        "deep_page_ratio": ratios["jobs_deep"], "snapshot_list_ratio": ratios["snapshots_list"],
        "snapshot_deep_page_ratio": ratios["snapshots_deep"],
        "list_vs_bare_ratio": ratios[worst] if worst else None, "list_vs_bare_worst_page": worst,
        "load1_before": load_before, "load1_after": load_after, "cores": os.cpu_count(),
        "progress_p50_ms": lag["p50"], "progress_p95_ms": lag["p95"], "progress_max_ms": lag["max"],
        "progress_events": lag["n"], "inventory_events": progress["inventory_events"],
        "enqueue_to_first_event_p50_ms": first["p50"], "enqueue_to_first_event_p95_ms": first["p95"],
        "enqueue_to_first_event_max_ms": first["max"], "cold_enqueue_to_first_event_ms": round(progress["cold"], 2),
    }))


if __name__ == "__main__":
    sys.exit(main())
