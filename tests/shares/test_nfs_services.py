"""NFS exports through their services, on both servers: what reaches the host, what is refused before anything
runs, and what is put back when the server refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from apps.core.configfiles import integration_path
from apps.core.errors import BackendError, ServiceError
from apps.core.runner import ReplayRunner
from apps.jobs.models import JobState
from apps.jobs.runtime import run_job
from apps.shares import backends, services
from apps.shares.models import NfsExport
from apps.storage import services as storage
from apps.storage.models import Dataset

from .recordings import FIXTURES, add_recording

pytestmark = pytest.mark.django_db
EXPORTFS_RA = ("exportfs", "-ra")
PID = "4242"


@pytest.fixture
def kernel(settings, replay: ReplayRunner) -> ReplayRunner:
    """The kernel server; exportfs -ra accepts every file."""
    settings.CALYPSO_NFS_BACKEND = "kernel"
    return replay.add_file(FIXTURES / "nfs" / "exportfs_ra.txt")


@pytest.fixture
def ganesha(settings, replay: ReplayRunner, tmp_path) -> ReplayRunner:
    """NFS-Ganesha, running as pid 4242 (its pid file), which takes a SIGHUP."""
    settings.CALYPSO_NFS_BACKEND = "ganesha"
    settings.CALYPSO_GANESHA_PID_FILE = str(tmp_path / "ganesha.pid")
    Path(settings.CALYPSO_GANESHA_PID_FILE).write_text(PID + "\n")
    return replay.add(["kill", "-HUP", PID])


def exports_text() -> str:
    path = Path(settings.CALYPSO_NFS_EXPORTS_FILE)
    return path.read_text() if path.exists() else ""


def ganesha_text() -> str:
    path = integration_path("ganesha", "exports.conf")
    return path.read_text() if path.exists() else ""


def _field(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        return exc.field
    return ",".join(exc.message_dict)


def test_a_kernel_export_is_rendered_checked_and_applied(projects, kernel):
    export = services.EXPORTS.create(path=projects.mountpoint, description="Team files", clients=[
        {"host": "10.0.0.0/24", "access": "rw"},
        {"host": "*.example.com", "sync": False, "squash": "all_squash", "anonuid": 1000, "anongid": 1000,
         "sec": ["krb5p"]}])
    assert export.dataset == projects
    assert export.clients[0] == {"host": "10.0.0.0/24", "access": "rw", "sync": True, "squash": "root_squash",
                                 "anonuid": None, "anongid": None, "sec": ["sys"]}
    assert kernel.calls == [EXPORTFS_RA]
    assert f"{projects.mountpoint} 10.0.0.0/24(rw,sync,root_squash,sec=sys,no_subtree_check) *.example.com(ro,async," \
           "all_squash,anonuid=1000,anongid=1000,sec=krb5p,no_subtree_check)\n" in exports_text()
    assert "# Team files\n" in exports_text()
    assert not list(Path(settings.CALYPSO_NFS_EXPORTS_FILE).parent.glob(".*candidate"))

    docs = services.EXPORTS.create(path=f"{projects.mountpoint}/docs", clients=[{"host": "@trusted"}])
    services.EXPORTS.update(export, enabled=False)
    text = exports_text()
    assert f"# disabled: {projects.mountpoint} 10.0.0.0/24" in text and f"\n{projects.mountpoint}/docs @trusted(" in text
    services.EXPORTS.delete(docs)
    assert "@trusted" not in exports_text() and kernel.calls == [EXPORTFS_RA] * 4


def test_a_path_with_a_space_is_quoted(projects, kernel):
    (Path(projects.mountpoint) / "team data").mkdir()
    services.EXPORTS.create(path=f"{projects.mountpoint}/team data", clients=[{"host": "10.0.0.1"}])
    assert f'"{projects.mountpoint}/team data" 10.0.0.1(ro,sync,root_squash,sec=sys,no_subtree_check)\n' \
        in exports_text()


@pytest.mark.parametrize(("fields", "field"), [
    ({"path": "/etc"}, "path"),
    ({"path": "/tank/../etc"}, "path"),
    ({"path": "relative/dir"}, "path"),
    ({"path": "{mount}/missing"}, "path"),
    ({"path": '{mount}/"quoted"'}, "path"),
    ({"clients": []}, "clients"),
    ({"clients": [{"host": "10.0.0.1 *"}]}, "clients.0.host"),
    ({"clients": [{"host": "10.0.0.1"}, {"host": "a;b"}]}, "clients.1.host"),
    ({"clients": [{"host": "evil(rw)"}]}, "clients.0.host"),
    ({"clients": [{"host": "a,b"}]}, "clients.0.host"),
    ({"clients": [{"host": "10.0.0.1\n/etc *"}]}, "clients.0.host"),
    ({"clients": [{"host": ""}]}, "clients.0.host"),
    ({"clients": [{"access": "rw"}]}, "clients.0.host"),
    ({"clients": [{"host": "10.0.0.1", "anonuid": -1}]}, "clients.0.anonuid"),
    ({"clients": [{"host": "10.0.0.1", "anongid": 2**32}]}, "clients.0.anongid"),
    ({"clients": [{"host": "10.0.0.1", "anonuid": True}]}, "clients.0.anonuid"),
    ({"clients": [{"host": "10.0.0.1", "insecure": True}]}, "clients.0.insecure"),
    ({"clients": [{"host": "10.0.0.1", "access": "full"}]}, "clients.0.access"),
    ({"clients": [{"host": "10.0.0.1", "squash": "no_all_squash"}]}, "clients.0.squash"),
    ({"clients": [{"host": "10.0.0.1", "sec": ["sys", "sys"]}]}, "clients.0.sec"),
    ({"clients": [{"host": "10.0.0.1", "sec": ["none"]}]}, "clients.0.sec"),
    ({"clients": [{"host": "10.0.0.1", "sync": "yes"}]}, "clients.0.sync"),
    ({"clients": "10.0.0.1(rw)"}, "clients"),
    ({"description": "two\nlines"}, "description"),
])
def test_bad_input_is_refused_naming_the_field_before_anything_runs(projects, replay, settings, fields, field):
    settings.CALYPSO_NFS_BACKEND = "kernel"
    body = {"path": projects.mountpoint, "clients": [{"host": "10.0.0.1"}], **fields}
    body["path"] = body["path"].replace("{mount}", projects.mountpoint)
    with pytest.raises((ServiceError, ValidationError)) as caught:
        services.EXPORTS.create(**body)
    assert _field(caught.value) == field
    assert replay.calls == [] and exports_text() == "" and not NfsExport.objects.exists()


def test_the_same_path_is_exported_once(projects, kernel):
    services.EXPORTS.create(path=projects.mountpoint, clients=[{"host": "10.0.0.1"}])
    with pytest.raises(ValidationError) as caught:
        services.EXPORTS.create(path=projects.mountpoint, clients=[{"host": "10.0.0.2"}])
    assert "path" in caught.value.message_dict and NfsExport.objects.count() == 1


def test_when_exportfs_refuses_the_previous_file_is_put_back(projects, kernel):
    services.EXPORTS.create(path=projects.mountpoint, clients=[{"host": "10.0.0.1"}])
    before = exports_text()
    kernel.recordings[EXPORTFS_RA].clear()
    kernel.add_files([FIXTURES / "nfs" / "exportfs_ra_missing_dir.txt", FIXTURES / "nfs" / "exportfs_ra.txt"])
    with pytest.raises(BackendError) as caught:
        services.EXPORTS.create(path=f"{projects.mountpoint}/docs", clients=[{"host": "10.0.0.2"}])
    message = caught.value.message
    assert "exportfs -ra failed (exit 1)" in message and "Failed to stat /srv/missing" in message
    assert "previous configuration was put back" in message
    assert exports_text() == before and NfsExport.objects.count() == 1
    assert kernel.calls[-2:] == [EXPORTFS_RA, EXPORTFS_RA]  # the refused file, then the restored one again


def test_the_apply_job_says_what_failed_and_keeps_the_old_file(projects, kernel):
    services.EXPORTS.create(path=projects.mountpoint, clients=[{"host": "10.0.0.1", "access": "rw"}])
    NfsExport.objects.update(description="changed behind the service's back")
    before = exports_text()
    refusing = ReplayRunner().add_files([FIXTURES / "nfs" / "exportfs_ra_bad_option.txt",
                                         FIXTURES / "nfs" / "exportfs_ra.txt"])
    job = run_job(services.start_nfs_apply().pk, runner=refusing)
    assert job.state == JobState.FAILED and 'unknown keyword "bogus"' in job.error
    assert 'unknown keyword "bogus"' in " ".join(job.log_entries.values_list("message", flat=True))
    assert exports_text() == before

    warning = ReplayRunner().add_file(FIXTURES / "nfs" / "exportfs_ra_unresolved_host.txt")
    job = run_job(services.start_nfs_apply().pk, runner=warning)
    assert job.state == JobState.SUCCEEDED and "changed behind" in exports_text()
    messages = list(job.log_entries.values_list("message", flat=True))
    assert messages.count("exportfs: Failed to resolve backup.example.com") == 1


def test_what_the_kernel_server_exports_now(projects, replay, settings):
    settings.CALYPSO_NFS_BACKEND = "kernel"
    replay.add_file(FIXTURES / "nfs" / "exportfs_v.txt")
    status = services.nfs_status()
    assert status["backend"] == "kernel" and status["running"] and status["source"] == "exportfs -v"
    assert [(e["path"], e["host"], e["access"]) for e in status["exports"]][:2] == [
        ("/srv/a", "127.0.0.1", "rw"), ("/srv/projects", "10.0.0.0/24", "rw")]


def test_a_ganesha_export_gets_its_block_and_the_include_line(projects, ganesha):
    export = services.EXPORTS.create(path=projects.mountpoint, clients=[
        {"host": "10.0.0.0/24", "access": "rw", "squash": "no_root_squash", "sec": ["sys", "krb5"]}])
    text = ganesha_text()
    assert f"\tExport_Id = {export.pk};\n\tPath = \"{projects.mountpoint}\";\n\tPseudo = \"{projects.mountpoint}\";\n" \
        in text
    assert "\t\tClients = 10.0.0.0/24;\n\t\tAccess_Type = RW;\n\t\tSquash = no_root_squash;\n\t\tSecType = sys, krb5;\n" \
        in text
    assert "\tAccess_Type = None;\n" in text and "\tFSAL {\n\t\tName = VFS;\n\t}\n" in text
    include = f'%include "{integration_path("ganesha", "exports.conf")}"'
    assert Path(settings.CALYPSO_GANESHA_CONF).read_text().count(include) == 1
    assert ganesha.calls == [("kill", "-HUP", PID)]
    docs = services.EXPORTS.create(path=f"{projects.mountpoint}/docs", clients=[{"host": "@trusted"}])
    assert ganesha_text().count("EXPORT {") == 2 and f"Export_Id = {docs.pk};" in ganesha_text()
    services.EXPORTS.delete(export)
    assert ganesha_text().count("EXPORT {") == 1 and f"Export_Id = {export.pk};" not in ganesha_text()
    assert Path(settings.CALYPSO_GANESHA_CONF).read_text().count(include) == 1
    assert ganesha.calls == [("kill", "-HUP", PID)] * 3


def test_the_include_line_joins_an_existing_ganesha_conf(projects, ganesha):
    main = Path(settings.CALYPSO_GANESHA_CONF)
    main.parent.mkdir(parents=True, exist_ok=True)
    main.write_text("NFS_CORE_PARAM { Protocols = 4; }\n")
    services.EXPORTS.create(path=projects.mountpoint, clients=[{"host": "10.0.0.1"}])
    assert main.read_text().startswith("NFS_CORE_PARAM { Protocols = 4; }\n\n# NFS exports managed by Calypso\n%include")


def test_when_ganesha_cannot_be_reloaded_the_previous_file_stays(projects, ganesha):
    services.EXPORTS.create(path=projects.mountpoint, clients=[{"host": "10.0.0.1"}])
    before = ganesha_text()
    ganesha.recordings[("kill", "-HUP", PID)].clear()
    add_recording(ganesha, "nfs/kill_hup_no_such_process.txt", pid=PID)
    with pytest.raises(BackendError) as caught:
        services.EXPORTS.create(path=f"{projects.mountpoint}/docs", clients=[{"host": "10.0.0.2"}])
    message = caught.value.message
    assert f"NFS-Ganesha (pid {PID}" in message and f"kill: ({PID}): No such process" in message
    assert "previous configuration was put back" in message
    assert ganesha_text() == before and NfsExport.objects.count() == 1


def test_ganesha_not_running_reads_the_file_when_it_starts(projects, replay, settings, tmp_path):
    settings.CALYPSO_NFS_BACKEND = "ganesha"
    settings.CALYPSO_GANESHA_PID_FILE = str(tmp_path / "absent.pid")
    services.EXPORTS.create(path=projects.mountpoint, clients=[{"host": "10.0.0.1"}])
    assert replay.calls == [] and "EXPORT {" in ganesha_text()
    status = services.nfs_status()
    assert status["backend"] == "ganesha" and not status["running"]
    assert [(e["path"], e["host"]) for e in status["exports"]] == [(projects.mountpoint, "10.0.0.1")]


def test_a_dataset_with_an_export_is_not_destroyed(projects, kernel):
    services.EXPORTS.create(path=f"{projects.mountpoint}/docs", clients=[{"host": "10.0.0.1"}])
    with pytest.raises(ServiceError, match=f"NFS export {projects.mountpoint}/docs") as caught:
        storage.destroy_dataset(projects)
    assert caught.value.code == "in_use"
    with pytest.raises(ServiceError, match="NFS export"):
        storage.destroy_dataset(Dataset.objects.get(name="tank"), recursive=True)
    with pytest.raises(ServiceError, match="NFS export"):
        storage.destroy_pool(projects.pool)
    assert [argv for argv in kernel.calls if argv[0] in ("zfs", "zpool")] == []


def test_auto_picks_the_server_that_is_there(settings, monkeypatch):
    settings.CALYPSO_NFS_BACKEND = "ganesha"
    assert backends.nfs_backend_name() == "ganesha"
    settings.CALYPSO_NFS_BACKEND = "auto"
    monkeypatch.setattr(backends.shutil, "which", lambda name: "/usr/bin/" + name if name == "ganesha.nfsd" else None)
    assert backends.nfs_backend_name() == "ganesha"  # no exportfs
    monkeypatch.setattr(backends.shutil, "which", lambda name: None)
    assert backends.nfs_backend_name() == "kernel"  # nothing installed: the kernel's tools say what is missing
