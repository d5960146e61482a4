"""Inventory mirror of what the host reports: pools (zpools and Btrfs filesystems), their vdev
trees, datasets (ZFS filesystems/volumes, Btrfs subvolumes), snapshots, and health events.

The host is the source of truth: sync.py writes the observed fields; services.py changes the host
and then refreshes these rows.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import CalypsoModel

from .choices import (
    Backend,
    DatasetKind,
    EventKind,
    EventSeverity,
    PoolHealth,
    ScanFunction,
    ScanState,
    VdevRole,
    VdevState,
)
from .querysets import DatasetQuerySet, PoolQuerySet, SnapshotQuerySet, StorageEventQuerySet

__all__ = ["Dataset", "Pool", "Snapshot", "StorageEvent", "Vdev"]


class Pool(CalypsoModel):
    backend = models.CharField(max_length=8, choices=Backend.choices, default=Backend.ZFS)
    name = models.CharField(max_length=255)
    guid = models.CharField(max_length=64, blank=True)
    health = models.CharField(max_length=16, choices=PoolHealth.choices, default=PoolHealth.UNKNOWN)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    allocated_bytes = models.BigIntegerField(null=True, blank=True)
    free_bytes = models.BigIntegerField(null=True, blank=True)
    fragmentation_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    capacity_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    dedup_ratio = models.FloatField(null=True, blank=True)
    scan_function = models.CharField(max_length=16, choices=ScanFunction.choices, default=ScanFunction.NONE)
    scan_state = models.CharField(max_length=16, choices=ScanState.choices, default=ScanState.NONE)
    scan_percent = models.FloatField(default=0)
    scan_errors = models.PositiveIntegerField(default=0)
    scan_finished_at = models.DateTimeField(null=True, blank=True)
    scan_text = models.TextField(blank=True)
    checksum_errors = models.PositiveBigIntegerField(default=0, help_text=_("Sum over all devices."))
    status_text = models.TextField(blank=True)
    errors_text = models.TextField(blank=True)
    mountpoint = models.CharField(max_length=4096, blank=True, help_text=_("Btrfs: the top-level mount."))
    extra = models.JSONField(default=dict, blank=True)
    gone = models.BooleanField(default=False, help_text=_("No longer reported by the host (exported or lost)."))
    last_seen = models.DateTimeField(null=True, blank=True)

    objects = PoolQuerySet.as_manager()

    observed_fields = (
        "guid", "health", "size_bytes", "allocated_bytes", "free_bytes", "fragmentation_percent",
        "capacity_percent", "dedup_ratio", "scan_function", "scan_state", "scan_percent", "scan_errors",
        "scan_finished_at", "scan_text", "checksum_errors", "status_text", "errors_text", "extra", "gone",
        "last_seen",
    )  # fmt: skip

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=["backend", "name"], name="storage_pool_unique_name")]
        permissions = [
            ("scrub_pool", "Can scrub a pool"),
            ("export_pool", "Can export a pool"),
            ("import_pool", "Can import a pool"),
            ("maintain_pool", "Can offline, online, replace, detach and add pool devices"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def lock_key(self) -> str:
        return f"pool:{self.name}"


class Vdev(models.Model):
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="vdevs")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    name = models.CharField(max_length=1024)
    kind = models.CharField(max_length=16)
    role = models.CharField(max_length=8, choices=VdevRole.choices, default=VdevRole.DATA)
    state = models.CharField(max_length=16, choices=VdevState.choices, default=VdevState.UNKNOWN)
    read_errors = models.PositiveBigIntegerField(default=0)
    write_errors = models.PositiveBigIntegerField(default=0)
    checksum_errors = models.PositiveBigIntegerField(default=0)
    note = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("pool", "position")

    def __str__(self) -> str:
        return self.name


class Dataset(CalypsoModel):
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=1024)
    kind = models.CharField(max_length=16, choices=DatasetKind.choices, default=DatasetKind.FILESYSTEM)
    used_bytes = models.BigIntegerField(null=True, blank=True)
    available_bytes = models.BigIntegerField(null=True, blank=True)
    referenced_bytes = models.BigIntegerField(null=True, blank=True)
    mountpoint = models.CharField(max_length=4096, blank=True)
    properties = models.JSONField(default=dict, blank=True, help_text=_("{name: {value, source}}"))
    extra = models.JSONField(default=dict, blank=True)
    gone = models.BooleanField(default=False)
    last_seen = models.DateTimeField(null=True, blank=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=["pool", "name"], name="storage_dataset_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def relative_path(self) -> str:
        """Btrfs: the subvolume path below the top level ("" for the top level itself)."""
        return self.name.partition("/")[2]

    def prop(self, name: str, default: str = "") -> str:
        return (self.properties.get(name) or {}).get("value", default)


class Snapshot(CalypsoModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="snapshots")
    name = models.CharField(max_length=1024)
    short_name = models.CharField(max_length=255, db_index=True)
    created_at = models.DateTimeField(null=True, blank=True, db_index=True)
    used_bytes = models.BigIntegerField(null=True, blank=True)
    referenced_bytes = models.BigIntegerField(null=True, blank=True)
    holds = models.JSONField(default=list, blank=True)
    userrefs = models.PositiveIntegerField(default=0)
    guid = models.CharField(max_length=64, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    objects = SnapshotQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="storage_snapshot_unique_name")]
        indexes = [models.Index(fields=["dataset", "-created_at"])]
        permissions = [
            ("rollback_snapshot", "Can roll a dataset back to a snapshot"),
            ("hold_snapshot", "Can hold and release a snapshot"),
            ("clone_snapshot", "Can clone a snapshot"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def relative_path(self) -> str:
        return self.name.partition("/")[2]


class StorageEvent(CalypsoModel):
    pool = models.ForeignKey(Pool, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    severity = models.CharField(max_length=10, choices=EventSeverity.choices, default=EventSeverity.INFO)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    time = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged = models.BooleanField(default=False)

    objects = StorageEventQuerySet.as_manager()

    class Meta:
        ordering = ("-time", "-id")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message[:80]}"
