"""The shares panel of the dashboard: what is shared, and a link to who is connected. Found and imported by
the system app."""

from __future__ import annotations

from apps.system.dashboard import Panel, register_panel

from .models import NfsExport, SmbShare, SmbUser

__all__ = ["shares_panel"]


def shares_panel(request) -> dict | None:
    shares, exports = SmbShare.objects.restrict(request.user), NfsExport.objects.restrict(request.user)
    smb, nfs = shares.count(), exports.count()
    if not smb and not nfs:
        return None
    return {"smb_total": smb, "smb_disabled": shares.filter(enabled=False).count(),
            "smb_read_only": shares.filter(read_only=True).count(),
            "smb_accounts": SmbUser.objects.restrict(request.user).count(),
            "nfs_total": nfs, "nfs_disabled": exports.filter(enabled=False).count()}


register_panel(Panel("shares", "admin/shares/panels/shares.html", shares_panel, order=40))
