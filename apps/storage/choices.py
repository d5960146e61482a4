"""Storage status values and their badge colours, in one place."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "DATASET_KIND_COLORS",
    "EVENT_SEVERITY_COLORS",
    "SCAN_STATE_COLORS",
    "STATE_COLORS",
    "Backend",
    "DatasetKind",
    "EventKind",
    "EventSeverity",
    "PoolHealth",
    "ScanFunction",
    "ScanState",
    "VdevRole",
    "VdevState",
]


class Backend(models.TextChoices):
    ZFS = "zfs", _("ZFS")
    BTRFS = "btrfs", _("Btrfs")


# The states ZFS reports for pools and devices alike; each choice set adds its own.
_ZFS_STATES = [("ONLINE", _("Online")), ("DEGRADED", _("Degraded")), ("FAULTED", _("Faulted")),
               ("OFFLINE", _("Offline")), ("UNAVAIL", _("Unavailable")), ("REMOVED", _("Removed"))]
_UNKNOWN = [("UNKNOWN", _("Unknown"))]
PoolHealth = models.TextChoices("PoolHealth", [(v, (v, label)) for v, label in
                                               [*_ZFS_STATES, ("SUSPENDED", _("Suspended")), *_UNKNOWN]])
VdevState = models.TextChoices("VdevState", [(v, (v, label)) for v, label in
                                             [*_ZFS_STATES, ("AVAIL", _("Available (spare)")),
                                              ("INUSE", _("In use (spare)")), *_UNKNOWN]])


class VdevRole(models.TextChoices):
    DATA = "data", _("Data")
    LOG = "log", _("Log")
    CACHE = "cache", _("Cache")
    SPARE = "spare", _("Spare")
    SPECIAL = "special", _("Special")
    DEDUP = "dedup", _("Dedup")


class ScanFunction(models.TextChoices):
    NONE = "none", _("None")
    SCRUB = "scrub", _("Scrub")
    RESILVER = "resilver", _("Resilver")


class ScanState(models.TextChoices):
    NONE = "none", _("Never")
    SCANNING = "scanning", _("Running")
    PAUSED = "paused", _("Paused")
    FINISHED = "finished", _("Finished")
    CANCELED = "canceled", _("Canceled")


class DatasetKind(models.TextChoices):
    FILESYSTEM = "filesystem", _("Filesystem")
    VOLUME = "volume", _("Volume")
    SUBVOLUME = "subvolume", _("Subvolume")


class EventKind(models.TextChoices):
    HEALTH_CHANGED = "health_changed", _("Health changed")
    CHECKSUM_ERRORS = "checksum_errors", _("New checksum errors")
    SCRUB_ERRORS = "scrub_errors", _("Scrub found errors")
    CAPACITY_80 = "capacity_80", _("Capacity above 80 %")
    CAPACITY_90 = "capacity_90", _("Capacity above 90 %")
    POOL_GONE = "pool_gone", _("Pool disappeared")
    POOL_APPEARED = "pool_appeared", _("Pool appeared")
    SYNC_FAILED = "sync_failed", _("Could not be read")
    BACKUP_FAILED = "backup_failed", _("Backup or restore drill failed")
    TAPE_ALERT = "tape_alert", _("Tape drive alert")


class EventSeverity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


# Pool health and device states share one palette (a state means the same for both).
STATE_COLORS = {"ONLINE": "green", "DEGRADED": "orange", "FAULTED": "red", "OFFLINE": "grey", "UNAVAIL": "red",
                "REMOVED": "red", "SUSPENDED": "red", "AVAIL": "blue", "INUSE": "orange", "UNKNOWN": "grey"}
SCAN_STATE_COLORS = {
    ScanState.NONE: "grey", ScanState.SCANNING: "blue", ScanState.PAUSED: "orange", ScanState.FINISHED: "green",
    ScanState.CANCELED: "grey",
}
DATASET_KIND_COLORS = {DatasetKind.FILESYSTEM: "blue", DatasetKind.VOLUME: "orange", DatasetKind.SUBVOLUME: "green"}
EVENT_SEVERITY_COLORS = {EventSeverity.INFO: "blue", EventSeverity.WARNING: "orange", EventSeverity.CRITICAL: "red"}
