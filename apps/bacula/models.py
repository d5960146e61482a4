"""What the operator wants the Bacula (or Bareos) director to do — clients, filesets, schedules, pools, storage
and backup jobs, rendered by Calypso into its own include files — and what the director reports back
(its job history and its volumes), read through the console.

Names are Bacula resource names; passwords are the daemons' own (the file daemon's and the storage daemon's
``Director`` passwords), kept encrypted and written only into the root-readable include files.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField
from apps.core.models import CalypsoModel
from apps.core.validators import validate_each, validate_host_path, validate_hostname

from . import validators as v
from .choices import Compression, JobLevel, JobStatus, JobType, PoolType, RunLevel, Signature, VolumeStatus

__all__ = ["BackupJob", "Client", "FileSet", "JobRun", "Pool", "Schedule", "Storage", "Volume"]

MAX_DAYS = 36_500


def _port(default: int) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=default, validators=[MinValueValidator(1), MaxValueValidator(65535)])


def _days(default: int, help_text) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=default, validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)],
                                       help_text=help_text)


def _name() -> models.CharField:
    return models.CharField(max_length=127, unique=True, validators=[v.validate_resource_name], help_text=_(
        "Bacula resource name: letters, digits, . _ - (no spaces)."))


class _Resource(CalypsoModel):
    """A resource Calypso renders into the director's or the storage daemon's configuration, by its name."""

    name = _name()
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        abstract = True
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Client(_Resource):
    """A file daemon the director backs up and restores to."""

    address = models.CharField(max_length=255, validators=[validate_hostname], help_text=_(
        "Where the file daemon listens (host name or address)."))
    port = _port(9102)
    password = EncryptedTextField(validators=[v.validate_password], help_text=_(
        "The Password of the file daemon's Director resource (bacula-fd.conf). Never shown again."))
    file_retention_days = _days(60, _("How long file records stay in the catalog (restores of single files)."))
    job_retention_days = _days(180, _("How long job records stay in the catalog."))
    autoprune = models.BooleanField(default=True)

    secret_fields = ("password",)


class FileSet(_Resource):
    """What a job backs up: directories inside the managed datasets, and what to leave out."""

    include = models.JSONField(default=list, help_text=_(
        "Directories to back up, one per line; each inside a managed dataset (e.g. /tank/projects)."))
    exclude = models.JSONField(default=list, blank=True, help_text=_("Paths to leave out, one per line."))
    compression = models.CharField(max_length=8, choices=Compression.choices, default=Compression.NONE, blank=True)
    signature = models.CharField(max_length=8, choices=Signature.choices, default=Signature.MD5)
    one_fs = models.BooleanField(default=True, help_text=_("Stay on the dataset's file system (no mount points)."))

    def clean(self) -> None:
        if not self.include:
            raise ValidationError({"include": _("Give at least one directory to back up.")})
        validate_each(validate_host_path, self.include, "include")
        validate_each(validate_host_path, self.exclude, "exclude")


class Schedule(_Resource):
    """When jobs run: Bacula ``Run`` lines (``Level=Full 1st sun at 23:05``)."""

    runs = models.JSONField(default=list, help_text=_(
        "One Bacula Run line each, e.g. 'Level=Full 1st sun at 23:05' or 'Level=Incremental mon-sat at 23:05'."))

    def clean(self) -> None:
        if not self.runs:
            raise ValidationError({"runs": _("Give at least one Run line.")})
        validate_each(v.validate_schedule_run, self.runs, "runs")


class Storage(_Resource):
    """A storage daemon device as the director sees it, and (for the local storage daemon) the autochanger and
    drives Calypso writes into the storage daemon's include file."""

    address = models.CharField(max_length=255, default="127.0.0.1", validators=[validate_hostname])
    port = _port(9103)
    password = EncryptedTextField(validators=[v.validate_password], help_text=_(
        "The Password of the storage daemon's Director resource (bacula-sd.conf). Never shown again."))
    library = models.ForeignKey("tape.Library", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="bacula_storage", help_text=_(
                                    "A tape library of this appliance: its changer and drives fill the changer "
                                    "device and the drives' devices left empty."))
    media_type = models.CharField(max_length=127, default="LTO6", validators=[v.validate_resource_name])
    autochanger = models.BooleanField(default=True, help_text=_("A library with a changer (labels from barcodes)."))
    changer_device = models.CharField(max_length=255, blank=True, validators=[validate_host_path], help_text=_(
        "The changer's device (/dev/sg3), or for a disk changer the directory holding its volumes."))
    changer_command = models.CharField(max_length=512, blank=True, validators=[v.validate_changer_command], help_text=_(
        "Empty: Bacula's mtx-changer. Disk changer: /etc/bacula/scripts/disk-changer %c %o %S %a %d %v."))
    archive_devices = models.JSONField(default=list, blank=True, help_text=_(
        "The drives' devices (/dev/nst0), one per line, in drive-index order (empty: the library's drives)."))
    maximum_concurrent_jobs = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(1000)])

    secret_fields = ("password",)

    class Meta(_Resource.Meta):
        permissions = [("label_storage", "Can label volumes from barcodes")]

    def clean(self) -> None:
        if not self.archive_devices:
            raise ValidationError({"archive_devices": _("Give the device of at least one drive.")})
        validate_each(validate_host_path, self.archive_devices, "archive_devices")
        if self.autochanger and not self.changer_device:
            raise ValidationError({"changer_device": _("An autochanger needs its changer device.")})

    def device_name(self, index: int) -> str:
        return f"{self.name}-drive-{index}"


class Pool(_Resource):
    """A set of volumes with one retention: where jobs write."""

    pool_type = models.CharField(max_length=16, choices=PoolType.choices, default=PoolType.BACKUP)
    storage = models.ForeignKey(Storage, null=True, blank=True, on_delete=models.PROTECT, related_name="pools")
    volume_retention_days = _days(365, _("A volume is not recycled before its last write is this old."))
    recycle = models.BooleanField(default=True)
    autoprune = models.BooleanField(default=True)
    maximum_volume_bytes = models.PositiveBigIntegerField(default=0, validators=[MaxValueValidator(2**62)], help_text=_(
        "0: no limit (tape volumes end at the end of the tape)."))
    label_format = models.CharField(max_length=64, blank=True, validators=[v.validate_label_format], help_text=_(
        "For disk volumes labelled automatically (e.g. Vol-); empty for tape (labelled from barcodes)."))


class BackupJob(_Resource):
    """A backup job: which client, what (fileset), when (schedule), where to (pool and storage)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="jobs")
    fileset = models.ForeignKey(FileSet, on_delete=models.PROTECT, related_name="jobs")
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs",
                                 help_text=_("Empty: runs only when started by hand."))
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="jobs")
    storage = models.ForeignKey(Storage, on_delete=models.PROTECT, related_name="jobs")
    level = models.CharField(max_length=16, choices=JobLevel.choices, default=JobLevel.INCREMENTAL)
    priority = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1), MaxValueValidator(100)])

    class Meta(_Resource.Meta):
        permissions = [("run_backupjob", "Can run a backup job now")]


class JobRun(CalypsoModel):
    """One job as the director's catalog records it (``list jobs``)."""

    jobid = models.PositiveBigIntegerField(unique=True)
    name = models.CharField(max_length=127)
    job_type = models.CharField(max_length=4, choices=JobType.choices, blank=True)
    level = models.CharField(max_length=16, choices=RunLevel.choices, blank=True)
    status = models.CharField(max_length=2, choices=JobStatus.choices, blank=True)
    client = models.CharField(max_length=127, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    files = models.PositiveBigIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    backup_job = models.ForeignKey(BackupJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")

    class Meta:
        ordering = ("-jobid",)
        permissions = [("restore_jobrun", "Can restore files from a job")]

    def __str__(self) -> str:
        return f"{self.name} #{self.jobid}"


class Volume(CalypsoModel):
    """A volume (tape or disk-changer file) as the catalog records it (``llist volumes``)."""

    name = models.CharField(max_length=127, unique=True)
    pool = models.ForeignKey(Pool, null=True, blank=True, on_delete=models.SET_NULL, related_name="volumes")
    pool_name = models.CharField(max_length=127, blank=True)
    status = models.CharField(max_length=16, choices=VolumeStatus.choices, blank=True)
    media_type = models.CharField(max_length=127, blank=True)
    slot = models.IntegerField(default=0)
    in_changer = models.BooleanField(default=False)
    bytes = models.PositiveBigIntegerField(default=0)
    jobs = models.PositiveIntegerField(default=0)
    last_written = models.DateTimeField(null=True, blank=True)
    storage = models.CharField(max_length=127, blank=True)

    class Meta:
        ordering = ("name",)
        permissions = [("purge_volume", "Can purge a volume's records")]

    def __str__(self) -> str:
        return self.name
