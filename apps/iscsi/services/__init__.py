"""iSCSI services: the resources (portals, initiator groups, targets, LUNs), live sessions, the generated
configuration, and the refusal to destroy a dataset a LUN uses."""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.storage.services import register_dataset_users

from ..models import Lun
from .resources import (
    GROUPS,
    LUNS,
    PORTALS,
    TARGETS,
    GroupService,
    LunService,
    PortalService,
    TargetService,
    desired_config,
    generated_config,
    in_use,
    live_sessions,
    push,
    sessions_of,
)

__all__ = ["GROUPS", "LUNS", "PORTALS", "TARGETS", "GroupService", "LunService", "PortalService", "TargetService",
           "desired_config", "generated_config", "in_use", "live_sessions", "lun_users", "push", "sessions_of"]


@register_dataset_users
def lun_users(datasets) -> list[str]:
    """``iSCSI LUN 1 of target iqn....`` for every LUN backed by one of ``datasets``."""
    return [_("iSCSI LUN %(n)s of target %(t)s") % {"n": lun.lun, "t": lun.target.iqn}
            for lun in Lun.objects.filter(dataset__in=datasets).select_related("target").order_by("target__iqn", "lun")]
