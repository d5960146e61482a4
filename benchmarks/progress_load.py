"""Live job progress under load: many jobs at once streamed to many WebSocket clients.

Run from the checkout with the portal's virtualenv: ``.venv/bin/python benchmarks/progress_load.py``.
A live uvicorn + Celery worker (``BENCH_WORKER_CONCURRENCY`` processes) serves ``/ws/jobs/``. In one run:

* control: one client, one job;
* load: ``BENCH_CLIENTS`` clients (100) on ``/ws/jobs/`` while ``BENCH_LOAD_JOBS`` jobs (20) run at once.

Before measuring, every worker process runs one short job (a running portal's workers are warm).

The benchmark's own garbage collector is paused while clients measure (a collection of this Django process
would stall every client at once and be counted as the portal's latency).

Every job is a light sleeper ("bench.progress": ``BENCH_STEPS`` steps ``BENCH_DELAY`` s apart). Latency is
taken from each event's own timestamp (``ts``, set when the worker publishes it) to its receipt by the
client, batch frames unpacked. A client "lost" a state event when it received neither that job's state
change (running, then its end state) nor a resync covering it. The last line of the output is one JSON
object (keys end with their unit).

Environment: ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/calypso_bench, created and
migrated when missing; emptied at the start and the end), ``REDIS_URL`` (redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import time
import uuid

from common import load1, setup_environment, start_django, summary

TAG = f"calypso-bench-{uuid.uuid4().hex[:8]}"
setup_environment(TAG)

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "100"))
LOAD_JOBS = int(os.environ.get("BENCH_LOAD_JOBS", "20"))
STEPS = int(os.environ.get("BENCH_STEPS", "100"))
DELAY = float(os.environ.get("BENCH_DELAY", "0.05"))
CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", str(LOAD_JOBS)))
P95_TARGET_MS = 50.0
TERMINAL = {"succeeded", "failed", "cancelled", "rolled_back"}


class Client:
    """One /ws/jobs/ connection; notes every event (batches unpacked) with the time it arrived."""

    def __init__(self) -> None:
        self.events: list[tuple[float, dict]] = []
        self.frames = 0
        self.ended_jobs: set[int] = set()
        self.error: BaseException | None = None
        self.ws = None

    async def open(self, stack, key: str) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(f"{stack.ws_url}/ws/jobs/", additional_headers={"Authorization": f"Token {key}"},
                                origin=stack.base_url, open_timeout=10, max_size=None)

    async def run(self) -> None:
        try:
            async for message in self.ws:
                now = time.time()
                frame = json.loads(message)
                self.frames += 1
                for event in frame["events"] if frame.get("type") == "batch" else [frame]:
                    self.events.append((now, event))
                    if event.get("event") == "state" and event.get("state") in TERMINAL:
                        self.ended_jobs.add(event["job"])
        except Exception as exc:  # the socket closed: what arrived until then is what counts
            self.error = exc

    def ended(self, jobs: set[int]) -> bool:
        return jobs <= self.ended_jobs


async def measure(stack, key: str, user, clients: int, jobs: int) -> dict:
    from asgiref.sync import sync_to_async

    from apps.jobs.models import Job
    from apps.jobs.services import enqueue

    conns = [Client() for _ in range(clients)]
    await asyncio.gather(*(c.open(stack, key) for c in conns))
    readers = [asyncio.create_task(c.run()) for c in conns]
    await asyncio.sleep(0.3)  # every socket joined before the first job starts

    def start() -> list[int]:
        return [enqueue("bench.progress", user=user, params={"steps": STEPS, "delay": DELAY}).pk
                for _ in range(jobs)]

    started = time.monotonic()
    ids = set(await sync_to_async(start)())
    timeout = 60 + STEPS * DELAY * max(1, jobs / CONCURRENCY) * 3
    while time.monotonic() - started < timeout:
        if all(c.ended(ids) for c in conns):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # stragglers
    elapsed = time.monotonic() - started
    for c in conns:
        await c.ws.close()
    await asyncio.gather(*readers)

    def rows() -> dict[int, str]:
        return dict(Job.objects.filter(pk__in=ids).values_list("pk", "state"))

    final = await sync_to_async(rows)()
    lags, lost, resyncs, wrong_final, per_client = [], 0, 0, 0, []
    for c in conns:
        mine = [(t, e) for t, e in c.events if e.get("job") in ids or e.get("job") is None]
        per_client.append(len(mine))
        lags += [(t - e["ts"]) * 1000 for t, e in mine if "ts" in e]
        resync_all = any(e.get("event") == "resync" and e.get("job") is None for _t, e in mine)
        resyncs += sum(1 for _t, e in mine if e.get("event") == "resync")
        for job in ids:
            states = [e["state"] for _t, e in mine if e.get("job") == job and e.get("event") == "state"]
            told = resync_all or any(e.get("event") == "resync" and e.get("job") == job for _t, e in mine)
            for expected in ("running", final[job]):
                if expected not in states and not told:
                    lost += 1
            progress = [e.get("progress") for _t, e in mine if e.get("job") == job and "progress" in e]
            if not told and final[job] == "succeeded" and (not progress or progress[-1] != 100):
                wrong_final += 1
    return {"lag": summary(lags) if lags else None, "lost": lost, "resyncs": resyncs, "wrong_final": wrong_final,
            "per_client_min": min(per_client), "per_client_max": max(per_client),
            "frames": sum(c.frames for c in conns), "events": sum(per_client), "elapsed_s": round(elapsed, 2),
            "states": sorted(set(final.values()))}


def warm_up(user, jobs: int) -> None:
    """Run ``jobs`` one-step jobs at once, so every worker process has run a job before measuring."""
    from apps.jobs.choices import TERMINAL_STATES
    from apps.jobs.models import Job
    from apps.jobs.services import enqueue

    ids = [enqueue("bench.progress", user=user, params={"steps": 1, "delay": 0.5}).pk for _ in range(jobs)]
    deadline = time.monotonic() + 60
    while Job.objects.filter(pk__in=ids).exclude(state__in=TERMINAL_STATES).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the warm-up jobs did not end within 60 s")
        time.sleep(0.1)


def prepare_database():
    from django.core.management import call_command

    from apps.accounts.models import ApiToken, User

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "correct horse battery")
    return admin, ApiToken.issue(admin, "benchmark")[1]


def _terminate(signum, frame):  # SIGTERM ends the run through the finally blocks (servers stopped by PID)
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    env = start_django()
    from django.conf import settings
    from django.core.management import call_command

    from apps.core.testing.live import LiveStack

    try:
        admin, key = prepare_database()
        with LiveStack(env, queue=settings.CELERY_TASK_DEFAULT_QUEUE, include=["benchmarks.bench_tasks"],
                       concurrency=CONCURRENCY) as stack:
            import benchmarks.bench_tasks  # noqa: F401 - "bench.progress" for enqueue() in this process

            warm_up(admin, CONCURRENCY)
            load_before = load1()
            # The clients are this one process: its own garbage collector must not pause them in the middle of
            # a burst (a full collection walks the whole Django process, tens of ms), which would be counted as
            # the portal's latency. Collected between the runs instead.
            gc.collect()
            gc.freeze()
            gc.disable()
            try:
                control = asyncio.run(measure(stack, key, admin, 1, 1))
                gc.collect()
                load = asyncio.run(measure(stack, key, admin, CLIENTS, LOAD_JOBS))
            finally:
                gc.enable()
            load_after = load1()
    finally:
        call_command("flush", verbosity=0, interactive=False)

    print(f"\nJob events over /ws/jobs/ (ts at publish in the worker -> received by the client); {STEPS} steps "
          f"{DELAY} s apart per job, worker concurrency {CONCURRENCY}; load average {load_before:.2f} -> "
          f"{load_after:.2f}, {os.cpu_count()} cores")
    print(f"{'run':<22}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'events':>9}{'frames':>9}{'ev/client min':>15}"
          f"{'lost state':>12}{'resyncs':>9}{'bad final':>11}{'seconds':>9}")
    for name, r in (("1 job x 1 client", control), (f"{LOAD_JOBS} jobs x {CLIENTS} clients", load)):
        lag = r["lag"] or {"p50": None, "p95": None, "max": None}
        print(f"{name:<22}{lag['p50']!s:>9}{lag['p95']!s:>9}{lag['max']!s:>9}{r['events']:>9}{r['frames']:>9}"
              f"{r['per_client_min']:>15}{r['lost']:>12}{r['resyncs']:>9}{r['wrong_final']:>11}{r['elapsed_s']:>9}")
    ok = load["lag"] and load["lag"]["p95"] <= P95_TARGET_MS and load["lost"] == 0
    print(f"verdict: {'ok' if ok else 'MISSED'} (load p95 <= {P95_TARGET_MS:.0f} ms, no state event lost); "
          f"job end states {load['states']}")
    print(json.dumps({
        "clients": CLIENTS, "jobs": LOAD_JOBS, "steps": STEPS, "delay_s": DELAY, "worker_concurrency": CONCURRENCY,
        "one_job_p50_ms": control["lag"]["p50"], "one_job_p95_ms": control["lag"]["p95"],
        "load_p50_ms": load["lag"]["p50"], "load_p95_ms": load["lag"]["p95"], "load_max_ms": load["lag"]["max"],
        "lost_state_events": load["lost"] + control["lost"], "wrong_final_progress": load["wrong_final"],
        "resyncs": load["resyncs"], "events_per_client_min": load["per_client_min"],
        "events_per_client_max": load["per_client_max"], "frames": load["frames"], "events": load["events"],
        "load_seconds": load["elapsed_s"], "load1_before": load_before, "load1_after": load_after,
        "cores": os.cpu_count(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
