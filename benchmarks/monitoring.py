"""Monitoring: the collector's cost per tick, a 30-day chart at the roll-ups against the same chart from raw
rows, alert evaluation over 1,000 rules, and the ``/metrics`` scrape.

Run from the checkout as root: ``.venv/bin/python benchmarks/monitoring.py``. The last line of the output is
one JSON object with the results (keys end with their unit).

- ``collector_cpu_pct``: CPU time of one collector tick (this process and the tools it runs, e.g. ``zpool
  iostat`` of a real zfs-fuse pool when zfs-fuse answers) as a share of one core over the 30 s tick.
- ``chart_30d_p95_ms``: ``BENCH_SERIES`` series with 30 days of history at the default retention (raw 48 h,
  5-minute 30 days, hourly beyond); the chart of one series over 30 days through the chart service, against
  ``chart_30d_raw_p95_ms``, the same 30 days read from 86,400 raw rows of one series (what a store without
  roll-ups reads), both in the same run.
- ``rules_eval_ms``: one evaluation pass over ``BENCH_RULES`` enabled rules (median), and its query count.
- ``scrape_p95_ms``: ``GET /metrics`` with a token through Django's test client, against
  ``api_min_p95_ms``, the cheapest authenticated API call (``GET /api/v1/auth/me/``) through the same client.

Environment: ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/calypso_bench; its metric and alert
rows are deleted), ``REDIS_URL``, ``BENCH_SERIES`` (20), ``BENCH_RULES`` (1000), ``BENCH_REPEATS`` (30).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from common import load1, pct, setup_environment, start_django, start_zfs_fuse, stop_process, zpool_answers

TAG = f"calypso-bench-{uuid.uuid4().hex[:8]}"
setup_environment(TAG)
SERIES = int(os.environ.get("BENCH_SERIES", "20"))
RULES = int(os.environ.get("BENCH_RULES", "1000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "30"))
TICK_S = 30.0


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(fn, repeats: int) -> list[float]:
    fn()  # warm up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def seed_history(now) -> tuple:
    """``SERIES`` series with 30 days at the default roll-ups, and one yardstick series of 30 days raw."""
    from apps.monitoring.models import MetricPoint, MetricSeries
    from apps.monitoring.services import metrics

    series = [MetricSeries.objects.create(name="pool.capacity_pct", subject=f"bench{i}") for i in range(SERIES)]
    rows = []
    for s in series:
        for h in range(30 * 24):
            at = now - timedelta(hours=30 * 24 - h)
            rows.append(MetricPoint(series=s, resolution=metrics.HOURLY, time=at, avg=h % 97, min=0, max=99, count=120))
        for m in range(0, 30 * 24 * 12):
            at = now - timedelta(minutes=5 * (30 * 24 * 12 - m))
            rows.append(MetricPoint(series=s, resolution=metrics.FIVE_MINUTES, time=at, avg=m % 97, min=0, max=99,
                                    count=10))
        for r in range(48 * 120):
            at = now - timedelta(seconds=30 * (48 * 120 - r))
            rows.append(MetricPoint(series=s, time=at, avg=r % 97, min=r % 97, max=r % 97))
        if len(rows) > 50_000:
            MetricPoint.objects.bulk_create(rows, batch_size=5000)
            rows = []
    raw = MetricSeries.objects.create(name="pool.capacity_pct", subject="bench-raw")
    rows += [MetricPoint(series=raw, time=now - timedelta(seconds=30 * (86_400 - r)), avg=r % 97, min=r % 97,
                         max=r % 97) for r in range(86_400)]
    MetricPoint.objects.bulk_create(rows, batch_size=5000)
    return series, raw


def measure_charts(series, raw, now) -> dict:
    from apps.monitoring.models import MetricPoint
    from apps.monitoring.services import metrics

    start = now - timedelta(days=30)

    def rolled():
        data = metrics.chart([series[0]], start, now, now=now)
        assert data["resolution"] == metrics.HOURLY and len(data["series"][0]["points"]) > 700

    def from_raw():
        points = list(MetricPoint.objects.filter(series=raw, resolution=0, time__gte=start, time__lt=now)
                      .order_by("time").values_list("time", "avg", "min", "max"))
        assert len(points) > 86_000

    rows = len(metrics.chart([series[0]], start, now, now=now)["series"][0]["points"])
    return {"chart": _timed(rolled, REPEATS), "raw": _timed(from_raw, max(5, REPEATS // 3)), "rows": rows}


def measure_rules(now) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.monitoring.models import Alert, AlertRule
    from apps.monitoring.services import alerts, metrics

    names = ["pool.capacity_pct", "disk.temperature_c", "host.cpu_pct", "dataset.used_bytes"]
    values = [(names[i % 4], f"subject{i % 200}", float(i % 100)) for i in range(800)]
    metrics.record(values, now)
    # Rules as an operator writes them: each on one subject (the defaults cover every subject).
    AlertRule.objects.bulk_create([AlertRule(name=f"bench rule {i}", kind="threshold", metric=names[i % 4],
                                             subject=f"subject{i % 200}", threshold=50 + i % 60,
                                             for_seconds=60 * (i % 3)) for i in range(RULES)])
    rules = AlertRule.objects.filter(enabled=True).count()
    alerts.evaluate(now)  # the first pass creates the alerts; later passes find nothing new
    times = _timed(lambda: alerts.evaluate(now + timedelta(seconds=30)), max(5, REPEATS // 3))
    with CaptureQueriesContext(connection) as ctx:
        alerts.evaluate(now + timedelta(seconds=30))
    return {"times": times, "rules": rules, "queries": len(ctx.captured_queries),
            "open_alerts": Alert.objects.exclude(state="resolved").count()}


def measure_collector(work: Path) -> dict:
    from apps.core.runner import LocalRunner
    from apps.monitoring.services import metrics
    from apps.storage import sync

    zfs = None
    pool = f"bench{uuid.uuid4().hex[:6]}"
    if zpool_answers() or os.geteuid() == 0:
        try:
            zfs = start_zfs_fuse()
            image = work / "pool.img"
            subprocess.run(["truncate", "-s", "256M", str(image)], check=True)
            subprocess.run(["zpool", "create", "-f", "-m", str(work / "mnt"), pool, str(image)], check=True,
                           capture_output=True)
            sync.sync_all(LocalRunner())
        except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
            print(f"no zfs-fuse pool for the collector ({exc}); host metrics only")
            pool = None
    try:
        metrics.collect()
        samples = []
        for _ in range(5):
            before = _cpu()
            start = time.perf_counter()
            points = metrics.collect()
            samples.append((_cpu() - before, time.perf_counter() - start, points))
        cpu_s = statistics.median(s[0] for s in samples)
        return {"cpu_s": cpu_s, "wall_s": statistics.median(s[1] for s in samples), "points": samples[-1][2],
                "pool": bool(pool)}
    finally:
        if pool:
            _destroy_pool(pool)
        if zfs is not None:
            stop_process(zfs)


def _destroy_pool(pool: str) -> None:
    """zfs-fuse may call a pool busy for a moment after use; a pool left behind would come back UNAVAIL (its
    image is in a deleted directory) with the next zfs-fuse start."""
    for _ in range(40):
        if subprocess.run(["zpool", "destroy", "-f", pool], capture_output=True).returncode == 0:
            return
        if subprocess.run(["zpool", "list", pool], capture_output=True).returncode != 0:
            return
        time.sleep(0.5)
    print(f"could not destroy pool {pool}: destroy it by hand (zpool destroy -f {pool})")


def measure_scrape() -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from apps.accounts.models import ApiToken

    user, _created = get_user_model().objects.get_or_create(username="bench-scraper", defaults={"is_superuser": True})
    key = ApiToken.issue(user, "bench")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_HOST="localhost")

    def scrape():
        assert client.get("/metrics").status_code == 200

    def me():
        assert client.get("/api/v1/auth/me/").status_code == 200

    return {"scrape": _timed(scrape, REPEATS), "me": _timed(me, REPEATS)}


def main() -> int:
    start_django()
    from django.core.management import call_command
    from django.utils import timezone

    from apps.monitoring.models import Alert, AlertRule, MetricPoint, MetricSeries, Watermark

    call_command("migrate", verbosity=0)
    MetricPoint.objects.all().delete()
    MetricSeries.objects.all().delete()
    Alert.objects.all().delete()
    AlertRule.objects.filter(builtin=False).delete()
    Watermark.objects.all().delete()
    now = timezone.now()
    with tempfile.TemporaryDirectory(prefix="calypso-bench-mon-") as tmp:
        collector = measure_collector(Path(tmp))
    print(f"collector: {collector['cpu_s'] * 1000:.1f} ms CPU per tick, {collector['points']} points")
    t0 = time.perf_counter()
    series, raw = seed_history(now)
    print(f"seeded {SERIES} series x 30 days and 86,400 raw rows in {time.perf_counter() - t0:.1f} s")
    charts = measure_charts(series, raw, now)
    print(f"charts: {pct(charts['chart'], 95)} ms rolled up, {pct(charts['raw'], 95)} ms raw")
    rules = measure_rules(now)
    print(f"rules: {statistics.median(rules['times']):.1f} ms, {rules['queries']} queries")
    scrape = measure_scrape()
    result = {
        "collector_cpu_pct": round(100 * collector["cpu_s"] / TICK_S, 3),
        "collector_cpu_ms": round(collector["cpu_s"] * 1000, 1),
        "collector_wall_ms": round(collector["wall_s"] * 1000, 1),
        "collector_points": collector["points"],
        "collector_with_pool": collector["pool"],
        "chart_30d_rows": charts["rows"],
        "chart_30d_p95_ms": pct(charts["chart"], 95),
        "chart_30d_raw_p95_ms": pct(charts["raw"], 95),
        "chart_ratio": round(pct(charts["raw"], 95) / max(pct(charts["chart"], 95), 0.01), 1),
        "rules": rules["rules"],
        "rules_eval_ms": round(statistics.median(rules["times"]), 1),
        "rules_eval_queries": rules["queries"],
        "open_alerts": rules["open_alerts"],
        "scrape_p95_ms": pct(scrape["scrape"], 95),
        "api_min_p95_ms": pct(scrape["me"], 95),
        "load1": load1(),
    }
    print(f"{'figure':<24}{'value':>12}")
    for key, value in result.items():
        print(f"{key:<24}{value!s:>12}")
    MetricPoint.objects.all().delete()
    MetricSeries.objects.all().delete()
    AlertRule.objects.filter(name__startswith="bench rule ").delete()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
