from apps.core.api import CalypsoViewSet
from apps.monitoring import filters, operations
from apps.monitoring.models import Disk

from . import serializers

__all__ = ["DiskViewSet"]


class DiskViewSet(CalypsoViewSet):
    queryset = Disk.objects.all()
    serializer_class = serializers.DiskSerializer
    filterset_class = filters.DiskFilterSet
    search_fields = ("name", "model", "serial")
    ordering_fields = ("name", "health", "temperature_c", "capacity_bytes")
    ordering = ("name",)
    operations = operations.DISK

    def get_serializer_class(self):
        return serializers.DiskBriefSerializer if self.action == "list" else super().get_serializer_class()

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset if self.action == "list" else queryset.prefetch_related("self_tests")
