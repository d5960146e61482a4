"""The Calypso admin: branded, with a dashboard (health, live jobs, audit, inventory) as its index."""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ServiceError
from apps.core.permissions import restrict

__all__ = ["CalypsoAdminSite"]


class CalypsoAdminSite(admin.AdminSite):
    site_header = _("Calypso")
    site_title = _("Calypso")
    index_title = _("Dashboard")
    index_template = "admin/calypso_index.html"

    def get_urls(self):
        return [path("system/collect-inventory/", self.admin_view(self.collect_inventory),
                     name="system_collect_inventory"), *super().get_urls()]

    def index(self, request, extra_context=None):
        from apps.audit.models import AuditEvent
        from apps.jobs.models import Job
        from apps.system.models import HostInventory

        user = request.user
        context = {
            **self._storage_summary(user),
            "recent_jobs": restrict(Job.objects.select_related("user"), user)[:10],
            "recent_audit": restrict(AuditEvent.objects.all(), user)[:10],
            "inventory": restrict(HostInventory.objects.all(), user).first(),
            "can_collect": user.has_perm("system.collect_hostinventory"),
        }
        return super().index(request, {**context, **(extra_context or {})})

    @staticmethod
    def _storage_summary(user) -> dict:
        """Pools with health and capacity, and the latest health events (the pool health watch)."""
        from apps.core.admin import badge
        from apps.storage.choices import EVENT_SEVERITY_COLORS, POOL_HEALTH_COLORS
        from apps.storage.models import Pool, StorageEvent

        pools = restrict(Pool.objects.filter(gone=False), user)[:20]
        events = restrict(StorageEvent.objects.select_related("pool"), user)[:8]
        return {
            "pools": [(p, badge(p.get_health_display(), POOL_HEALTH_COLORS.get(p.health, "grey"))) for p in pools],
            "storage_events": [(e, badge(e.get_severity_display(), EVENT_SEVERITY_COLORS.get(e.severity, "grey")))
                               for e in events],
        }

    def collect_inventory(self, request):
        from apps.system import services

        if request.method != "POST":
            return redirect("admin:index")
        if not request.user.has_perm("system.collect_hostinventory"):
            messages.error(request, _("You may not collect the host inventory."))
            return redirect("admin:index")
        try:
            job = services.start_inventory(user=request.user)
            messages.success(request, _("Host inventory started as job #%(id)s.") % {"id": job.pk})
        except ServiceError as exc:
            messages.warning(request, exc.message)
        return redirect("admin:index")
