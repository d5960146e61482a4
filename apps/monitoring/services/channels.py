"""Notification channels as desired-state resources: created, changed and deleted through ``CHANNELS``, which
refuses a channel that could not send, naming the field (an email channel without recipients or SMTP server, a
webhook or ntfy URL that is not http or https, quiet hours with one end only)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from apps.core.resources import ResourceService
from apps.core.validators import validate_hostname

from ..choices import ChannelKind
from ..models import NotificationChannel
from .notify import parse_recipients

__all__ = ["CHANNELS", "CHANNEL_FIELDS", "ChannelService", "channel_errors"]

CHANNEL_FIELDS = ("name", "kind", "enabled", "min_severity", "quiet_start", "quiet_end", "recipients", "sender",
                  "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password", "url", "secret")
MAX_PORT = 65535


def _host_errors(host: str) -> list[str]:
    if not host:
        return [_("An email channel needs the SMTP server's host name or address.")]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            validate_hostname(host)
        except ValidationError as exc:
            return list(exc.messages)
    return []


def _recipient_errors(text: str) -> list[str]:
    addresses = parse_recipients(text)
    if not addresses:
        return [_("An email channel needs at least one recipient.")]
    bad = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    return [_("Not an email address: %(a)s.") % {"a": ", ".join(bad)}] if bad else []


def _url_errors(url: str, kind: str) -> list[str]:
    if not url:
        return [_("A %(kind)s channel needs the URL to send to.") % {"kind": kind}]
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return [_("Give an http:// or https:// URL.")]
    return []


def channel_errors(channel: NotificationChannel) -> dict[str, list[str]]:
    """What keeps ``channel`` from sending, by field (empty: nothing)."""
    errors: dict[str, list[str]] = {}
    if channel.kind == ChannelKind.EMAIL:
        errors["recipients"] = _recipient_errors(channel.recipients)
        errors["smtp_host"] = _host_errors(channel.smtp_host)
        if not 1 <= (channel.smtp_port or 0) <= MAX_PORT:
            errors["smtp_port"] = [_("A port from 1 to %(max)d.") % {"max": MAX_PORT}]
    elif channel.kind in (ChannelKind.WEBHOOK, ChannelKind.NTFY):
        errors["url"] = _url_errors(channel.url, channel.kind)
    if (channel.quiet_start is None) != (channel.quiet_end is None):
        missing = "quiet_end" if channel.quiet_end is None else "quiet_start"
        errors[missing] = [_("Quiet hours need both a start and an end (or neither).")]
    return {field: messages for field, messages in errors.items() if messages}


class ChannelService(ResourceService[NotificationChannel]):
    model = NotificationChannel
    fields = CHANNEL_FIELDS

    def prepare(self, obj: NotificationChannel, changed: set[str]) -> None:
        obj.recipients = "\n".join(parse_recipients(obj.recipients))

    def check(self, obj: NotificationChannel) -> dict[str, list[str]]:
        return channel_errors(obj)


CHANNELS = ChannelService()
