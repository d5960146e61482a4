"""API and progress latency of a live Calypso stack (uvicorn + Celery worker) on PostgreSQL and Redis.

Run from the checkout: ``.venv/bin/python benchmarks/api_latency.py``. The last line of the output is
one JSON object with the results (keys end with their unit).

Environment: ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/calypso_bench, created and
migrated when missing; every row in it is deleted at the start and at the end), ``REDIS_URL``
(default redis://127.0.0.1:6379/0), ``BENCH_JOBS`` (10000), ``BENCH_REQUESTS`` (300).
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import uuid
from datetime import timedelta

from common import count_queries, deep_cursor_url, ensure_database, measure_http, setup_environment, summary

TAG = f"calypso-bench-{uuid.uuid4().hex[:8]}"
setup_environment(TAG)

JOBS = int(os.environ.get("BENCH_JOBS", "10000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
WARMUP = 30
PROGRESS_RUNS = 3
KINDS = [("storage.snapshot", 30), ("storage.scrub", 10), ("storage.replicate", 15), ("backup.run", 20),
         ("shares.reload", 10), ("system.inventory", 10), ("tape.load", 5)]
STATES = [("succeeded", 80), ("failed", 9), ("cancelled", 5), ("rolled_back", 3), ("running", 2), ("queued", 1)]
TARGETS = ["tank", "tank/home", "tank/vm", "backup", "backup/offsite", "archive", "share:public", "lun:db01"]


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
    jobs = []
    for i in range(have, total):
        state = rng.choices(states, state_w)[0]
        created = now - timedelta(seconds=(total - i) * 600)
        started = created + timedelta(seconds=rng.uniform(0.01, 2))
        ended = state not in ("running", "queued")
        jobs.append(Job(
            kind=rng.choices(kinds, kind_w)[0], state=state, progress=100 if state == "succeeded" else rng.randint(0, 99),
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
                  JobLogEntry(job=job, time=job.created, level="command", message=f"$ zfs list -H -p {job.target_label}"),
                  JobLogEntry(job=job, time=job.created, level="info", message="Finished.")]
    JobLogEntry.objects.bulk_create(lines, batch_size=5000)
    with connection.cursor() as cursor:  # planner statistics, as autovacuum keeps them on a live table
        cursor.execute("VACUUM ANALYZE jobs_job, jobs_joblogentry, accounts_user")


class EventRecorder(threading.Thread):
    """Receives every job event over /ws/jobs/ and notes when each arrived."""

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
                self.events.append((time.time(), json.loads(message)))
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
        raise RuntimeError(f"job {job_id} did not end within {timeout} s")


def measure_progress(stack, key: str, user) -> dict:
    import httpx

    from apps.jobs.services import enqueue

    recorder = EventRecorder(stack, key)
    recorder.start()
    lags: list[float] = []
    first: list[float] = []
    try:
        with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Token {key}"}, timeout=10) as client:
            sent = time.time()
            response = client.post("/api/v1/system/inventory/collect/")
            response.raise_for_status()
            inventory = recorder.wait_end(response.json()["id"])
        first.append((inventory[0][0] - sent) * 1000)
        lags += [(t - e["ts"]) * 1000 for t, e in inventory]
        bench_events = 0
        for _ in range(PROGRESS_RUNS):
            sent = time.time()
            job = enqueue("bench.progress", user=user, params={"steps": 200, "delay": 0.02})
            events = recorder.wait_end(job.pk)
            assert events[-1][1]["state"] == "succeeded", events[-1]
            first.append((events[0][0] - sent) * 1000)
            lags += [(t - e["ts"]) * 1000 for t, e in events]
            bench_events += len(events)
    finally:
        recorder.ws.close()
        recorder.join(5)
    return {"lag": summary(lags), "first": summary(first), "inventory_events": len(inventory),
            "bench_events": bench_events}


def main() -> int:
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from apps.accounts.models import ApiToken, User
    from apps.core.testing.live import LiveStack

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "correct horse battery")
    users = [admin] + [User.objects.create_user(f"operator{i}", password="correct horse battery") for i in range(4)]
    key = ApiToken.issue(admin, "benchmark")[1]
    base = "/api/v1/jobs/"

    started = time.monotonic()
    fill(100, users)
    queries_small = count_queries(_api_client(key), {"list": base, "filtered": f"{base}?state=succeeded",
                                        "deep": deep_cursor_url(_api_client(key), base, 60)})
    fill(JOBS, users)
    print(f"filled {JOBS} jobs and {3 * JOBS} log lines in {time.monotonic() - started:.1f} s")
    urls = {"list": base, "filtered": f"{base}?state=succeeded",
            "deep": deep_cursor_url(_api_client(key), base, int(JOBS * 0.9))}
    queries_big = count_queries(_api_client(key), urls)

    env = {k: os.environ[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CALYPSO_DATA_DIR",
                                      "CALYPSO_QUEUE", "CALYPSO_CHANNEL_PREFIX", "CALYPSO_CACHE_PREFIX",
                                      "CALYPSO_LOG_LEVEL")}
    try:
        with LiveStack(env, queue=settings.CELERY_TASK_DEFAULT_QUEUE, include=["benchmarks.bench_tasks"]) as stack:
            import benchmarks.bench_tasks  # noqa: F401 - "bench.progress" for enqueue() in this process

            http = measure_http(stack.base_url, key, urls, warmup=WARMUP, requests=REQUESTS)
            progress = measure_progress(stack, key, admin)
    finally:
        call_command("flush", verbosity=0, interactive=False)

    targets = {"list": 30.0, "filtered": 30.0, "deep": 30.0}
    print(f"\nGET {base} over HTTP keep-alive (uvicorn, token auth, {REQUESTS} requests after {WARMUP} warm-up), {JOBS} jobs")
    print(f"{'page':<10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  {'SQL @100':>9}{'SQL @' + str(JOBS):>11}  verdict")
    for name, url in urls.items():
        s = http[name]
        ok = s["p95"] < targets[name] and queries_small[name] == queries_big[name]
        print(f"{name:<10}{s['p50']:>9}{s['p95']:>9}{s['max']:>9}  {queries_small[name]:>9}{queries_big[name]:>11}  "
              f"{'ok' if ok else 'MISSED'} (p95 < {targets[name]:.0f} ms, constant queries)  {url}")
    lag, first = progress["lag"], progress["first"]
    print(f"\nJob events over /ws/jobs/ (publish in the worker -> received here), {lag['n']} events: "
          f"p50 {lag['p50']} ms, p95 {lag['p95']} ms, max {lag['max']} ms  "
          f"{'ok' if lag['p95'] < 100 else 'MISSED'} (p95 < 100 ms)")
    print(f"Enqueue -> first event ({first['n']} jobs: 1 system.inventory, {PROGRESS_RUNS} bench.progress): "
          f"p50 {first['p50']} ms, max {first['max']} ms")
    print(json.dumps({
        "jobs": JOBS, "requests_per_page": REQUESTS,
        "list_p50_ms": http["list"]["p50"], "list_p95_ms": http["list"]["p95"], "list_max_ms": http["list"]["max"],
        "filtered_p50_ms": http["filtered"]["p50"], "filtered_p95_ms": http["filtered"]["p95"],
        "deep_page_p50_ms": http["deep"]["p50"], "deep_page_p95_ms": http["deep"]["p95"],
        "queries_per_request_100_rows": max(queries_small.values()),
        "queries_per_request_10000_rows": max(queries_big.values()),
        "queries_constant": queries_small == queries_big,
        "progress_p50_ms": lag["p50"], "progress_p95_ms": lag["p95"], "progress_max_ms": lag["max"],
        "progress_events": lag["n"], "inventory_events": progress["inventory_events"],
        "enqueue_to_first_event_p50_ms": first["p50"], "enqueue_to_first_event_max_ms": first["max"],
    }))
    return 0


def _api_client(key: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


if __name__ == "__main__":
    sys.exit(main())
