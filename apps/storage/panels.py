"""The storage panel of the dashboard: pools with health and capacity, and the latest health events.
Found and imported by the system app (every app's ``panels`` module registers its panels)."""

from __future__ import annotations

from apps.core.admin import badge
from apps.system.dashboard import Panel, register_panel

from .choices import EVENT_SEVERITY_COLORS, STATE_COLORS
from .models import Pool, StorageEvent

__all__ = ["storage_panel"]


def storage_panel(request) -> dict:
    pools = Pool.objects.restrict(request.user).filter(gone=False)[:20]
    events = StorageEvent.objects.restrict(request.user).select_related("pool")[:8]
    return {
        "pools": [(p, badge(p.get_health_display(), STATE_COLORS.get(p.health, "grey"))) for p in pools],
        "storage_events": [(e, badge(e.get_severity_display(), EVENT_SEVERITY_COLORS.get(e.severity, "grey")))
                           for e in events],
    }


register_panel(Panel("storage", "admin/storage/panels/storage.html", storage_panel, order=20))
