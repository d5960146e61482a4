from functools import cached_property

from django.utils import timezone
from rest_framework import serializers

from apps.core.serializers import RestrictedRelatedField, iso_datetime
from apps.storage.models import Dataset, Pool, Snapshot, SnapshotPolicy, StorageEvent, Vdev

__all__ = [
    "DatasetSerializer",
    "PoolBriefSerializer",
    "PoolPropertiesSerializer",
    "PoolPropertySerializer",
    "PoolSerializer",
    "SnapshotPolicySerializer",
    "SnapshotSerializer",
    "StorageEventSerializer",
    "VdevSerializer",
]


class VdevSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)  # ZFS's own words; not an enum (it grows with versions)

    class Meta:
        model = Vdev
        fields = ("id", "parent", "name", "kind", "role", "state", "read_errors", "write_errors", "checksum_errors",
                  "note")
        read_only_fields = fields


class PoolSerializer(serializers.ModelSerializer):
    vdevs = VdevSerializer(many=True, read_only=True)

    class Meta:
        model = Pool
        fields = ("id", "backend", "name", "mountpoint", *Pool.observed_fields, "vdevs", "created", "updated")
        read_only_fields = fields


class PoolPropertySerializer(serializers.Serializer):
    """One ZFS pool property as the host reports it."""

    name = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    source = serializers.CharField(help_text="default, local, or - for a statistic.")
    editable = serializers.BooleanField(help_text="Whether the properties operation sets it.")
    choices = serializers.ListField(child=serializers.CharField(), allow_null=True,
                                    help_text="The values it takes (null: free text, or read only).")


class PoolPropertiesSerializer(serializers.Serializer):
    pool = serializers.CharField()
    properties = PoolPropertySerializer(many=True)


class PoolBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pool
        fields = ("id", "backend", "name", "health", "size_bytes", "allocated_bytes", "free_bytes",
                  "capacity_percent", "scan_state", "scan_percent", "gone")
        read_only_fields = fields


class DatasetSerializer(serializers.ModelSerializer):
    pool_name = serializers.CharField(source="pool.name", read_only=True)
    name_unmanaged = serializers.BooleanField(read_only=True, help_text=(
        "The host has it under a name Calypso would not create (a space, say): listed and destroyable only."))

    class Meta:
        model = Dataset
        fields = ("id", "pool", "pool_name", "name", "name_unmanaged", "kind", "used_bytes", "available_bytes",
                  "referenced_bytes", "mountpoint", "properties", "extra", "gone", "last_seen", "created", "updated")
        read_only_fields = fields


class SnapshotSerializer(serializers.ModelSerializer):
    """Lean: a row costs no extra query (dataset from select_related) and is built directly, several times
    cheaper than DRF's per-field work on 50-row pages of a big table."""

    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    pool = serializers.IntegerField(source="dataset.pool_id", read_only=True)

    class Meta:
        model = Snapshot
        fields = ("id", "dataset", "dataset_name", "pool", "name", "short_name", "created_at", "used_bytes",
                  "referenced_bytes", "holds")
        read_only_fields = fields
        # The columns a list reads (the viewset narrows its query to them): keep in step with the row below.
        only = ("id", "dataset__name", "dataset__pool_id", "name", "short_name", "created_at", "used_bytes",
                "referenced_bytes", "holds")

    @cached_property
    def timezone(self):
        return timezone.get_current_timezone()  # once per page, not once per value

    def to_representation(self, obj) -> dict:
        return {"id": obj.pk, "dataset": obj.dataset_id, "dataset_name": obj.dataset.name,
                "pool": obj.dataset.pool_id, "name": obj.name, "short_name": obj.short_name,
                "created_at": iso_datetime(obj.created_at, self.timezone), "used_bytes": obj.used_bytes,
                "referenced_bytes": obj.referenced_bytes, "holds": obj.holds}


class StorageEventSerializer(serializers.ModelSerializer):
    pool_name = serializers.CharField(source="pool.name", read_only=True, default="")

    class Meta:
        model = StorageEvent
        fields = ("id", "pool", "pool_name", "kind", "severity", "message", "details", "time", "acknowledged")
        read_only_fields = fields


class SnapshotPolicySerializer(serializers.ModelSerializer):
    """Field checks here give 400s naming the field; the service re-validates (template, counts, dataset)."""

    dataset = RestrictedRelatedField(queryset=Dataset.objects.filter(gone=False).select_related("pool"),
                                     action="change")
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    protected_snapshots = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = SnapshotPolicy
        fields = ("id", "name", "dataset", "dataset_name", "recursive", "enabled", "naming_template",
                  "frequent_count", "frequent_period_minutes", "hourly", "daily", "weekly", "monthly", "yearly",
                  "protected_snapshots", "last_run_at", "last_error", "next_due_at", "created", "updated")
        read_only_fields = ("last_run_at", "last_error", "next_due_at", "created", "updated")
