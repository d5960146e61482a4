from apps.core.api import CalypsoViewSet
from apps.monitoring import filters, operations
from apps.monitoring.models import Alert, AlertRule, Disk, MetricSeries

from . import serializers

__all__ = ["AlertRuleViewSet", "AlertViewSet", "DiskViewSet", "MetricSeriesViewSet"]


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


class AlertViewSet(CalypsoViewSet):
    queryset = Alert.objects.select_related("rule")
    serializer_class = serializers.AlertSerializer
    filterset_class = filters.AlertFilterSet
    search_fields = ("subject", "message", "rule__name")
    ordering_fields = ("started_at", "severity", "state", "last_seen")
    ordering = ("-started_at", "-id")
    operations = operations.ALERT


class AlertRuleViewSet(CalypsoViewSet):
    queryset = AlertRule.objects.all()
    serializer_class = serializers.AlertRuleSerializer
    filterset_class = filters.AlertRuleFilterSet
    search_fields = ("name", "metric", "subject")
    ordering_fields = ("name", "severity", "kind")
    ordering = ("name",)
    operations = operations.RULE


class MetricSeriesViewSet(CalypsoViewSet):
    queryset = MetricSeries.objects.all()
    serializer_class = serializers.MetricSeriesSerializer
    filterset_class = filters.MetricSeriesFilterSet
    search_fields = ("name", "subject")
    ordering_fields = ("name", "subject", "last_time")
    ordering = ("name", "subject")
    operations = operations.SERIES
