"""Disks: the list with health badges and temperatures; the disk page with its attribute table, self-test
log and recent samples, and links to run a short or long self-test."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge
from apps.core.validators import format_size

from ..choices import HEALTH_COLORS
from ..models import Disk
from ..operations import DISK

__all__ = ["DiskAdmin", "health_badge", "temperature_text"]

HOT_C, CRITICAL_C = 50, 60  # drive temperatures shown orange / red


def health_badge(disk: Disk) -> str:
    return badge(disk.get_health_display(), HEALTH_COLORS.get(disk.health, "grey"))


def temperature_text(disk: Disk) -> str:
    if disk.temperature_c is None:
        return "-"
    color = "red" if disk.temperature_c >= CRITICAL_C else "orange" if disk.temperature_c >= HOT_C else ""
    return badge(f"{disk.temperature_c} °C", color) if color else format_html("{} °C", disk.temperature_c)


@admin.register(Disk)
class DiskAdmin(CalypsoModelAdmin):
    list_display = ("name", "model", "serial", "size", "protocol", "health_column", "temperature", "power_on_hours",
                    "pool", "in_use", "last_checked", "gone")
    list_filter = ("health", "smart_supported", "protocol", "gone")
    search_fields = ("name", "model", "serial", "pool")
    readonly_fields = ("name", "path", "model", "serial", "wwn", "size", "rotational", "transport", "protocol",
                       "smart_supported", "smart_enabled", "health_column", "temperature", "power_on_hours",
                       "reallocated_sectors", "pending_sectors", "offline_uncorrectable", "udma_crc_errors",
                       "media_errors", "percentage_used", "available_spare", "grown_defects", "uncorrected_errors",
                       "self_test_status", "self_test_remaining_percent", "in_use", "pool", "messages",
                       "last_checked", "last_error", "gone")
    fieldsets = (
        (None, {"fields": ("name", "path", "model", "serial", "wwn", "size", "rotational", "transport", "protocol",
                           "pool", "in_use", "gone")}),
        (_("Health"), {"fields": ("smart_supported", "smart_enabled", "health_column", "temperature",
                                  "power_on_hours", "self_test_status", "self_test_remaining_percent",
                                  "last_checked", "last_error", "messages")}),
        (_("Predictive values"), {"fields": ("reallocated_sectors", "pending_sectors", "offline_uncorrectable",
                                             "udma_crc_errors", "media_errors", "percentage_used", "available_spare",
                                             "grown_defects", "uncorrected_errors")}),
    )
    change_form_template = "admin/monitoring/disk/change_form.html"
    operations = DISK
    row_operations = False

    @admin.display(description=_("health"), ordering="health")
    def health_column(self, obj):
        return health_badge(obj)

    @admin.display(description=_("temperature"), ordering="temperature_c")
    def temperature(self, obj):
        return temperature_text(obj)

    @admin.display(description=_("size"), ordering="capacity_bytes")
    def size(self, obj):
        return format_size(obj.capacity_bytes) if obj.capacity_bytes else "-"

    def change_context(self, request, disk: Disk) -> dict:
        offers = self.offered(request, disk)
        self_test = next((op["url"] for op in offers if op["name"] == "self_test"), "")
        return {
            "disk": disk, "calypso_operations": [op for op in offers if op["name"] != "self_test"],
            "self_test_url": self_test,
            "self_tests": disk.self_tests.all()[:30],
            "samples": disk.samples.all()[:24],
        }
