"""The system's own dashboard panels: health, recent jobs, the host inventory, recent audit events."""

from __future__ import annotations

from apps.audit.models import AuditEvent
from apps.jobs.models import Job

from .dashboard import Panel, register_panel
from .models import HostInventory
from .operations import INVENTORY

__all__ = []


def _jobs(request) -> dict:
    return {"recent_jobs": Job.objects.restrict(request.user).select_related("user")[:10]}


def _inventory(request) -> dict:
    return {"inventory": HostInventory.objects.restrict(request.user).first(),
            "can_collect": INVENTORY["collect"].allowed(request.user)}


def _audit(request) -> dict | None:
    events = AuditEvent.objects.restrict(request.user)[:10]
    return {"recent_audit": events} if events else None


register_panel(Panel("health", "admin/system/panels/health.html", lambda request: {}, order=10))
register_panel(Panel("jobs", "admin/system/panels/jobs.html", _jobs, order=30))
register_panel(Panel("inventory", "admin/system/panels/inventory.html", _inventory, order=40))
register_panel(Panel("audit", "admin/system/panels/audit.html", _audit, order=50))
