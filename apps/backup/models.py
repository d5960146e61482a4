"""What the operator wants backed up (targets, tasks) and what was sent (the chain of each task).

A task replicates one source dataset (ZFS filesystem or Btrfs subvolume) to a target: it takes its own
snapshot on the source (``calypso-<task>-<UTC time>``), sends it in full or from the newest snapshot both
sides hold, verifies what arrived, and prunes its own snapshots on both sides.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField
from apps.core.models import CalypsoModel
from apps.core.validators import is_unix_user
from apps.jobs.models import Job
from apps.storage.choices import Backend
from apps.storage.models import Dataset, Named, Pool

from .choices import Compression, SendKind, Strategy, TargetKind

__all__ = ["SNAPSHOT_PREFIX", "BackupKey", "BackupTask", "SentSnapshot", "SshIdentity", "Target",
           "validate_repository_path", "validate_target_path"]

SNAPSHOT_PREFIX = "calypso"  # a task's snapshots: calypso-<task id>-<YYYYmmddTHHMMSSZ>
_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9][A-Za-z0-9_.:-]*)*$")


def validate_target_path(value: str) -> None:
    """Names joined by "/", each starting with a letter or digit (no "..", no leading "/")."""
    if value and (not _PATH.fullmatch(value) or len(value) > 200):
        raise ValidationError(_("Give names joined by /, each of letters, digits, _ . : - (not starting "
                                "with a dot), e.g. replicas/office."), code="invalid_path")


class Target(Named, CalypsoModel):
    """Where backups go: a ZFS pool or Btrfs filesystem on this host that receives replicas (``local``, under
    ``path``), or a repository: a directory (``path``, absolute; a mounted share, say) of encrypted stream files."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=TargetKind.choices, default=TargetKind.LOCAL)
    pool = models.ForeignKey(Pool, null=True, blank=True, on_delete=models.PROTECT, related_name="backup_targets",
                             help_text=_("Replicas: the ZFS pool or Btrfs filesystem that receives them."))
    path = models.CharField(max_length=1024, blank=True, help_text=_(
        "Replicas: the dataset (ZFS) or directory (Btrfs) under the pool they go in, created when missing, e.g. "
        "replicas (empty: the pool's top level); on another host, the parent dataset there, e.g. "
        "backup/replicas. Repository: the directory of the stream files, e.g. /mnt/nas/backups."))
    host = models.CharField(max_length=255, blank=True, help_text=_(
        "Another host, reached over SSH with Calypso's own key (empty: this host)."))
    port = models.PositiveIntegerField(default=22)
    username = models.CharField(max_length=32, default="root")
    host_key = models.CharField(max_length=1024, blank=True, help_text=_(
        "The host's SSH key, pinned on first contact and required from then on. Clear it only when the host was "
        "reinstalled."))
    bandwidth_limit_kib = models.PositiveIntegerField(default=0, help_text=_(
        "KiB/s the stream may use (0: no limit)."))
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("name",)

    @property
    def is_repository(self) -> bool:
        return self.kind == TargetKind.REPOSITORY

    @property
    def is_remote(self) -> bool:
        return bool(self.host)

    def clean(self) -> None:
        if self.is_remote:
            self._remote_clean()
        else:
            self._local_clean()
        twin = Target.objects.filter(host=self.host, pool_id=self.pool_id, path=self.path).exclude(pk=self.pk).first()
        if twin is not None:  # two targets, one place: their tasks would prune each other's copies
            raise ValidationError({"path": _("Target %(t)s already uses that place.") % {"t": twin.name}})

    def _local_clean(self) -> None:
        if self.is_repository:
            if self.pool_id is not None:
                raise ValidationError({"pool": _("A repository is a directory: give its path, not a pool.")})
            validate_repository_path(self.path)
            return
        if self.pool_id is None:
            raise ValidationError({"pool": _("Choose the pool that receives the replicas.")})
        if self.pool.gone:
            raise ValidationError({"pool": _("%(n)s is no longer on the host.") % {"n": self.pool.name}})
        try:
            validate_target_path(self.path)
        except ValidationError as exc:
            raise ValidationError({"path": exc.messages}) from exc


    def _remote_clean(self) -> None:
        errors = {}
        if not _HOST.fullmatch(self.host):
            errors["host"] = _("Give a host name or an IP address.")
        if not 1 <= (self.port or 0) <= 65535:
            errors["port"] = _("Give a port from 1 to 65535.")
        if not is_unix_user(self.username):
            errors["username"] = _("Give a user name of lower-case letters, digits, _ and -.")
        if self.pool_id is not None:
            errors["pool"] = _("A target on another host names no pool of this one: give its path there.")
        if errors:
            raise ValidationError(errors)
        if self.is_repository or self.path.startswith("/"):  # a repository, or a directory for Btrfs replicas
            validate_repository_path(self.path)
        elif not self.path or not _PATH.fullmatch(self.path):
            raise ValidationError({"path": _("Give the parent dataset on the other host (ZFS, e.g. backup/replicas) "
                                             "or a directory on a Btrfs filesystem there (e.g. /mnt/backup).")})


_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:]+$")


def validate_repository_path(value: str) -> None:
    """An absolute directory path without "..", ".", empty or "-"-leading parts."""
    parts = value.split("/")[1:]
    if not value.startswith("/") or value == "/" or any(p in ("", ".", "..") or p.startswith("-") or "\x00" in p
                                                          for p in parts):
        raise ValidationError({"path": _("Give the repository directory as an absolute path, e.g. /mnt/nas/backups "
                                         "(no . or .. parts).")})


class BackupTask(Named, CalypsoModel):
    """Replicate a dataset to a target on a schedule, keeping ``keep_source`` and ``keep_target`` of its own
    snapshots on each side (never the newest one both sides hold: the next run's incremental base)."""

    name = models.CharField(max_length=100, unique=True)
    source = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="backup_tasks",
                               help_text=_("ZFS filesystem or Btrfs subvolume to back up."))
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="tasks")
    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(default=1440, help_text=_(
        "Minutes between scheduled runs (1440: daily)."))
    window_start = models.TimeField(null=True, blank=True, help_text=_(
        "Scheduled runs start only between these times (UTC); empty: at any time."))
    window_end = models.TimeField(null=True, blank=True)
    strategy = models.CharField(max_length=24, choices=Strategy.choices, default=Strategy.INCREMENTAL_FOREVER,
                                help_text=_("Repositories: a full stream each month and incrementals in between "
                                            "(restores read at most a month of files), or incrementals forever."))
    compression = models.CharField(max_length=8, choices=Compression.choices, default=Compression.ZSTD,
                                   help_text=_("Repositories: zstd, or gzip where only gzip can read them."))
    keep_source = models.PositiveIntegerField(default=7, help_text=_("The task's snapshots kept on the source."))
    keep_target = models.PositiveIntegerField(default=30, help_text=_(
        "Replicas: snapshots kept on the target. Repositories: chains kept (a full stream and its incrementals)."))
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failures = models.PositiveIntegerField(default=0, help_text=_("Scheduled runs failed in a row (retries back off)."))
    next_due_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: due at the next beat tick."))
    drill_interval_days = models.PositiveIntegerField(default=7, help_text=_(
        "Days between restore drills: the newest copy restored into a scratch dataset and compared (0: none)."))
    drill_pool = models.ForeignKey(Pool, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   help_text=_("Where drills restore to (empty: the source's pool)."))
    last_drill_at = models.DateTimeField(null=True, blank=True)
    last_drill_ok = models.BooleanField(null=True, blank=True)
    last_drill_error = models.TextField(blank=True)

    observed_fields = ("last_run_at", "last_success_at", "last_error", "failures", "next_due_at", "last_drill_at",
                       "last_drill_ok", "last_drill_error")

    class Meta:
        ordering = ("name",)
        permissions = [("run_backuptask", "Can run a backup task now")]

    @property
    def lock_key(self) -> str:
        return f"backup:{self.pk}"

    @property
    def snapshot_prefix(self) -> str:
        return f"{SNAPSHOT_PREFIX}-{self.pk}-"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for field in ("keep_source", "keep_target", "interval_minutes"):
            if getattr(self, field) is not None and getattr(self, field) < 1:
                errors[field] = _("Give at least 1.")
        if (self.window_start is None) != (self.window_end is None):
            errors["window_end" if self.window_end is None else "window_start"] = _(
                "Give both ends of the window, or neither.")
        if self.source_id is not None:
            errors.update(self._source_errors())
        if self.source_id is not None and self.target_id is not None and not errors:
            errors.update(self._target_errors())
        if errors:
            raise ValidationError(errors)

    def _source_errors(self) -> dict[str, str]:
        source = self.source
        if source.gone:
            return {"source": _("%(n)s is no longer on the host.") % {"n": source.name}}
        if source.pool.backend == Backend.BTRFS and not source.relative_path:
            return {"source": _("Back up a subvolume, not the top level of a Btrfs filesystem.")}
        if source.extra.get("received"):
            return {"source": _("%(n)s is itself a received replica.") % {"n": source.name}}
        return {}

    def _target_errors(self) -> dict[str, str]:
        source, target = self.source, self.target
        twin = BackupTask.objects.filter(source_id=self.source_id, target_id=self.target_id).exclude(pk=self.pk)
        if twin.exists():
            return {"target": _("Task %(t)s already copies %(s)s to %(g)s (one copy per source and target).") % {
                "t": twin.first().name, "s": source.name, "g": target.name}}
        if target.is_repository:
            return {}
        if self.strategy != Strategy.INCREMENTAL_FOREVER:
            return {"strategy": _("A replica is kept up to date incrementally: monthly fulls are for repositories.")}
        if target.is_remote:
            if (source.pool.backend == Backend.BTRFS) != target.path.startswith("/"):
                return {"target": _("On another host a ZFS replica goes under a dataset (a name like backup/replicas) "
                                    "and a Btrfs replica into a directory (a path like /mnt/backup).")}
            return {}
        pool = target.pool
        if pool.backend != source.pool.backend:
            return {"target": _("%(s)s is %(a)s and %(t)s is %(b)s: a replica goes to a pool of the same kind.") % {
                "s": source.name, "a": source.pool.get_backend_display(), "t": target.name,
                "b": pool.get_backend_display()}}
        root = f"{pool.name}/{target.path}".rstrip("/")
        if pool.pk == source.pool_id and (root == source.name or root.startswith(f"{source.name}/")):
            return {"target": _("%(t)s lies inside %(s)s: the replica would be part of what it copies.") % {
                "t": target.name, "s": source.name}}
        return {}


class SentSnapshot(CalypsoModel):
    """One snapshot a task sent, as verification measured it; ``on_source``/``on_target`` follow pruning."""

    task = models.ForeignKey(BackupTask, on_delete=models.CASCADE, related_name="sent")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    snapshot = models.CharField(max_length=255, help_text=_("The snapshot's name (after @ for ZFS)."))
    kind = models.CharField(max_length=16, choices=SendKind.choices)
    base = models.CharField(max_length=255, blank=True, help_text=_("The incremental base; empty for a full send."))
    source_name = models.CharField(max_length=1024)
    target_name = models.CharField(max_length=1024)
    source_guid = models.CharField(max_length=64, help_text=_("ZFS GUID or Btrfs UUID of the source snapshot."))
    target_guid = models.CharField(max_length=64, blank=True, help_text=_(
        "What the target reports: the received snapshot's GUID (ZFS) or received UUID (Btrfs)."))
    bytes = models.BigIntegerField(default=0, help_text=_("Stream bytes sent (as stored, for a stream file)."))
    path = models.CharField(max_length=1024, blank=True, help_text=_(
        "Repositories: the stream file, relative to the repository."))
    sha256 = models.CharField(max_length=64, blank=True, help_text=_("Repositories: SHA-256 of the stream file."))
    compression = models.CharField(max_length=8, blank=True)
    recipient = models.CharField(max_length=100, blank=True, help_text=_("The age key the file is encrypted to."))
    verified_at = models.DateTimeField(null=True, blank=True, help_text=_("When the file was last read back whole."))
    seconds = models.FloatField(default=0)
    verified = models.BooleanField(default=False)
    on_source = models.BooleanField(default=True)
    on_target = models.BooleanField(default=True)

    class Meta:
        ordering = ("-created",)
        constraints = [models.UniqueConstraint(fields=("task", "snapshot"), name="backup_sent_once_per_task")]
        permissions = [("restore_sentsnapshot", "Can restore from a sent snapshot")]

    def __str__(self) -> str:
        return f"{self.task.name}: {self.snapshot}"


class BackupKey(CalypsoModel):
    """The age key pair stream files are encrypted to: made on first use, its secret half stored encrypted.
    Whoever holds the exported secret can restore a stream file with age and the ZFS or Btrfs tools alone."""

    name = models.CharField(max_length=100, unique=True, default="default")
    recipient = models.CharField(max_length=100, help_text=_("The public half (age1...)."))
    secret = EncryptedTextField(help_text=_("AGE-SECRET-KEY-1...: stored encrypted, shown only on export."))
    exported_at = models.DateTimeField(null=True, blank=True)

    secret_fields = ("secret",)

    class Meta:
        ordering = ("name",)
        permissions = [("export_backupkey", "Can export the backup encryption key")]

    def __str__(self) -> str:
        return f"{self.name} ({self.recipient[:16]}...)"


class SshIdentity(CalypsoModel):
    """Calypso's own SSH key pair for targets on other hosts: made on first use, the private half stored
    encrypted; the public half goes into the remote user's ~/.ssh/authorized_keys."""

    name = models.CharField(max_length=100, unique=True, default="default")
    public_key = models.CharField(max_length=1024)
    private_key = EncryptedTextField()

    secret_fields = ("private_key",)

    class Meta:
        ordering = ("name",)
        verbose_name = "SSH identity"
        verbose_name_plural = "SSH identities"

    def __str__(self) -> str:
        return self.public_key[:60]
