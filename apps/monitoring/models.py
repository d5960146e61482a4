"""Monitoring's rows. Disks: what the host reports about its disks: one ``Disk`` per block device that is a disk, with the last SMART
reading (``smartctl``), its history of the predictive values (``DiskSample``) and the self-test log
(``SelfTest``). Rows are written by the check (``services.check_disks``), never edited by hand.

Metrics: one ``MetricSeries`` per metric and subject, its points in ``MetricPoint`` at three resolutions (raw,
5-minute and hourly roll-ups). Alerts: ``AlertRule`` rows (installed defaults and the operator's own), the
``Alert`` each raised, and the ``NotificationChannel`` rows with their ``Delivery`` log."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField
from apps.core.models import CalypsoModel, RestrictedQuerySet

from .choices import (
    AlertState,
    ChannelKind,
    DeliveryState,
    DiskHealth,
    DiskProtocol,
    Operator,
    RuleKind,
    Severity,
    SmtpSecurity,
)
from .metrics import EVENT_KINDS, metric_choices

__all__ = ["PREDICTIVE_FIELDS", "SAMPLED_FIELDS", "Alert", "AlertRule", "Delivery", "Disk", "DiskSample",
           "MetricPoint", "MetricSeries", "NotificationChannel", "SelfTest", "Watermark"]

# The values that predict a failure, and what a sample keeps of each check.
PREDICTIVE_FIELDS = ("reallocated_sectors", "pending_sectors", "offline_uncorrectable", "udma_crc_errors",
                     "media_errors", "percentage_used", "available_spare", "grown_defects", "uncorrected_errors")
SAMPLED_FIELDS = ("temperature_c", "power_on_hours", *PREDICTIVE_FIELDS)


def _count(help_text: str):
    return models.BigIntegerField(null=True, blank=True, help_text=help_text)


class PredictiveValues(models.Model):
    """The SMART values worth following over time (empty where the protocol has none)."""

    temperature_c = models.IntegerField(null=True, blank=True)
    power_on_hours = models.BigIntegerField(null=True, blank=True)
    reallocated_sectors = _count(_("ATA attribute 5 (raw)."))
    pending_sectors = _count(_("ATA attribute 197 (raw)."))
    offline_uncorrectable = _count(_("ATA attribute 198 (raw)."))
    udma_crc_errors = _count(_("ATA attribute 199 (raw): cabling or backplane trouble."))
    media_errors = _count(_("NVMe media and data integrity errors."))
    percentage_used = models.IntegerField(null=True, blank=True, help_text=_("NVMe: endurance used, in percent."))
    available_spare = models.IntegerField(null=True, blank=True, help_text=_("NVMe: spare capacity left, in percent."))
    grown_defects = _count(_("SCSI/SAS: elements in the grown defect list."))
    uncorrected_errors = _count(_("SCSI/SAS: read + write errors the drive could not correct."))

    class Meta:
        abstract = True


class Disk(CalypsoModel, PredictiveValues):
    name = models.CharField(max_length=64, unique=True, help_text=_("Kernel name, e.g. sda or nvme0n1."))
    path = models.CharField(max_length=255)
    model = models.CharField(max_length=255, blank=True)
    serial = models.CharField(max_length=255, blank=True)
    wwn = models.CharField(max_length=64, blank=True)
    capacity_bytes = models.BigIntegerField(null=True, blank=True)
    rotational = models.BooleanField(default=False)
    transport = models.CharField(max_length=32, blank=True, help_text=_("As lsblk reports it: sata, sas, nvme, usb..."))
    protocol = models.CharField(max_length=8, choices=DiskProtocol.choices, blank=True, default=DiskProtocol.UNKNOWN)
    smart_supported = models.BooleanField(default=False)
    smart_enabled = models.BooleanField(null=True, blank=True)
    health = models.CharField(max_length=16, choices=DiskHealth.choices, default=DiskHealth.UNKNOWN)
    self_test_status = models.CharField(max_length=255, blank=True, help_text=_("The drive's current self-test state."))
    self_test_remaining_percent = models.IntegerField(null=True, blank=True)
    attributes = models.JSONField(default=list, blank=True, help_text=_(
        "ATA attribute table: id, name, value, worst, thresh, raw, failing."))
    in_use = models.CharField(max_length=255, blank=True, help_text=_("Why the disk holds data (mounted, a filesystem, "
                                                                     "partitions), from the host's block devices."))
    pool = models.CharField(max_length=255, blank=True, help_text=_("The storage pool the disk belongs to, if any."))
    messages = models.TextField(blank=True, help_text=_("What smartctl said about the device."))
    last_checked = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    gone = models.BooleanField(default=False, help_text=_("No longer seen on the host."))

    class Meta:
        ordering = ("name",)
        permissions = [("check_disk", "Can re-read the disks"), ("self_test_disk", "Can run a disk self-test")]

    def __str__(self) -> str:
        return self.name

    @property
    def lock_key(self) -> str:
        return f"disk:{self.name}"


class DiskSample(PredictiveValues):
    """The predictive values at one check: kept when one changed, or at least once an hour."""

    disk = models.ForeignKey(Disk, on_delete=models.CASCADE, related_name="samples")
    time = models.DateTimeField(db_index=True)
    health = models.CharField(max_length=16, choices=DiskHealth.choices, default=DiskHealth.UNKNOWN)

    class Meta:
        ordering = ("-time", "-id")
        get_latest_by = "time"

    def __str__(self) -> str:
        return f"{self.disk} @ {self.time:%Y-%m-%d %H:%M}"


class SelfTest(CalypsoModel):
    """One entry of a disk's self-test log (the drive keeps the last ~21), or a test Calypso is running."""

    disk = models.ForeignKey(Disk, on_delete=models.CASCADE, related_name="self_tests")
    kind = models.CharField(max_length=64, help_text=_("As the drive names it: Short offline, Extended offline..."))
    status = models.CharField(max_length=255)
    passed = models.BooleanField(null=True, blank=True)
    lifetime_hours = models.BigIntegerField(null=True, blank=True, help_text=_("Power-on hours when it ran."))
    remaining_percent = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ("-lifetime_hours", "-id")
        constraints = [models.UniqueConstraint(fields=("disk", "kind", "lifetime_hours"),
                                               name="monitoring_selftest_unique")]

    def __str__(self) -> str:
        return f"{self.disk}: {self.kind} {self.status}"


class MetricSeries(models.Model):
    """One metric of one subject (``pool.capacity_pct`` of ``tank``); its last value answers rules cheaply."""

    name = models.CharField(max_length=64, choices=metric_choices())
    subject = models.CharField(max_length=255, blank=True, help_text=_("Pool, disk, dataset or interface; "
                                                                       "empty for the host."))
    last_value = models.FloatField(null=True, blank=True)
    last_time = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("name", "subject")
        verbose_name_plural = _("metric series")
        constraints = [models.UniqueConstraint(fields=("name", "subject"), name="monitoring_series_unique")]

    def __str__(self) -> str:
        return f"{self.name} {self.subject}".strip()


class MetricPoint(models.Model):
    """A value at a time (``resolution`` 0), or the min/avg/max of the ``count`` raw points of a roll-up bucket
    that starts at ``time`` and lasts ``resolution`` seconds."""

    id = models.BigAutoField(primary_key=True)
    series = models.ForeignKey(MetricSeries, on_delete=models.CASCADE, related_name="points")
    resolution = models.PositiveIntegerField(default=0)
    time = models.DateTimeField()
    avg = models.FloatField()
    min = models.FloatField()
    max = models.FloatField()
    count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ("time",)
        indexes = [models.Index(fields=("resolution", "series", "time"), name="monitoring_point_read"),
                   models.Index(fields=("resolution", "time"), name="monitoring_point_age")]
        constraints = [models.UniqueConstraint(fields=("resolution", "series", "time"), condition=Q(resolution__gt=0),
                                               name="monitoring_rollup_unique")]

    def __str__(self) -> str:
        return f"{self.series} @ {self.time:%Y-%m-%d %H:%M:%S}"


class Watermark(models.Model):
    """How far a periodic pass has gone (roll-ups, events read by the alert rules)."""

    key = models.CharField(max_length=64, unique=True)
    position = models.BigIntegerField(default=0)
    time = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key


class AlertRule(CalypsoModel):
    """When to raise an alert: a metric past a threshold for a while, a metric that grew within a window, or an
    event. Rules marked ``builtin`` are installed on first start; they may be edited or disabled, not deleted."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    metric = models.CharField(max_length=64, choices=metric_choices(), blank=True,
                              help_text=_("Threshold and growth rules: the metric followed."))
    subject = models.CharField(max_length=255, blank=True, help_text=_(
        "Only this pool, disk, dataset or interface; empty: every subject of the metric."))
    operator = models.CharField(max_length=2, choices=Operator.choices, default=Operator.GT)
    threshold = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-1e15), MaxValueValidator(1e15)],
                                  help_text=_(
        "Threshold rules: the limit. Growth rules: the increase that raises the alert."))
    for_seconds = models.PositiveIntegerField(default=0, help_text=_(
        "Threshold rules: how long the condition must hold before the alert fires (0: at once)."))
    window_seconds = models.PositiveIntegerField(default=86400, help_text=_(
        "Growth rules: the window the increase is measured over. Event rules: an alert resolves itself after "
        "this long without a new event."))
    event_kind = models.CharField(max_length=32, choices=EVENT_KINDS, blank=True,
                                  help_text=_("Event rules: the kind of event followed."))
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    builtin = models.BooleanField(default=False, editable=False)
    silenced_until = models.DateTimeField(null=True, blank=True, help_text=_(
        "Until then the rule's alerts are kept but nobody is notified."))
    description = models.TextField(blank=True)

    class Meta:
        ordering = ("name",)
        permissions = [("silence_alertrule", "Can silence an alert rule")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Each kind names what it needs; a field the kind does not use is left as it is."""
        errors = {}
        if self.kind in (RuleKind.THRESHOLD, RuleKind.GROWTH):
            if not self.metric:
                errors["metric"] = _("A threshold or growth rule follows a metric.")
            if self.threshold is None:
                errors["threshold"] = _("A threshold or growth rule needs a threshold.")
        if self.kind == RuleKind.GROWTH and not self.window_seconds:
            errors["window_seconds"] = _("A growth rule measures over a window longer than 0 seconds.")
        if self.kind == RuleKind.EVENT and not self.event_kind:
            errors["event_kind"] = _("An event rule names the kind of event it follows.")
        if errors:
            raise ValidationError(errors)

    @property
    def silenced(self) -> bool:
        return self.silenced_until is not None and self.silenced_until > timezone.now()


class Alert(CalypsoModel):
    """One problem a rule found, about one subject: pending (not yet for the rule's duration), firing,
    acknowledged by an operator, or resolved. At most one alert per rule and subject is open."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    subject = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.PENDING, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField()
    value = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now, help_text=_("When the condition was first seen."))
    fired_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(default=timezone.now, help_text=_("When the condition was last seen."))
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    silenced_until = models.DateTimeField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(default=1, help_text=_("Events counted into this alert."))
    notified_state = models.CharField(max_length=16, blank=True, help_text=_("The last state channels were told."))

    class Meta:
        ordering = ("-started_at", "-id")
        permissions = [("acknowledge_alert", "Can acknowledge an alert"), ("silence_alert", "Can silence an alert")]
        constraints = [models.UniqueConstraint(fields=("rule", "subject"), condition=~Q(state=AlertState.RESOLVED),
                                               name="monitoring_alert_open_unique")]

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}" if self.subject else str(self.rule)

    @property
    def silenced(self) -> bool:
        return self.silenced_until is not None and self.silenced_until > timezone.now()


class NotificationChannel(CalypsoModel):
    """Where alerts are sent: an email address list over SMTP, a signed JSON webhook, or an ntfy topic."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    enabled = models.BooleanField(default=True)
    min_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING,
                                    help_text=_("Alerts below this severity are not sent here."))
    quiet_start = models.TimeField(null=True, blank=True, help_text=_(
        "Quiet hours (server time): from this time until quiet end only critical alerts are sent."))
    quiet_end = models.TimeField(null=True, blank=True)
    # Email
    recipients = models.TextField(blank=True, help_text=_("Email: addresses, one per line or comma separated."))
    sender = models.EmailField(blank=True, help_text=_("Email: the From address (default: the portal's)."))
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(max_length=8, choices=SmtpSecurity.choices, default=SmtpSecurity.STARTTLS)
    smtp_username = models.CharField(max_length=255, blank=True)
    smtp_password = EncryptedTextField(blank=True, default="")
    # Webhook and ntfy
    url = models.URLField(max_length=500, blank=True, help_text=_(
        "Webhook: the address that receives the JSON. ntfy: the topic's address, e.g. https://ntfy.sh/my-nas."))
    secret = EncryptedTextField(blank=True, default="", help_text=_(
        "Webhook: the HMAC-SHA256 key of the X-Calypso-Signature header. ntfy: an access token (optional)."))

    secret_fields = ("smtp_password", "secret")

    class Meta:
        ordering = ("name",)
        permissions = [("test_notificationchannel", "Can send a test notification")]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One message to one channel (a state change, or a burst of them grouped) and how sending it went."""

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    alerts = models.ManyToManyField(Alert, blank=True, related_name="deliveries")
    test = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_code = models.IntegerField(null=True, blank=True, help_text=_("Webhook and ntfy: the HTTP status."))
    last_error = models.TextField(blank=True)
    log = models.JSONField(default=list, blank=True, help_text=_("One line per attempt: time, outcome."))

    class Meta:
        ordering = ("-created", "-id")
        verbose_name_plural = _("deliveries")

    def __str__(self) -> str:
        return f"{self.channel}: {self.title}"
