"""The SMB API and admin pages as an operator uses them: a token, filters and pages, 400s naming the field,
the generated configuration and the live view."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from apps.audit.models import AuditEvent
from apps.core.runner import ReplayRunner, runner_override
from apps.shares import services
from apps.shares.models import SmbShare

from .conftest import candidate, include_text
from .recordings import add_recording

pytestmark = pytest.mark.django_db
SMB = "/api/v1/shares/smb/"


def test_create_list_filter_and_page(projects, samba_ok, admin_user, token_client_for):
    api = token_client_for(admin_user)
    made = api.post(SMB, {"name": "projects", "path": projects.mountpoint, "hosts_allow": ["10.0.0.0/24"],
                          "previous_versions": True}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["dataset"] == projects.pk and made.json()["dataset_name"] == "tank/projects"
    assert "shadow_copy2" in include_text()
    for i in range(3):
        assert api.post(SMB, {"name": f"team{i}", "path": f"{projects.mountpoint}/docs"}, format="json").status_code == 201
    page = api.get(SMB, {"limit": 2, "ordering": "name"}).json()
    assert [s["name"] for s in page["results"]] == ["projects", "team0"] and page["next"]
    rest = api.get(page["next"]).json()
    assert [s["name"] for s in rest["results"]] == ["team1", "team2"] and rest["next"] is None
    assert [s["name"] for s in api.get(SMB, {"name": "team1"}).json()["results"]] == ["team1"]
    assert len(api.get(SMB, {"pool": projects.pool_id}).json()["results"]) == 4
    changed = api.patch(f"{SMB}{made.json()['id']}/", {"read_only": True}, format="json")
    assert changed.status_code == 200 and "\tread only = yes\n" in include_text().split("[projects]")[1]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "path": "/etc"}, "path"),
    ({"name": "bad;name", "path": "{mount}"}, "name"),
    ({"name": "x", "path": "{mount}", "hosts_allow": ["10.0.0.1 ; evil"]}, "hosts_allow"),
    ({"name": "x", "path": "{mount}", "extra_options": {"root preexec": "id"}}, "extra_options"),
    ({"name": "x", "path": "{mount}", "case_sensitive": "sometimes"}, "case_sensitive"),
])
def test_bad_input_is_a_400_naming_the_field_with_nothing_written(projects, replay, admin_user, client_for, body,
                                                                   field):
    body = json.loads(json.dumps(body).replace("{mount}", projects.mountpoint))
    answer = client_for(admin_user).post(SMB, body, format="json")
    assert answer.status_code == 400 and field in answer.json()["error"]["fields"], answer.content
    assert replay.calls == [] and include_text() == "" and not SmbShare.objects.exists()


def test_generated_configuration_and_live_view(projects, samba_ok, admin_user, client_for, browser_for):
    services.SHARES.create(name="projects", path=projects.mountpoint, comment="Team files")
    api = client_for(admin_user)
    generated = api.get(f"{SMB}generated/").json()
    assert generated["path"] == str(services.include_path()) and generated["text"] == include_text()
    samba_ok.recordings.pop(("smbstatus", "-s", settings.CALYPSO_SAMBA_CONF, "--json"))
    add_recording(samba_ok, "smbstatus_json.txt", conf=settings.CALYPSO_SAMBA_CONF)
    status = api.get(f"{SMB}status/").json()
    assert status["sessions"][0]["username"] == "smbtest1" and status["open_files"][0]["name"] == "up.txt"
    page = browser_for(admin_user).get("/admin/shares/smbshare/generated/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "[projects]" in html and "Team files" in html and "smbtest1" in html and "up.txt" in html


def test_the_generated_page_is_for_those_who_may_see_shares(plain_user, browser_for):
    assert browser_for(plain_user).get("/admin/shares/smbshare/generated/").status_code in (302, 403)


def test_a_password_is_never_returned_or_audited(samba_ok, admin_user, make_user, client_for):
    user = make_user("carol", None)
    samba_ok.add(["getent", "passwd", "carol"], stdout="carol:x:1001:1001::/home/carol:/bin/sh\n")  # exists already
    samba_ok.add(["smbpasswd", "-c", settings.CALYPSO_SAMBA_CONF, "-s", "-a", "carol"])
    api = client_for(admin_user)
    made = api.post("/api/v1/shares/smb-users/", {"user": user.pk, "password": "Secret-Carol-77"}, format="json")
    assert made.status_code == 201, made.content
    assert "password" not in made.json() and made.json()["unix_account_created"] is False
    again = api.post(f"/api/v1/shares/smb-users/{made.json()['id']}/set-password/",
                     {"password": "Secret-Carol-78"}, format="json")
    assert again.status_code == 200
    events = json.dumps(list(AuditEvent.objects.values("changes", "message")))
    assert "Secret-Carol" not in events and AuditEvent.objects.filter(action="shares.smbuser.set_password").exists()
    assert samba_ok.stdins[-1] == "Secret-Carol-78\nSecret-Carol-78\n"


def test_the_dashboard_counts_shares(projects, samba_ok, admin_user, browser_for):
    assert "who is connected" not in browser_for(admin_user).get("/admin/").content.decode()  # nothing shared yet
    services.SHARES.create(name="projects", path=projects.mountpoint, read_only=True)
    html = browser_for(admin_user).get("/admin/").content.decode()
    assert "who is connected" in html and "1 read-only" in html


def test_the_admin_form_shows_refusals_on_the_form(projects, samba_ok, admin_user, browser_for):
    browser = browser_for(admin_user)
    outside = browser.post("/admin/shares/smbshare/add/", {"name": "etc", "path": "/etc", "case_sensitive": "auto",
                                                            "enabled": "on", "browseable": "on"})
    assert outside.status_code == 200 and "is not inside a mounted dataset" in outside.content.decode()
    assert 'value="/etc"' in outside.content.decode()  # what was typed stays
    refusing = ReplayRunner()
    add_recording(refusing, "testparm_not_boolean.txt", candidate=candidate())
    with runner_override(refusing):
        bogus = browser.post("/admin/shares/smbshare/add/", {
            "name": "scratch", "path": projects.mountpoint, "case_sensitive": "auto", "enabled": "on",
            "extra_options": "oplocks=maybe"})
    assert bogus.status_code == 200 and "not boolean" in bogus.content.decode() and "is unchanged" in \
        bogus.content.decode()
    assert not SmbShare.objects.exists()
    events = AuditEvent.objects.filter(action="shares.smbshare.create").values_list("outcome", flat=True)
    assert list(events) == ["failed", "failed"]  # both refusals are on the audit trail
    made = browser.post("/admin/shares/smbshare/add/", {"name": "projects", "path": projects.mountpoint,
                                                         "case_sensitive": "auto", "enabled": "on"})
    assert made.status_code == 302 and SmbShare.objects.filter(name="projects").exists()
    page = browser.get("/admin/shares/smbshare/generated/").content.decode()
    assert "[projects]" in page
