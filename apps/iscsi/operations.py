"""Every iSCSI operation, declared once; the API viewsets and the admin pages point at these sets."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import inputs, services
from .api import serializers
from .models import InitiatorGroup, Lun, Portal, Target

__all__ = ["GROUP", "LUN", "PORTAL", "TARGET"]


def _sessions(obj=None, *, actor=None):
    return {"sessions": services.live_sessions(obj)}


PORTAL = Operations(
    Portal,
    Operation("create", services.PORTALS.create, input=serializers.IscsiPortalSerializer, detail=False,
              example={"address": "127.0.0.1", "port": 3260}),
    Operation("update", services.PORTALS.update, input=serializers.IscsiPortalSerializer, partial=True,
              example={"description": "storage network"}),
    Operation("delete", services.PORTALS.delete),
)

GROUP = Operations(
    InitiatorGroup,
    Operation("create", services.GROUPS.create, input=serializers.IscsiInitiatorGroupSerializer, detail=False,
              example={"name": "hypervisors", "initiators": ["iqn.1993-08.org.debian:01:abcdef"],
                       "networks": ["10.0.0.0/8"]}),
    Operation("update", services.GROUPS.update, input=serializers.IscsiInitiatorGroupSerializer, partial=True,
              example={"networks": ["192.0.2.0/24"]}),
    Operation("delete", services.GROUPS.delete),
)

TARGET = Operations(
    Target,
    Operation("create", services.TARGETS.create, input=serializers.IscsiTargetSerializer, detail=False,
              example={"name": "vmstore", "initiator_groups": [1], "chap_user": "vmhost",
                       "chap_secret": "twelve-chars"}),
    Operation("update", services.TARGETS.update, input=serializers.IscsiTargetSerializer, partial=True,
              example={"description": "VM datastore"}),
    Operation("delete", services.TARGETS.delete, destructive=True, confirm=lambda target: target.name,
              confirm_when=services.in_use,
              help=_("Stops exporting the target and its LUNs (their data stays). With initiators logged in, type "
                     "its name to confirm: their sessions are cut off.")),
    Operation("sessions", _sessions, method="get", detail=False, permission="view", output=inputs.IscsiSessionsOutput,
              label=_("Live sessions"), help=_("Initiators logged in now: initiator, addresses, target.")),
    Operation("generated_config", services.generated_config, method="get", detail=False, permission="change",
              output=inputs.IscsiConfigOutput, label=_("Generated configuration"),
              help=_("The configuration file the backend writes for the current targets (CHAP secrets shown as ********).")),
)

LUN = Operations(
    Lun,
    Operation("create", services.LUNS.create, input=serializers.IscsiLunSerializer, detail=False,
              example={"target": 1, "lun": 1, "kind": "file", "dataset": 1, "path": "/tank/iscsi/disk1.img",
                       "size_bytes": 1073741824}),
    Operation("update", services.LUNS.update, input=serializers.IscsiLunSerializer, partial=True,
              example={"read_only": True}),
    Operation("delete", services.LUNS.delete, destructive=True, confirm=lambda lun: lun.target.name,
              confirm_when=lambda lun: services.in_use(lun.target),
              help=_("Stops exporting the LUN (its file or volume stays). With initiators logged in to its target, "
                     "type the target's name to confirm.")),
)
