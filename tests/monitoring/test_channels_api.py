"""Notification channels through the API and the admin: secrets go in and never come out, a channel that could
not send is refused naming the field, a test message goes out for real (or says why not), every change is
audited, and the message log is read-only."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.monitoring.choices import DeliveryState
from apps.monitoring.models import Delivery, NotificationChannel

pytestmark = pytest.mark.django_db
BASE = "/api/v1/monitoring"
SECRET, PASSWORD = "hook-key-7f3a9c", "smtp-pass-42"
WEBHOOK = {"name": "hook", "kind": "webhook", "url": "https://hooks.example.com/calypso", "secret": SECRET}
EMAIL = {"name": "mail", "kind": "email", "recipients": "ops@example.com, oncall@example.com",
         "smtp_host": "mail.example.com", "smtp_port": 465, "smtp_security": "tls", "smtp_username": "nas",
         "smtp_password": PASSWORD}


@pytest.fixture
def api(token_client_for, operator_user):
    return token_client_for(operator_user)


def _stored(pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM monitoring_notificationchannel WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _no_secrets(*answers) -> None:
    for answer in answers:
        text = answer.content.decode()
        assert SECRET not in text and PASSWORD not in text
        assert '"secret"' not in text and '"smtp_password"' not in text


def test_secrets_are_write_only_and_stored_encrypted(api):
    hook, mail = api.post(f"{BASE}/channels/", WEBHOOK), api.post(f"{BASE}/channels/", EMAIL)
    assert (hook.status_code, mail.status_code) == (201, 201), (hook.json(), mail.json())
    assert hook.json()["has_secret"] is True and hook.json()["has_smtp_password"] is False
    assert mail.json()["has_smtp_password"] is True and mail.json()["recipients"] == "ops@example.com\noncall@" \
                                                                                   "example.com"
    pk = hook.json()["id"]
    _no_secrets(hook, mail, api.get(f"{BASE}/channels/"), api.get(f"{BASE}/channels/{pk}/"),
                api.patch(f"{BASE}/channels/{pk}/", {"enabled": False}))
    assert _stored(pk, "secret").startswith("fernet:") and SECRET not in _stored(pk, "secret")
    assert NotificationChannel.objects.get(pk=pk).secret == SECRET  # a change without it keeps it
    events = AuditEvent.objects.filter(action__startswith="monitoring.notificationchannel.")
    assert sorted(events.values_list("action", "outcome")) == [
        ("monitoring.notificationchannel.create", "ok"), ("monitoring.notificationchannel.create", "ok"),
        ("monitoring.notificationchannel.update", "ok")]
    assert SECRET not in json.dumps([e.changes for e in events]) + " ".join(e.message for e in events)
    assert PASSWORD not in json.dumps([e.changes for e in events])


def test_an_empty_secret_removes_it(api):
    pk = api.post(f"{BASE}/channels/", WEBHOOK).json()["id"]
    answer = api.patch(f"{BASE}/channels/{pk}/", {"secret": ""})
    assert answer.status_code == 200 and answer.json()["has_secret"] is False
    assert not NotificationChannel.objects.get(pk=pk).secret and _stored(pk, "secret") == ""


@pytest.mark.parametrize(("body", "field"), [
    ({**WEBHOOK, "url": "ftp://files.example.com/drop"}, "url"),
    ({"name": "n", "kind": "ntfy"}, "url"),
    ({**EMAIL, "recipients": ""}, "recipients"),
    ({**EMAIL, "recipients": "ops@example.com, not-an-address"}, "recipients"),
    ({**EMAIL, "smtp_host": ""}, "smtp_host"),
    ({**EMAIL, "smtp_host": "bad host!"}, "smtp_host"),
    ({**EMAIL, "smtp_port": 70000}, "smtp_port"),
    ({**WEBHOOK, "quiet_start": "22:00"}, "quiet_end"),
    ({**WEBHOOK, "quiet_end": "06:00"}, "quiet_start"),
    ({**WEBHOOK, "kind": "pigeon"}, "kind"),
])
def test_a_channel_that_could_not_send_is_refused_naming_the_field(api, body, field):
    answer = api.post(f"{BASE}/channels/", body)
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()["error"]["fields"], answer.json()
    assert not NotificationChannel.objects.exists()
    _no_secrets(answer)


def test_an_update_is_judged_as_a_whole(api):
    pk = api.post(f"{BASE}/channels/", EMAIL).json()["id"]
    answer = api.patch(f"{BASE}/channels/{pk}/", {"kind": "webhook"})
    assert answer.status_code == 400 and "url" in answer.json()["error"]["fields"]
    assert NotificationChannel.objects.get(pk=pk).kind == "email"
    answer = api.patch(f"{BASE}/channels/{pk}/", {"quiet_start": "22:00", "quiet_end": "06:00"})
    assert answer.status_code == 200 and answer.json()["quiet_start"] == "22:00:00"


def test_send_test_success(api, http_server):  # noqa: F811
    pk = api.post(f"{BASE}/channels/", {**WEBHOOK, "url": f"{http_server.url}/hook"}).json()["id"]
    answer = api.post(f"{BASE}/channels/{pk}/send-test/", {})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["state"], body["attempts"], body["test"], body["channel"]) == ("sent", 1, True, pk)
    (request,) = http_server.requests
    sent = json.loads(request["body"])
    assert sent["test"] is True and sent["alerts"] == [] and sent["title"] == "Calypso test notification"
    assert "operator1" in Delivery.objects.get().body
    event = AuditEvent.objects.get(action="monitoring.notificationchannel.send_test")
    assert event.outcome == "ok" and event.actor_name == "operator1"
    _no_secrets(answer)


def test_send_test_failure_says_why_and_is_not_retried(api, http_server):  # noqa: F811
    http_server.default = 500
    pk = api.post(f"{BASE}/channels/", {**WEBHOOK, "url": f"{http_server.url}/hook"}).json()["id"]
    answer = api.post(f"{BASE}/channels/{pk}/send-test/", {})
    assert answer.status_code == 409, answer.json()
    error = answer.json()["error"]
    assert error["code"] == "notification_failed"
    assert "HTTP 500 Internal Server Error: upstream exploded" in error["message"]
    assert "Check that the URL answers a POST" in error["message"]
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.test) == (DeliveryState.FAILED, 1, True)
    assert len(http_server.requests) == 1
    event = AuditEvent.objects.get(action="monitoring.notificationchannel.send_test")
    assert event.outcome == "failed" and "HTTP 500" in event.message
    _no_secrets(answer)


def test_deliveries_are_listed_filtered_and_read_only(api, http_server):  # noqa: F811
    pk = api.post(f"{BASE}/channels/", {**WEBHOOK, "url": f"{http_server.url}/hook"}).json()["id"]
    api.post(f"{BASE}/channels/{pk}/send-test/", {})
    other = NotificationChannel.objects.create(name="other", kind="ntfy", url="https://ntfy.example.com/t")
    Delivery.objects.create(channel=other, title="old", state=DeliveryState.FAILED)
    rows = api.get(f"{BASE}/deliveries/").json()["results"]
    assert [(r["title"], r["state"]) for r in rows] == [("old", "failed"), ("Calypso test notification", "sent")]
    assert [r["title"] for r in api.get(f"{BASE}/deliveries/", {"channel": pk}).json()["results"]] == [
        "Calypso test notification"]
    assert [r["title"] for r in api.get(f"{BASE}/deliveries/", {"state": "failed"}).json()["results"]] == ["old"]
    assert [r["title"] for r in api.get(f"{BASE}/deliveries/", {"test": "true"}).json()["results"]] == [
        "Calypso test notification"]
    assert api.get(f"{BASE}/deliveries/", {"state": "lost"}).status_code == 400
    row = rows[1]
    assert row["log"][0]["ok"] is True and row["channel_name"] == "hook"
    assert api.delete(f"{BASE}/deliveries/{row['id']}/").status_code == 405
    listing = api.get(f"{BASE}/channels/").json()["results"]
    assert {(c["name"], c["last_delivery_state"]) for c in listing} == {("hook", "sent"), ("other", "failed")}


def test_a_viewer_sees_channels_but_cannot_change_or_test_them(token_client_for, viewer_user, api):
    pk = api.post(f"{BASE}/channels/", WEBHOOK).json()["id"]
    viewer = token_client_for(viewer_user)
    assert viewer.get(f"{BASE}/channels/{pk}/").status_code == 200
    assert viewer.post(f"{BASE}/channels/{pk}/send-test/", {}).status_code == 403
    assert viewer.patch(f"{BASE}/channels/{pk}/", {"enabled": False}).status_code == 403
    assert viewer.post(f"{BASE}/channels/", {**WEBHOOK, "name": "mine"}).status_code == 403
    assert not Delivery.objects.exists()


# ------------------------------------------------------------------ admin
ADMIN = "/admin/monitoring/notificationchannel"
FORM = {"name": "hook", "kind": "webhook", "enabled": "on", "min_severity": "warning", "recipients": "",
        "sender": "", "smtp_host": "", "smtp_port": "587", "smtp_security": "starttls", "smtp_username": "",
        "smtp_password": "", "url": "https://hooks.example.com/calypso", "secret": "", "quiet_start": "",
        "quiet_end": ""}


def test_admin_keeps_a_secret_left_blank_and_removes_it_when_asked(client, admin_user):
    client.force_login(admin_user)
    answer = client.post(f"{ADMIN}/add/", {**FORM, "secret": SECRET})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    channel = NotificationChannel.objects.get()
    assert channel.secret == SECRET
    page = client.get(f"{ADMIN}/{channel.pk}/change/").content.decode()
    assert SECRET not in page and "Send test" in page
    assert client.post(f"{ADMIN}/{channel.pk}/change/", {**FORM, "min_severity": "critical"}).status_code == 302
    channel.refresh_from_db()
    assert (channel.secret, channel.min_severity) == (SECRET, "critical")
    client.post(f"{ADMIN}/{channel.pk}/change/", {**FORM, "clear_secret": "on"})
    channel.refresh_from_db()
    assert not channel.secret and _stored(channel.pk, "secret") == ""
    events = AuditEvent.objects.filter(action__startswith="monitoring.notificationchannel.").order_by("id")
    assert [e.action for e in events] == ["monitoring.notificationchannel.create",
                                          "monitoring.notificationchannel.update",
                                          "monitoring.notificationchannel.update"]
    assert "secret" not in events[1].changes and SECRET not in json.dumps([e.changes for e in events])


def test_admin_refusal_comes_back_on_the_field(client, admin_user):
    client.force_login(admin_user)
    answer = client.post(f"{ADMIN}/add/", {**FORM, "kind": "email"})
    assert answer.status_code == 200 and not NotificationChannel.objects.exists()
    page = answer.content.decode()
    assert "An email channel needs at least one recipient." in page
    assert "An email channel needs the SMTP server" in page


def test_admin_send_test_and_the_message_page(client, admin_user, http_server):  # noqa: F811
    client.force_login(admin_user)
    channel = NotificationChannel.objects.create(name="hook", kind="webhook", url=f"{http_server.url}/hook",
                                                 secret=SECRET)
    answer = client.post(f"{ADMIN}/{channel.pk}/send-test/", {})
    delivery = Delivery.objects.get()
    assert answer.status_code == 302 and answer["Location"].endswith(f"/monitoring/delivery/{delivery.pk}/change/")
    page = client.get(answer["Location"]).content.decode()
    assert "This is a test message from Calypso" in page and "Sent" in page and "200" in page
    listing = client.get(f"{ADMIN}/").content.decode()
    assert "hook" in listing and "Sent" in listing
    assert client.get("/admin/monitoring/delivery/?state__exact=sent").status_code == 200
    assert client.get(f"/admin/monitoring/delivery/{delivery.pk}/delete/").status_code == 403
