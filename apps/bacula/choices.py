"""Choices of the Bacula app."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "JOB_STATUS_COLORS",
    "Compression",
    "JobLevel",
    "JobStatus",
    "PoolType",
    "Signature",
    "VolumeStatus",
    "WritableVolumeStatus",
]


class Compression(models.TextChoices):
    NONE = "", _("None")
    GZIP = "GZIP", _("GZIP")
    LZO = "LZO", _("LZO")


class Signature(models.TextChoices):
    MD5 = "MD5", "MD5"
    SHA1 = "SHA1", "SHA1"


class JobLevel(models.TextChoices):
    FULL = "Full", _("Full")
    DIFFERENTIAL = "Differential", _("Differential")
    INCREMENTAL = "Incremental", _("Incremental")


class RunLevel(models.TextChoices):
    """The director's one-letter job level."""

    FULL = "F", _("Full")
    INCREMENTAL = "I", _("Incremental")
    DIFFERENTIAL = "D", _("Differential")
    SINCE = "S", _("Since")
    VIRTUAL_FULL = "f", _("Virtual full")
    BASE = "B", _("Base")
    VERIFY_CATALOG = "C", _("Verify catalog")
    VERIFY_VOLUME = "V", _("Verify volume to catalog")
    VERIFY_DISK = "d", _("Verify disk to catalog")
    VERIFY_DATA = "A", _("Verify data")
    NONE = " ", _("None")


class JobType(models.TextChoices):
    """The director's one-letter job type."""

    BACKUP = "B", _("Backup")
    RESTORE = "R", _("Restore")
    VERIFY = "V", _("Verify")
    ADMIN = "D", _("Admin")
    COPY = "c", _("Copy")
    COPY_JOB = "C", _("Copy (job)")
    MIGRATE = "g", _("Migration")
    MIGRATE_JOB = "M", _("Migrated job")
    ARCHIVE = "A", _("Archive")
    CONSOLE = "U", _("Console")
    SYSTEM = "I", _("System")
    SCAN = "S", _("Scan")


class PoolType(models.TextChoices):
    BACKUP = "Backup", _("Backup")
    SCRATCH = "Scratch", _("Scratch")


class VolumeStatus(models.TextChoices):
    APPEND = "Append", _("Append")
    FULL = "Full", _("Full")
    USED = "Used", _("Used")
    PURGED = "Purged", _("Purged")
    RECYCLE = "Recycle", _("Recycle")
    READ_ONLY = "Read-Only", _("Read-only")
    ARCHIVE = "Archive", _("Archive")
    ERROR = "Error", _("Error")
    DISABLED = "Disabled", _("Disabled")
    CLEANING = "Cleaning", _("Cleaning")


class WritableVolumeStatus(models.TextChoices):
    """What an operator may mark a volume (Bacula's `update volume volstatus=`)."""

    APPEND = "Append", _("Append")
    FULL = "Full", _("Full")
    USED = "Used", _("Used")
    READ_ONLY = "Read-Only", _("Read-only")
    ARCHIVE = "Archive", _("Archive")


class JobStatus(models.TextChoices):
    """The director's one-letter job status."""

    CREATED = "C", _("Created, not yet running")
    RUNNING = "R", _("Running")
    BLOCKED = "B", _("Blocked")
    OK = "T", _("Completed successfully")
    WARNINGS = "W", _("Terminated with warnings")
    ERROR = "E", _("Terminated with errors")
    NONFATAL = "e", _("Non-fatal error")
    FATAL = "f", _("Fatal error")
    DIFFERENCES = "D", _("Verify found differences")
    CANCELED = "A", _("Canceled")
    WAIT_FD = "F", _("Waiting for the client")
    WAIT_SD = "S", _("Waiting for the storage daemon")
    WAIT_MOUNT = "m", _("Waiting for a volume to be mounted")
    WAIT_MEDIA = "M", _("Waiting for media")
    WAIT_STORE = "s", _("Waiting for storage")
    WAIT_JOB = "j", _("Waiting for a job")
    WAIT_CLIENT = "c", _("Waiting for a client resource")
    WAIT_MAX = "d", _("Waiting for maximum jobs")
    WAIT_TIME = "t", _("Waiting for its start time")
    WAIT_PRIORITY = "p", _("Waiting for higher-priority jobs")
    INCOMPLETE = "I", _("Incomplete")


JOB_STATUS_COLORS = {"T": "green", "W": "orange", "E": "red", "e": "red", "f": "red", "A": "grey", "I": "orange",
                     "R": "blue", "C": "grey", "D": "orange"}
