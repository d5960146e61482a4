"""Every share operation, declared once; the API viewsets and the admin pages point at these sets."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import services
from .api import serializers
from .models import NfsExport, SmbShare, SmbUser

__all__ = ["NFS_EXPORT", "SMB_SHARE", "SMB_USER"]


SMB_SHARE = Operations(
    SmbShare,
    Operation("create", services.SHARES.create, input=serializers.SmbShareSerializer, detail=False,
              example={"name": "projects", "path": "/tank/projects"},
              help=_("testparm checks the new configuration before it replaces the old one; smbd then reloads.")),
    Operation("update", services.SHARES.update, input=serializers.SmbShareSerializer, partial=True,
              example={"read_only": True}),
    Operation("delete", services.SHARES.delete, destructive=True, confirm=lambda share: share.name,
              confirm_when=services.smb_in_use,
              help=_("New connections no longer see it. With clients connected, type its name to confirm.")),
    Operation("sessions", services.share_sessions, method="get", permission="view", label=_("Connections"),
              help=_("Who is connected to this share and which files are open, from smbstatus.")),
    Operation("status", services.smb_status, method="get", detail=False, permission="view",
              output=serializers.SmbStatusSerializer, label=_("SMB sessions and open files"),
              help=_("Everyone connected to this server's SMB service, their shares and open files (smbstatus).")),
    Operation("generated", services.generated_samba, method="get", detail=False, permission="view",
              output=serializers.GeneratedConfigSerializer, label=_("Generated configuration"),
              help=_("The Samba include file exactly as Calypso writes it from the shares defined here.")),
    Operation("apply", services.start_samba_apply, detail=False, job=True, permission="change",
              label=_("Apply configuration now"),
              help=_("Render, check with testparm, install and reload; the previous file stays if anything fails.")),
)

SMB_USER = Operations(
    SmbUser,
    Operation("create", services.ACCOUNTS.create, input=serializers.SmbUserSerializer, detail=False,
              label=_("Give a user an SMB account"), example={"user": 1, "password": "Correct-Horse-9"},
              help=_("Creates the Unix account of the same name when missing; the password goes to Samba only.")),
    Operation("set_password", services.ACCOUNTS.set_password, input=serializers.PasswordInput,
              label=_("Set SMB password"), example={"password": "Correct-Horse-10"}),
    Operation("disable", services.ACCOUNTS.disable, permission="change", when=lambda a: a.enabled,
              label=_("Disable")),
    Operation("enable", services.ACCOUNTS.enable, permission="change", when=lambda a: not a.enabled,
              label=_("Enable")),
    Operation("delete", services.ACCOUNTS.delete, destructive=True, confirm=lambda a: a.username,
              help=_("Removes the account from Samba (and the Unix account, if Calypso created it).")),
)

NFS_EXPORT = Operations(
    NfsExport,
    Operation("create", services.EXPORTS.create, input=serializers.NfsExportSerializer, detail=False,
              example={"path": "/tank/projects", "clients": [{"host": "10.0.0.0/24", "access": "rw"}]},
              help=_("The whole exports file is rendered and checked, then the NFS server applies it; the previous "
                     "file stays if anything fails.")),
    Operation("update", services.EXPORTS.update, input=serializers.NfsExportSerializer, partial=True,
              example={"enabled": True, "clients": [{"host": "10.0.0.0/24", "access": "ro"}]}),
    Operation("delete", services.EXPORTS.delete,
              help=_("The NFS server stops exporting the path; clients that have it mounted lose access.")),
    Operation("status", services.nfs_status, method="get", detail=False, permission="view",
              output=serializers.NfsStatusSerializer, label=_("Exported now"),
              help=_("What the NFS server exports now (exportfs -v, or NFS-Ganesha's installed exports).")),
    Operation("generated", services.generated_nfs, method="get", detail=False, permission="view",
              output=serializers.GeneratedConfigSerializer, label=_("Generated configuration"),
              help=_("The exports file exactly as Calypso writes it from the exports defined here.")),
    Operation("apply", services.start_nfs_apply, detail=False, job=True, permission="change",
              label=_("Apply exports now"),
              help=_("Render, check, install and apply; the previous file stays if anything fails.")),
)
