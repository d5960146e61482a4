"""Every monitoring operation, declared once; the API viewsets and the admin pages point at these sets."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import inputs, services
from .choices import AlertState
from .models import Alert, AlertRule, Disk, MetricSeries, NotificationChannel

__all__ = ["ALERT", "CHANNEL", "DISK", "RULE", "SERIES"]


def _can_self_test(disk: Disk) -> bool:
    return disk.smart_supported and not disk.gone and disk.protocol in services.SELF_TEST_PROTOCOLS


DISK = Operations(
    Disk,
    Operation("check", services.start_check, detail=False, job=True, permission="check",
              label=_("Check disks now"), help=_("Re-read every disk's SMART health, temperature and counters.")),
    Operation("self_test", services.start_self_test, input=inputs.SelfTestInput, job=True, permission="self_test",
              bulk=True, when=_can_self_test, label=_("Run self-test"), example={"kind": "short"},
              help=_("The drive tests itself in the background; the job follows it to the end. Cancelling the "
                     "job aborts the test.")),
)

ALERT = Operations(
    Alert,
    Operation("acknowledge", services.acknowledge, permission="acknowledge", bulk=True, label=_("Acknowledge"),
              when=lambda alert: alert.state == AlertState.FIRING,
              help=_("Someone is on it: the channels are told once; the alert resolves when its condition clears.")),
    Operation("resolve", services.resolve, permission="acknowledge", bulk=True, label=_("Resolve"),
              when=lambda alert: alert.state != AlertState.RESOLVED,
              help=_("Close the alert by hand. If its condition still holds, the next evaluation raises a new one.")),
    Operation("silence", services.silence, input=inputs.SilenceInput, permission="silence", bulk=True,
              label=_("Silence"), example={"minutes": 60},
              help=_("No notifications about this alert for a while; it is still shown and still resolves.")),
)

RULE = Operations(
    AlertRule,
    Operation("create", services.RULES.create, input=inputs.AlertRuleSerializer, detail=False,
              example={"name": "Pool capacity above 70 %", "kind": "threshold", "metric": "pool.capacity_pct",
                       "threshold": 70, "severity": "info"}),
    Operation("update", services.RULES.update, input=inputs.AlertRuleSerializer, partial=True),
    Operation("delete", services.RULES.delete, when=lambda rule: not rule.builtin,
              help=_("The rule and its alerts go. Default rules cannot be deleted, only disabled.")),
    Operation("silence", services.silence_rule, input=inputs.SilenceInput, permission="silence", bulk=True,
              label=_("Silence"), example={"minutes": 60},
              help=_("No notifications about any alert of this rule for a while (maintenance).")),
)

SERIES = Operations(
    MetricSeries,
    Operation("chart", services.chart_query, input=inputs.ChartInput, output=inputs.ChartOutput, method="get",
              detail=False, permission="view", label=_("Chart"), example={"metrics": "host.cpu_pct", "range": "1h"},
              help=_("Points of one or more metrics over a range, at the resolution the range needs.")),
    Operation("forecast", services.forecasts, output=inputs.ForecastsOutput, method="get", detail=False,
              permission="view", label=_("Capacity forecast"),
              help=_("When each pool reaches 80 % and 100 % at the trend of the last two weeks.")),
)

CHANNEL = Operations(
    NotificationChannel,
    Operation("create", services.CHANNELS.create, input=inputs.NotificationChannelInput, detail=False,
              example={"name": "ops-mail", "kind": "email", "recipients": "ops@example.com",
                       "smtp_host": "mail.example.com", "smtp_port": 587, "min_severity": "warning"},
              help=_("Email over SMTP, a JSON webhook signed with HMAC-SHA256, or an ntfy topic.")),
    Operation("update", services.CHANNELS.update, input=inputs.NotificationChannelInput, partial=True,
              example={"enabled": False}),
    Operation("delete", services.CHANNELS.delete, help=_("The channel and the log of its messages go.")),
    Operation("send_test", services.send_test, permission="test", output=inputs.DeliveryOutput,
              label=_("Send test"), example={},
              help=_("Send a test message now (one attempt): the answer or the refusal says how it went.")),
)
