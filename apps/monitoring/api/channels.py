"""Notification channels (created, changed, deleted and tested through their operations; secrets never answered)
and the log of the messages sent to them (read-only)."""

from __future__ import annotations

import django_filters
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.api import CalypsoViewSet
from apps.core.filters import CalypsoFilterSet, IdFilter
from apps.monitoring import inputs, operations
from apps.monitoring.choices import DeliveryState
from apps.monitoring.models import Delivery, NotificationChannel

__all__ = ["DeliveryFilterSet", "DeliveryViewSet", "NotificationChannelFilterSet", "NotificationChannelSerializer",
           "NotificationChannelViewSet", "with_last_delivery"]


def with_last_delivery(queryset):
    """Channels with ``last_delivery_state`` and ``last_delivery_at``: their newest message's, one query."""
    newest = Delivery.objects.filter(channel=OuterRef("pk")).order_by("-created", "-id")
    return queryset.annotate(last_delivery_state=Subquery(newest.values("state")[:1]),
                             last_delivery_at=Subquery(newest.values("created")[:1]))


class NotificationChannelSerializer(serializers.ModelSerializer):
    """A channel as the API shows it: whether a password or secret is set, never its value."""

    sender = serializers.CharField(read_only=True, help_text=_("Email: the From address (empty: the portal's)."))
    url = serializers.CharField(read_only=True, help_text=_("Webhook and ntfy: where messages are sent."))
    has_smtp_password = serializers.SerializerMethodField(help_text=_("Whether an SMTP password is stored."))
    has_secret = serializers.SerializerMethodField(help_text=_("Whether a webhook key or ntfy token is stored."))
    last_delivery_state = serializers.ChoiceField(choices=DeliveryState.choices, read_only=True, allow_null=True,
                                                  help_text=_("The newest message's state."))
    last_delivery_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = NotificationChannel
        fields = ("id", "name", "kind", "enabled", "min_severity", "quiet_start", "quiet_end", "recipients", "sender",
                  "smtp_host", "smtp_port", "smtp_security", "smtp_username", "has_smtp_password", "url",
                  "has_secret", "last_delivery_state", "last_delivery_at", "created", "updated")
        read_only_fields = fields

    def get_has_smtp_password(self, channel: NotificationChannel) -> bool:
        return bool(channel.smtp_password)

    def get_has_secret(self, channel: NotificationChannel) -> bool:
        return bool(channel.secret)


class NotificationChannelFilterSet(CalypsoFilterSet):
    class Meta:
        model = NotificationChannel
        fields = ("kind", "enabled", "min_severity")


class DeliveryFilterSet(CalypsoFilterSet):
    channel = IdFilter(field_name="channel_id", help_text="The channel's id.")
    state = django_filters.MultipleChoiceFilter(choices=DeliveryState.choices, distinct=False)

    class Meta:
        model = Delivery
        fields = ("channel", "state", "test")


class NotificationChannelViewSet(CalypsoViewSet):
    queryset = NotificationChannel.objects.all()
    serializer_class = NotificationChannelSerializer
    filterset_class = NotificationChannelFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "kind")
    ordering = ("name",)
    operations = operations.CHANNEL

    def get_queryset(self):
        return with_last_delivery(super().get_queryset())


class DeliveryViewSet(CalypsoViewSet):
    """Every message sent (or tried) to a channel, newest first: its state, attempts and their log."""

    queryset = Delivery.objects.select_related("channel").prefetch_related("alerts")
    serializer_class = inputs.DeliveryOutput
    filterset_class = DeliveryFilterSet
    search_fields = ("title",)
