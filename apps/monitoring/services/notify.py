"""Alert notifications: ``dispatch()`` turns the alerts whose state changed since channels were last told into
one message per channel (a burst grouped), ``deliver()`` makes one attempt to send a message (email over SMTP,
a signed JSON webhook, an ntfy topic) and ``send_test()`` sends a test message to one channel at once.

A failed attempt is tried again later (``CALYPSO_NOTIFY_ATTEMPTS`` attempts, the pause doubling from
``CALYPSO_NOTIFY_RETRY_BASE_S``); every attempt leaves a line in the message's log. Secrets (the SMTP password,
the webhook key, the ntfy token) never reach a log, an error text or the audit trail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.errors import ServiceError

from ..choices import SEVERITY_RANK, AlertState, ChannelKind, DeliveryState, Severity, SmtpSecurity
from ..models import Alert, Delivery, NotificationChannel

__all__ = ["NOTIFIED_STATES", "NTFY_PRIORITY", "PAYLOAD_VERSION", "alert_line", "alert_payload", "burst_body",
           "burst_title", "deliver", "dispatch", "in_quiet_hours", "parse_recipients", "requeue_stalled", "retry_delay",
           "send_test",
           "signature", "wanted"]
STALLED = timedelta(minutes=5)  # a message still waiting this long after it was due lost its task

logger = logging.getLogger(__name__)

NOTIFIED_STATES = (AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED)  # pending: nobody is told
NTFY_PRIORITY = {Severity.CRITICAL: "5", Severity.WARNING: "4", Severity.INFO: "3"}
NTFY_TAGS = {Severity.CRITICAL: "rotating_light", Severity.WARNING: "warning", Severity.INFO: "information_source"}
PAYLOAD_VERSION = 1
BODY_LINES = 50  # alerts listed in a message's text; the JSON payload carries them all
MASK = "********"
HINTS = {
    ChannelKind.EMAIL: gettext_lazy(
        "Check the SMTP server, port, security, user name and password of the channel, then send a test message."),
    ChannelKind.WEBHOOK: gettext_lazy(
        "Check that the URL answers a POST with a 2xx status (and checks the signature with the same secret), then "
        "send a test message."),
    ChannelKind.NTFY: gettext_lazy("Check the topic's URL and the access token, then send a test message."),
}


# ------------------------------------------------------------------ pure helpers
def in_quiet_hours(start: time | None, end: time | None, at: time) -> bool:
    """Whether ``at`` falls in the quiet hours ``start``..``end`` (end excluded; the window may wrap midnight)."""
    if start is None or end is None or start == end:
        return False
    return start <= at < end if start < end else (at >= start or at < end)


def _silenced(alert: Alert, now: datetime) -> bool:
    return any(until is not None and until > now for until in (alert.silenced_until, alert.rule.silenced_until))


def wanted(channel: NotificationChannel, alert: Alert, now: datetime) -> bool:
    """Whether ``channel`` hears of ``alert``: severe enough for it, and neither the alert nor its rule silenced."""
    rank = SEVERITY_RANK.get(alert.severity, 0)
    return rank >= SEVERITY_RANK.get(channel.min_severity, 0) and not _silenced(alert, now)


def alert_line(alert: Alert) -> str:
    """``[CRITICAL] Pool capacity above 80 %: tank firing``."""
    name = f"{alert.rule.name}: {alert.subject}" if alert.subject else alert.rule.name
    return f"[{alert.severity.upper()}] {name} {alert.state}"


def burst_title(alerts: Sequence[Alert]) -> str:
    """One alert: its line; several: ``3 alerts changed state: 2 firing, 1 resolved``."""
    if len(alerts) == 1:
        return alert_line(alerts[0])
    counts = Counter(a.state for a in alerts)
    parts = ", ".join(f"{counts[state]} {state}" for state in NOTIFIED_STATES if counts[state])
    return _("%(n)d alerts changed state: %(parts)s") % {"n": len(alerts), "parts": parts}


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


def _details(alert: Alert) -> list[str]:
    lines = [alert.message] if alert.message else []
    if alert.value is not None:
        lines.append(_("Value: %(v)s") % {"v": f"{alert.value:g}"})
    lines.append(_("Started: %(t)s") % {"t": _when(alert.started_at)})
    if alert.fired_at:
        lines.append(_("Fired: %(t)s") % {"t": _when(alert.fired_at)})
    if alert.acknowledged_at:
        lines.append(_("Acknowledged: %(t)s by %(u)s") % {"t": _when(alert.acknowledged_at),
                                                           "u": alert.acknowledged_by or "-"})
    if alert.resolved_at:
        lines.append(_("Resolved: %(t)s") % {"t": _when(alert.resolved_at)})
    if url := _alert_url(alert):
        lines.append(url)
    return lines


def burst_body(alerts: Sequence[Alert]) -> str:
    """The message's text: one alert in full, or a line per alert (the first ``BODY_LINES``)."""
    if len(alerts) == 1:
        return "\n".join(_details(alerts[0])) + "\n"
    lines = []
    for alert in alerts[:BODY_LINES]:
        lines.append(f"- {alert_line(alert)}" + (f": {alert.message}" if alert.message else ""))
    if len(alerts) > BODY_LINES:
        lines.append(_("... and %(n)d more.") % {"n": len(alerts) - BODY_LINES})
    return "\n".join(lines) + "\n"


def _alert_url(alert: Alert) -> str:
    base = settings.CALYPSO_NOTIFY_BASE_URL.rstrip("/")
    if not base:
        return ""
    try:
        return base + reverse("admin:monitoring_alert_change", args=[alert.pk])
    except NoReverseMatch:
        return ""


def alert_payload(alert: Alert) -> dict:
    """One alert as the webhook's JSON shows it."""
    data = {"id": alert.pk, "rule": alert.rule.name, "subject": alert.subject, "state": alert.state,
            "severity": alert.severity, "message": alert.message, "value": alert.value,
            "started_at": _iso(alert.started_at), "fired_at": _iso(alert.fired_at),
            "resolved_at": _iso(alert.resolved_at)}
    if url := _alert_url(alert):
        data["url"] = url
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_recipients(text: str) -> list[str]:
    """Addresses one per line or comma separated."""
    return [part.strip() for line in (text or "").splitlines() for part in line.split(",") if part.strip()]


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: the base, doubled after each failure."""
    return settings.CALYPSO_NOTIFY_RETRY_BASE_S * 2 ** max(attempts - 1, 0)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Calypso-Signature`` header: ``sha256=`` and the hex HMAC-SHA256 of the body with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ dispatch
def dispatch(now: datetime | None = None) -> list[Delivery]:
    """Tell every enabled channel of the alerts whose state changed since the last dispatch (one message per
    channel for the whole burst), then mark them told; messages go out after the commit."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = list(Alert.objects.select_for_update(of=("self",)).select_related("rule")
                       .filter(state__in=NOTIFIED_STATES).exclude(state=F("notified_state")).order_by("pk"))
        if not changed:
            return []
        # A resolution nobody was told of the start of (an alert that never fired) is not news.
        news = [a for a in changed if not (a.state == AlertState.RESOLVED and not a.notified_state and not a.fired_at)]
        deliveries = []
        for channel in NotificationChannel.objects.filter(enabled=True).order_by("pk"):
            deliveries += _channel_deliveries(channel, [a for a in news if wanted(channel, a, now)], now)
        Alert.objects.filter(pk__in=[a.pk for a in changed]).update(
            notified_state=Case(*(When(pk=a.pk, then=Value(a.state)) for a in changed)))
        for delivery in deliveries:
            if delivery.state == DeliveryState.PENDING:
                transaction.on_commit(partial(_queue, delivery.pk), robust=True)
    return deliveries


def _channel_deliveries(channel: NotificationChannel, alerts: list[Alert], now: datetime) -> list[Delivery]:
    """A message of ``alerts`` for ``channel``; in its quiet hours the non-critical ones are recorded as
    suppressed instead (their own message)."""
    if not alerts:
        return []
    out = []
    if in_quiet_hours(channel.quiet_start, channel.quiet_end, timezone.localtime(now).time()):
        hushed = [a for a in alerts if a.severity != Severity.CRITICAL]
        alerts = [a for a in alerts if a.severity == Severity.CRITICAL]
        if hushed:
            reason = _("Quiet hours (%(start)s to %(end)s): only critical alerts are sent.") % {
                "start": channel.quiet_start.strftime("%H:%M"), "end": channel.quiet_end.strftime("%H:%M")}
            out.append(_new_delivery(channel, hushed, now, state=DeliveryState.SUPPRESSED, last_error=reason))
    if alerts:
        out.append(_new_delivery(channel, alerts, now))
    return out


def _new_delivery(channel: NotificationChannel, alerts: list[Alert], now: datetime, **fields) -> Delivery:
    title = burst_title(alerts)
    payload = {"version": PAYLOAD_VERSION, "title": title, "alerts": [alert_payload(a) for a in alerts],
               "sent_at": None}
    delivery = Delivery.objects.create(channel=channel, created=now, title=title[:255], body=burst_body(alerts),
                                       payload=payload, **fields)
    delivery.alerts.set(alerts)
    return delivery


def _queue(delivery_id: int) -> None:
    from ..tasks import deliver_task  # the task module imports the services

    deliver_task.delay(delivery_id)


# ------------------------------------------------------------------ one attempt
def deliver(delivery_id: int, *, retry: bool = True) -> Delivery | None:
    """One attempt to send a pending message; on failure it waits for another attempt (RETRYING, until the
    last one: FAILED). A message already sent, failed or suppressed, or gone, is left alone."""
    delivery = Delivery.objects.select_related("channel").filter(pk=delivery_id).first()
    if delivery is None or delivery.state not in (DeliveryState.PENDING, DeliveryState.RETRYING):
        return delivery
    channel, now = delivery.channel, timezone.now()
    if not channel.enabled and not delivery.test:
        delivery.state, delivery.next_attempt_at = DeliveryState.SUPPRESSED, None
        delivery.last_error = _("The channel was disabled before the message went out.")
        delivery.save(update_fields=["state", "next_attempt_at", "last_error"])
        return delivery
    # Claim the attempt: of two workers handed the same message, one sends it.
    if not Delivery.objects.filter(pk=delivery.pk, state=delivery.state, attempts=delivery.attempts).update(
            attempts=delivery.attempts + 1):
        return delivery
    delivery.attempts += 1
    status, error = _attempt(channel, delivery, now)
    error = _scrub(error, channel)
    delivery.status_code = status
    delivery.log = [*delivery.log, {"time": now.isoformat(), "attempt": delivery.attempts, "ok": not error,
                                    "status": status, "error": error}]
    if not error:
        delivery.state, delivery.sent_at, delivery.next_attempt_at, delivery.last_error = (
            DeliveryState.SENT, now, None, "")
    elif retry and delivery.attempts < settings.CALYPSO_NOTIFY_ATTEMPTS:
        delivery.state, delivery.last_error = DeliveryState.RETRYING, error
        delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts))
    else:
        delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
        delivery.last_error = _gave_up(channel, delivery.attempts, error)
    delivery.save(update_fields=["state", "attempts", "status_code", "log", "sent_at", "next_attempt_at",
                                 "last_error"])
    if error:
        logger.warning("Notification %s to channel %s, attempt %s: %s", delivery.pk, channel.name,
                       delivery.attempts, error)
    return delivery


def requeue_stalled(now: datetime | None = None) -> int:
    """Queue again the messages whose task was lost (a worker restart, a broker outage): pending for more than
    ``STALLED`` or past their retry time by as much. Returns how many."""
    now = now or timezone.now()
    stalled = Delivery.objects.filter(
        Q(state=DeliveryState.PENDING, created__lt=now - STALLED)
        | Q(state=DeliveryState.RETRYING, next_attempt_at__lt=now - STALLED)).values_list("pk", flat=True)
    ids = list(stalled[:1000])
    for pk in ids:
        _queue(pk)
    return len(ids)


def _gave_up(channel: NotificationChannel, attempts: int, error: str) -> str:
    what = _("Gave up after %(n)d attempts: %(e)s") % {"n": attempts, "e": error} if attempts > 1 else error
    if what and what[-1] not in ".!?":
        what += "."
    return f"{what} {HINTS.get(channel.kind, '')}".strip()


def _scrub(error: str, channel: NotificationChannel) -> str:
    """The error text without any of the channel's secrets (a server may echo what it was sent)."""
    for secret in (channel.smtp_password, channel.secret):
        if secret and len(secret) >= 4:
            error = error.replace(secret, MASK)
    return error


def _attempt(channel: NotificationChannel, delivery: Delivery, now: datetime) -> tuple[int | None, str]:
    """(HTTP status or None, error text or "") of one attempt."""
    try:
        if channel.kind == ChannelKind.EMAIL:
            return _send_email(channel, delivery)
        if channel.kind == ChannelKind.WEBHOOK:
            return _send_webhook(channel, delivery, now)
        if channel.kind == ChannelKind.NTFY:
            return _send_ntfy(channel, delivery)
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return None, _("The SMTP server answered %(code)s: %(reply)s") % {"code": exc.smtp_code, "reply": reply}
    except smtplib.SMTPRecipientsRefused as exc:
        return None, _("The SMTP server refused every recipient: %(r)s") % {"r": ", ".join(exc.recipients)}
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        return None, _describe(exc)
    return None, _("Unknown channel kind %(k)r.") % {"k": channel.kind}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError):
        return _("No answer within %(s)s seconds.") % {"s": f"{settings.CALYPSO_NOTIFY_TIMEOUT_S:g}"}
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


def _send_email(channel: NotificationChannel, delivery: Delivery) -> tuple[None, str]:
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host=channel.smtp_host, port=channel.smtp_port,
        username=channel.smtp_username, password=channel.smtp_password,
        use_tls=channel.smtp_security == SmtpSecurity.STARTTLS, use_ssl=channel.smtp_security == SmtpSecurity.TLS,
        timeout=settings.CALYPSO_NOTIFY_TIMEOUT_S, fail_silently=False)
    message = EmailMessage(subject=delivery.title, body=delivery.body,
                           from_email=channel.sender or settings.DEFAULT_FROM_EMAIL,
                           to=parse_recipients(channel.recipients), connection=connection,
                           headers={"X-Calypso-Delivery": str(delivery.pk)})
    message.send()
    return None, ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new place to send the message (and its token) to."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    if not url.lower().startswith(("http://", "https://")):
        return None, _("The URL must start with http:// or https://.")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (checked above)
    try:
        with _OPENER.open(request, timeout=settings.CALYPSO_NOTIFY_TIMEOUT_S) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        answer = " ".join(exc.read(300).decode(errors="replace").split())
        where = exc.headers.get("Location") if 300 <= exc.code < 400 else ""
        text = _("The server answered HTTP %(code)s %(reason)s") % {"code": exc.code, "reason": exc.reason}
        text += _(" (redirected to %(to)s: give that URL)") % {"to": where} if where else ""
        return exc.code, f"{text}: {answer}" if answer else f"{text}."


def _json_body(delivery: Delivery, now: datetime) -> bytes:
    payload = {"version": PAYLOAD_VERSION, "title": delivery.title, "alerts": [], **delivery.payload,
               "sent_at": now.isoformat()}
    if delivery.test:
        payload["test"] = True
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _send_webhook(channel: NotificationChannel, delivery: Delivery, now: datetime) -> tuple[int | None, str]:
    body = _json_body(delivery, now)  # the bytes signed are the bytes sent
    headers = {"Content-Type": "application/json", "User-Agent": "Calypso", "X-Calypso-Delivery": str(delivery.pk)}
    if channel.secret:
        headers["X-Calypso-Signature"] = signature(channel.secret, body)
    return _post(channel.url, body, headers)


def _top_severity(alerts: Iterable[dict]) -> str:
    """The highest severity among alerts still open (a resolution is news of the lowest urgency)."""
    open_ = [a.get("severity") for a in alerts if a.get("state") != AlertState.RESOLVED]
    return max(open_, key=lambda s: SEVERITY_RANK.get(s, 0), default=Severity.INFO)


def _header(text: str) -> str:
    """A header value as ntfy reads it: ASCII as is, anything else RFC 2047 encoded."""
    if text.isascii():
        return text
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def _send_ntfy(channel: NotificationChannel, delivery: Delivery) -> tuple[int | None, str]:
    alerts = delivery.payload.get("alerts", [])
    severity = _top_severity(alerts)
    tags = ["calypso", NTFY_TAGS.get(severity, "information_source")]
    if alerts and all(a.get("state") == AlertState.RESOLVED for a in alerts):
        tags[1] = "white_check_mark"
    headers = {"Title": _header(delivery.title), "Priority": NTFY_PRIORITY.get(severity, "3"),
               "Tags": ",".join(tags), "Content-Type": "text/plain; charset=utf-8", "User-Agent": "Calypso"}
    if channel.secret:
        headers["Authorization"] = f"Bearer {channel.secret}"
    return _post(channel.url, (delivery.body or delivery.title).encode(), headers)


# ------------------------------------------------------------------ test message
def send_test(channel: NotificationChannel, *, actor=None) -> Delivery:
    """Send a test message to ``channel`` now (one attempt, no retries); a failure is refused with its reason."""
    who = getattr(actor, "username", "") or _("the system")
    title = _("Calypso test notification")
    body = _("This is a test message from Calypso, sent by %(who)s to the channel “%(c)s”. If you read it, the "
             "channel works.") % {"who": who, "c": channel.name} + "\n"
    delivery = Delivery.objects.create(channel=channel, test=True, title=title, body=body,
                                       payload={"version": PAYLOAD_VERSION, "title": title, "alerts": [],
                                                "sent_at": None})
    delivery = deliver(delivery.pk, retry=False)
    if delivery.state != DeliveryState.SENT:
        raise ServiceError("notification_failed", _("The test message to %(c)s did not go out: %(e)s") % {
            "c": channel.name, "e": delivery.last_error})
    return delivery
