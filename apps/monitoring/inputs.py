"""One serializer per monitoring operation: the API body and the admin form."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .choices import SelfTestKind
from .metrics import METRICS, RANGES
from .models import AlertRule, Delivery, NotificationChannel

__all__ = ["AlertRuleSerializer", "ChartInput", "ChartOutput", "ChartSeriesOutput", "DeliveryOutput",
           "ForecastOutput", "ForecastsOutput", "NotificationChannelInput", "SelfTestInput", "SilenceInput"]


class SelfTestInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SelfTestKind.choices, default=SelfTestKind.SHORT, help_text=_(
        "short: about two minutes; long: reads the whole surface (hours on a large disk)."))


class SilenceInput(serializers.Serializer):
    minutes = serializers.IntegerField(min_value=0, max_value=366 * 24 * 60, default=60, help_text=_(
        "No notifications for this long (0 lifts the silence)."))


class AlertRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertRule
        fields = ("name", "enabled", "kind", "metric", "subject", "operator", "threshold", "for_seconds",
                  "window_seconds", "event_kind", "severity", "description")


class ChartInput(serializers.Serializer):
    metrics = serializers.CharField(max_length=1000, help_text=_(
        "Metric names, comma separated (e.g. pool.read_bps,pool.write_bps)."))
    subject = serializers.CharField(required=False, allow_blank=True, default="", max_length=255, help_text=_(
        "Only this pool, disk, dataset or interface (empty: the host's metrics, or every subject with 'all')."))
    range = serializers.ChoiceField(choices=sorted(RANGES), default="24h", help_text=_("How far back from now."))
    since = serializers.FloatField(required=False, min_value=0, max_value=2.0**40, help_text=_(
        "Only points after this time (epoch seconds): what a live chart appends."))

    def validate_metrics(self, value: str) -> list[str]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in METRICS]
        if not names or unknown:
            raise serializers.ValidationError(_("Unknown metric: %(names)s.") % {"names": ", ".join(unknown) or "-"})
        return names


class ChartSeriesOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    subject = serializers.CharField(allow_blank=True)
    label = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    points = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()), help_text=_(
        "[time (epoch seconds), mean, min, max] per point."))


class ChartOutput(serializers.Serializer):
    resolution = serializers.IntegerField(help_text=_("Seconds per point: 0 raw, 300 or 3600 roll-ups."))
    start = serializers.FloatField()
    end = serializers.FloatField()
    series = ChartSeriesOutput(many=True)


class ForecastOutput(serializers.Serializer):
    pool = serializers.CharField()
    capacity_pct = serializers.FloatField(allow_null=True)
    growth_bytes_per_day = serializers.IntegerField(allow_null=True)
    full_80_at = serializers.DateTimeField(allow_null=True)
    full_100_at = serializers.DateTimeField(allow_null=True)


class ForecastsOutput(serializers.Serializer):
    pools = ForecastOutput(many=True)


SECRET_INPUT = {"write_only": True, "required": False, "trim_whitespace": False, "style": {"input_type": "password"}}


class NotificationChannelInput(serializers.ModelSerializer):
    """A channel as the operator gives it; the SMTP password and the secret are write-only (never answered)."""

    class Meta:
        model = NotificationChannel
        fields = ("name", "kind", "enabled", "min_severity", "quiet_start", "quiet_end", "recipients", "sender",
                  "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password", "url", "secret")
        extra_kwargs = {"smtp_password": {**SECRET_INPUT, "help_text": _("Email: the SMTP user's password.")},
                        "secret": SECRET_INPUT, "smtp_port": {"min_value": 1, "max_value": 65535}}


class DeliveryOutput(serializers.ModelSerializer):
    """One message to a channel: its state, attempts and the log of each (what a test message answers)."""

    channel_name = serializers.CharField(source="channel.name", read_only=True)
    alerts = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ("id", "channel", "channel_name", "created", "state", "title", "body", "payload", "alerts", "test",
                  "attempts", "next_attempt_at", "sent_at", "status_code", "last_error", "log")
        read_only_fields = fields
