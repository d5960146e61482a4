"""The chart API through the admin's session and a token, the Charts page and the dashboard's metrics panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.monitoring.admin import format_value
from apps.monitoring.admin.charts import forecast_row
from apps.monitoring.models import Disk, MetricPoint, MetricSeries
from apps.storage.models import Pool

pytestmark = pytest.mark.django_db
CHART = "/api/v1/monitoring/series/chart/"
CHARTS_PAGE = "/admin/monitoring/metricseries/forecast/"
__all__: list[str] = []


def seed(name: str, subject: str = "", *, raw_hours: float = 2, days: int = 30, value: float = 10.0) -> MetricSeries:
    """A series with a raw point every 30 s for ``raw_hours`` and hourly buckets for ``days`` before that."""
    now = timezone.now().replace(microsecond=0)
    raw_from = now - timedelta(hours=raw_hours)
    hour = raw_from.replace(minute=0, second=0) - timedelta(hours=1)
    series = MetricSeries.objects.create(name=name, subject=subject, last_value=value, last_time=now)
    rows = [MetricPoint(series=series, resolution=0, time=raw_from + timedelta(seconds=30 * i), avg=value + i % 7,
                        min=value + i % 7, max=value + i % 7) for i in range(int(raw_hours * 120))]
    rows += [MetricPoint(series=series, resolution=3600, time=hour - timedelta(hours=h), avg=value, min=value - 1,
                         max=value + 1, count=120) for h in range(days * 24)]
    MetricPoint.objects.bulk_create(rows)
    return series


@pytest.fixture
def cpu(db) -> MetricSeries:
    return seed("host.cpu_pct")


def _chart(client, **params) -> dict:
    answer = client.get(CHART, params)
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_resolution_follows_the_range_with_at_most_1000_points(cpu, browser_for, admin_user, token_client_for,
                                                                operator_user):
    for client in (browser_for(admin_user), token_client_for(operator_user)):  # the admin's session, a token
        hour = _chart(client, metrics="host.cpu_pct", range="1h")
        month = _chart(client, metrics="host.cpu_pct", range="30d")
        assert (hour["resolution"], month["resolution"]) == (0, 3600)
        points = hour["series"][0]["points"]
        assert 110 <= len(points) <= 121 and points[1][0] - points[0][0] == 30
        assert all(hour["start"] <= p[0] < hour["end"] for p in points)
        monthly = month["series"][0]["points"]
        assert 700 < len(monthly) <= 1000
        assert monthly[1][0] - monthly[0][0] == 3600 and monthly[-1][0] - monthly[-2][0] == 30  # then the raw tail
        assert month["series"][0] | {"points": None} == {"id": cpu.pk, "name": "host.cpu_pct", "subject": "",
                                                          "label": "CPU busy", "unit": "%", "points": None}


def test_since_returns_only_the_newer_points(cpu, browser_for, admin_user):
    client = browser_for(admin_user)
    points = _chart(client, metrics="host.cpu_pct", range="1h")["series"][0]["points"]
    since = points[-5][0]
    newer = _chart(client, metrics="host.cpu_pct", range="1h", since=since)["series"][0]["points"]
    assert newer == points[-5:]


def test_subject_all_gives_every_subject(db, browser_for, admin_user):
    seed("disk.temperature_c", "sda", days=1, value=35)
    seed("disk.temperature_c", "sdb", days=1, value=41)
    body = _chart(browser_for(admin_user), metrics="disk.temperature_c", subject="all", range="6h")
    assert [s["subject"] for s in body["series"]] == ["sda", "sdb"] and body["resolution"] == 0
    assert _chart(browser_for(admin_user), metrics="disk.temperature_c", range="6h")["series"] == []


def test_refusals(cpu, browser_for, admin_user, client_for, plain_user):
    answer = browser_for(admin_user).get(CHART, {"metrics": "host.cpu_pct,host.bogus", "range": "1h"})
    assert answer.status_code == 400 and "metrics" in answer.json()["error"]["fields"], answer.json()
    assert "host.bogus" in str(answer.json()["error"]["fields"]["metrics"])
    assert browser_for(admin_user).get(CHART, {"metrics": "host.cpu_pct", "range": "5y"}).status_code == 400
    assert client_for().get(CHART, {"metrics": "host.cpu_pct"}).status_code == 401
    # Without the view permission a read answers like the list does: only what the user may see, here nothing.
    for client in (client_for(plain_user), browser_for(plain_user)):
        answer = client.get(CHART, {"metrics": "host.cpu_pct", "range": "1h"})
        assert answer.status_code == 200 and answer.json()["series"] == []
    assert _chart(client_for(admin_user), metrics="host.cpu_pct", range="1h")["series"][0]["points"]


def _with_pool_and_disk() -> None:
    Pool.objects.create(name="tank", health="ONLINE", size_bytes=10 * 2**40, allocated_bytes=4 * 2**40,
                        capacity_percent=40)
    Disk.objects.create(name="sda", temperature_c=38)
    Disk.objects.create(name="sdb", temperature_c=45)
    for name, subject, value in (("pool.capacity_pct", "tank", 40), ("pool.read_bps", "tank", 5e6),
                                 ("disk.temperature_c", "sda", 38), ("disk.temperature_c", "sdb", 45),
                                 ("host.disk_read_bps", "", 2e6), ("host.disk_write_bps", "", 1e6)):
        seed(name, subject, days=1, value=value)


def test_charts_page_shows_the_forecast_and_a_chart_per_subject(db, browser_for, admin_user):
    _with_pool_and_disk()
    page = browser_for(admin_user).get(CHARTS_PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<title>Charts" in html and "Capacity forecast" in html and ">tank</a>" in html and "40 %" in html
    assert 'id="pool-tank"' in html and 'data-metrics="pool.read_bps,pool.write_bps" data-subject="tank"' in html
    assert 'data-subject-group="disk" data-metrics="disk.temperature_c" data-subject="sdb"' in html  # the hottest
    assert "vendor/uplot/uPlot.iife.min.js" in html and "calypso/charts.js" in html
    chosen = browser_for(admin_user).get(CHARTS_PAGE, {"disk": "sda", "range": "7d"}).content.decode()
    assert 'data-metrics="disk.temperature_c" data-subject="sda" data-range="7d"' in chosen
    listing = browser_for(admin_user).get("/admin/monitoring/metricseries/").content.decode()
    assert f'href="{CHARTS_PAGE}"' in listing and "45 °C" in listing and "1.9 MiB/s" in listing


def test_charts_page_without_data_and_for_a_user_without_the_permission(db, browser_for, admin_user, plain_user):
    page = browser_for(admin_user).get(CHARTS_PAGE)
    assert page.status_code == 200 and "No pools." in page.content.decode()
    assert 'id="disks"' not in page.content.decode()
    plain_user.is_staff = True
    plain_user.save()
    assert browser_for(plain_user).get(CHARTS_PAGE).status_code == 403


def test_dashboard_panel_embeds_the_sparklines(db, browser_for, admin_user, django_assert_max_num_queries):
    _with_pool_and_disk()
    client = browser_for(admin_user)
    html = client.get("/admin/").content.decode()
    assert 'id="calypso-metrics-data"' in html and 'id="calypso-metrics-panel"' in html
    assert 'data-series="' in html and "charts.js" in html and "40 %" in html and "2.9 MiB/s" in html
    assert html.index(">sdb</a>") < html.index(">sda</a>")  # hottest first
    assert f'href="{CHARTS_PAGE}?disk=sdb#disks"' in html


def test_dashboard_panel_without_data_and_without_permission(db, browser_for, admin_user, plain_user):
    html = browser_for(admin_user).get("/admin/").content.decode()
    assert 'id="calypso-metrics-panel"' in html and "No data yet" in html and "calypso-metrics-data" not in html
    plain_user.is_staff = True
    plain_user.save()
    assert 'id="calypso-metrics-panel"' not in browser_for(plain_user).get("/admin/").content.decode()


def test_values_and_forecast_rows_read_as_the_charts_show_them():
    assert [format_value(v, u) for v, u in ((1536, "B/s"), (3 * 2**30, "bytes"), (42.25, "%"), (38, "°C"),
                                            (0.52, ""), (None, "%"), (512, "bytes"))] == [
        "1.5 KiB/s", "3.0 GiB", "42.2 %", "38 °C", "0.5", "-", "512 B"]
    soon = (timezone.now() + timedelta(days=40)).isoformat()
    row = forecast_row({"pool": "tank", "capacity_pct": 81, "growth_bytes_per_day": 2**30,
                        "full_80_at": timezone.now().isoformat(), "full_100_at": soon})
    assert row["used"] == "81 %" and row["growth"] == "1.0 GiB per day" and row["full_80"] == "reached"
    assert row["full_100"] not in ("-", "reached")
    assert forecast_row({"pool": "x", "capacity_pct": None, "growth_bytes_per_day": None, "full_80_at": None,
                         "full_100_at": None}) | {"pool": ""} == {"pool": "", "used": "-", "growth": "-",
                                                                 "full_80": "-", "full_100": "-"}
