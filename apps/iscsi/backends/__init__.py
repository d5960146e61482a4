"""The one factory of iSCSI backends: services call ``get_backend()`` and never ask which one they hold.

``CALYPSO_ISCSI_BACKEND``: ``tgt``, ``scst``, or ``auto`` (SCST when its kernel module is loaded, i.e.
``/sys/kernel/scst_tgt`` exists, else tgt)."""

from __future__ import annotations

import os

from django.conf import settings

from apps.core.configfiles import integration_path
from apps.core.runner import Runner, get_runner

from .base import IscsiBackend
from .scst import ScstBackend
from .tgt import TgtBackend

__all__ = ["SCST_SYSFS", "backend_name", "get_backend"]

SCST_SYSFS = "/sys/kernel/scst_tgt"


def backend_name() -> str:
    configured = str(settings.CALYPSO_ISCSI_BACKEND or "auto").lower()
    if configured in ("tgt", "scst"):
        return configured
    return "scst" if os.path.isdir(SCST_SYSFS) else "tgt"


def get_backend(runner: Runner | None = None) -> IscsiBackend:
    runner = runner or get_runner()
    if backend_name() == "scst":
        return ScstBackend(runner, conf_path=settings.CALYPSO_SCST_CONF)
    return TgtBackend(runner, control_port=settings.CALYPSO_TGT_CONTROL_PORT,
                      conf_path=integration_path("tgt", "calypso.conf"))
