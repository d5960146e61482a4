"""Alert rules: defaults, threshold with a duration, growth, events, dedupe, resolution; the operator's
acknowledge, resolve and silence through the API (audited); rule validation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.monitoring.models import Alert, AlertRule, MetricPoint
from apps.monitoring.services import alerts, metrics
from apps.storage.models import Pool, StorageEvent

pytestmark = pytest.mark.django_db
BASE = "/api/v1/monitoring"


@pytest.fixture
def api(token_client_for, operator_user):
    return token_client_for(operator_user)


def _tick(now, **values) -> None:
    """One reading: pool.capacity_pct=("tank", 85) style keyword values."""
    metrics.record([(name.replace("__", "."), subject, value) for name, (subject, value) in values.items()], now)


def _states(rule_name: str) -> list[tuple[str, str]]:
    return list(Alert.objects.filter(rule__name=rule_name).order_by("pk").values_list("subject", "state"))


def test_default_rules_are_installed_and_cannot_be_deleted(api):
    assert AlertRule.objects.filter(builtin=True).count() == len(alerts.DEFAULT_RULES)
    assert alerts.install_defaults() == 0
    rule = AlertRule.objects.get(name="Pool capacity above 80 %")
    answer = api.delete(f"{BASE}/rules/{rule.pk}/")
    assert answer.status_code == 409 and "disable" in answer.json()["error"]["message"]
    assert AlertRule.objects.filter(pk=rule.pk).exists()


def test_capacity_fires_once_and_resolves():
    now = timezone.now()
    _tick(now, pool__capacity_pct=("tank", 85.0))
    result = alerts.evaluate(now)
    assert [a.subject for a in result.fired] == ["tank"]
    assert _states("Pool capacity above 80 %") == [("tank", "firing")]
    for i in range(1, 4):  # the condition holds: still one alert, nothing fires again
        _tick(now + timedelta(seconds=30 * i), pool__capacity_pct=("tank", 86.0 + i))
        assert not alerts.evaluate(now + timedelta(seconds=30 * i)).fired
    assert Alert.objects.get(rule__name="Pool capacity above 80 %").value == 89.0
    _tick(now + timedelta(minutes=3), pool__capacity_pct=("tank", 40.0))
    result = alerts.evaluate(now + timedelta(minutes=3))
    assert [a.subject for a in result.resolved] == ["tank"]
    assert _states("Pool capacity above 80 %") == [("tank", "resolved")]
    assert _states("Pool capacity above 90 %") == []


def test_for_duration_keeps_an_alert_pending_then_fires_or_ends_quietly():
    now = timezone.now()
    _tick(now, disk__temperature_c=("sda", 60.0), **{"disk__failed": ("sda", 0.0)})
    alerts.evaluate(now)
    assert _states("Disk temperature above 55 °C") == [("sda", "pending")]
    _tick(now + timedelta(minutes=5), disk__temperature_c=("sda", 61.0))
    assert not alerts.evaluate(now + timedelta(minutes=5)).fired
    _tick(now + timedelta(minutes=10), disk__temperature_c=("sda", 61.0))
    assert [a.subject for a in alerts.evaluate(now + timedelta(minutes=10)).fired] == ["sda"]
    # another disk warms up briefly: its pending alert ends without anyone being told
    _tick(now + timedelta(minutes=11), disk__temperature_c=("sdb", 58.0))
    alerts.evaluate(now + timedelta(minutes=11))
    _tick(now + timedelta(minutes=12), disk__temperature_c=("sdb", 40.0))
    result = alerts.evaluate(now + timedelta(minutes=12))
    assert not result.resolved
    assert ("sdb", "resolved") in _states("Disk temperature above 55 °C")


def test_growth_rule_sees_the_increase_within_its_window():
    now = timezone.now()
    _tick(now - timedelta(hours=30), disk__reallocated_sectors=("sda", 8.0))
    _tick(now - timedelta(hours=2), disk__reallocated_sectors=("sda", 10.0))
    _tick(now, disk__reallocated_sectors=("sda", 10.0))
    assert not alerts.evaluate(now).fired  # 8 -> 10 happened more than a day ago... but 10 is flat today
    _tick(now + timedelta(seconds=30), disk__reallocated_sectors=("sda", 12.0))
    fired = alerts.evaluate(now + timedelta(seconds=30)).fired
    assert [(a.rule.name, a.value) for a in fired] == [("Reallocated sectors growing", 2.0)]


def test_stale_series_resolve_their_alert():
    now = timezone.now()
    _tick(now, pool__capacity_pct=("gone", 95.0))
    alerts.evaluate(now)
    assert ("gone", "firing") in _states("Pool capacity above 90 %")
    alerts.evaluate(now + timedelta(minutes=10))  # no reading for 20 ticks: the pool is no longer there
    assert _states("Pool capacity above 90 %") == [("gone", "resolved")]


def test_events_count_into_one_alert_and_expire():
    now = timezone.now()
    alerts.evaluate(now)  # the watermark starts after what already happened
    pool = Pool.objects.create(name="tank", backend="zfs")
    for _ in range(3):
        StorageEvent.objects.create(pool=pool, kind="checksum_errors", severity="critical", message="sda: 3 new")
    Job.objects.create(kind="storage.scrub", state="failed", error="pool is busy", finished=now + timedelta(seconds=1))
    result = alerts.evaluate(now + timedelta(seconds=30))
    assert sorted(a.rule.name for a in result.fired) == ["Job failed", "New checksum errors"]
    alert = Alert.objects.get(rule__name="New checksum errors")
    assert (alert.subject, alert.occurrences, alert.state) == ("tank", 3, "firing")
    assert "pool is busy" in Alert.objects.get(rule__name="Job failed").message
    assert not alerts.evaluate(now + timedelta(minutes=1)).fired  # nothing new: no new alert
    alerts.evaluate(now + timedelta(days=1, minutes=1))
    assert Alert.objects.get(pk=alert.pk).state == "resolved"


def test_acknowledge_resolve_silence_through_the_api(api):
    now = timezone.now()
    _tick(now, pool__capacity_pct=("tank", 85.0))
    alerts.evaluate(now)
    alert = Alert.objects.get(rule__name="Pool capacity above 80 %")
    assert api.post(f"{BASE}/alerts/{alert.pk}/acknowledge/", {}, format="json").status_code == 200
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == ("acknowledged", "operator1")
    assert api.post(f"{BASE}/alerts/{alert.pk}/acknowledge/", {}, format="json").status_code == 409
    answer = api.post(f"{BASE}/alerts/{alert.pk}/silence/", {"minutes": 120}, format="json")
    assert answer.status_code == 200 and Alert.objects.get(pk=alert.pk).silenced
    refused = api.post(f"{BASE}/alerts/{alert.pk}/silence/", {"minutes": -1}, format="json")
    assert refused.status_code == 400 and list(refused.json()["error"]["fields"]) == ["minutes"]
    assert api.post(f"{BASE}/alerts/{alert.pk}/resolve/", {}, format="json").status_code == 200
    actions = list(AuditEvent.objects.filter(action__startswith="monitoring.alert.").values_list("action", flat=True))
    assert {"monitoring.alert.acknowledge", "monitoring.alert.silence", "monitoring.alert.resolve"} <= set(actions)
    listed = api.get(f"{BASE}/alerts/", {"state": "resolved"}).json()["results"]
    assert [a["id"] for a in listed] == [alert.pk]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "kind": "threshold", "threshold": 3}, "metric"),
    ({"name": "x", "kind": "threshold", "metric": "pool.capacity_pct"}, "threshold"),
    ({"name": "x", "kind": "threshold", "metric": "pool.capacity_pct", "threshold": False}, "threshold"),
    ({"name": "x", "kind": "threshold", "metric": "pool.capacity_pct", "threshold": "80"}, "threshold"),
    ({"name": "x", "kind": "threshold", "metric": "no.such", "threshold": 1}, "metric"),
    ({"name": "x", "kind": "event"}, "event_kind"),
    ({"name": "x", "kind": "growth", "metric": "disk.media_errors", "threshold": 0, "window_seconds": 0},
     "window_seconds"),
])
def test_bad_rules_are_refused_naming_the_field(api, body, field):
    before = AlertRule.objects.count()
    answer = api.post(f"{BASE}/rules/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()["error"]["fields"], answer.json()
    assert AlertRule.objects.count() == before


def test_an_operator_rule_on_one_subject(api):
    answer = api.post(f"{BASE}/rules/", {"name": "tank half full", "kind": "threshold", "metric": "pool.capacity_pct",
                                         "subject": "tank", "operator": "ge", "threshold": 50, "severity": "info"},
                      format="json")
    assert answer.status_code == 201, answer.json()
    now = timezone.now()
    _tick(now, pool__capacity_pct=("tank", 50.0))
    _tick(now, pool__capacity_pct=("other", 60.0))
    alerts.evaluate(now)
    assert _states("tank half full") == [("tank", "pending")] or _states("tank half full") == [("tank", "firing")]
    assert MetricPoint.objects.filter(series__subject="other").exists()
    assert not Alert.objects.filter(rule__name="tank half full", subject="other").exists()


def test_the_dashboard_lists_open_alerts_most_severe_first(browser_for, operator_user, viewer_user):
    client = browser_for(operator_user)
    assert 'data-open-alerts="0"' in client.get("/admin/").content.decode()
    now = timezone.now()
    _tick(now, pool__capacity_pct=("tank", 95.0))
    alerts.evaluate(now)
    page = client.get("/admin/").content.decode()
    panel = page[page.index('id="calypso-alerts-panel"'):]
    assert panel.index("Pool capacity above 90 %: tank") < panel.index("Pool capacity above 80 %: tank")
    assert "calypso-alerts-panel" in browser_for(viewer_user).get("/admin/").content.decode()


def test_a_backup_event_is_an_alert_about_its_task():
    now = timezone.now()
    alerts.evaluate(now)
    pool = Pool.objects.create(name="tank", backend="zfs")
    StorageEvent.objects.create(pool=pool, kind="backup_failed", severity="critical", message="nightly is overdue",
                                details={"task": 1, "overdue": True, "subject": "nightly"})
    [alert] = alerts.evaluate(now + timedelta(seconds=30)).fired
    assert (alert.rule.name, alert.subject, alert.severity) == ("Backup failed or overdue", "nightly", "critical")
