"""The dashboard's disks panel (how many disks, any failing verdict in red, the hottest drive) and metrics
panel (24-hour sparklines of each pool's capacity, the hottest disks' temperatures and the host's disk I/O).
Found and imported by the system app (every app's ``panels`` module registers its panels)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.storage.models import Pool
from apps.system.dashboard import Panel, register_panel

from .admin import format_value, health_badge, severity_badge, state_badge, temperature_text
from .choices import SEVERITY_RANK, AlertState, DiskHealth
from .models import Alert, Disk, MetricSeries
from .services import chart

__all__ = ["alerts_panel", "disks_panel", "metrics_panel"]

PANEL_ALERTS = 5  # open alerts listed on the dashboard, most severe first

HOTTEST_DISKS = 3  # temperature sparklines on the dashboard
HOST_IO = ("host.disk_read_bps", "host.disk_write_bps")


def alerts_panel(request) -> dict | None:
    if not request.user.has_perm("monitoring.view_alert"):
        return None
    alerts = Alert.objects.restrict(request.user).filter(state__in=(AlertState.FIRING, AlertState.ACKNOWLEDGED))
    recent = list(alerts.select_related("rule").order_by("-started_at")[:200])
    recent.sort(key=lambda a: (a.state != AlertState.FIRING, -SEVERITY_RANK.get(a.severity, 0)))
    shown = recent[:PANEL_ALERTS]
    return {"open_alerts": [(a, state_badge(a), severity_badge(a)) for a in shown],
            "more_alerts": (alerts.count() if len(recent) > len(shown) else len(shown)) - len(shown)}


def disks_panel(request) -> dict | None:
    if not request.user.has_perm("monitoring.view_disk"):
        return None  # left out for a user who may not see disks
    disks = list(Disk.objects.restrict(request.user).filter(gone=False))
    failing = [d for d in disks if d.health == DiskHealth.FAILED]
    hottest = max((d for d in disks if d.temperature_c is not None), key=lambda d: d.temperature_c, default=None)
    return {
        "disk_count": len(disks),
        "disks_failing": [(d, health_badge(d)) for d in failing],
        "disks_unsupported": sum(d.health == DiskHealth.UNSUPPORTED for d in disks),
        "hottest_disk": (hottest, temperature_text(hottest)) if hottest else None,
    }


register_panel(Panel("disks", "admin/monitoring/panels/disks.html", disks_panel, order=25))


def _spark(label: str, series: list[MetricSeries], href: str) -> dict:
    unit = "B/s" if series[0].name in HOST_IO else "%" if series[0].name == "pool.capacity_pct" else "°C"
    total = sum(s.last_value for s in series if s.last_value is not None) if series else None
    return {"label": label, "series": series, "ids": ",".join(str(s.pk) for s in series),
            "metrics": ",".join(s.name for s in series), "subject": series[0].subject,
            "value": format_value(total, unit), "href": href}


def metrics_panel(request) -> dict | None:
    if not request.user.has_perm("monitoring.view_metricseries"):
        return None  # left out for a user who may not see metrics
    pools = list(Pool.objects.restrict(request.user).filter(gone=False).values_list("name", flat=True))
    disks = list(Disk.objects.restrict(request.user).filter(gone=False).values_list("name", flat=True))
    rows = {(s.name, s.subject): s for s in MetricSeries.objects.filter(
        Q(name="pool.capacity_pct", subject__in=pools) | Q(name="disk.temperature_c", subject__in=disks)
        | Q(name__in=HOST_IO, subject=""))}
    hot = sorted((s for (name, _s), s in rows.items() if name == "disk.temperature_c" and s.last_value is not None),
                 key=lambda s: -s.last_value)[:HOTTEST_DISKS]
    host = [rows[name, ""] for name in HOST_IO if (name, "") in rows]
    url = reverse("admin:monitoring_metricseries_forecast")
    groups = [(_("Pool capacity"), [_spark(p, [rows[key]], f"{url}#pool-{p}") for p in sorted(pools)
                                    if (key := ("pool.capacity_pct", p)) in rows]),
              (_("Hottest disks"), [_spark(s.subject, [s], f"{url}?{urlencode({'disk': s.subject})}#disks")
                                    for s in hot]),
              (_("Host disk I/O (read + write)"), [_spark(_("all disks"), host, f"{url}#host")] if host else [])]
    groups = [(title, sparks) for title, sparks in groups if sparks]
    shown = [series for _title, sparks in groups for spark in sparks for series in spark["series"]]
    now = timezone.now()
    data = chart(shown, now - timedelta(days=1), now, now=now) if shown else None
    return {"groups": groups, "chart": data, "charts_url": url, "raw_step": int(settings.CALYPSO_METRICS_EVERY_S)}


register_panel(Panel("metrics", "admin/monitoring/panels/metrics.html", metrics_panel, order=15))
register_panel(Panel("alerts", "admin/monitoring/panels/alerts.html", alerts_panel, order=12))
