"""Alerts and alert rules: the alert list with state and severity badges (acknowledge, resolve and silence as
list actions), and the rules, edited with Django's own forms through the rule service."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge

from ..choices import ALERT_STATE_COLORS, SEVERITY_COLORS, AlertState
from ..models import Alert, AlertRule
from ..operations import ALERT, RULE

__all__ = ["AlertAdmin", "AlertRuleAdmin", "severity_badge", "state_badge"]


def severity_badge(obj) -> str:
    return badge(obj.get_severity_display(), SEVERITY_COLORS.get(obj.severity, "grey"))


def state_badge(alert: Alert) -> str:
    text = alert.get_state_display() + (" (silenced)" if alert.silenced or alert.rule.silenced else "")
    return badge(text, ALERT_STATE_COLORS.get(alert.state, "grey"))


@admin.register(Alert)
class AlertAdmin(CalypsoModelAdmin):
    list_display = ("__str__", "state_column", "severity_column", "message", "started_at", "last_seen",
                    "occurrences", "acknowledged_by")
    list_filter = ("state", "severity", "rule")
    search_fields = ("subject", "message", "rule__name")
    list_select_related = ("rule",)
    date_hierarchy = "started_at"
    readonly_fields = ("rule", "subject", "state_column", "severity_column", "message", "value", "started_at",
                       "fired_at", "last_seen", "acknowledged_at", "acknowledged_by", "resolved_at",
                       "silenced_until", "occurrences", "notified_state")
    fields = readonly_fields
    operations = ALERT
    row_operations = True

    @admin.display(description=_("state"), ordering="state")
    def state_column(self, obj):
        return state_badge(obj)

    @admin.display(description=_("severity"), ordering="severity")
    def severity_column(self, obj):
        return severity_badge(obj)


@admin.register(AlertRule)
class AlertRuleAdmin(CalypsoModelAdmin):
    list_display = ("name", "enabled", "kind", "condition", "severity_column", "builtin", "open_alerts",
                    "silenced_until")
    list_filter = ("enabled", "kind", "severity", "builtin")
    search_fields = ("name", "metric", "subject", "description")
    fieldsets = (
        (None, {"fields": ("name", "enabled", "severity", "kind", "description")}),
        (_("Metric rules"), {"fields": ("metric", "subject", "operator", "threshold", "for_seconds", "window_seconds"),
                             "description": _("Threshold: the metric compared with the threshold for at least "
                                              "'for seconds'. Growth: the metric grew by more than the threshold "
                                              "within the window.")}),
        (_("Event rules"), {"fields": ("event_kind",)}),
    )
    operations = RULE
    model_forms = True

    @admin.display(description=_("condition"))
    def condition(self, obj: AlertRule) -> str:
        if obj.kind == "event":
            return obj.get_event_kind_display()
        subject = f" [{obj.subject}]" if obj.subject else ""
        threshold = "?" if obj.threshold is None else f"{obj.threshold:g}"
        if obj.kind == "growth":
            return f"{obj.metric}{subject} grows > {threshold} in {obj.window_seconds} s"
        duration = f" for {obj.for_seconds} s" if obj.for_seconds else ""
        return f"{obj.metric}{subject} {obj.get_operator_display()} {threshold}{duration}"

    @admin.display(description=_("severity"), ordering="severity")
    def severity_column(self, obj):
        return severity_badge(obj)

    @admin.display(description=_("open alerts"), ordering="open_count")
    def open_alerts(self, obj: AlertRule) -> int:
        return obj.open_count

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            open_count=Count("alerts", filter=~Q(alerts__state=AlertState.RESOLVED)))
