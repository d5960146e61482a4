"""Share services: one function (or resource service) per operation."""

from .nfs import EXPORTS, apply_nfs, generated_nfs, generated_nfs_config, nfs_status, start_nfs_apply
from .smb import (
    ACCOUNTS,
    SHARES,
    apply_samba,
    generated_samba,
    generated_samba_config,
    include_path,
    sessions_on,
    shadow_copies,
    share_sessions,
    smb_in_use,
    smb_status,
    start_samba_apply,
)

__all__ = [
    "ACCOUNTS",
    "EXPORTS",
    "SHARES",
    "apply_nfs",
    "apply_samba",
    "generated_nfs",
    "generated_nfs_config",
    "generated_samba",
    "generated_samba_config",
    "include_path",
    "nfs_status",
    "sessions_on",
    "shadow_copies",
    "share_sessions",
    "smb_in_use",
    "smb_status",
    "start_nfs_apply",
    "start_samba_apply",
]
