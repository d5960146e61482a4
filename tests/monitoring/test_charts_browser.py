"""The metric charts in a real browser (Debian's headless Chromium) against the live portal: the dashboard's
sparklines and the Charts page draw their points, a range button refetches, a collector tick appends the
new point live, and the console stays clean. Screenshots go to ``/tmp/calypso-shots/``."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.jobs.publish import publish
from apps.monitoring.models import Disk, MetricPoint, MetricSeries
from apps.monitoring.services import record
from apps.storage.models import Pool
from tests.jobs.test_live import live  # noqa: F401 - the live stack (uvicorn, worker) on the test database
from tests.system.test_browser import _errors, _until, browser  # noqa: F401 - headless Chromium, signed in

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
__all__: list[str] = []

SHOTS = Path("/tmp/calypso-shots")
SERIES = {("host.cpu_pct", ""): (35, 20), ("host.mem_used_pct", ""): (62, 5), ("host.load1", ""): (1.2, 0.8),
          ("host.net_rx_bps", ""): (4e6, 3e6), ("host.net_tx_bps", ""): (1.5e6, 1e6),
          ("host.disk_read_bps", ""): (8e6, 6e6), ("host.disk_write_bps", ""): (3e6, 2e6),
          ("pool.capacity_pct", "tank"): (41, 1), ("pool.read_bps", "tank"): (6e6, 4e6),
          ("pool.write_bps", "tank"): (2e6, 1.5e6), ("disk.temperature_c", "sda"): (38, 3),
          ("disk.read_bps", "sda"): (3e6, 2e6), ("disk.write_bps", "sda"): (1e6, 8e5)}


def _wave(base: float, swing: float, t: float) -> float:
    return max(0.0, base + swing * math.sin(t / 5400) + swing * 0.3 * math.sin(t / 370))


def _seed() -> None:
    """Two hours of raw points every 30 s and two days of 5-minute buckets before them, for every chart."""
    Pool.objects.create(name="tank", health="ONLINE", size_bytes=8 * 2**40, allocated_bytes=3 * 2**40,
                        capacity_percent=41)
    Disk.objects.create(name="sda", temperature_c=38)
    now = timezone.now().replace(microsecond=0)
    raw_from = now - timedelta(hours=2)
    rows = []
    for (name, subject), (base, swing) in SERIES.items():
        series = MetricSeries.objects.create(name=name, subject=subject, last_value=base, last_time=now)
        for i in range(240):
            at = raw_from + timedelta(seconds=30 * i)
            v = _wave(base, swing, at.timestamp())
            rows.append(MetricPoint(series=series, time=at, avg=v, min=v, max=v))
        bucket = raw_from.replace(minute=raw_from.minute - raw_from.minute % 5, second=0) - timedelta(minutes=5)
        for i in range(2 * 288):
            at = bucket - timedelta(minutes=5 * i)
            v = _wave(base, swing, at.timestamp())
            rows.append(MetricPoint(series=series, resolution=300, time=at, avg=v, min=v * 0.85, max=v * 1.15,
                                    count=10))
    MetricPoint.objects.bulk_create(rows, batch_size=5000)


def _shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1600, min(max(1000, height + 40), 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1600, 1000)
    print(f"screenshot: {path}")  # noqa: T201 - where a person finds it
    assert path.stat().st_size > 10_000, path
    return path


def _drawn(driver, selector: str) -> list[dict]:
    """Each chart under ``selector``: its points, canvas size and range, as the page has them now."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll(arguments[0])).map(function (el) {
          var canvas = el.querySelector('.uplot canvas');
          return {metrics: el.dataset.metrics, subject: el.dataset.subject, range: el.dataset.range,
                  points: +(el.dataset.points || 0), busy: el.hasAttribute('aria-busy'), last: +(el.dataset.lastTime || 0),
                  width: canvas ? canvas.clientWidth : 0, height: canvas ? canvas.clientHeight : 0};
        });""", selector)


def test_sparklines_and_charts_draw_refetch_and_follow_ticks(browser, live):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(live.base_url + "/admin/monitoring/metricseries/forecast/")  # nothing recorded yet
    _until("the empty charts", lambda: len(browser.find_elements(By.CSS_SELECTOR, ".calypso-chart .calypso-chart-empty"))
           == len(browser.find_elements(By.CSS_SELECTOR, ".calypso-chart")) > 0, timeout=5)
    assert browser.find_element(By.CSS_SELECTOR, ".calypso-chart-empty").text == "No data yet"
    assert not browser.find_elements(By.CSS_SELECTOR, ".uplot")
    _shot(browser, "charts-empty")

    _seed()
    browser.get(live.base_url + "/admin/")
    sparks = _until("the sparklines", lambda: (s := _drawn(browser, "#calypso-metrics-panel .calypso-spark"))
                    and all(x["width"] for x in s) and s, timeout=10)
    assert [(s["metrics"], s["subject"]) for s in sparks] == [
        ("pool.capacity_pct", "tank"), ("disk.temperature_c", "sda"), ("host.disk_read_bps,host.disk_write_bps", "")]
    assert all(s["points"] > 200 and s["width"] >= 150 and 30 <= s["height"] <= 50 for s in sparks), sparks
    values = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#calypso-metrics-panel [data-spark-value]")]
    assert values[0].endswith(" %") and values[1].endswith(" °C") and values[2].endswith("/s"), values
    _shot(browser, "dashboard")

    browser.get(live.base_url + "/admin/monitoring/metricseries/forecast/")
    charts = _until("every chart drawn", lambda: (c := _drawn(browser, ".calypso-chart"))
                    and all(x["width"] and not x["busy"] for x in c) and c, timeout=10)
    assert {(c["metrics"], c["subject"]) for c in charts} >= {
        ("host.cpu_pct", ""), ("pool.capacity_pct", "tank"), ("disk.temperature_c", "sda"),
        ("disk.temperature_c", "all"), ("host.net_rx_bps,host.net_tx_bps", "")}
    assert all(c["points"] > 200 and c["width"] > 400 and c["height"] >= 200 for c in charts), charts
    legend = browser.find_element(By.CSS_SELECTOR, '.calypso-chart[data-metrics="host.net_rx_bps,host.net_tx_bps"] '
                                                   ".u-legend").text
    assert "Network received" in legend and "Network sent" in legend
    _shot(browser, "charts")

    cpu = '.calypso-chart[data-metrics="host.cpu_pct"]'
    day = _drawn(browser, cpu)[0]["points"]
    browser.find_element(By.CSS_SELECTOR, '.calypso-range[data-range="1h"]').click()
    hour = _until("the 1 h refetch", lambda: (c := _drawn(browser, cpu)[0])["range"] == "1h" and not c["busy"]
                  and c["points"] != day and c["points"], timeout=5)
    assert 110 <= hour <= 121 < day, (hour, day)
    assert "range=1h" in browser.current_url

    tick = timezone.now()
    record([("host.cpu_pct", "", 77.0)], tick)  # a collector tick: the point, then the event on /ws/jobs/
    publish(None, {"event": "metrics", "time": tick.timestamp()})
    _until("the new point appended live", lambda: _drawn(browser, cpu)[0]["last"] == tick.timestamp(), timeout=10)
    assert abs(_drawn(browser, cpu)[0]["points"] - hour) <= 2
    _shot(browser, "charts-1h")

    narrow = _drawn(browser, cpu)[0]["width"]
    browser.find_element(By.ID, "toggle-nav-sidebar").click()  # the page widens: so do the charts
    _until("the charts to widen", lambda: _drawn(browser, cpu)[0]["width"] > narrow + 50, timeout=5)
    browser.find_element(By.ID, "toggle-nav-sidebar").click()

    browser.execute_script("localStorage.setItem('theme', 'dark')")  # Django's dark theme: axes stay readable
    browser.refresh()
    _until("the dark charts", lambda: all(c["width"] and c["points"] for c in _drawn(browser, ".calypso-chart")))
    _shot(browser, "charts-dark")
    browser.execute_script("localStorage.removeItem('theme')")
    browser.get(live.base_url + "/admin/monitoring/metricseries/")
    assert "°C" in browser.find_element(By.ID, "result_list").text
    _shot(browser, "metric-series")
    assert _errors(browser) == []
