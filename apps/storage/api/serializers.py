from rest_framework import serializers

from apps.storage.choices import Backend
from apps.storage.models import Dataset, Pool, Snapshot, SnapshotPolicy, StorageEvent, Vdev

__all__ = [
    "DatasetCreateSerializer",
    "DatasetSerializer",
    "DatasetUpdateSerializer",
    "PoolCreateSerializer",
    "PoolSerializer",
    "SnapshotCreateSerializer",
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


class PoolBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pool
        fields = ("id", "backend", "name", "health", "size_bytes", "allocated_bytes", "free_bytes",
                  "capacity_percent", "scan_state", "scan_percent", "gone")
        read_only_fields = fields


class VdevSpecSerializer(serializers.Serializer):
    type = serializers.CharField(default="stripe")
    devices = serializers.ListField(child=serializers.CharField(), min_length=1)


class PoolCreateSerializer(serializers.Serializer):
    """Either ``vdevs`` (explicit layout) or ``layout`` + ``disks``. ZFS only; Btrfs: ``mountpoint`` of an
    existing filesystem to register with ``backend="btrfs"``."""

    backend = serializers.ChoiceField(choices=Backend.choices, default=Backend.ZFS)
    name = serializers.CharField(required=False)
    vdevs = VdevSpecSerializer(many=True, required=False)
    layout = serializers.CharField(required=False)
    disks = serializers.ListField(child=serializers.CharField(), required=False)
    spares = serializers.ListField(child=serializers.CharField(), required=False)
    cache = serializers.ListField(child=serializers.CharField(), required=False)
    log = serializers.ListField(child=serializers.JSONField(), required=False)
    mountpoint = serializers.CharField(required=False)
    properties = serializers.DictField(child=serializers.CharField(), required=False)
    fs_properties = serializers.DictField(child=serializers.CharField(), required=False)
    force = serializers.BooleanField(default=False)


class DatasetSerializer(serializers.ModelSerializer):
    pool_name = serializers.CharField(source="pool.name", read_only=True)

    class Meta:
        model = Dataset
        fields = ("id", "pool", "pool_name", "name", "kind", "used_bytes", "available_bytes", "referenced_bytes",
                  "mountpoint", "properties", "extra", "gone", "last_seen", "created", "updated")
        read_only_fields = fields


PROPERTY_FIELDS = ("quota", "refquota", "reservation", "refreservation", "compression", "recordsize", "atime",
                   "readonly", "mountpoint", "sync", "copies", "dedup", "exec", "canmount", "snapdir", "xattr")


class _PropertiesMixin(serializers.Serializer):
    """Common properties as their own fields (sizes accept 10G, 1.5T...), any others in ``properties``."""

    properties = serializers.DictField(child=serializers.CharField(), required=False)

    def get_fields(self):
        fields = super().get_fields()
        for name in PROPERTY_FIELDS:
            fields[name] = serializers.CharField(required=False)
        return fields

    def collected_properties(self) -> dict:
        data = dict(self.validated_data.get("properties") or {})
        data.update({k: self.validated_data[k] for k in PROPERTY_FIELDS if k in self.validated_data})
        return data


class DatasetCreateSerializer(_PropertiesMixin):
    pool = serializers.PrimaryKeyRelatedField(queryset=Pool.objects.all())
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=("filesystem", "volume", "subvolume"), default="filesystem")
    volsize = serializers.CharField(required=False)
    sparse = serializers.BooleanField(default=False)


class DatasetUpdateSerializer(_PropertiesMixin):
    inherit = serializers.ListField(child=serializers.CharField(), required=False)


class SnapshotSerializer(serializers.ModelSerializer):
    """Lean: one row costs no extra query (dataset and pool come from select_related)."""

    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    pool = serializers.IntegerField(source="dataset.pool_id", read_only=True)

    class Meta:
        model = Snapshot
        fields = ("id", "dataset", "dataset_name", "pool", "name", "short_name", "created_at", "used_bytes",
                  "referenced_bytes", "holds")
        read_only_fields = fields


class SnapshotCreateSerializer(serializers.Serializer):
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    name = serializers.CharField()
    recursive = serializers.BooleanField(default=False)


class StorageEventSerializer(serializers.ModelSerializer):
    pool_name = serializers.CharField(source="pool.name", read_only=True, default="")

    class Meta:
        model = StorageEvent
        fields = ("id", "pool", "pool_name", "kind", "severity", "message", "details", "time", "acknowledged")
        read_only_fields = fields


class SnapshotPolicySerializer(serializers.ModelSerializer):
    """Field checks here give 400s naming the field; the service re-validates (template, counts, dataset)."""

    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.filter(gone=False))
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    protected_snapshots = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = SnapshotPolicy
        fields = ("id", "name", "dataset", "dataset_name", "recursive", "enabled", "naming_template",
                  "frequent_count", "frequent_period_minutes", "hourly", "daily", "weekly", "monthly", "yearly",
                  "protected_snapshots", "last_run_at", "last_error", "next_due_at", "created", "updated")
        read_only_fields = ("last_run_at", "last_error", "next_due_at", "created", "updated")
