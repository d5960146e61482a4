"""System operations: collect the host inventory (a job with progress)."""

from __future__ import annotations

import socket
from dataclasses import asdict

from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ServiceError
from apps.core.runner import CommandError
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext

from . import tools
from .backends.host import HostBackend
from .models import HostInventory

__all__ = ["collect_inventory", "latest_inventory", "start_inventory"]


def start_inventory(*, actor=None) -> Job:
    """Queue a host inventory; one at a time."""
    return jobs.enqueue("system.hostinventory.collect", user=actor, lock_key="system:inventory")


def latest_inventory(*, actor=None) -> HostInventory:
    """The newest inventory ``actor`` may see."""
    inventory = HostInventory.objects.restrict(actor, "view").order_by("-id").first()
    if inventory is None:
        raise ServiceError("not_found", _("No inventory yet: collect one first."), status=404)
    return inventory


def _step(ctx: JobContext, percent: int, label: str, func, default):
    ctx.progress(percent, label)
    try:
        return func()
    except (CommandError, BackendError, OSError) as exc:
        ctx.log.warning(f"{label}: {exc}")  # a missing tool leaves that part empty, not the whole job
        return default


@job_kind("system.hostinventory.collect", "Collect host inventory")
def collect_inventory(ctx: JobContext, target=None) -> dict:
    """Worker side: read CPU, memory, disks, filesystems and tool versions; store and return them."""
    host = HostBackend(ctx.runner)
    data = {"hostname": socket.gethostname()}
    data["cpu"] = _step(ctx, 5, "Reading CPU", host.cpu, {})
    data["memory"] = _step(ctx, 20, "Reading memory", host.memory, {})
    data["block_devices"] = [d.as_dict() for d in _step(ctx, 35, "Listing block devices", host.block_devices, [])]
    data["filesystems"] = _step(ctx, 55, "Listing filesystems", host.filesystems, [])
    statuses = []
    for i, tool in enumerate(tools.TOOLS):
        ctx.progress(65 + 30 * i // len(tools.TOOLS), f"Checking {tool.name}")
        statuses.extend(asdict(s) for s in tools.probe(ctx.runner, (tool,)))
    data["tools"] = statuses
    ctx.progress(98, "Saving inventory")
    inventory = HostInventory.objects.create(hostname=data["hostname"], data=data, job_id=ctx.job.pk)
    ctx.log.info(f"Inventory #{inventory.pk}: {len(data['block_devices'])} block devices, "
                 f"{len(data['filesystems'])} filesystems, "
                 f"{sum(1 for s in statuses if s['installed'])}/{len(statuses)} tools installed.")
    return data
