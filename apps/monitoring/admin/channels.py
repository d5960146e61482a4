"""Notification channels, edited with Django's own forms through the channel service (secrets typed into password
boxes, an empty box keeping the stored value), with a "Send test" page; and the read-only log of the messages sent
to them, each with its body and a line per attempt."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge
from apps.core.forms import KeepSecretsForm, secret_box

from ..api.channels import with_last_delivery
from ..choices import SEVERITY_COLORS, DeliveryState
from ..models import Delivery, NotificationChannel
from ..operations import CHANNEL

__all__ = ["DELIVERY_STATE_COLORS", "ChannelForm", "DeliveryAdmin", "NotificationChannelAdmin", "delivery_badge"]

DELIVERY_STATE_COLORS = {DeliveryState.PENDING: "grey", DeliveryState.RETRYING: "orange", DeliveryState.SENT: "green",
                         DeliveryState.FAILED: "red", DeliveryState.SUPPRESSED: "blue"}
RECENT = 10  # messages listed on a channel's page


def delivery_badge(state: str | None) -> str:
    if not state:
        return "-"
    return badge(DeliveryState(state).label, DELIVERY_STATE_COLORS.get(state, "grey"))


class ChannelForm(KeepSecretsForm):
    """Secrets are never shown: an empty box keeps the stored one; the tick box removes it."""

    secret_names = NotificationChannel.secret_fields
    smtp_password = secret_box(_("Email: the SMTP user's password. Empty: keep the stored one."))
    secret = secret_box(_("Webhook: the HMAC-SHA256 key of the X-Calypso-Signature header. ntfy: an access token. "
                          "Empty: keep the stored one."))
    url = forms.URLField(required=False, max_length=500, assume_scheme="https",
                         help_text=NotificationChannel._meta.get_field("url").help_text)
    clear_smtp_password = forms.BooleanField(required=False, label=_("Remove the stored SMTP password"))
    clear_secret = forms.BooleanField(required=False, label=_("Remove the stored secret"))

    class Meta:
        model = NotificationChannel
        fields = ("name", "kind", "enabled", "min_severity", "recipients", "sender", "smtp_host", "smtp_port",
                  "smtp_security", "smtp_username", "smtp_password", "url", "secret", "quiet_start", "quiet_end")
        widgets = {"recipients": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def clean(self):
        data = super().clean()
        for name in self.secret_names:
            if data.get(f"clear_{name}"):
                data[name] = ""
        return data

    @property
    def changed_data(self):
        """Never the tick boxes: they only change a secret."""
        return [name for name in super().changed_data if not name.startswith("clear_")]


@admin.register(NotificationChannel)
class NotificationChannelAdmin(CalypsoModelAdmin):
    form = ChannelForm
    list_display = ("name", "kind", "enabled", "severity_column", "quiet_hours", "last_delivery")
    list_filter = ("kind", "enabled", "min_severity")
    search_fields = ("name", "recipients", "url")
    readonly_fields = ("recent_deliveries",)
    fieldsets = (
        (_("General"), {"fields": ("name", "kind", "enabled", "min_severity")}),
        (_("Email"), {"fields": ("recipients", "sender", "smtp_host", "smtp_port", "smtp_security", "smtp_username",
                                 "smtp_password", "clear_smtp_password"),
                      "description": _("Email channels only: the addresses to write to and the SMTP server to send "
                                       "through.")}),
        (_("Webhook / ntfy"), {"fields": ("url", "secret", "clear_secret"), "description": _(
            "Webhook: Calypso POSTs JSON to the URL, signed in the X-Calypso-Signature header (sha256=<hex HMAC of the "
            "body>) when a secret is set. ntfy: the topic's URL; the secret, if any, is sent as a bearer token.")}),
        (_("Quiet hours"), {"fields": ("quiet_start", "quiet_end"), "description": _(
            "Server time. From start to end (it may span midnight) only critical alerts are sent; the others are "
            "recorded as suppressed.")}),
        (_("Recent messages"), {"fields": ("recent_deliveries",)}),
    )
    operations = CHANNEL
    model_forms = True

    def get_queryset(self, request):
        return with_last_delivery(super().get_queryset(request))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets if obj is not None else fieldsets[:-1]

    @admin.display(description=_("min severity"), ordering="min_severity")
    def severity_column(self, obj):
        return badge(obj.get_min_severity_display(), SEVERITY_COLORS.get(obj.min_severity, "grey"))

    @admin.display(description=_("quiet hours"))
    def quiet_hours(self, obj):
        if obj.quiet_start is None or obj.quiet_end is None:
            return "-"
        return f"{obj.quiet_start:%H:%M}–{obj.quiet_end:%H:%M}"

    @admin.display(description=_("last message"), ordering="last_delivery_at")
    def last_delivery(self, obj):
        return delivery_badge(getattr(obj, "last_delivery_state", None))

    @admin.display(description=_("recent messages"))
    def recent_deliveries(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        rows = [(reverse("admin:monitoring_delivery_change", args=[d.pk]), f"{d.created:%Y-%m-%d %H:%M:%S}", d.title,
                 delivery_badge(d.state), d.attempts, d.last_error or "")
                for d in obj.deliveries.order_by("-created", "-id")[:RECENT]]
        if not rows:
            return _("No message yet.")
        body = format_html_join("", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
                                rows)
        return format_html("<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
                           _("created"), _("title"), _("state"), _("attempts"), _("last error"), body)


@admin.register(Delivery)
class DeliveryAdmin(CalypsoModelAdmin):
    list_display = ("created", "channel", "title", "state_column", "test", "attempts", "status_code", "last_error")
    list_filter = ("state", "channel", "test")
    search_fields = ("title", "last_error")
    list_select_related = ("channel",)
    date_hierarchy = "created"
    readonly_fields = ("channel", "created", "title", "state_column", "test", "attempts", "next_attempt_at",
                       "sent_at", "status_code", "last_error", "alert_links", "body_text", "attempt_log")
    fieldsets = (
        (None, {"fields": ("channel", "created", "title", "state_column", "test", "alert_links")}),
        (_("Sending"), {"fields": ("attempts", "next_attempt_at", "sent_at", "status_code", "last_error",
                                   "attempt_log")}),
        (_("Message"), {"fields": ("body_text",)}),
    )

    @admin.display(description=_("state"), ordering="state")
    def state_column(self, obj):
        return delivery_badge(obj.state)

    @admin.display(description=_("alerts"))
    def alert_links(self, obj):
        links = [(reverse("admin:monitoring_alert_change", args=[a.pk]), a) for a in obj.alerts.select_related("rule")]
        return format_html_join(", ", '<a href="{}">{}</a>', links) or "-"

    @admin.display(description=_("body"))
    def body_text(self, obj):
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.body or "-")

    @admin.display(description=_("attempts log"))
    def attempt_log(self, obj):
        lines = [line for line in obj.log or [] if isinstance(line, dict)]
        if not lines:
            return _("No attempt yet.")
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (line.get("attempt", ""), line.get("time", ""), badge(_("ok"), "green") if line.get("ok")
             else badge(_("failed"), "red"), line.get("status") or "-", line.get("error") or "") for line in lines))
        return format_html("<table><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
                           _("time"), _("outcome"), _("status"), _("error"), rows)
