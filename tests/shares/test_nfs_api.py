"""The NFS exports API and admin pages as an operator uses them: create, list, filter, change, delete, 400s
naming the field (``clients.0.host``) with nothing written or run, the generated file and what is exported now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from apps.audit.models import AuditEvent
from apps.core.runner import ReplayRunner
from apps.shares import services
from apps.shares.models import NfsExport

from .recordings import FIXTURES

pytestmark = pytest.mark.django_db
NFS = "/api/v1/shares/nfs/"


@pytest.fixture
def kernel(settings, replay: ReplayRunner) -> ReplayRunner:
    settings.CALYPSO_NFS_BACKEND = "kernel"
    return replay.add_file(FIXTURES / "nfs" / "exportfs_ra.txt")


def exports_text() -> str:
    path = Path(settings.CALYPSO_NFS_EXPORTS_FILE)
    return path.read_text() if path.exists() else ""


def test_create_list_filter_change_and_delete(projects, kernel, admin_user, client_for):
    api = client_for(admin_user)
    made = api.post(NFS, {"path": projects.mountpoint, "description": "Team", "clients": [
        {"host": "10.0.0.0/24", "access": "rw", "sec": ["sys", "krb5"]},
        {"host": "*.example.com", "squash": "all_squash", "anonuid": 1000, "anongid": 1000}]}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["dataset"] == projects.pk and body["dataset_name"] == "tank/projects"
    assert body["clients"][1] == {"host": "*.example.com", "access": "ro", "sync": True, "squash": "all_squash",
                                  "anonuid": 1000, "anongid": 1000, "sec": ["sys"]}
    assert "10.0.0.0/24(rw,sync,root_squash,sec=sys:krb5,no_subtree_check)" in exports_text()
    assert AuditEvent.objects.filter(action="shares.nfsexport.create").count() == 1
    docs = api.post(NFS, {"path": f"{projects.mountpoint}/docs", "clients": [{"host": "@trusted"}]}, format="json")
    assert docs.status_code == 201, docs.content

    listed = api.get(NFS, {"ordering": "path"}).json()["results"]
    assert [e["path"] for e in listed] == [projects.mountpoint, f"{projects.mountpoint}/docs"]
    assert [e["path"] for e in api.get(NFS, {"path": f"{projects.mountpoint}/d"}).json()["results"]] == [
        f"{projects.mountpoint}/docs"]
    assert len(api.get(NFS, {"pool": projects.pool_id}).json()["results"]) == 2

    changed = api.patch(f"{NFS}{body['id']}/", {"clients": [{"host": "10.0.0.7", "access": "rw", "sync": False}]},
                        format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["description"] == "Team" and [c["host"] for c in changed.json()["clients"]] == ["10.0.0.7"]
    assert "10.0.0.7(rw,async,root_squash,sec=sys,no_subtree_check)" in exports_text()
    assert "10.0.0.0/24" not in exports_text()
    disabled = api.patch(f"{NFS}{body['id']}/", {"enabled": False}, format="json")
    assert disabled.status_code == 200 and f"# disabled: {projects.mountpoint} 10.0.0.7" in exports_text()

    assert api.delete(f"{NFS}{docs.json()['id']}/").status_code == 204
    assert "@trusted" not in exports_text() and NfsExport.objects.count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"path": "/etc"}, "path"),
    ({"path": "relative"}, "path"),
    ({"path": '{mount}/"x"'}, "path"),
    ({"clients": []}, "clients"),
    ({"clients": None}, "clients"),
    ({"clients": [{"host": "10.0.0.1 rw"}]}, "clients.0.host"),
    ({"clients": [{"host": "10.0.0.1"}, {"host": "a;b"}]}, "clients.1.host"),
    ({"clients": [{"host": "a(rw)"}]}, "clients.0.host"),
    ({"clients": [{"host": "a,b"}]}, "clients.0.host"),
    ({"clients": [{"access": "rw"}]}, "clients.0.host"),
    ({"clients": [{"host": "10.0.0.1", "anonuid": -1}]}, "clients.0.anonuid"),
    ({"clients": [{"host": "10.0.0.1", "anongid": 4294967295}]}, "clients.0.anongid"),
    ({"clients": [{"host": "10.0.0.1", "no_auth_nlm": True}]}, "clients.0.no_auth_nlm"),
    ({"clients": [{"host": "10.0.0.1", "access": "rwx"}]}, "clients.0.access"),
    ({"clients": [{"host": "10.0.0.1", "squash": "maybe"}]}, "clients.0.squash"),
    ({"clients": [{"host": "10.0.0.1", "sec": ["rot13"]}]}, "clients.0.sec.0"),
    ({"clients": [{"host": "10.0.0.1", "sec": []}]}, "clients.0.sec"),
    ({"clients": [{"host": "10.0.0.1", "sec": ["sys", "sys"]}]}, "clients.0.sec"),
    ({"clients": [{"host": "h.example.com"}, {"host": "H.example.com"}]}, "clients"),
    ({"description": "a\nb"}, "description"),
])
def test_bad_input_is_a_400_naming_the_field_with_nothing_written(projects, replay, settings, admin_user, client_for,
                                                                   body, field):
    settings.CALYPSO_NFS_BACKEND = "kernel"
    body = json.loads(json.dumps({"path": "{mount}", "clients": [{"host": "10.0.0.1"}], **body})
                      .replace("{mount}", projects.mountpoint))
    answer = client_for(admin_user).post(NFS, body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["error"]["fields"], answer.content
    assert replay.calls == [] and exports_text() == "" and not NfsExport.objects.exists()


def test_generated_file_and_what_is_exported_now(projects, kernel, admin_user, client_for, browser_for):
    services.EXPORTS.create(path=projects.mountpoint, description="Team files", clients=[{"host": "10.0.0.1"}])
    api = client_for(admin_user)
    generated = api.get(f"{NFS}generated/").json()
    assert generated == {"path": settings.CALYPSO_NFS_EXPORTS_FILE, "text": exports_text()}
    kernel.add_file(FIXTURES / "nfs" / "exportfs_v.txt")
    status = api.get(f"{NFS}status/").json()
    assert status["backend"] == "kernel" and status["exports"][1]["sec"] == ["sys", "krb5"]
    page = browser_for(admin_user).get("/admin/shares/nfsexport/generated/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "# Team files" in html and "10.0.0.1(ro,sync,root_squash" in html and "/srv/my data" in html


def test_the_apply_operation_is_a_job(projects, kernel, admin_user, client_for):
    answer = client_for(admin_user).post(f"{NFS}apply/", {}, format="json")
    assert answer.status_code == 202, answer.content
    assert "/jobs/" in answer["Location"]


def test_a_viewer_sees_but_does_not_change(projects, kernel, viewer_user, client_for):
    services.EXPORTS.create(path=projects.mountpoint, clients=[{"host": "10.0.0.1"}])
    api = client_for(viewer_user)
    assert len(api.get(NFS).json()["results"]) == 1
    assert api.post(NFS, {"path": projects.mountpoint, "clients": [{"host": "10.0.0.2"}]},
                    format="json").status_code == 403


def test_the_admin_form_takes_one_client_per_line(projects, kernel, admin_user, browser_for):
    browser = browser_for(admin_user)
    assert browser.get("/admin/shares/nfsexport/add/").status_code == 200
    answer = browser.post("/admin/shares/nfsexport/add/", {
        "path": projects.mountpoint, "description": "From the form", "enabled": "on",
        "clients": "10.0.0.0/24 rw,async,no_root_squash,sec=sys:krb5\n*.example.com(ro,all_squash,anonuid=1000)\n"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    export = NfsExport.objects.get()
    assert export.clients == [
        {"host": "10.0.0.0/24", "access": "rw", "sync": False, "squash": "no_root_squash", "anonuid": None,
         "anongid": None, "sec": ["sys", "krb5"]},
        {"host": "*.example.com", "access": "ro", "sync": True, "squash": "all_squash", "anonuid": 1000,
         "anongid": None, "sec": ["sys"]}]
    page = browser.get(f"/admin/shares/nfsexport/{export.pk}/change/").content.decode()
    assert "10.0.0.0/24 rw,async,no_root_squash,sec=sys:krb5" in page
    refused = browser.post("/admin/shares/nfsexport/add/", {
        "path": f"{projects.mountpoint}/docs", "clients": "10.0.0.1 rw,insecure\n"})
    assert refused.status_code == 200 and "unknown option" in refused.content.decode()
    refused = browser.post("/admin/shares/nfsexport/add/", {
        "path": f"{projects.mountpoint}/docs", "clients": "bad;host rw\n"})
    assert refused.status_code == 200 and "clients.0.host" in refused.content.decode()
    refused = browser.post("/admin/shares/nfsexport/add/", {"path": "/etc", "clients": "10.0.0.1 rw\n"})
    assert refused.status_code == 200 and "is not inside a mounted dataset" in refused.content.decode()
    assert NfsExport.objects.count() == 1
    listing = browser.get("/admin/shares/nfsexport/").content.decode()
    assert "/admin/shares/nfsexport/generated/" in listing and "10.0.0.0/24 (rw)" in listing
