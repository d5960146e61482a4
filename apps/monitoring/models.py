"""What the host reports about its disks: one ``Disk`` per block device that is a disk, with the last SMART
reading (``smartctl``), its history of the predictive values (``DiskSample``) and the self-test log
(``SelfTest``). Rows are written by the check (``services.check_disks``), never edited by hand."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import CalypsoModel

from .choices import DiskHealth, DiskProtocol

__all__ = ["PREDICTIVE_FIELDS", "SAMPLED_FIELDS", "Disk", "DiskSample", "SelfTest"]

# The values that predict a failure, and what a sample keeps of each check.
PREDICTIVE_FIELDS = ("reallocated_sectors", "pending_sectors", "offline_uncorrectable", "udma_crc_errors",
                     "media_errors", "percentage_used", "available_spare", "grown_defects", "uncorrected_errors")
SAMPLED_FIELDS = ("temperature_c", "power_on_hours", *PREDICTIVE_FIELDS)


def _count(help_text: str):
    return models.BigIntegerField(null=True, blank=True, help_text=help_text)


class PredictiveValues(models.Model):
    """The SMART values worth following over time (empty where the protocol has none)."""

    temperature_c = models.IntegerField(null=True, blank=True)
    power_on_hours = models.BigIntegerField(null=True, blank=True)
    reallocated_sectors = _count(_("ATA attribute 5 (raw)."))
    pending_sectors = _count(_("ATA attribute 197 (raw)."))
    offline_uncorrectable = _count(_("ATA attribute 198 (raw)."))
    udma_crc_errors = _count(_("ATA attribute 199 (raw): cabling or backplane trouble."))
    media_errors = _count(_("NVMe media and data integrity errors."))
    percentage_used = models.IntegerField(null=True, blank=True, help_text=_("NVMe: endurance used, in percent."))
    available_spare = models.IntegerField(null=True, blank=True, help_text=_("NVMe: spare capacity left, in percent."))
    grown_defects = _count(_("SCSI/SAS: elements in the grown defect list."))
    uncorrected_errors = _count(_("SCSI/SAS: read + write errors the drive could not correct."))

    class Meta:
        abstract = True


class Disk(CalypsoModel, PredictiveValues):
    name = models.CharField(max_length=64, unique=True, help_text=_("Kernel name, e.g. sda or nvme0n1."))
    path = models.CharField(max_length=255)
    model = models.CharField(max_length=255, blank=True)
    serial = models.CharField(max_length=255, blank=True)
    wwn = models.CharField(max_length=64, blank=True)
    capacity_bytes = models.BigIntegerField(null=True, blank=True)
    rotational = models.BooleanField(default=False)
    transport = models.CharField(max_length=32, blank=True, help_text=_("As lsblk reports it: sata, sas, nvme, usb..."))
    protocol = models.CharField(max_length=8, choices=DiskProtocol.choices, blank=True, default=DiskProtocol.UNKNOWN)
    smart_supported = models.BooleanField(default=False)
    smart_enabled = models.BooleanField(null=True, blank=True)
    health = models.CharField(max_length=16, choices=DiskHealth.choices, default=DiskHealth.UNKNOWN)
    self_test_status = models.CharField(max_length=255, blank=True, help_text=_("The drive's current self-test state."))
    self_test_remaining_percent = models.IntegerField(null=True, blank=True)
    attributes = models.JSONField(default=list, blank=True, help_text=_(
        "ATA attribute table: id, name, value, worst, thresh, raw, failing."))
    in_use = models.CharField(max_length=255, blank=True, help_text=_("Why the disk holds data (mounted, a filesystem, "
                                                                     "partitions), from the host's block devices."))
    pool = models.CharField(max_length=255, blank=True, help_text=_("The storage pool the disk belongs to, if any."))
    messages = models.TextField(blank=True, help_text=_("What smartctl said about the device."))
    last_checked = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    gone = models.BooleanField(default=False, help_text=_("No longer seen on the host."))

    class Meta:
        ordering = ("name",)
        permissions = [("check_disk", "Can re-read the disks"), ("self_test_disk", "Can run a disk self-test")]

    def __str__(self) -> str:
        return self.name

    @property
    def lock_key(self) -> str:
        return f"disk:{self.name}"


class DiskSample(PredictiveValues):
    """The predictive values at one check: kept when one changed, or at least once an hour."""

    disk = models.ForeignKey(Disk, on_delete=models.CASCADE, related_name="samples")
    time = models.DateTimeField(db_index=True)
    health = models.CharField(max_length=16, choices=DiskHealth.choices, default=DiskHealth.UNKNOWN)

    class Meta:
        ordering = ("-time", "-id")
        get_latest_by = "time"

    def __str__(self) -> str:
        return f"{self.disk} @ {self.time:%Y-%m-%d %H:%M}"


class SelfTest(CalypsoModel):
    """One entry of a disk's self-test log (the drive keeps the last ~21), or a test Calypso is running."""

    disk = models.ForeignKey(Disk, on_delete=models.CASCADE, related_name="self_tests")
    kind = models.CharField(max_length=64, help_text=_("As the drive names it: Short offline, Extended offline..."))
    status = models.CharField(max_length=255)
    passed = models.BooleanField(null=True, blank=True)
    lifetime_hours = models.BigIntegerField(null=True, blank=True, help_text=_("Power-on hours when it ran."))
    remaining_percent = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ("-lifetime_hours", "-id")
        constraints = [models.UniqueConstraint(fields=("disk", "kind", "lifetime_hours"),
                                               name="monitoring_selftest_unique")]

    def __str__(self) -> str:
        return f"{self.disk}: {self.kind} {self.status}"
