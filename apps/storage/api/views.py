from apps.core.api import CalypsoViewSet
from apps.storage import filters, operations
from apps.storage.models import Dataset, Pool, Snapshot, SnapshotPolicy, StorageEvent

from . import serializers

__all__ = ["DatasetViewSet", "PoolViewSet", "SnapshotPolicyViewSet", "SnapshotViewSet", "StorageEventViewSet"]


class PoolViewSet(CalypsoViewSet):
    queryset = Pool.objects.all()
    serializer_class = serializers.PoolSerializer
    filterset_class = filters.PoolFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "health", "capacity_percent")
    operations = operations.POOL

    def get_serializer_class(self):
        return serializers.PoolBriefSerializer if self.action == "list" else super().get_serializer_class()

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset if self.action == "list" else queryset.prefetch_related("vdevs")  # rows show no devices


class DatasetViewSet(CalypsoViewSet):
    queryset = Dataset.objects.select_related("pool")
    serializer_class = serializers.DatasetSerializer
    filterset_class = filters.DatasetFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "used_bytes")
    operations = operations.DATASET


class SnapshotViewSet(CalypsoViewSet):
    queryset = Snapshot.objects.select_related("dataset")
    serializer_class = serializers.SnapshotSerializer
    filterset_class = filters.SnapshotFilterSet
    search_fields = ("name",)
    ordering_fields = ("created_at", "name")
    ordering = ("-created_at",)
    operations = operations.SNAPSHOT


class StorageEventViewSet(CalypsoViewSet):
    queryset = StorageEvent.objects.select_related("pool")
    serializer_class = serializers.StorageEventSerializer
    filterset_class = filters.StorageEventFilterSet
    search_fields = ("message", "pool__name")
    operations = operations.EVENT


class SnapshotPolicyViewSet(CalypsoViewSet):
    queryset = SnapshotPolicy.objects.select_related("dataset__pool")
    serializer_class = serializers.SnapshotPolicySerializer
    filterset_class = filters.SnapshotPolicyFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "last_run_at", "next_due_at")
    operations = operations.POLICY
