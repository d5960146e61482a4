"""Every backup operation, declared once; the API viewsets and the admin pages point at these sets."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import inputs, keys, remote, services
from .api import serializers
from .models import BackupKey, BackupTask, SentSnapshot, SshIdentity, Target

__all__ = ["KEY", "SENT", "SSH_IDENTITY", "TARGET", "TASK"]

TARGET = Operations(
    Target,
    Operation("create", services.TARGETS.create, input=serializers.TargetSerializer, detail=False,
              example={"name": "replicas", "pool": 1, "path": "replicas"}),
    Operation("check", remote.check_target, permission="change", label=_("Check connection"),
              when=lambda target: target.is_remote,
              help=_("Connect over SSH (pinning the host key on first contact) and report what answered.")),
    Operation("update", services.TARGETS.update, input=serializers.TargetSerializer, partial=True,
              example={"description": "second pool"}),
    Operation("delete", services.TARGETS.delete, help=_("Replicas already sent stay on the pool.")),
)

TASK = Operations(
    BackupTask,
    Operation("create", services.TASKS.create, input=serializers.BackupTaskSerializer, detail=False,
              example={"name": "home-nightly", "source": 1, "target": 1, "keep_source": 7, "keep_target": 30}),
    Operation("update", services.TASKS.update, input=serializers.BackupTaskSerializer, partial=True,
              example={"keep_target": 60}),
    Operation("delete", services.TASKS.delete, help=_("Its snapshots and replicas stay on the hosts.")),
    Operation("run", services.start_backup_run, job=True, bulk=True, label=_("Run now"),
              help=_("Snapshot, send (incrementally when both sides share a snapshot), verify and prune now.")),
    Operation("drill", services.start_drill, job=True, permission="run", label=_("Restore drill now"),
              help=_("Restore the newest copy into a scratch dataset, check its identity and compare it with the "
                     "source snapshot, then remove it.")),
    Operation("verify", services.start_verify, job=True, permission="run", label=_("Verify now"),
              when=lambda task: task.target.is_repository,
              help=_("Read every stream file of the task back and check it against its manifest's SHA-256.")),
    Operation("retention", services.retention_dry_run, method="get", permission="view", label=_("Retention dry run"),
              help=_("What pruning would destroy now on each side, and why each snapshot stays.")),
)

SENT = Operations(
    SentSnapshot,
    Operation("restore", services.start_restore, input=inputs.RestoreInput, job=True,
              label=_("Restore"), when=lambda sent: bool(sent.path) and sent.on_target,
              example={"pool": 1, "name": "restored-data"},
              help=_("Check every file of the chain up to this snapshot, then receive them into a new dataset "
                     "(never over existing data) and check the result's identity.")),
    Operation("browse", services.browse, input=inputs.BrowseInput, method="get", permission="restore",
              label=_("Browse files"),
              when=lambda sent: sent.on_source or (sent.on_target and not sent.path),
              help=_("The files of this snapshot, one directory at a time (from the source, else the replica).")),
    Operation("restore_files", services.start_restore_files, input=inputs.RestoreFilesInput, job=True,
              permission="restore", label=_("Restore files"), example={"paths": ["docs/report.txt"]},
              when=lambda sent: sent.on_source or (sent.on_target and not sent.path),
              help=_("Copy chosen files or directories of this snapshot into a new directory beside the live data "
                     "(nothing is overwritten).")),
)

KEY = Operations(
    BackupKey,
    Operation("export", keys.export_key, permission="export", label=_("Export key"),
              help=keys.EXPORT_WARNING),
)

SSH_IDENTITY = Operations(
    SshIdentity,
    Operation("create", remote.create_identity, detail=False, label=_("Make Calypso's SSH key"),
              help=_("Make the key pair Calypso uses for targets on other hosts (once; later calls show the same "
                     "key). Put its public key in the remote user's ~/.ssh/authorized_keys.")),
)
