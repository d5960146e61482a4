"""Choices of the monitoring app and their badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["HEALTH_COLORS", "DiskHealth", "DiskProtocol", "SelfTestKind"]


class DiskHealth(models.TextChoices):
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown")
    UNSUPPORTED = "unsupported", _("SMART unsupported")


class DiskProtocol(models.TextChoices):
    ATA = "ata", "ATA"
    NVME = "nvme", "NVMe"
    SCSI = "scsi", "SCSI"
    UNKNOWN = "", _("Unknown")


class SelfTestKind(models.TextChoices):
    SHORT = "short", _("Short")
    LONG = "long", _("Long (extended)")


HEALTH_COLORS = {DiskHealth.PASSED: "green", DiskHealth.FAILED: "red", DiskHealth.UNKNOWN: "orange",
                 DiskHealth.UNSUPPORTED: "grey"}
