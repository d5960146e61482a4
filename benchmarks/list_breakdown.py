"""Where a list request spends its time: each step of one DRF list request, Calypso beside the bare stack.

Run from the checkout: ``.venv/bin/python benchmarks/list_breakdown.py``. In process, no HTTP and no
profiler: for each page it builds the request with DRF's ``APIRequestFactory`` and runs the steps of
``ListModelMixin.list`` one by one (authenticate, permissions, content negotiation, get_queryset,
filter_queryset, paginate = SQL + model instances, serialize, paginated response, JSON rendering,
returning the connection to the pool), ``BENCH_REQUESTS`` times after 30 warm-ups, and prints the
median of each step. The bare stackbase cursor list is measured the same way in a subprocess (its
own settings), at the same row counts, so the two columns can be subtracted step by step.

What it cannot show: the ASGI path (uvicorn, the middleware chain with its ``sync_to_async`` hops
under ASGI); ``api_latency.py`` measures that over HTTP.

Environment: ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/calypso_bench_breakdown;
created, migrated and filled like api_latency's; every row is deleted at the start and at the end),
``BENCH_JOBS`` (100000), ``BENCH_SNAPSHOTS`` (10000), ``BENCH_REQUESTS`` (300), ``STACKBASE_DIR``,
``BENCH_BARE_DB_PREFIX`` (as api_latency.py). The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time

BLOCK = 25  # requests per block: Calypso and bare blocks alternate, so both see the same moments of a shared box
STEPS = ("initialize_request", "authenticate", "permissions", "negotiation", "get_queryset", "filter_queryset",
         "paginate_sql_instances", "serialize", "paginated_response", "render_json", "connection_to_pool")


def time_steps(viewset_cls, path: str, auth: str, n: int, warmup: int = 0) -> dict:
    """ms of each step of ``n`` list requests (see the module docstring), the SQL and the body size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.renderers import JSONRenderer
    from rest_framework.test import APIRequestFactory

    factory = APIRequestFactory()
    times: dict[str, list[float]] = {name: [] for name in STEPS}
    queries: list[str] = []
    size = rows = 0
    for i in range(warmup + n):
        django_request = factory.get(path, HTTP_AUTHORIZATION=auth)
        view = viewset_cls(action_map={"get": "list"})
        view.action, view.args, view.kwargs, view.format_kwarg, view.headers = "list", (), {}, None, {}
        capture = CaptureQueriesContext(connection) if i == warmup + n - 1 else None
        if capture is not None:
            capture.__enter__()
        marks = [time.perf_counter()]
        request = view.initialize_request(django_request)
        view.request = request
        marks.append(time.perf_counter())
        request.user  # noqa: B018 - runs the authentication classes
        marks.append(time.perf_counter())
        view.check_permissions(request)
        marks.append(time.perf_counter())
        request.accepted_renderer, request.accepted_media_type = view.perform_content_negotiation(request)
        marks.append(time.perf_counter())
        queryset = view.get_queryset()
        marks.append(time.perf_counter())
        queryset = view.filter_queryset(queryset)
        marks.append(time.perf_counter())
        page = view.paginate_queryset(queryset)
        marks.append(time.perf_counter())
        data = view.get_serializer(page, many=True).data
        marks.append(time.perf_counter())
        response = view.get_paginated_response(data)
        marks.append(time.perf_counter())
        body = JSONRenderer().render(response.data)
        marks.append(time.perf_counter())
        if capture is not None:
            capture.__exit__(None, None, None)
            queries = [q["sql"] for q in capture.captured_queries]
        connection.close()  # as request_finished does: the connection goes back to the pool
        marks.append(time.perf_counter())
        if i >= warmup:
            for name, t0, t1 in zip(STEPS, marks[:-1], marks[1:], strict=True):
                times[name].append((t1 - t0) * 1000)
        size, rows = len(body), len(page)
    return {"times": times, "queries": len(queries), "sql": [q[:160] for q in queries], "bytes": size, "rows": rows}


def summarise(blocks: list[dict]) -> dict:
    """Medians of each step over the blocks of one page."""
    steps = {name: round(statistics.median([t for b in blocks for t in b["times"][name]]), 3) for name in STEPS}
    last = blocks[-1]
    return {"steps": steps, "total": round(sum(steps.values()), 3), "queries": last["queries"], "sql": last["sql"],
            "bytes": last["bytes"], "rows": last["rows"]}


# ------------------------------------------------------------------ bare side (a subprocess)
def bare_main() -> None:
    """``list_breakdown.py --bare``: with the stackbase settings (PYTHONPATH, SB_DB, SB_INFO set by the
    parent), answer each stdin line ``<page> <n> <warmup>`` with one JSON line of step times."""
    import django

    django.setup()
    from app.views import ItemCursorViewSet
    from rest_framework.authtoken.models import Token

    info = json.loads(os.environ["SB_INFO"])
    auth = f"Token {Token.objects.get(user__username='bench').key}"
    print("ready", flush=True)
    for line in sys.stdin:
        page, n, warmup = line.split()
        print(json.dumps(time_steps(ItemCursorViewSet, info["paths"][page], auth, int(n), int(warmup))), flush=True)


class BareWorker:
    """The bare side in its own process (its own settings), driven block by block."""

    def __init__(self, server) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, os.path.abspath(__file__), "--bare"], cwd=server.home,
            env={**server.env, "SB_INFO": json.dumps(server.info)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, start_new_session=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"bare breakdown process for {server.db} did not start ({self.proc.poll()})")

    def block(self, page: str, n: int, warmup: int) -> dict:
        self.proc.stdin.write(f"{page} {n} {warmup}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bare breakdown process exited ({self.proc.poll()})")
        return json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


# ------------------------------------------------------------------ Calypso side
def main() -> int:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/calypso_bench_breakdown")
    import api_latency as bench  # the same fills, URLs and environment as the latency benchmark
    from common import deep_cursor_url, ensure_database, load1

    n = bench.REQUESTS
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from apps.jobs.api.views import JobViewSet
    from apps.storage.api.views import SnapshotViewSet

    try:
        admin, users, key = bench.prepare_database()
        started = time.monotonic()
        bench.fill(bench.JOBS, users)
        bench.fill_snapshots(bench.SNAPSHOTS)
        print(f"filled {bench.JOBS} jobs and {bench.SNAPSHOTS} snapshots in {time.monotonic() - started:.1f} s")
        client = bench._api_client(key)
        pages = {
            "jobs_list": (JobViewSet, bench.JOBS_URL, bench.JOBS, "cursor_first"),
            "jobs_deep": (JobViewSet, deep_cursor_url(client, bench.JOBS_URL, int(bench.JOBS * 0.9)), bench.JOBS,
                          "cursor_deep"),
            "snapshots_list": (SnapshotViewSet, bench.SNAPSHOTS_URL, bench.SNAPSHOTS, "cursor_first"),
            "snapshots_deep": (SnapshotViewSet, deep_cursor_url(client, bench.SNAPSHOTS_URL,
                                                                int(bench.SNAPSHOTS * 0.9)), bench.SNAPSHOTS,
                               "cursor_deep"),
        }
        bare_workers: dict[int, BareWorker] = {}
        try:
            servers, missing = bench.prepare_bare()  # the databases only: no bare server is started here
            for rows, server in servers.items():
                bare_workers[rows] = BareWorker(server)
            load_before = load1()
            mine: dict[str, list[dict]] = {name: [] for name in pages}
            theirs: dict[tuple[int, str], list[dict]] = {(rows, page): [] for rows in bare_workers
                                                          for page in ("cursor_first", "cursor_deep")}
            warmup = 30
            for done in range(0, n, BLOCK):  # alternate blocks: every figure sees the same moments
                size = min(BLOCK, n - done)
                for name, (cls, path, _rows, _bp) in pages.items():
                    mine[name].append(time_steps(cls, path, f"Token {key}", size, warmup))
                for (rows, page), blocks in theirs.items():
                    blocks.append(bare_workers[rows].block(page, size, warmup))
                warmup = 0
            load_after = load1()
        finally:
            for worker in bare_workers.values():
                worker.stop()
    finally:
        call_command("flush", verbosity=0, interactive=False)
    home_ok = missing is None
    calypso = {name: summarise(blocks) for name, blocks in mine.items()}
    bare = {}
    for (rows, page), blocks in theirs.items():
        bare.setdefault(rows, {})[page] = summarise(blocks)

    print(f"\nMedian ms per step of one list request, in process ({n} requests after 30 warm-up, Calypso "
          f"and bare in alternating blocks of {BLOCK}); "
          f"load average {load_before:.2f} -> {load_after:.2f}")
    for name, (_cls, path, rows, bare_page) in pages.items():
        mine = calypso[name]
        ref = bare[rows][bare_page] if home_ok else None
        print(f"\n{name} ({rows} rows, {mine['bytes']} bytes, {mine['queries']} queries)  {path[:70]}")
        print(f"  {'step':<26}{'calypso':>9}{'bare':>9}{'extra':>9}")
        for step in STEPS:
            theirs = ref["steps"][step] if ref else None
            extra = "" if theirs is None else f"{mine['steps'][step] - theirs:+9.3f}"
            print(f"  {step:<26}{mine['steps'][step]:>9.3f}{'' if theirs is None else f'{theirs:9.3f}':>9}{extra}")
        total_ref = ref["total"] if ref else None
        ref_col = "" if total_ref is None else f"{total_ref:9.3f}"
        extra_col = "" if total_ref is None else f"{mine['total'] - total_ref:+9.3f}"
        print(f"  {'total':<26}{mine['total']:>9.3f}{ref_col:>9}{extra_col}")
        for sql in mine["sql"]:
            print(f"    SQL: {sql}")
    if missing:
        print(f"\nno bare yardstick: {missing}")
    print(json.dumps({
        "jobs": bench.JOBS, "snapshots": bench.SNAPSHOTS, "requests_per_page": n,
        **{f"{name}_total_ms": calypso[name]["total"] for name in pages},
        **{f"{name}_bare_total_ms": (bare[rows][bp]["total"] if home_ok else None)
           for name, (_c, _p, rows, bp) in pages.items()},
        **{f"{name}_{step}_ms": calypso[name]["steps"][step] for name in pages for step in STEPS},
        "load1_before": load_before, "load1_after": load_after,
    }))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--bare"]:
        bare_main()
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        sys.exit(main())
