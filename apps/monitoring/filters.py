"""FilterSets shared by the monitoring API and admin."""

import django_filters as filters

from apps.core.filters import CalypsoFilterSet, IdFilter

from .models import Alert, AlertRule, Disk, MetricSeries

__all__ = ["AlertFilterSet", "AlertRuleFilterSet", "DiskFilterSet", "MetricSeriesFilterSet"]


class DiskFilterSet(CalypsoFilterSet):
    pool = filters.CharFilter(help_text="The storage pool's name (exact).")
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name (plain text, any case).")

    class Meta:
        model = Disk
        fields = ("health", "pool", "smart_supported", "protocol", "gone", "name")


class AlertFilterSet(CalypsoFilterSet):
    rule = IdFilter(field_name="rule_id")
    subject = filters.CharFilter(help_text="The pool, disk, dataset or interface (exact).")

    class Meta:
        model = Alert
        fields = ("state", "severity", "rule", "subject")


class AlertRuleFilterSet(CalypsoFilterSet):
    class Meta:
        model = AlertRule
        fields = ("kind", "enabled", "severity", "builtin", "metric", "event_kind")


class MetricSeriesFilterSet(CalypsoFilterSet):
    subject = filters.CharFilter(help_text="The pool, disk, dataset or interface (exact; empty: the host).")

    class Meta:
        model = MetricSeries
        fields = ("name", "subject")
