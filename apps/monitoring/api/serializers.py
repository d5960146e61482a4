from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.monitoring.models import SAMPLED_FIELDS, Alert, AlertRule, Disk, DiskSample, MetricSeries, SelfTest

__all__ = ["AlertRuleSerializer", "AlertSerializer", "DiskBriefSerializer", "DiskSampleSerializer", "DiskSerializer",
           "MetricSeriesSerializer", "SelfTestSerializer"]

DISK_FIELDS = ("id", "name", "path", "model", "serial", "wwn", "capacity_bytes", "rotational", "transport",
               "protocol", "smart_supported", "smart_enabled", "health", *SAMPLED_FIELDS, "self_test_status",
               "self_test_remaining_percent", "in_use", "pool", "last_checked", "last_error", "gone")


class DiskSampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = DiskSample
        fields = ("time", "health", *SAMPLED_FIELDS)
        read_only_fields = fields


class SelfTestSerializer(serializers.ModelSerializer):
    class Meta:
        model = SelfTest
        fields = ("kind", "status", "passed", "lifetime_hours", "remaining_percent")
        read_only_fields = fields


class AttributeSerializer(serializers.Serializer):
    """One ATA SMART attribute as the drive reports it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    value = serializers.IntegerField(allow_null=True)
    worst = serializers.IntegerField(allow_null=True)
    thresh = serializers.IntegerField(allow_null=True)
    raw = serializers.IntegerField(allow_null=True)
    raw_string = serializers.CharField(allow_blank=True)
    failing = serializers.CharField(allow_blank=True, help_text="When the value crossed its threshold, if ever.")


class DiskBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Disk
        fields = DISK_FIELDS
        read_only_fields = fields


class DiskSerializer(serializers.ModelSerializer):
    """A disk with its attribute table, its recent samples (newest first) and its self-test log."""

    attributes = AttributeSerializer(many=True, read_only=True)
    samples = serializers.SerializerMethodField()
    self_tests = SelfTestSerializer(many=True, read_only=True)

    class Meta:
        model = Disk
        fields = (*DISK_FIELDS, "messages", "attributes", "samples", "self_tests", "created", "updated")
        read_only_fields = fields

    @extend_schema_field(DiskSampleSerializer(many=True))
    def get_samples(self, disk: Disk) -> list[dict]:
        return DiskSampleSerializer(disk.samples.order_by("-time", "-id")[:48], many=True).data


class AlertRuleSerializer(serializers.ModelSerializer):
    metric = serializers.CharField(read_only=True, help_text="Threshold and growth rules: the metric (else empty).")
    event_kind = serializers.CharField(read_only=True, help_text="Event rules: the event kind (else empty).")

    class Meta:
        model = AlertRule
        fields = ("id", "name", "enabled", "kind", "metric", "subject", "operator", "threshold", "for_seconds",
                  "window_seconds", "event_kind", "severity", "builtin", "silenced_until", "description")
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)

    class Meta:
        model = Alert
        fields = ("id", "rule", "rule_name", "subject", "state", "severity", "message", "value", "started_at",
                  "fired_at", "last_seen", "acknowledged_at", "acknowledged_by", "resolved_at", "silenced_until",
                  "occurrences")
        read_only_fields = fields


class MetricSeriesSerializer(serializers.ModelSerializer):
    class Meta:
        model = MetricSeries
        fields = ("id", "name", "subject", "last_value", "last_time")
        read_only_fields = fields
