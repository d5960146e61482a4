"""The iSCSI panel of the dashboard: targets, LUNs and the exported capacity. Found and imported by the system
app."""

from __future__ import annotations

from django.db.models import Sum

from apps.system.dashboard import Panel, register_panel

from .models import Lun, Target

__all__ = ["iscsi_panel"]


def iscsi_panel(request) -> dict | None:
    targets = Target.objects.restrict(request.user)
    count = targets.count()
    if not count:
        return None
    luns = Lun.objects.restrict(request.user).filter(target__in=targets)
    return {"iscsi_targets": count, "iscsi_luns": luns.count(),
            "iscsi_bytes": luns.aggregate(total=Sum("size_bytes"))["total"] or 0,
            "iscsi_chap": targets.exclude(chap_user="").count()}


register_panel(Panel("iscsi", "admin/iscsi/panels/iscsi.html", iscsi_panel, order=45))
