"""Alert rules and alerts: the default rules, the evaluation that runs after every metrics tick, and what an
operator does to an alert (acknowledge, resolve, silence).

Evaluation reads each series' last value (one query for every rule), the minima of the growth windows (one
query per window) and the events since the last pass; it writes only what changed. An alert is keyed by
(rule, subject), so a condition that holds for hours stays one alert: pending until the rule's duration has
passed, then firing until the condition clears (resolved) or an operator acknowledges it."""

from __future__ import annotations

import operator as op
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.resources import ResourceService
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.storage.models import StorageEvent

from ..choices import AlertState, Operator, RuleKind, Severity
from ..metrics import METRICS
from ..models import Alert, AlertRule, MetricPoint, MetricSeries, Watermark

__all__ = ["DEFAULT_RULES", "RULES", "Evaluation", "RuleService", "acknowledge", "evaluate", "install_defaults",
           "resolve", "silence", "silence_rule"]

COMPARE = {Operator.GT: op.gt, Operator.GE: op.ge, Operator.LT: op.lt, Operator.LE: op.le}
OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)
EVENTS_MARK = "alerts:events"  # the last storage event and job end the event rules have seen
ALERT_FIELDS = ("state", "value", "message", "last_seen", "fired_at", "resolved_at", "occurrences", "severity")

_T, _G, _E = RuleKind.THRESHOLD, RuleKind.GROWTH, RuleKind.EVENT
DEFAULT_RULES = (
    {"name": "Pool capacity above 80 %", "kind": _T, "metric": "pool.capacity_pct", "threshold": 80,
     "severity": Severity.WARNING},
    {"name": "Pool capacity above 90 %", "kind": _T, "metric": "pool.capacity_pct", "threshold": 90,
     "severity": Severity.CRITICAL},
    {"name": "Pool not healthy", "kind": _T, "metric": "pool.unhealthy", "operator": Operator.GE, "threshold": 1,
     "severity": Severity.CRITICAL, "description": "Degraded, faulted or unavailable: replace or online the device."},
    {"name": "Disk SMART verdict failing", "kind": _T, "metric": "disk.failed", "operator": Operator.GE,
     "threshold": 1, "severity": Severity.CRITICAL},
    {"name": "Disk temperature above 55 °C", "kind": _T, "metric": "disk.temperature_c", "threshold": 55,
     "for_seconds": 600, "severity": Severity.WARNING},
    {"name": "Reallocated sectors growing", "kind": _G, "metric": "disk.reallocated_sectors", "threshold": 0,
     "severity": Severity.WARNING},
    {"name": "Pending sectors growing", "kind": _G, "metric": "disk.pending_sectors", "threshold": 0,
     "severity": Severity.WARNING},
    {"name": "NVMe media errors growing", "kind": _G, "metric": "disk.media_errors", "threshold": 0,
     "severity": Severity.WARNING},
    {"name": "NVMe spare below 10 %", "kind": _T, "metric": "disk.available_spare", "operator": Operator.LT,
     "threshold": 10, "severity": Severity.CRITICAL},
    {"name": "Memory above 95 %", "kind": _T, "metric": "host.mem_used_pct", "threshold": 95, "for_seconds": 600,
     "severity": Severity.WARNING},
    {"name": "New checksum errors", "kind": _E, "event_kind": "checksum_errors", "severity": Severity.CRITICAL},
    {"name": "Scrub found errors", "kind": _E, "event_kind": "scrub_errors", "severity": Severity.CRITICAL},
    {"name": "Pool disappeared", "kind": _E, "event_kind": "pool_gone", "severity": Severity.CRITICAL},
    {"name": "Storage could not be read", "kind": _E, "event_kind": "sync_failed", "severity": Severity.WARNING},
    {"name": "Backup failed or overdue", "kind": _E, "event_kind": "backup_failed", "severity": Severity.CRITICAL},
    {"name": "Job failed", "kind": _E, "event_kind": "job_failed", "severity": Severity.WARNING},
)


def install_defaults() -> int:
    """Create the default rules that are missing (by name); returns how many were created."""
    existing = set(AlertRule.objects.filter(name__in=[r["name"] for r in DEFAULT_RULES]).values_list("name", flat=True))
    rules = [AlertRule(builtin=True, **rule) for rule in DEFAULT_RULES if rule["name"] not in existing]
    AlertRule.objects.bulk_create(rules, ignore_conflicts=True)
    return len(rules)


# ---------------------------------------------------------------- evaluation
@dataclass
class Evaluation:
    """What one pass changed (alerts are kept, not returned)."""

    fired: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    pending: int = 0
    rules: int = 0

    def as_dict(self) -> dict:
        return {"rules": self.rules, "fired": len(self.fired), "resolved": len(self.resolved), "pending": self.pending}


class _Pass:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.open = {(a.rule_id, a.subject): a for a in Alert.objects.filter(state__in=OPEN_STATES).select_related("rule")}
        self.new: list[Alert] = []
        self.changed: dict[int, Alert] = {}
        self.touched: list[int] = []
        self.result = Evaluation()

    def holds(self, rule: AlertRule, subject: str, value: float | None, message: str) -> None:
        alert = self.open.get((rule.pk, subject))
        if alert is None:
            firing = rule.for_seconds == 0 or rule.kind == RuleKind.EVENT
            alert = Alert(rule=rule, subject=subject, severity=rule.severity, message=message, value=value,
                          started_at=self.now, last_seen=self.now, state=AlertState.FIRING if firing else AlertState.PENDING,
                          fired_at=self.now if firing else None)
            self.open[rule.pk, subject] = alert
            self.new.append(alert)
            if firing:
                self.result.fired.append(alert)
            else:
                self.result.pending += 1
            return
        before = (alert.value, alert.message, alert.severity, alert.state, alert.occurrences)
        alert.value, alert.message, alert.last_seen, alert.severity = value, message, self.now, rule.severity
        if alert.state == AlertState.PENDING and self.now - alert.started_at >= timedelta(seconds=rule.for_seconds):
            alert.state, alert.fired_at = AlertState.FIRING, self.now
            self.result.fired.append(alert)
        if alert.pk is None:
            return
        if before == (alert.value, alert.message, alert.severity, alert.state, alert.occurrences):
            self.touched.append(alert.pk)  # only seen again: one UPDATE for all of them
        else:
            self.changed_alert(alert)

    def clears(self, alert: Alert) -> None:
        alert.state, alert.resolved_at = AlertState.RESOLVED, self.now
        if alert.fired_at is not None:  # a pending alert nobody was told of ends quietly
            self.result.resolved.append(alert)
        self.changed_alert(alert)

    def changed_alert(self, alert: Alert) -> None:
        if alert.pk is not None:
            self.changed[alert.pk] = alert

    def save(self) -> None:
        if self.new:
            Alert.objects.bulk_create(self.new)
        if self.changed:
            Alert.objects.bulk_update(list(self.changed.values()), ALERT_FIELDS, batch_size=100)
        touched = [pk for pk in self.touched if pk not in self.changed]
        if touched:
            Alert.objects.filter(pk__in=touched).update(last_seen=self.now)


def evaluate(now: datetime | None = None) -> Evaluation:
    """One pass over every enabled rule; creates, fires and resolves alerts. Passes never overlap: each holds
    the lock of the events watermark row until it commits."""
    now = now or timezone.now()
    with transaction.atomic():
        Watermark.objects.get_or_create(key=EVENTS_MARK, defaults={"position": _last_event_id(), "time": now})
        Watermark.objects.select_for_update().get(key=EVENTS_MARK)
        return _evaluate(now)


def _last_event_id() -> int:
    return StorageEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _evaluate(now: datetime) -> Evaluation:
    rules = list(AlertRule.objects.filter(enabled=True))
    work = _Pass(now)
    work.result.rules = len(rules)
    seen: set[tuple[int, str]] = set()
    _metric_rules(work, [r for r in rules if r.kind in (_T, _G)], seen)
    _event_rules(work, [r for r in rules if r.kind == _E], seen)
    enabled = {r.pk for r in rules}
    for key, alert in list(work.open.items()):
        if key in seen or alert.state == AlertState.RESOLVED:
            continue
        expired = alert.rule.kind == _E and now - alert.last_seen >= timedelta(seconds=alert.rule.window_seconds)
        if alert.rule_id not in enabled or alert.rule.kind != _E or expired:
            work.clears(alert)
    work.save()
    return work.result


def _metric_rules(work: _Pass, rules: list[AlertRule], seen: set) -> None:
    if not rules:
        return
    fresh = work.now - timedelta(seconds=settings.CALYPSO_METRICS_EVERY_S * settings.CALYPSO_ALERT_STALE_TICKS)
    by_metric: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for pk, name, subject, value in (MetricSeries.objects.filter(name__in={r.metric for r in rules}, last_time__gte=fresh,
                                                                   last_value__isnull=False)
                                     .values_list("pk", "name", "subject", "last_value")):
        by_metric[name].append((pk, subject, value))
    by_subject = {(name, subject): (pk, subject, value) for name, rows in by_metric.items()
                  for pk, subject, value in rows}
    minima = _growth_minima(work.now, [r for r in rules if r.kind == _G])
    for rule in rules:
        compare = COMPARE[rule.operator]
        if rule.subject:  # a rule on one subject looks at one series
            one = by_subject.get((rule.metric, rule.subject))
            candidates = (one,) if one else ()
        else:
            candidates = by_metric.get(rule.metric, ())
        for pk, subject, value in candidates:
            measured = value - minima[rule.window_seconds].get(pk, value) if rule.kind == _G else value
            if compare(measured, rule.threshold):
                seen.add((rule.pk, subject))
                work.holds(rule, subject, measured, _metric_message(rule, subject, measured))


def _growth_minima(now: datetime, rules: list[AlertRule]) -> dict[int, dict[int, float]]:
    """Window -> series -> the lowest value seen in it (roll-ups keep their minima, so every resolution counts)."""
    out: dict[int, dict[int, float]] = {}
    for window in {r.window_seconds for r in rules}:
        metrics = {r.metric for r in rules if r.window_seconds == window}
        rows = (MetricPoint.objects.filter(series__name__in=metrics, time__gte=now - timedelta(seconds=window))
                .values("series_id").annotate(low=Min("min")).values_list("series_id", "low"))
        out[window] = dict(rows)
    return out


def _metric_message(rule: AlertRule, subject: str, value: float) -> str:
    metric = METRICS[rule.metric]
    where = f"{subject}: " if subject else ""
    unit = f" {metric.unit}" if metric.unit else ""
    if rule.kind == _G:
        return _("%(where)s%(label)s grew by %(value)g within %(window)s s") % {
            "where": where, "label": metric.label, "value": round(value, 2), "window": rule.window_seconds}
    return _("%(where)s%(label)s is %(value)g%(unit)s (%(op)s %(threshold)g)") % {
        "where": where, "label": metric.label, "value": round(value, 2), "unit": unit,
        "op": rule.get_operator_display(), "threshold": rule.threshold}


def _event_rules(work: _Pass, rules: list[AlertRule], seen: set) -> None:
    """Storage events and failed jobs since the last pass, each counted into its rule's alert."""
    mark = Watermark.objects.get(key=EVENTS_MARK)
    kinds = defaultdict(list)
    for rule in rules:
        kinds[rule.event_kind].append(rule)
    events = list(StorageEvent.objects.filter(pk__gt=mark.position).select_related("pool").order_by("pk"))
    last_event = events[-1].pk if events else mark.position
    for event in events:
        details = event.details if isinstance(event.details, dict) else {}
        subject = details.get("subject") or (event.pool.name if event.pool else "")  # a backup task, else the pool
        _count_event(work, kinds.get(event.kind, ()), str(subject)[:255], event.message, seen)
    if kinds.get("job_failed"):
        for job in Job.objects.filter(state=JobState.FAILED, finished__gt=mark.time, finished__lte=work.now):
            subject = f"{job.kind} {job.target_label}".strip()[:255]
            _count_event(work, kinds["job_failed"], subject, _("Job #%(id)s %(kind)s failed: %(error)s") % {
                "id": job.pk, "kind": job.kind, "error": (job.error or "")[:500]}, seen)
    Watermark.objects.filter(pk=mark.pk).update(position=last_event, time=work.now)


def _count_event(work: _Pass, rules, subject: str, message: str, seen: set) -> None:
    for rule in rules:
        if rule.subject and rule.subject != subject:
            continue
        alert = work.open.get((rule.pk, subject))
        seen.add((rule.pk, subject))
        work.holds(rule, subject, None, message)
        if alert is not None:
            alert.occurrences += 1
            if alert.state == AlertState.ACKNOWLEDGED:  # it happened again: someone has to look again
                alert.state = AlertState.FIRING
            work.changed_alert(alert)


# ---------------------------------------------------------------- operator actions
def acknowledge(alert: Alert, *, actor=None) -> Alert:
    """Someone is on it: channels are told once, the alert stays until its condition clears."""
    if alert.state != AlertState.FIRING:
        raise ServiceError("not_firing", _("Only a firing alert can be acknowledged; this one is %(state)s.")
                           % {"state": alert.get_state_display()})
    alert.state, alert.acknowledged_at = AlertState.ACKNOWLEDGED, timezone.now()
    alert.acknowledged_by = getattr(actor, "username", "") or ""
    alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "updated"])
    return alert


def resolve(alert: Alert, *, actor=None) -> Alert:
    """Close the alert by hand (an event alert, or a condition fixed before the next pass sees it)."""
    if alert.state == AlertState.RESOLVED:
        raise ServiceError("resolved", _("The alert is already resolved."))
    alert.state, alert.resolved_at = AlertState.RESOLVED, timezone.now()
    alert.save(update_fields=["state", "resolved_at", "updated"])
    return alert


def _until(minutes: int) -> datetime | None:
    return timezone.now() + timedelta(minutes=minutes) if minutes else None


def silence(alert: Alert, *, actor=None, minutes: int) -> Alert:
    """No notifications about this alert for ``minutes`` (0 lifts the silence)."""
    alert.silenced_until = _until(minutes)
    alert.save(update_fields=["silenced_until", "updated"])
    return alert


def silence_rule(rule: AlertRule, *, actor=None, minutes: int) -> AlertRule:
    """No notifications about any alert of this rule for ``minutes`` (0 lifts the silence)."""
    rule.silenced_until = _until(minutes)
    rule.save(update_fields=["silenced_until", "updated"])
    return rule


class RuleService(ResourceService[AlertRule]):
    model = AlertRule
    fields = ("name", "enabled", "kind", "metric", "subject", "operator", "threshold", "for_seconds",
              "window_seconds", "event_kind", "severity", "description")

    def retire(self, obj: AlertRule) -> None:
        if obj.builtin:
            raise ServiceError("builtin", _("A default rule cannot be deleted; disable it instead."))


RULES = RuleService()
