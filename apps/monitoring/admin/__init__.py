"""Monitoring's admin pages: disks, charts, alert rules and alerts, notification channels and their deliveries."""

from .alerts import AlertAdmin, AlertRuleAdmin, severity_badge, state_badge
from .channels import DeliveryAdmin, NotificationChannelAdmin
from .charts import MetricSeriesAdmin, format_value
from .disks import DiskAdmin, health_badge, temperature_text

__all__ = ["AlertAdmin", "AlertRuleAdmin", "DeliveryAdmin", "DiskAdmin", "MetricSeriesAdmin", "NotificationChannelAdmin",
           "format_value", "health_badge", "severity_badge", "state_badge", "temperature_text"]
