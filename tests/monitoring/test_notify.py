"""Alert notifications: which state changes become which messages (grouping, severity, silences, quiet hours, no
repeats), and sending them for real to servers on 127.0.0.1: signed webhooks with retries, ntfy, and email over
plain SMTP with AUTH, STARTTLS and implicit TLS."""

from __future__ import annotations

import email.header
import hashlib
import hmac
import json
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from apps.monitoring.choices import AlertState, DeliveryState, Severity, SmtpSecurity
from apps.monitoring.models import Alert, AlertRule, Delivery, NotificationChannel
from apps.monitoring.services import notify
from apps.monitoring.tasks import deliver_task
from calypso.celery import app as celery_app

pytestmark = pytest.mark.django_db
SECRET = "hook-key-7f3a9c"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_notifications(settings):
    """Queued deliveries run at once, in the test; retries wait a millisecond."""
    settings.CALYPSO_NOTIFY_RETRY_BASE_S = 0.001
    settings.CALYPSO_NOTIFY_TIMEOUT_S = 5
    settings.CALYPSO_NOTIFY_ATTEMPTS = 5
    settings.TIME_ZONE = "UTC"
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "task_eager_propagates")}
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    celery_app.conf.update(saved)


def _rule(name="Pool capacity above 80 %", severity=Severity.WARNING, **fields) -> AlertRule:
    """A rule of that name (a default rule may already have it) with that severity."""
    return AlertRule.objects.update_or_create(name=name, defaults={
        "kind": "threshold", "metric": "pool.capacity_pct", "threshold": 80, "severity": severity, **fields})[0]


def _alert(rule, subject="tank", state=AlertState.FIRING, severity=None, **fields) -> Alert:
    fired = NOW - timedelta(minutes=5) if state != AlertState.PENDING else None
    fields = {"fired_at": fired, **fields}
    return Alert.objects.create(rule=rule, subject=subject, state=state, severity=severity or rule.severity,
                                message=f"{subject} is 85 % full", value=85.0, **fields)


def _channel(name="hook", kind="webhook", url="http://127.0.0.1:9/hook", **fields) -> NotificationChannel:
    return NotificationChannel.objects.create(name=name, kind=kind, url=url, **fields)


def _dispatch(now=NOW) -> list[Delivery]:
    """dispatch() at ``now``; the sends it queues after the commit run only where a test runs them."""
    return notify.dispatch(now)


# ------------------------------------------------------------------ pure helpers
@pytest.mark.parametrize(("start", "end", "at", "quiet"), [
    (time(22), time(6), time(23, 30), True), (time(22), time(6), time(5, 59), True),
    (time(22), time(6), time(6), False), (time(22), time(6), time(12), False), (time(22), time(6), time(22), True),
    (time(8), time(17), time(12), True), (time(8), time(17), time(7, 59), False), (time(8), time(17), time(17), False),
    (None, time(6), time(3), False), (time(6), time(6), time(6), False),
])
def test_quiet_hours_window_may_wrap_midnight(start, end, at, quiet):
    assert notify.in_quiet_hours(start, end, at) is quiet


def test_titles_name_one_alert_or_count_a_burst():
    rule = _rule(severity=Severity.CRITICAL)
    one = _alert(rule)
    assert notify.burst_title([one]) == "[CRITICAL] Pool capacity above 80 %: tank firing"
    other = _alert(_rule("Disk failing", Severity.WARNING), subject="sdc")
    gone = _alert(_rule("Host load high"), subject="", state=AlertState.RESOLVED, resolved_at=NOW)
    assert notify.burst_title([one, other, gone]) == "3 alerts changed state: 2 firing, 1 resolved"
    assert notify.alert_line(gone) == "[WARNING] Host load high resolved"
    body = notify.burst_body([one, other, gone])
    assert body.splitlines() == ["- [CRITICAL] Pool capacity above 80 %: tank firing: tank is 85 % full",
                                 "- [WARNING] Disk failing: sdc firing: sdc is 85 % full",
                                 "- [WARNING] Host load high resolved:  is 85 % full"]


def test_signature_retry_delay_and_recipients():
    body = b'{"version":1}'
    assert notify.signature("k", body) == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert [notify.retry_delay(n) for n in (1, 2, 3)] == [0.001, 0.002, 0.004]
    assert notify.parse_recipients("a@example.com, b@example.com\n\n c@example.com ") == [
        "a@example.com", "b@example.com", "c@example.com"]


def test_messages_link_to_the_alert_when_the_portal_address_is_known(settings):
    alert = _alert(_rule())
    assert "url" not in notify.alert_payload(alert)
    settings.CALYPSO_NOTIFY_BASE_URL = "https://nas.example.com/"
    url = f"https://nas.example.com/admin/monitoring/alert/{alert.pk}/change/"
    assert notify.alert_payload(alert)["url"] == url and url in notify.burst_body([alert])


# ------------------------------------------------------------------ dispatch
def test_a_burst_is_one_message_per_channel_and_alerts_are_marked_told(django_capture_on_commit_callbacks):
    hook, ntfy = _channel(), _channel("phone", kind="ntfy", url="http://127.0.0.1:9/topic")
    alerts = [_alert(_rule(severity=Severity.CRITICAL)), _alert(_rule("Disk failing"), subject="sdc"),
              _alert(_rule("Host load high"), subject="", state=AlertState.RESOLVED, resolved_at=NOW)]
    with django_capture_on_commit_callbacks() as queued:
        deliveries = _dispatch()
    assert [d.channel for d in deliveries] == [hook, ntfy] and len(queued) == 2
    for delivery in deliveries:
        assert delivery.title == "3 alerts changed state: 2 firing, 1 resolved"
        assert delivery.state == DeliveryState.PENDING and len(delivery.body.splitlines()) == 3
        assert sorted(delivery.alerts.values_list("pk", flat=True)) == [a.pk for a in alerts]
        assert [a["state"] for a in delivery.payload["alerts"]] == ["firing", "firing", "resolved"]
        assert set(delivery.payload["alerts"][0]) == {"id", "rule", "subject", "state", "severity", "message",
                                                      "value", "started_at", "fired_at", "resolved_at"}
    assert list(Alert.objects.order_by("pk").values_list("notified_state", flat=True)) == [
        "firing", "firing", "resolved"]
    assert _dispatch() == [] and Delivery.objects.count() == 2  # nothing changed: nothing sent again


def test_pending_alerts_are_never_sent_and_a_resolution_nobody_heard_of_is_not_news():
    _channel()
    pending = _alert(_rule())
    pending.state = AlertState.PENDING
    pending.fired_at = None
    pending.save()
    quiet_end = _alert(_rule("Disk failing"), state=AlertState.RESOLVED, fired_at=None, resolved_at=NOW)
    assert _dispatch() == [] and not Delivery.objects.exists()
    quiet_end.refresh_from_db()
    assert quiet_end.notified_state == "resolved"
    assert Alert.objects.get(pk=pending.pk).notified_state == ""


def test_a_resolved_alert_sends_a_resolved_message():
    _channel()
    alert = _alert(_rule(severity=Severity.CRITICAL))
    assert _dispatch()[0].title == "[CRITICAL] Pool capacity above 80 %: tank firing"
    Alert.objects.filter(pk=alert.pk).update(state=AlertState.RESOLVED, resolved_at=NOW)
    (delivery,) = _dispatch(NOW + timedelta(minutes=1))
    assert delivery.title == "[CRITICAL] Pool capacity above 80 %: tank resolved"
    assert delivery.payload["alerts"][0]["resolved_at"] == NOW.isoformat()
    assert "Resolved: 2026-12-02 12:00:00 UTC" in delivery.body


def test_min_severity_and_disabled_channels():
    everything = _channel("all", min_severity=Severity.INFO)
    pager = _channel("pager", min_severity=Severity.CRITICAL)
    _channel("off", enabled=False)
    info = _alert(_rule("Scrub finished", Severity.INFO))
    critical = _alert(_rule("Pool faulted", Severity.CRITICAL))
    deliveries = {d.channel: d for d in _dispatch()}
    assert set(deliveries) == {everything, pager}
    assert [a["id"] for a in deliveries[everything].payload["alerts"]] == [info.pk, critical.pk]
    assert [a["id"] for a in deliveries[pager].payload["alerts"]] == [critical.pk]


def test_silenced_alerts_and_rules_are_not_sent_but_marked_told():
    _channel()
    hushed = _alert(_rule("Disk failing"), silenced_until=NOW + timedelta(hours=1))
    by_rule = _alert(_rule("Host load high", silenced_until=NOW + timedelta(hours=1)))
    lapsed = _alert(_rule("Pool faulted"), silenced_until=NOW - timedelta(minutes=1))
    (delivery,) = _dispatch()
    assert [a["id"] for a in delivery.payload["alerts"]] == [lapsed.pk]
    assert set(Alert.objects.filter(pk__in=[hushed.pk, by_rule.pk]).values_list("notified_state", flat=True)) == {
        "firing"}
    assert _dispatch(NOW + timedelta(hours=2)) == []  # the silence ending does not replay what changed under it


def test_quiet_hours_suppress_all_but_critical_in_server_local_time(settings, django_capture_on_commit_callbacks):
    settings.TIME_ZONE = "Europe/Berlin"  # 22:30 UTC is 23:30 on the server's clock
    channel = _channel(quiet_start=time(23), quiet_end=time(6, 30))
    warning = _alert(_rule("Disk failing"))
    critical = _alert(_rule("Pool faulted", Severity.CRITICAL))
    with django_capture_on_commit_callbacks() as queued:
        suppressed, sent = _dispatch(datetime(2026, 12, 2, 22, 30, tzinfo=UTC))
    assert (suppressed.state, sent.state) == (DeliveryState.SUPPRESSED, DeliveryState.PENDING)
    assert list(suppressed.alerts.all()) == [warning] and list(sent.alerts.all()) == [critical]
    assert suppressed.last_error == "Quiet hours (23:00 to 06:30): only critical alerts are sent."
    assert len(queued) == 1 and suppressed.channel == sent.channel == channel
    assert suppressed.attempts == 0
    Alert.objects.filter(pk=warning.pk).update(state=AlertState.ACKNOWLEDGED)
    (morning,) = _dispatch(datetime(2026, 12, 3, 6, 0, tzinfo=UTC))  # 07:00 in Berlin: past the quiet hours
    assert (morning.state, morning.title) == (DeliveryState.PENDING, "[WARNING] Disk failing: tank acknowledged")


# ------------------------------------------------------------------ webhooks
def _verified(recorder, secret=SECRET) -> list[dict]:
    """The JSON bodies received, each checked against its signature with the shared secret."""
    bodies = []
    for request in recorder.requests:
        expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request["headers"]["X-Calypso-Signature"], expected)
        assert request["headers"]["Content-Type"] == "application/json"
        bodies.append(json.loads(request["body"]))
    return bodies


def test_a_dispatched_burst_reaches_a_signed_webhook(http_server, django_capture_on_commit_callbacks):  # noqa: F811
    _channel(url=f"{http_server.url}/hook", secret=SECRET)
    alerts = [_alert(_rule(severity=Severity.CRITICAL)), _alert(_rule("Disk failing"), subject="sdc")]
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = _dispatch()
    (body,) = _verified(http_server)
    assert http_server.requests[0]["path"] == "/hook"
    assert http_server.requests[0]["headers"]["X-Calypso-Delivery"] == str(delivery.pk)
    assert body["version"] == 1 and body["title"] == "2 alerts changed state: 2 firing" and body["sent_at"]
    assert [(a["id"], a["rule"], a["subject"], a["severity"]) for a in body["alerts"]] == [
        (alerts[0].pk, "Pool capacity above 80 %", "tank", "critical"), (alerts[1].pk, "Disk failing", "sdc",
                                                                         "warning")]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.status_code) == (DeliveryState.SENT, 1, 200)
    assert delivery.sent_at is not None and delivery.log[0]["ok"] and delivery.log[0]["status"] == 200
    assert SECRET not in json.dumps(delivery.log) + delivery.last_error + json.dumps(delivery.payload)


def test_a_failing_webhook_is_retried_until_it_answers(http_server, django_capture_on_commit_callbacks):  # noqa: F811
    http_server.statuses = [500, 500, 200]
    _channel(url=f"{http_server.url}/hook", secret=SECRET)
    _alert(_rule())
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = _dispatch()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENT, 3)
    assert [(line["attempt"], line["ok"], line["status"]) for line in delivery.log] == [
        (1, False, 500), (2, False, 500), (3, True, 200)]
    assert delivery.log[0]["error"] == "The server answered HTTP 500 Internal Server Error: upstream exploded"
    assert len(_verified(http_server)) == 3 and delivery.last_error == ""


def test_a_webhook_that_always_fails_ends_failed_after_the_last_attempt(settings, http_server):  # noqa: F811
    settings.CALYPSO_NOTIFY_ATTEMPTS = 3
    http_server.default = 503
    _channel(url=f"{http_server.url}/hook", secret=SECRET)
    _alert(_rule())
    (delivery,) = _dispatch()
    before = timezone.now()
    first = notify.deliver(delivery.pk)  # one attempt, as the queued task makes it
    assert (first.state, first.attempts, first.status_code) == (DeliveryState.RETRYING, 1, 503)
    assert before < first.next_attempt_at <= timezone.now() + timedelta(seconds=0.001)
    deliver_task.delay(delivery.pk)  # the task queues the next attempts itself
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (DeliveryState.FAILED, 3, None)
    assert delivery.last_error.startswith("Gave up after 3 attempts: The server answered HTTP 503")
    assert "Check that the URL answers a POST with a 2xx status" in delivery.last_error
    assert len(http_server.requests) == 3 and [line["status"] for line in delivery.log] == [503, 503, 503]
    assert notify.deliver(delivery.pk).attempts == 3  # a failed message is not sent again


def test_an_unreachable_webhook_says_so(settings, http_server):  # noqa: F811
    settings.CALYPSO_NOTIFY_ATTEMPTS = 1
    channel = _channel(url=f"{http_server.url}/hook")
    http_server.requests.clear()
    channel.url = "http://127.0.0.1:9/nothing-listens"
    channel.save()
    _alert(_rule())
    (delivery,) = _dispatch()
    delivery = notify.deliver(delivery.pk)
    assert delivery.state == DeliveryState.FAILED and delivery.status_code is None
    assert "Connection refused" in delivery.last_error and "X-Calypso-Signature" not in str(http_server.requests)


# ------------------------------------------------------------------ ntfy
def test_ntfy_gets_text_title_priority_tags_and_token(http_server):  # noqa: F811
    _channel("phone", kind="ntfy", url=f"{http_server.url}/nas-alerts", secret="tk_ntfy_token")
    _alert(_rule("Pool faulted — tank", Severity.CRITICAL), subject="")
    (delivery,) = _dispatch()
    assert notify.deliver(delivery.pk).state == DeliveryState.SENT
    (request,) = http_server.requests
    headers = request["headers"]
    assert request["path"] == "/nas-alerts" and request["body"].decode() == delivery.body
    assert headers["Priority"] == "5" and headers["Tags"] == "calypso,rotating_light"
    assert headers["Authorization"] == "Bearer tk_ntfy_token"
    assert headers["Title"].startswith("=?UTF-8?B?")  # not ASCII: RFC 2047, as ntfy reads it
    decoded = "".join(part.decode() if isinstance(part, bytes) else part
                      for part, _charset in email.header.decode_header(headers["Title"]))
    assert decoded == "[CRITICAL] Pool faulted — tank firing"


def test_ntfy_warning_priority_and_no_token(http_server):  # noqa: F811
    _channel("phone", kind="ntfy", url=f"{http_server.url}/nas-alerts")
    _alert(_rule("Disk failing"), subject="sdc")
    (delivery,) = _dispatch()
    notify.deliver(delivery.pk)
    headers = http_server.requests[0]["headers"]
    assert (headers["Title"], headers["Priority"], headers["Tags"]) == (
        "[WARNING] Disk failing: sdc firing", "4", "calypso,warning")
    assert "Authorization" not in headers


# ------------------------------------------------------------------ email
def _mail_channel(box, **fields) -> NotificationChannel:
    defaults = {"recipients": "ops@example.com\noncall@example.com", "sender": "nas@example.com",
                "smtp_host": "127.0.0.1", "smtp_port": box.port, "smtp_security": SmtpSecurity.NONE}
    return NotificationChannel.objects.create(name="mail", kind="email", **{**defaults, **fields})


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_over_plain_smtp_with_auth(smtp_server):  # noqa: F811
    box = smtp_server(credentials={"nas": "smtp-pass-42"})
    _mail_channel(box, smtp_username="nas", smtp_password="smtp-pass-42")
    _alert(_rule(severity=Severity.CRITICAL))
    (delivery,) = _dispatch()
    assert notify.deliver(delivery.pk).state == DeliveryState.SENT
    (mail,) = box.messages
    message = mail["message"]
    assert message["Subject"] == "[CRITICAL] Pool capacity above 80 %: tank firing"
    assert message["To"] == "ops@example.com, oncall@example.com" and message["From"] == "nas@example.com"
    assert mail["to"] == ["ops@example.com", "oncall@example.com"] and mail["authenticated"]
    assert box.logins == ["nas"] and message["X-Calypso-Delivery"] == str(delivery.pk)
    assert "tank is 85 % full" in message.get_content() and "Value: 85" in message.get_content()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_with_a_wrong_password_fails_without_showing_it(settings, smtp_server):  # noqa: F811
    settings.CALYPSO_NOTIFY_ATTEMPTS = 1
    box = smtp_server(credentials={"nas": "smtp-pass-42"})
    _mail_channel(box, smtp_username="nas", smtp_password="wrong-pass-99")
    _alert(_rule())
    (delivery,) = _dispatch()
    delivery = notify.deliver(delivery.pk)
    assert delivery.state == DeliveryState.FAILED and not box.messages
    assert delivery.last_error.startswith("The SMTP server answered 535")
    assert "Check the SMTP server, port, security, user name and password" in delivery.last_error
    assert "wrong-pass-99" not in delivery.last_error + json.dumps(delivery.log)


def test_email_with_starttls_and_auth(smtp_server, loopback_cert):  # noqa: F811
    box = smtp_server(credentials={"nas": "smtp-pass-42"}, starttls=loopback_cert)
    _mail_channel(box, smtp_username="nas", smtp_password="smtp-pass-42", smtp_security=SmtpSecurity.STARTTLS,
                  sender="")
    _alert(_rule())
    (delivery,) = _dispatch()
    assert notify.deliver(delivery.pk).state == DeliveryState.SENT, Delivery.objects.get().last_error
    (mail,) = box.messages
    assert mail["tls"] and mail["authenticated"] and mail["message"]["From"] == "webmaster@localhost"


def test_email_over_implicit_tls(smtp_server, loopback_cert):  # noqa: F811
    box = smtp_server(implicit_tls=loopback_cert)
    _mail_channel(box, smtp_security=SmtpSecurity.TLS)
    _alert(_rule())
    (delivery,) = _dispatch()
    assert notify.deliver(delivery.pk).state == DeliveryState.SENT, Delivery.objects.get().last_error
    assert box.messages[0]["tls"]


def test_starttls_to_a_server_without_it_fails_saying_so(settings, smtp_server):  # noqa: F811
    settings.CALYPSO_NOTIFY_ATTEMPTS = 1
    box = smtp_server()
    _mail_channel(box, smtp_security=SmtpSecurity.STARTTLS)
    _alert(_rule())
    (delivery,) = _dispatch()
    delivery = notify.deliver(delivery.pk)
    assert delivery.state == DeliveryState.FAILED and "STARTTLS" in delivery.last_error and not box.messages


def test_a_message_for_a_channel_disabled_meanwhile_is_not_sent(http_server):  # noqa: F811
    channel = _channel(url=f"{http_server.url}/hook")
    _alert(_rule())
    (delivery,) = _dispatch()
    NotificationChannel.objects.filter(pk=channel.pk).update(enabled=False)
    delivery = notify.deliver(delivery.pk)
    assert delivery.state == DeliveryState.SUPPRESSED and not http_server.requests


def test_a_message_whose_task_was_lost_is_queued_again_and_sent_once(http_server, monkeypatch):
    channel = NotificationChannel.objects.create(name="hook", kind="webhook", url=f"{http_server.url}/h")
    old = timezone.now() - timedelta(minutes=10)
    lost = Delivery.objects.create(channel=channel, created=old, title="lost", payload={"alerts": []})
    Delivery.objects.create(channel=channel, title="fresh", payload={"alerts": []})
    queued = []
    monkeypatch.setattr(notify, "_queue", queued.append)
    assert notify.requeue_stalled() == 1 and queued == [lost.pk]
    assert notify.deliver(lost.pk).state == "sent"
    assert notify.deliver(lost.pk).state == "sent" and len(http_server.requests) == 1  # a second worker: no-op
