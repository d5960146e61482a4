"""The disks panel of the dashboard: how many disks, any failing verdict (red), the hottest drive.
Found and imported by the system app (every app's ``panels`` module registers its panels)."""

from __future__ import annotations

from apps.system.dashboard import Panel, register_panel

from .admin import health_badge, temperature_text
from .choices import DiskHealth
from .models import Disk

__all__ = ["disks_panel"]


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
