"""The storage panel of the dashboard: pools with health and capacity, and the latest health events.
Found and imported by the system app (every app's ``panels`` module registers its panels)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from apps.core.admin import badge
from apps.jobs.choices import ACTIVE_STATES
from apps.jobs.models import Job
from apps.system.dashboard import Panel, register_panel

from .choices import EVENT_SEVERITY_COLORS, STATE_COLORS
from .models import Pool, StorageEvent

__all__ = ["SCAN_JOB_KINDS", "storage_panel"]

SCAN_JOB_KINDS = ("storage.pool.scrub",)  # a resilver shows as the pool's scan state


def _scan_jobs(pools) -> dict[str, Job]:
    """The running scrub or resilver job of each pool, by pool id: its bar moves live on the card."""
    running = Job.objects.filter(state__in=ACTIVE_STATES, target_type=ContentType.objects.get_for_model(Pool),
                                 target_id__in=[str(p.pk) for p in pools], kind__in=SCAN_JOB_KINDS)
    return {job.target_id: job for job in running.order_by("created")}


def storage_panel(request) -> dict:
    pools = list(Pool.objects.restrict(request.user).filter(gone=False)[:20])
    events = StorageEvent.objects.restrict(request.user).select_related("pool")[:8]
    scans = _scan_jobs(pools) if pools else {}
    return {
        "pools": [(p, badge(p.get_health_display(), STATE_COLORS.get(p.health, "grey")), scans.get(str(p.pk)))
                  for p in pools],
        "storage_events": [(e, badge(e.get_severity_display(), EVENT_SEVERITY_COLORS.get(e.severity, "grey")))
                           for e in events],
    }


register_panel(Panel("storage", "admin/storage/panels/storage.html", storage_panel, order=20))
