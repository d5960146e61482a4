"""Choices of the monitoring app and their badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.storage.choices import EventSeverity

__all__ = ["ALERT_STATE_COLORS", "HEALTH_COLORS", "SEVERITY_COLORS", "SEVERITY_RANK", "AlertState", "ChannelKind",
           "DeliveryState", "DiskHealth", "DiskProtocol", "Operator", "RuleKind", "SelfTestKind", "Severity",
           "SmtpSecurity"]


class DiskHealth(models.TextChoices):
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown")
    UNSUPPORTED = "unsupported", _("SMART unsupported")


class DiskProtocol(models.TextChoices):
    ATA = "ata", "ATA"
    NVME = "nvme", "NVMe"
    SCSI = "scsi", "SCSI"
    UNKNOWN = "", _("Unknown")


class SelfTestKind(models.TextChoices):
    SHORT = "short", _("Short")
    LONG = "long", _("Long (extended)")


HEALTH_COLORS = {DiskHealth.PASSED: "green", DiskHealth.FAILED: "red", DiskHealth.UNKNOWN: "orange",
                 DiskHealth.UNSUPPORTED: "grey"}


Severity = EventSeverity  # an alert is as severe as the storage events are: info, warning, critical


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", _("Metric above or below a threshold")
    GROWTH = "growth", _("Metric grew within a window")
    EVENT = "event", _("Event")


class Operator(models.TextChoices):
    GT = "gt", ">"
    GE = "ge", ">="
    LT = "lt", "<"
    LE = "le", "<="


class AlertState(models.TextChoices):
    PENDING = "pending", _("Pending")  # the condition holds, not yet for the rule's duration: nobody is told
    FIRING = "firing", _("Firing")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("Email (SMTP)")
    WEBHOOK = "webhook", _("Webhook (JSON, HMAC-SHA256 signed)")
    NTFY = "ntfy", _("ntfy")


class SmtpSecurity(models.TextChoices):
    NONE = "none", _("None")
    STARTTLS = "starttls", _("STARTTLS")
    TLS = "tls", _("TLS (SMTPS)")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Retrying")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")


SEVERITY_COLORS = {Severity.INFO: "blue", Severity.WARNING: "orange", Severity.CRITICAL: "red"}
ALERT_STATE_COLORS = {AlertState.PENDING: "grey", AlertState.FIRING: "red", AlertState.ACKNOWLEDGED: "orange",
                      AlertState.RESOLVED: "green"}
