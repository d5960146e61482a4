"""Host block devices and the one rule for whether a device is in use (mounted, holding a filesystem,
or partitioned). Pool creation asks here before it touches a device, the forms offer only free disks
from the last host inventory, and monitoring shows the same answer."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext as _

from apps.core.errors import BackendError
from apps.core.runner import CommandError, Runner, get_runner
from apps.core.validators import format_size

from .backends.host import BlockDevice, HostBackend, block_device
from .models import HostInventory

__all__ = ["devices_in_use", "free_disk_choices", "in_use_reason", "missing_devices"]


def in_use_reason(dev: BlockDevice) -> str:
    """Why ``dev`` cannot take new data, in words; "" when it is free."""
    return {"mounted": _("mounted on %(m)s") % {"m": dev.mountpoint},
            "filesystem": _("holds a %(f)s filesystem") % {"f": dev.fstype},
            "partitions": _("has partitions"), "": ""}[dev.in_use]


def devices_in_use(devices: Sequence[str], runner: Runner | None = None) -> dict[str, str]:
    """The block devices among ``devices`` that are in use right now, with the reason (``lsblk``)."""
    wanted = [d for d in devices if d.startswith("/dev/")]
    if not wanted:
        return {}
    try:
        found = HostBackend(runner or get_runner()).block_devices(wanted)
    except (CommandError, BackendError):  # the tool missing or refusing: the caller's tool checks for itself
        return {}
    return {dev.path: in_use_reason(dev) for dev in found if dev.in_use}


def missing_devices(paths: Sequence[str], runner: Runner | None = None) -> list[str]:
    """Which of ``paths`` do not exist on the host (only a local host can tell without a command)."""
    return HostBackend(runner or get_runner()).missing_paths(list(paths))


def free_disk_choices() -> tuple[list[tuple[str, str]], str]:
    """Free disks of the last host inventory as form choices, and a note naming the ones in use."""
    inventory = HostInventory.objects.order_by("-id").first()
    free, busy = [], []

    def walk(devices: Sequence[BlockDevice]) -> None:
        for dev in devices:
            if dev.in_use:
                busy.append(f"{dev.path} ({in_use_reason(dev)})")
            elif dev.type in ("disk", "part", "loop") and not dev.read_only:
                free.append((dev.path, f"{dev.path} — {format_size(dev.size_bytes)} {dev.model}".strip()))
            walk(dev.children)

    walk([block_device(d) for d in (inventory.data if inventory else {}).get("block_devices") or ()])
    note = _("In use, not offered: %(d)s.") % {"d": ", ".join(busy)} if busy else ""
    return free, note
