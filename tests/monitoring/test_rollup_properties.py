"""Roll-ups, property-based: a bucket's min, max, mean and count are those of the raw points it replaces,
whether it is built from them directly, from the 5-minute buckets, or by the database pass."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.monitoring.models import MetricPoint, MetricSeries, Watermark
from apps.monitoring.services import metrics

T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
values = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
raw_points = st.lists(st.tuples(st.integers(1, 3), st.integers(0, 3 * 3600 - 1), values), min_size=1, max_size=300)


def _expected(points, width: int) -> dict:
    groups = defaultdict(list)
    for series, offset, value in points:
        groups[series, T0 + offset - (T0 + offset) % width].append(value)
    return {key: (min(v), max(v), sum(v) / len(v), len(v)) for key, v in groups.items()}


def _as_points(points):
    return [(s, T0 + offset, v, v, v, 1) for s, offset, v in points]


def _check(buckets, expected) -> None:
    assert {(b.series_id, b.start) for b in buckets} == set(expected)
    for b in buckets:
        low, high, mean, count = expected[b.series_id, b.start]
        assert (b.min, b.max, b.count) == (low, high, count)
        assert b.avg == pytest.approx(mean, rel=1e-9, abs=1e-6)


@given(raw_points, st.sampled_from([300, 3600]))
def test_a_bucket_summarises_its_raw_points(points, width):
    _check(metrics.roll_up_points(_as_points(points), width), _expected(points, width))


@given(raw_points)
def test_hourly_from_five_minute_buckets_equals_hourly_from_raw(points):
    five = metrics.roll_up_points(_as_points(points), 300)
    hourly = metrics.roll_up_points([(b.series_id, b.start, b.avg, b.min, b.max, b.count) for b in five], 3600)
    _check(hourly, _expected(points, 3600))


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw_points)
def test_the_database_pass_keeps_min_max_mean_and_count(points):
    MetricPoint.objects.all().delete()
    Watermark.objects.all().delete()
    series = {i: MetricSeries.objects.get_or_create(name="host.load1", subject=f"s{i}")[0] for i in (1, 2, 3)}
    MetricPoint.objects.bulk_create([MetricPoint(series=series[s], time=datetime.fromtimestamp(T0 + off, tz=UTC),
                                                 avg=v, min=v, max=v) for s, off, v in points])
    metrics.roll_up(datetime.fromtimestamp(T0, tz=UTC) + timedelta(hours=3))
    ids = {obj.pk: i for i, obj in series.items()}
    for width in (300, 3600):
        rows = MetricPoint.objects.filter(resolution=width)
        _check([metrics.Bucket(ids[r.series_id], r.time.timestamp(), r.avg, r.min, r.max, r.count) for r in rows],
               _expected(points, width))
