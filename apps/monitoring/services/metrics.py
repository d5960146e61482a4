"""Metrics: the collector's tick (every 30 s), roll-ups and their retention, the points a chart reads, and
each pool's capacity forecast.

Points are kept at three resolutions: raw (one per tick, 48 h), 5-minute and hourly buckets (30 days and
2 years by default; ``CALYPSO_METRICS_*``). A bucket keeps the min, max, mean and count of the points it
replaces, so a 30-day chart reads ~720 hourly rows instead of 86,400 raw ones and still shows the peaks."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Avg, Count, F, Q, Sum
from django.utils import timezone

from apps.core.errors import BackendError
from apps.core.runner import Runner, get_runner
from apps.core.validators import validate_zfs_pool_name
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.jobs.publish import publish
from apps.storage.choices import Backend
from apps.storage.models import Dataset, Pool, Vdev

from ..backends.host_stats import Counters, HostStats
from ..choices import DiskHealth
from ..metrics import METRICS, RANGES
from ..models import PREDICTIVE_FIELDS, Disk, MetricPoint, MetricSeries, Watermark

__all__ = ["FIVE_MINUTES", "HOURLY", "RAW", "Bucket", "chart", "chart_query", "choose_resolution", "collect", "fit_line", "forecast", "forecasts",
           "linear_forecast", "prune", "record", "retention", "roll_up", "roll_up_points"]

log = logging.getLogger("calypso.monitoring")
RAW, FIVE_MINUTES, HOURLY = 0, 300, 3600
ROLLUPS = ((RAW, FIVE_MINUTES), (FIVE_MINUTES, HOURLY))  # (from, to)
COUNTERS_KEY = "monitoring:counters"
CHART_MAX_POINTS = 1000
CHART_MAX_SERIES = 50
UNHEALTHY = {"ONLINE": 0, "DEGRADED": 1}  # anything else (FAULTED, UNAVAIL, SUSPENDED...) is 2
DISK_METRICS = ("temperature_c", *(f for f in PREDICTIVE_FIELDS if f"disk.{f}" in METRICS))

Value = tuple[str, str, float]  # (metric, subject, value)


def retention() -> dict[int, timedelta]:
    """How long each resolution is kept."""
    return {RAW: timedelta(hours=settings.CALYPSO_METRICS_RAW_HOURS),
            FIVE_MINUTES: timedelta(days=settings.CALYPSO_METRICS_5MIN_DAYS),
            HOURLY: timedelta(days=settings.CALYPSO_METRICS_HOURLY_DAYS)}


# ---------------------------------------------------------------- writing
def _series_ids(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    names = {name for name, _subject in keys}
    known = {(n, s): pk for pk, n, s in MetricSeries.objects.filter(name__in=names).values_list("pk", "name", "subject")}
    missing = keys - known.keys()
    if missing:
        MetricSeries.objects.bulk_create([MetricSeries(name=n, subject=s) for n, s in missing], ignore_conflicts=True)
        known.update({(n, s): pk for pk, n, s in MetricSeries.objects.filter(name__in={n for n, _s in missing})
                      .values_list("pk", "name", "subject")})
    return known


def record(values: Sequence[Value], now: datetime | None = None) -> int:
    """Store one reading of ``values`` as raw points and as each series' last value; returns the count."""
    now = now or timezone.now()
    values = [(n, s, float(v)) for n, s, v in values if n in METRICS and v is not None and math.isfinite(v)]
    if not values:
        return 0
    ids = _series_ids({(n, s) for n, s, _v in values})
    with transaction.atomic():
        MetricPoint.objects.bulk_create([MetricPoint(series_id=ids[n, s], time=now, avg=v, min=v, max=v)
                                         for n, s, v in values])
        MetricSeries.objects.bulk_update([MetricSeries(pk=ids[n, s], last_value=v, last_time=now)
                                          for n, s, v in values], ["last_value", "last_time"])
    return len(values)


# ---------------------------------------------------------------- the collector
def collect(runner: Runner | None = None, now: datetime | None = None) -> int:
    """One tick: read the host, pools, datasets, disks and jobs, store the values, tell the charts."""
    runner = runner or get_runner()
    now = now or timezone.now()
    stats = HostStats(runner)
    values: list[Value] = []
    for part in (lambda: _host_values(stats, now), lambda: _pool_values(stats), _dataset_values, _disk_values,
                 lambda: _job_values(now)):
        try:
            values += part()
        except (BackendError, OSError) as exc:  # one source failing does not lose the others
            log.warning("metrics: %s", exc)
    count = record(values, now)
    publish(None, {"event": "metrics", "time": now.timestamp()})
    return count


def _rate(new: int, old: int, seconds: float) -> float | None:
    return (new - old) / seconds if new >= old else None  # a counter that went back (reboot): no rate


def _host_values(stats: HostStats, now: datetime) -> list[Value]:
    counters = stats.counters()
    values: list[Value] = [("host.load1", "", counters.load1)]
    if counters.mem_total:
        used = counters.mem_total - counters.mem_available
        values += [("host.mem_used_bytes", "", used), ("host.mem_used_pct", "", 100.0 * used / counters.mem_total)]
    previous = cache.get(COUNTERS_KEY)
    cache.set(COUNTERS_KEY, {"time": now.timestamp(), "counters": counters}, timeout=3600)
    if previous and 0 < now.timestamp() - previous["time"] < 3600:
        values += _rates(previous["counters"], counters, now.timestamp() - previous["time"])
    return values


def _rates(old: Counters, new: Counters, seconds: float) -> list[Value]:
    values: list[Value] = []
    if new.cpu_total > old.cpu_total:
        values.append(("host.cpu_pct", "", 100.0 * (new.cpu_busy - old.cpu_busy) / (new.cpu_total - old.cpu_total)))
    for prefix, host, new_map, old_map, names in (
            ("net", "host.net", new.net, old.net, ("rx_bps", "tx_bps")),
            ("disk", "host.disk", new.disks, old.disks, ("read_bps", "write_bps"))):
        totals = [0.0, 0.0]
        for subject, pair in new_map.items():
            if subject not in old_map:
                continue
            for i, name in enumerate(names):
                rate = _rate(pair[i], old_map[subject][i], seconds)
                if rate is not None:
                    values.append((f"{prefix}.{name}", subject, rate))
                    totals[i] += rate
        values += [(f"{host}_{name}", "", totals[i]) for i, name in enumerate(names)]
    return values


def _pool_values(stats: HostStats) -> list[Value]:
    pools = list(Pool.objects.filter(gone=False).values_list("backend", "name", "health", "size_bytes",
                                                              "allocated_bytes", "capacity_percent", "pk"))
    values: list[Value] = []
    for _backend, name, health, size, used, pct, _pk in pools:
        values.append(("pool.unhealthy", name, UNHEALTHY.get(health, 2)))
        if size:
            values += [("pool.size_bytes", name, size), ("pool.used_bytes", name, used or 0),
                       ("pool.capacity_pct", name, 100.0 * (used or 0) / size if used is not None else pct)]
    errors = (Vdev.objects.filter(pool__gone=False, pool__backend=Backend.BTRFS, children__isnull=True)
              .values("pool__name").annotate(n=Sum(F("read_errors") + F("write_errors") + F("checksum_errors"))))
    values += [("pool.device_errors", row["pool__name"], row["n"] or 0) for row in errors]
    zfs = [name for backend, name, *_rest in pools if backend == Backend.ZFS]
    for name in zfs:
        validate_zfs_pool_name(name)
    for name, io in stats.pool_io(zfs, settings.CALYPSO_METRICS_IOSTAT_S).items():
        values += [("pool.read_bps", name, io.read_bps), ("pool.write_bps", name, io.write_bps),
                   ("pool.read_ops", name, io.read_ops), ("pool.write_ops", name, io.write_ops)]
    return values


def _dataset_values() -> list[Value]:
    rows = Dataset.objects.filter(gone=False, used_bytes__isnull=False).values_list("name", "used_bytes")
    return [("dataset.used_bytes", name, used) for name, used in rows]


def _disk_values() -> list[Value]:
    values: list[Value] = []
    for disk in Disk.objects.filter(gone=False).only("name", "health", *DISK_METRICS):
        values.append(("disk.failed", disk.name, 1.0 if disk.health == DiskHealth.FAILED else 0.0))
        values += [(f"disk.{f}", disk.name, getattr(disk, f)) for f in DISK_METRICS
                   if getattr(disk, f) is not None]
    return values


def _job_values(now: datetime) -> list[Value]:
    states = dict(Job.objects.filter(state__in=(JobState.QUEUED, JobState.RUNNING)).values_list("state")
                  .annotate(n=Count("pk")).values_list("state", "n"))
    values: list[Value] = [("jobs.running", "", states.get(JobState.RUNNING, 0)),
                           ("jobs.queued", "", states.get(JobState.QUEUED, 0))]
    mark, _created = Watermark.objects.get_or_create(key="metrics:jobs", defaults={"time": now})
    done = Job.objects.filter(finished__gt=mark.time, finished__lte=now).aggregate(
        n=Count("pk"), failed=Count("pk", filter=Q(state=JobState.FAILED)),
        duration=Avg(F("finished") - F("started"), filter=Q(started__isnull=False)))
    values += [("jobs.finished", "", done["n"]), ("jobs.failed", "", done["failed"])]
    if done["duration"] is not None:
        values.append(("jobs.duration_s", "", done["duration"].total_seconds()))
    Watermark.objects.filter(pk=mark.pk).update(time=now)
    return values


# ---------------------------------------------------------------- roll-ups
@dataclass(frozen=True)
class Bucket:
    series_id: int
    start: float  # epoch seconds
    avg: float
    min: float
    max: float
    count: int


def _floor(epoch: float, width: int) -> float:
    return epoch - epoch % width


def roll_up_points(points: Iterable[tuple[int, float, float, float, float, int]], width: int) -> list[Bucket]:
    """Buckets of ``width`` seconds from (series, epoch, avg, min, max, count) points: min of the minima, max of
    the maxima, and the mean weighted by count, so a bucket of buckets equals the bucket of their points."""
    acc: dict[tuple[int, float], list[float]] = {}
    for series, at, avg, low, high, count in points:
        key = (series, _floor(at, width))
        a = acc.get(key)
        if a is None:
            acc[key] = [avg * count, low, high, count]
        else:
            a[0] += avg * count
            a[1], a[2], a[3] = min(a[1], low), max(a[2], high), a[3] + count
    return [Bucket(s, start, total / n, low, high, int(n)) for (s, start), (total, low, high, n) in sorted(acc.items())]


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def roll_up(now: datetime | None = None, *, chunk: timedelta = timedelta(hours=6)) -> int:
    """Turn every finished 5-minute and hourly period not yet rolled up into buckets; returns buckets written."""
    now = now or timezone.now()
    written = 0
    for source, width in ROLLUPS:
        mark, _created = Watermark.objects.get_or_create(key=f"rollup:{width}")
        end = _floor(_epoch(now), width)
        start = mark.time.timestamp() if mark.time else None
        if start is None:
            first = MetricPoint.objects.filter(resolution=source).order_by("time").values_list("time", flat=True).first()
            if first is None:
                continue
            start = _floor(_epoch(first), width)
        start = max(start, _floor(_epoch(now - retention()[source]), width))
        while start < end:
            stop = min(end, start + chunk.total_seconds())
            written += _roll_up_range(source, width, start, stop)
            start = stop
        Watermark.objects.filter(pk=mark.pk).update(time=_when(end))
    return written


def _roll_up_range(source: int, width: int, start: float, stop: float) -> int:
    rows = (MetricPoint.objects.filter(resolution=source, time__gte=_when(start), time__lt=_when(stop))
            .values_list("series_id", "time", "avg", "min", "max", "count").iterator(chunk_size=5000))
    buckets = roll_up_points(((s, _epoch(t), a, lo, hi, n) for s, t, a, lo, hi, n in rows), width)
    MetricPoint.objects.bulk_create(
        [MetricPoint(series_id=b.series_id, resolution=width, time=_when(b.start), avg=b.avg, min=b.min, max=b.max,
                     count=b.count) for b in buckets], batch_size=2000, ignore_conflicts=True)
    return len(buckets)


def prune(now: datetime | None = None) -> int:
    """Delete the points older than their resolution's retention; returns how many went."""
    now = now or timezone.now()
    return sum(MetricPoint.objects.filter(resolution=res, time__lt=now - keep).delete()[0]
               for res, keep in retention().items())


# ---------------------------------------------------------------- reading
def choose_resolution(start: datetime, end: datetime, now: datetime, max_points: int = CHART_MAX_POINTS) -> int:
    """The finest resolution that still holds ``start`` and draws the range in at most ``max_points`` points."""
    span = (end - start).total_seconds()
    keep = retention()
    for res in (RAW, FIVE_MINUTES):
        step = settings.CALYPSO_METRICS_EVERY_S if res == RAW else res
        if span / step <= max_points and start >= now - keep[res]:
            return res
    return HOURLY


def chart(series: Sequence[MetricSeries], start: datetime, end: datetime, *, now: datetime | None = None,
          max_points: int = CHART_MAX_POINTS, after: datetime | None = None) -> dict:
    """The points of ``series`` between ``start`` and ``end`` at the resolution the range needs, followed by
    the finer points of the period not yet rolled up: [[epoch, avg, min, max], ...] per series. ``after``
    keeps only the newer points (a live chart appending)."""
    now = now or timezone.now()
    resolution = choose_resolution(start, end, now, max_points)
    ids = [s.pk for s in series]
    points: dict[int, list[list[float]]] = {pk: [] for pk in ids}
    since = max(start, after) if after else start
    for res in (HOURLY, FIVE_MINUTES, RAW):
        if res > resolution:
            continue
        last = since
        rows = (MetricPoint.objects.filter(series_id__in=ids, resolution=res, time__gte=since, time__lt=end)
                .order_by("time").values_list("series_id", "time", "avg", "min", "max"))
        for pk, at, avg, low, high in rows:
            points[pk].append([at.timestamp(), avg, low, high])
            last = max(last, at + timedelta(seconds=res))
        since = last
    return {"resolution": resolution, "start": start.timestamp(), "end": end.timestamp(),
            "series": [{"id": s.pk, "name": s.name, "subject": s.subject, "label": str(METRICS[s.name].label),
                        "unit": METRICS[s.name].unit, "points": points[s.pk]} for s in series]}


def chart_query(*, actor=None, metrics: Sequence[str], subject: str = "", range: str = "24h",  # noqa: A002
                since: float | None = None) -> dict:
    """The chart of ``metrics`` (of ``subject``; "all": every subject) over the last ``range``."""
    now = timezone.now()
    queryset = MetricSeries.objects.filter(name__in=metrics)
    if actor is not None:
        queryset = queryset.restrict(actor)
    if subject != "all":
        queryset = queryset.filter(subject=subject)
    series = list(queryset.order_by("name", "subject")[:CHART_MAX_SERIES])
    after = _when(since) if since else None
    return chart(series, now - timedelta(seconds=RANGES[range]), now, now=now, after=after)


def forecasts(*, actor=None) -> dict:
    """Each pool's capacity forecast (the pools ``actor`` may see)."""
    pools = Pool.objects.filter(gone=False).order_by("name")
    if actor is not None:
        pools = pools.restrict(actor)
    return {"pools": [forecast(pool) for pool in pools]}


# ---------------------------------------------------------------- forecast
def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Least-squares line through (epoch, value) points as (slope per second, mean epoch, mean value); None for
    fewer than two distinct times."""
    n = len(points)
    if n < 2:
        return None
    mean_t = sum(t for t, _v in points) / n
    mean_v = sum(v for _t, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _v in points)
    if var == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var, mean_t, mean_v


def linear_forecast(points: Sequence[tuple[float, float]], targets: Sequence[float]) -> dict[float, float | None]:
    """For each target value the epoch the trend line of ``points`` reaches it (None when the trend is flat or
    falling, or there are too few points)."""
    line = fit_line(points)
    if line is None or line[0] <= 0:
        return dict.fromkeys(targets)
    slope, mean_t, mean_v = line
    return {target: mean_t + (target - mean_v) / slope for target in targets}


def forecast(pool: Pool, *, now: datetime | None = None) -> dict:
    """When ``pool`` reaches 80 % and 100 % at the trend of the last ``CALYPSO_FORECAST_DAYS`` days."""
    now = now or timezone.now()
    result = {"pool": pool.name, "capacity_pct": pool.capacity_percent, "growth_bytes_per_day": None,
              "full_80_at": None, "full_100_at": None}
    series = MetricSeries.objects.filter(name="pool.used_bytes", subject=pool.name).first()
    if series is None or not pool.size_bytes:
        return result
    start = now - timedelta(days=settings.CALYPSO_FORECAST_DAYS)
    data = chart([series], start, now, now=now, max_points=500)["series"][0]["points"]
    points = [(p[0], p[1]) for p in data]
    at = linear_forecast(points, (0.8 * pool.size_bytes, float(pool.size_bytes)))
    used = pool.allocated_bytes or 0
    for key, target in (("full_80_at", 0.8 * pool.size_bytes), ("full_100_at", float(pool.size_bytes))):
        when = now.timestamp() if used >= target else at[target]
        result[key] = _when(max(when, now.timestamp())).isoformat() if when is not None else None
    line = fit_line(points)
    if line is not None:
        result["growth_bytes_per_day"] = round(line[0] * 86400)
    return result
