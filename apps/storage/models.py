"""Inventory mirror of what the host reports: pools (zpools and Btrfs filesystems), their vdev
trees, datasets (ZFS filesystems/volumes, Btrfs subvolumes), snapshots, and health events.

The host is the source of truth: sync.py writes the observed fields; services.py changes the host
and then refreshes these rows.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core import validators
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
from .querysets import PoolQuerySet, SnapshotQuerySet
from .retention import DEFAULT_TEMPLATE, RetentionRule, validate_template

__all__ = ["Dataset", "Named", "Pool", "Snapshot", "SnapshotPolicy", "StorageEvent", "Vdev"]


class Named:
    """Storage objects show their name."""

    name: str

    def __str__(self) -> str:
        return self.name


class Pool(Named, CalypsoModel):
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

    @property
    def lock_key(self) -> str:
        return f"pool:{self.name}"


class Vdev(Named, models.Model):
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


class Dataset(Named, CalypsoModel):
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

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=["pool", "name"], name="storage_dataset_unique_name")]

    def prop(self, name: str, default: str = "") -> str:
        return (self.properties.get(name) or {}).get("value", default)

    @property
    def relative_path(self) -> str:
        """The path below the pool's top level ("" for the top level itself; Btrfs: the subvolume path)."""
        return self.name.partition("/")[2]

    @property
    def name_unmanaged(self) -> bool:
        """The host has this dataset under a name Calypso would not give a new one (made by hand with a
        space, say): it is listed and can be destroyed, but no new dataset is created or renamed so."""
        try:
            if self.pool.backend == Backend.BTRFS:
                if self.relative_path:
                    validators.validate_btrfs_subvolume_name(self.relative_path)
            else:
                validators.validate_zfs_dataset_name(self.name)
        except ValidationError:
            return True
        return False


class Snapshot(Named, CalypsoModel):
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



class StorageEvent(CalypsoModel):
    pool = models.ForeignKey(Pool, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    severity = models.CharField(max_length=10, choices=EventSeverity.choices, default=EventSeverity.INFO)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    time = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged = models.BooleanField(default=False)

    class Meta:
        ordering = ("-time", "-id")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message[:80]}"


def validate_naming_template(value: str) -> None:
    """A snapshot name template the retention engine accepts (field validator: admin, API, services)."""
    try:
        validate_template(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_template") from exc


class SnapshotPolicy(Named, CalypsoModel):
    """Scheduled snapshots of a dataset (or its subtree) with per-frequency retention, as sanoid does."""

    name = models.CharField(max_length=100, unique=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="snapshot_policies",
                                help_text=_("ZFS dataset or Btrfs subvolume."))
    recursive = models.BooleanField(default=False, help_text=_("ZFS: snapshot the whole subtree atomically "
                                                               "(zfs snapshot -r) and prune each dataset in it."))
    enabled = models.BooleanField(default=True)
    naming_template = models.CharField(max_length=255, default=DEFAULT_TEMPLATE, validators=[validate_naming_template],
                                       help_text=_("{frequency} and {time:%Y-%m-%d_%H:%M:%S}; letters, digits, "
                                                   "_ . : - only."))
    frequent_count = models.PositiveIntegerField(default=0, help_text=_("Frequent snapshots to keep (0: none)."))
    frequent_period_minutes = models.PositiveSmallIntegerField(default=15, help_text=_("Divides a day: 5, 15, 30..."))
    hourly = models.PositiveIntegerField(default=36)
    daily = models.PositiveIntegerField(default=30)
    weekly = models.PositiveIntegerField(default=0)
    monthly = models.PositiveIntegerField(default=3)
    yearly = models.PositiveIntegerField(default=0)
    protected_snapshots = models.JSONField(default=list, blank=True, help_text=_(
        "Snapshot names (the part after @) never to prune, e.g. a replication task's incremental base."))
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: due at the next beat tick."))

    observed_fields = ("last_run_at", "last_error", "next_due_at")

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "snapshot policies"
        permissions = [("run_snapshotpolicy", "Can run a snapshot policy now")]

    @property
    def lock_key(self) -> str:
        return f"policy:{self.pk}"

    def rule(self) -> RetentionRule:
        return RetentionRule(frequent_count=self.frequent_count, hourly=self.hourly, daily=self.daily,
                             weekly=self.weekly, monthly=self.monthly, yearly=self.yearly,
                             frequent_period_minutes=self.frequent_period_minutes)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            self.rule()
        except (ValueError, TypeError) as exc:
            counts = ("frequent_period_minutes", "frequent_count", "hourly", "daily", "weekly", "monthly", "yearly")
            field = next((name for name in counts if name in str(exc)), "hourly")  # the field the rule names
            errors[field] = str(exc)
        names = self.protected_snapshots
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            errors["protected_snapshots"] = _("Give a list of snapshot names.")
        if self.dataset_id is not None:
            errors.update(self._dataset_errors())
        if errors:
            raise ValidationError(errors)

    def _dataset_errors(self) -> dict[str, str]:
        dataset = self.dataset
        if dataset.gone:
            return {"dataset": _("%(n)s is no longer on the host.") % {"n": dataset.name}}
        if dataset.pool.backend == Backend.BTRFS:
            if not dataset.relative_path:
                return {"dataset": _("Snapshot a subvolume, not the top level of a Btrfs filesystem.")}
            if self.recursive:
                return {"recursive": _("Btrfs snapshots are not recursive: make a policy per subvolume.")}
        return {}
