"""The one place services get a share backend from."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from apps.core.configfiles import integration_path
from apps.core.runner import Runner, get_runner

from .nfs import GaneshaBackend, KernelNfsBackend
from .samba import SambaBackend

__all__ = ["get_nfs", "get_samba", "nfs_backend_name"]


def get_samba(runner: Runner | None = None) -> SambaBackend:
    return SambaBackend(runner or get_runner(), settings.CALYPSO_SAMBA_CONF)


def nfs_backend_name() -> str:
    """``CALYPSO_NFS_BACKEND``, with "auto" resolved: the kernel server when it is there (``/proc/fs/nfsd`` and
    ``exportfs``; with NFS-Ganesha also installed, only when the kernel has nfsd), else NFS-Ganesha when
    installed, else the kernel server (whose missing tools then say so)."""
    chosen = settings.CALYPSO_NFS_BACKEND
    if chosen in ("kernel", "ganesha"):
        return chosen
    ganesha = shutil.which("ganesha.nfsd") is not None
    kernel = Path("/proc/fs/nfsd").is_dir() and shutil.which("exportfs") is not None
    if kernel and ganesha:
        try:
            kernel = "nfsd" in Path("/proc/filesystems").read_text()
        except OSError:
            kernel = False
    return "kernel" if kernel or not ganesha else "ganesha"


def get_nfs(runner: Runner | None = None) -> KernelNfsBackend | GaneshaBackend:
    runner = runner or get_runner()
    if nfs_backend_name() == "ganesha":
        return GaneshaBackend(runner, settings.CALYPSO_GANESHA_CONF, integration_path("ganesha", "exports.conf"),
                              settings.CALYPSO_GANESHA_PID_FILE)
    return KernelNfsBackend(runner, settings.CALYPSO_NFS_EXPORTS_FILE)
