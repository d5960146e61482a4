"""Metrics: the /proc and zpool iostat parsers on recorded real outputs, the collector's tick, roll-ups,
retention, the chart's resolution and stitching, and the capacity forecast."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.cache import cache

from apps.core.errors import ParseError
from apps.jobs.models import Job
from apps.monitoring.backends.host_stats import (
    HostStats,
    parse_diskstats,
    parse_net_dev,
    parse_proc_stat,
    parse_zpool_iostat,
)
from apps.monitoring.models import Disk, MetricPoint, MetricSeries
from apps.monitoring.services import metrics
from apps.storage.models import Dataset, Pool

from .recordings import FIXTURES, recorded

PROC = FIXTURES / "proc"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_proc_parsers_read_the_recorded_host():
    busy, total = parse_proc_stat((PROC / "stat").read_text())
    assert 0 < busy < total
    assert "lo" not in parse_net_dev((PROC / "net" / "dev").read_text())
    disks = parse_diskstats((PROC / "diskstats").read_text())
    assert "vda" in disks and not any(name.startswith(("loop", "vda1")) for name in disks)
    assert all(read >= 0 and written >= 0 for read, written in disks.values())


def test_zpool_iostat_takes_the_interval_row():
    io = parse_zpool_iostat(recorded("zpool-iostat-zfs-fuse.txt").split("\n", 1)[1], ["ztest"])["ztest"]
    assert io.write_ops == round(3.27 * 1024) and io.write_bps == round(49.4 * 1024**2)
    assert io.read_ops == 0 and io.read_bps == 0


@pytest.mark.parametrize("text", ["cpu  x y z\n", "", "intr 1 2\n"])
def test_proc_stat_garbage_is_a_parse_error(text):
    with pytest.raises(ParseError):
        parse_proc_stat(text)


def _counters_dir(tmp_path: Path, busy_add: int, rx_add: int) -> Path:
    """A copy of the recorded /proc with the CPU busy and eth0 received counters moved forward."""
    proc = tmp_path / f"proc{busy_add}"
    shutil.copytree(PROC, proc)
    stat = (proc / "stat").read_text().splitlines()
    fields = stat[0].split()
    fields[1] = str(int(fields[1]) + busy_add)  # user
    fields[4] = str(int(fields[4]) + busy_add // 3)  # idle
    stat[0] = " ".join(fields)
    (proc / "stat").write_text("\n".join(stat) + "\n")
    dev = (proc / "net" / "dev").read_text().splitlines()
    dev.append(f"  eth9: {1000 + rx_add} 10 0 0 0 0 0 0 500 5 0 0 0 0 0 0")
    (proc / "net" / "dev").write_text("\n".join(dev) + "\n")
    return proc


@pytest.mark.django_db
def test_collect_turns_counters_into_rates(tmp_path, replay, monkeypatch):
    cache.delete(metrics.COUNTERS_KEY)
    Pool.objects.create(name="tank", backend="zfs", health="DEGRADED", size_bytes=1000, allocated_bytes=850)
    Dataset.objects.create(pool=Pool.objects.get(name="tank"), name="tank/data", used_bytes=600)
    Disk.objects.create(name="sda", path="/dev/sda", health="failed", temperature_c=41, reallocated_sectors=3)
    replay.add(["zpool", "iostat", "tank", "1", "2"],
               stdout=recorded("zpool-iostat-zfs-fuse.txt").split("\n", 1)[1].replace("ztest", "tank"))
    replay.add(["zpool", "iostat", "tank", "1", "2"],
               stdout=recorded("zpool-iostat-zfs-fuse.txt").split("\n", 1)[1].replace("ztest", "tank"))
    procs = iter([_counters_dir(tmp_path, 0, 0), _counters_dir(tmp_path, 300, 30_000)])
    monkeypatch.setattr(HostStats, "_read", lambda self, name: (self._proc / name).read_text())
    monkeypatch.setattr(metrics, "HostStats", lambda runner: HostStats(runner, next(procs)))
    metrics.collect(now=T0)
    assert not MetricSeries.objects.filter(name="host.cpu_pct").exists()  # one reading: no rate yet
    metrics.collect(now=T0 + timedelta(seconds=30))
    last = dict(((n, s), v) for n, s, v in MetricSeries.objects.values_list("name", "subject", "last_value"))
    assert last["host.cpu_pct", ""] == pytest.approx(75.0)  # 300 busy of 400 jiffies
    assert last["net.rx_bps", "eth9"] == pytest.approx(1000.0)
    assert last["pool.capacity_pct", "tank"] == 85.0 and last["pool.unhealthy", "tank"] == 1
    assert last["pool.write_bps", "tank"] == round(49.4 * 1024**2)
    assert last["dataset.used_bytes", "tank/data"] == 600
    assert (last["disk.failed", "sda"], last["disk.temperature_c", "sda"], last["disk.reallocated_sectors", "sda"]) \
        == (1, 41, 3)
    assert MetricPoint.objects.filter(series__name="host.load1", resolution=0).count() == 2


@pytest.mark.django_db
def test_job_metrics_count_each_finished_job_once():
    metrics._job_values(T0)
    Job.objects.create(kind="storage.scrub", state="failed", started=T0, finished=T0 + timedelta(seconds=20))
    Job.objects.create(kind="storage.scrub", state="succeeded", started=T0, finished=T0 + timedelta(seconds=40))
    first = dict(((n, v) for n, _s, v in metrics._job_values(T0 + timedelta(seconds=60))))
    assert (first["jobs.finished"], first["jobs.failed"], first["jobs.duration_s"]) == (2, 1, 30.0)
    again = dict(((n, v) for n, _s, v in metrics._job_values(T0 + timedelta(seconds=90))))
    assert (again["jobs.finished"], again["jobs.failed"]) == (0, 0) and "jobs.duration_s" not in again


def _raw(series: MetricSeries, start: datetime, values: list[float], step: int = 30) -> None:
    MetricPoint.objects.bulk_create([MetricPoint(series=series, time=start + timedelta(seconds=i * step), avg=v,
                                                 min=v, max=v) for i, v in enumerate(values)])


@pytest.mark.django_db
def test_roll_up_writes_finished_buckets_once_and_prune_keeps_retention():
    series = MetricSeries.objects.create(name="host.cpu_pct")
    _raw(series, T0, [float(i % 17) for i in range(240)])  # two hours at 30 s
    assert metrics.roll_up(T0 + timedelta(hours=2)) == 24 + 2
    assert metrics.roll_up(T0 + timedelta(hours=2)) == 0  # nothing finished since
    five = list(MetricPoint.objects.filter(resolution=300).order_by("time"))
    assert len(five) == 24 and all(b.count == 10 for b in five)
    assert five[0].max == 9 and five[0].min == 0
    hourly = MetricPoint.objects.filter(resolution=3600).order_by("time").first()
    assert hourly.count == 120 and hourly.min == 0 and hourly.max == 16
    assert metrics.prune(T0 + timedelta(hours=50)) == 240  # raw past 48 h goes, roll-ups stay
    assert MetricPoint.objects.filter(resolution__gt=0).count() == 26


def test_resolution_follows_the_range(settings):
    now = T0 + timedelta(days=400)
    assert metrics.choose_resolution(now - timedelta(hours=1), now, now) == metrics.RAW
    assert metrics.choose_resolution(now - timedelta(days=1), now, now) == metrics.FIVE_MINUTES
    assert metrics.choose_resolution(now - timedelta(days=30), now, now) == metrics.HOURLY


@pytest.mark.django_db
def test_chart_reads_rollups_then_the_finer_tail():
    series = MetricSeries.objects.create(name="pool.capacity_pct", subject="tank")
    now = T0 + timedelta(days=30)
    MetricPoint.objects.bulk_create([MetricPoint(series=series, resolution=3600, time=T0 + timedelta(hours=h),
                                                 avg=h, min=h, max=h, count=120) for h in range(30 * 24 - 1)])
    last_hour = T0 + timedelta(hours=30 * 24 - 1)
    MetricPoint.objects.bulk_create([MetricPoint(series=series, resolution=300, time=last_hour + timedelta(minutes=5 * i),
                                                 avg=1, min=1, max=1, count=10) for i in range(11)])
    _raw(series, last_hour + timedelta(minutes=55), [2.0] * 10)
    data = metrics.chart([series], now - timedelta(days=30), now, now=now)
    points = data["series"][0]["points"]
    assert data["resolution"] == 3600 and len(points) == 30 * 24 - 1 + 11 + 10
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    newer = metrics.chart([series], now - timedelta(days=30), now, now=now, after=now - timedelta(minutes=2))
    assert len(newer["series"][0]["points"]) == 4


def test_linear_forecast():
    day = 86400.0
    at = metrics.linear_forecast([(0, 10.0), (day, 20.0), (2 * day, 30.0)], (80.0, 100.0))
    assert at[80.0] == pytest.approx(7 * day) and at[100.0] == pytest.approx(9 * day)
    assert metrics.linear_forecast([(0, 30.0), (day, 20.0)], (80.0,)) == {80.0: None}
    assert metrics.linear_forecast([(0, 30.0)], (80.0,)) == {80.0: None}


@pytest.mark.django_db
def test_pool_forecast_from_its_used_bytes():
    now = T0 + timedelta(days=10)
    pool = Pool.objects.create(name="tank", backend="zfs", size_bytes=1000, allocated_bytes=500, capacity_percent=50)
    series = MetricSeries.objects.create(name="pool.used_bytes", subject="tank")
    MetricPoint.objects.bulk_create([MetricPoint(series=series, resolution=3600, time=T0 + timedelta(hours=h),
                                                 avg=260 + h, min=260 + h, max=260 + h, count=120)
                                     for h in range(240)])
    result = metrics.forecast(pool, now=now)
    assert result["growth_bytes_per_day"] == 24
    reaches_80 = datetime.fromisoformat(result["full_80_at"])
    assert reaches_80 - (T0 + timedelta(hours=540)) < timedelta(minutes=1)
    pool.allocated_bytes = 900
    assert datetime.fromisoformat(metrics.forecast(pool, now=now)["full_80_at"]) == now  # already past 80 %
