"""Metric series: the read-only list of every series with its last value, and the Charts page (the capacity
forecast of each pool, then live charts of the host, each pool and a chosen disk over a range)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin
from apps.core.operations import Operation
from apps.storage.models import Pool

from ..metrics import METRICS
from ..models import Disk, MetricSeries
from ..operations import SERIES

__all__ = ["CHART_RANGES", "MetricSeriesAdmin", "forecast_row", "format_value"]

CHART_RANGES = ("1h", "6h", "24h", "7d", "30d", "1y")  # the range buttons above the charts
BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_value(value: float | None, unit: str) -> str:
    """A metric's value as the charts show it: 1.5 MiB/s, 42 %, 38 °C."""
    if value is None:
        return "-"
    if unit in ("bytes", "B/s"):
        scaled, i = float(value), 0
        while abs(scaled) >= 1024 and i < len(BINARY) - 1:
            scaled, i = scaled / 1024, i + 1
        text = f"{scaled:.0f} {BINARY[i]}" if i == 0 or abs(scaled) >= 100 else f"{scaled:.1f} {BINARY[i]}"
        return text + ("/s" if unit == "B/s" else "")
    number = f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.1f}"
    return f"{number} {unit}".rstrip()


def _date(iso: str | None, now: datetime) -> str:
    if not iso:
        return "-"
    when = datetime.fromisoformat(iso)
    return gettext("reached") if when <= now + timedelta(minutes=1) else date_format(localtime(when), "DATE_FORMAT")


def forecast_row(row: dict) -> dict:
    """One pool's forecast as the Charts page shows it: used %, growth per day, the dates it fills up."""
    now, growth = timezone.now(), row.get("growth_bytes_per_day")
    return {"pool": row["pool"], "used": format_value(row.get("capacity_pct"), "%"),
            "growth": "-" if growth is None else format_value(growth, "bytes") + gettext(" per day"),
            "full_80": _date(row.get("full_80_at"), now), "full_100": _date(row.get("full_100_at"), now)}


def _visible_names(model, user) -> list[str]:
    return list(model.objects.restrict(user).filter(gone=False).order_by("name").values_list("name", flat=True))


@admin.register(MetricSeries)
class MetricSeriesAdmin(CalypsoModelAdmin):
    list_display = ("name", "subject", "last_value_text", "last_time")
    list_filter = ("name",)
    search_fields = ("name", "subject")
    readonly_fields = ("name", "subject", "last_value_text", "last_time")
    fields = readonly_fields
    operations = SERIES
    query_pages = {"forecast": "admin/monitoring/charts.html"}

    @admin.display(description=_("last value"), ordering="last_value")
    def last_value_text(self, obj: MetricSeries) -> str:
        metric = METRICS.get(obj.name)
        return format_value(obj.last_value, metric.unit if metric else "")

    def offered(self, request, obj=None) -> list[dict]:
        links = super().offered(request, obj)
        for link in links:
            if link["name"] == "forecast":
                link["label"] = _("Charts")
        return links

    def query_view(self, request, op: Operation):
        response = super().query_view(request, op)
        result = response.context_data.get("result") or {}
        response.context_data["forecast"] = [forecast_row(row) for row in result.get("pools", [])]
        return response

    def query_context(self, request, op: Operation) -> dict:
        """The pools and disks this user may see, the disk whose charts are shown, and the range buttons."""
        pools = _visible_names(Pool, request.user)
        disks = _visible_names(Disk, request.user)
        wanted = request.GET.get("disk", "")
        if wanted not in disks:
            hottest = (MetricSeries.objects.filter(name="disk.temperature_c", subject__in=disks,
                                                   last_value__isnull=False)
                       .order_by("-last_value").values_list("subject", flat=True).first())
            wanted = hottest or (disks[0] if disks else "")
        default_range = request.GET.get("range", "24h")
        return {"title": _("Charts"), "pools": pools, "disks": disks, "disk": wanted,
                "ranges": CHART_RANGES, "range": default_range if default_range in CHART_RANGES else "24h",
                "raw_step": int(settings.CALYPSO_METRICS_EVERY_S)}
