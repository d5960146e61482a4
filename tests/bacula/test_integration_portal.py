"""Bacula through the portal, against real daemons on loopback: the resources created through the API are
rendered, checked by ``bacula-dir -t``/``bacula-sd -t`` and reloaded; volumes of a disk-changer autochanger are
labelled from their barcodes; a ZFS dataset's directory is backed up as a Calypso job following the director, browsed
page by page, restored elsewhere through the portal's restore flow and compared byte for byte. A resource the
director refuses leaves the old configuration in force and the answer says what failed."""

from __future__ import annotations

import filecmp
import grp
import os
import stat
from pathlib import Path

import pytest

from apps.bacula.backends import base
from apps.bacula.models import JobRun, Schedule, Volume
from apps.bacula.services.config import include_path
from apps.core.runner import LocalRunner
from apps.jobs.runtime import run_job
from apps.storage.models import Dataset
from apps.storage.models import Pool as StoragePool
from apps.storage.sync import sync_zfs

from .conftest import FD_PASSWORD, FD_PORT, SD_PASSWORD, SD_PORT

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
API = "/api/v1/bacula/"
CHANGER = "/etc/bacula/scripts/disk-changer %c %o %S %a %d %v"
BARCODES = [f"CAL00{i}L6" for i in range(1, 5)]


# What a packaged director configuration already holds (Debian's has a restore job and its client, fileset,
# storage and pool): the director does not start without a job, and Calypso's resources come on top of these.
STOCK = """
Client {{ Name = stock-fd; Address = 127.0.0.1; FDPort = {fd}; Catalog = MyCatalog; Password = "{fd_pw}" }}
FileSet {{ Name = "Stock Set"; Include {{ File = /nonexistent }} }}
Pool {{ Name = Default; Pool Type = Backup }}
Storage {{ Name = StockFile; Address = 127.0.0.1; SDPort = {sd}; Password = "{sd_pw}"; Device = Stock; Media Type = Stock }}
Job {{ Name = StockRestore; Type = Restore; Client = stock-fd; FileSet = "Stock Set"; Storage = StockFile; Pool = Default
      Messages = Standard; Where = /nonexistent }}
"""


@pytest.fixture
def portal(bacula_stack, zfs_pool_factory, settings, admin_user, token_client_for):
    """The stack's daemons running, the portal pointed at their configuration, a ZFS pool with two datasets."""
    stack = bacula_stack
    name, _disks = zfs_pool_factory("mirror", 2)
    for child in ("projects", "restores"):
        LocalRunner().run(["zfs", "create", f"{name}/{child}"])
    sync_zfs(LocalRunner())
    root = Path(StoragePool.objects.get(name=name).mountpoint)
    with stack.dir_conf.open("a") as conf:
        conf.write(STOCK.format(fd=FD_PORT, fd_pw=FD_PASSWORD, sd=SD_PORT, sd_pw=SD_PASSWORD))
    settings.CALYPSO_BACULA_DIR_CONF, settings.CALYPSO_BACULA_SD_CONF = str(stack.dir_conf), str(stack.sd_conf)
    settings.CALYPSO_BACULA_CONSOLE_CONF = str(stack.console_conf)
    settings.CALYPSO_BACULA_POLL_S = 0.3
    assert Dataset.objects.get(name=f"{name}/projects").mountpoint == str(root / "projects")
    vc = stack.home / "vchanger"
    vc.mkdir()
    (vc / "conf").write_text("maxslot=10\nmaxdrive=1\n")
    (vc / "barcodes").write_text("".join(f"{i}:{code}\n" for i, code in enumerate(BARCODES, start=1)))
    for i in range(1, 5):
        (vc / f"slot{i}").touch()
    for conf in (stack.dir_conf, stack.sd_conf):  # as packaged: root:bacula 0640, read by the daemons' own user
        os.chown(conf, 0, grp.getgrnam("bacula").gr_gid)
        conf.chmod(0o640)
    stack.start("fd", "dir")  # the storage daemon starts once it has a device
    return stack, token_client_for(admin_user), root, vc


def _tree(root: Path) -> None:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "hello.txt").write_text("hello\n")
    (root / "sub" / "numbers.txt").write_text("".join(f"{i}\n" for i in range(20000)))
    (root / "sub" / "deep" / "a file.txt").write_text("spaces in names\n")
    (root / "random.bin").write_bytes(os.urandom(1_000_000))


def _same_tree(a: Path, b: Path) -> None:
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.funny_files, cmp.report()
    for name in cmp.common_files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for sub in cmp.common_dirs:
        _same_tree(a / sub, b / sub)


def _made(api, url: str, body: dict) -> dict:
    answer = api.post(API + url, body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def _job(answer) -> object:
    assert answer.status_code == 202, answer.content
    job = run_job(answer.json()["id"])
    return job


def test_backup_and_restore_through_the_portal(portal):
    stack, api, root, vc = portal
    _tree(root / "projects")
    storage = _made(api, "storage/", {
        "name": "VTL1", "address": "127.0.0.1", "port": SD_PORT, "password": SD_PASSWORD, "media_type": "VTape",
        "changer_device": str(vc / "conf"), "changer_command": CHANGER,
        "archive_devices": [str(vc / "drive0"), str(vc / "drive1")]})
    stack.restart_sd()  # the storage daemon has no reload: Calypso restarts it (here the test does)
    assert "Autochanger {" in include_path("sd").read_text() and SD_PASSWORD not in api.get(
        f"{API}storage/generated-config/").content.decode()
    bacula_gid = grp.getgrnam("bacula").gr_gid
    for daemon, main in (("dir", stack.dir_conf), ("sd", stack.sd_conf)):  # the daemons' user can still read both
        assert (main.stat().st_gid, stat.S_IMODE(main.stat().st_mode)) == (bacula_gid, 0o640)
        include = include_path(daemon)
        assert (include.stat().st_uid, include.stat().st_gid, stat.S_IMODE(include.stat().st_mode)) == (
            0, bacula_gid, 0o640)
        assert all(d.stat().st_mode & 0o011 == 0o011 for d in (include.parent, include.parent.parent))
    pool = _made(api, "pools/", {"name": "TapePool", "storage": storage["id"]})
    spare = _made(api, "pools/", {"name": "Spare"})
    client = _made(api, "clients/", {"name": "calypso-fd", "address": "127.0.0.1", "port": FD_PORT,
                                     "password": FD_PASSWORD})
    fileset = _made(api, "filesets/", {"name": "Projects", "include": [str(root / "projects")], "signature": "SHA1"})
    schedule = _made(api, "schedules/", {"name": "Nightly", "runs": ["Level=Full 1st sun at 23:05",
                                                                     "Level=Incremental mon-sat at 23:05"]})
    job = _made(api, "jobs/", {"name": "ProjectsNightly", "client": client["id"], "fileset": fileset["id"],
                               "schedule": schedule["id"], "pool": pool["id"], "storage": storage["id"],
                               "level": "Full"})
    assert 'Name = "ProjectsNightly"' in include_path("dir").read_text() or \
        "Name = ProjectsNightly" in include_path("dir").read_text()

    labelled = _job(api.post(f"{API}storage/{storage['id']}/label/", {"pool": pool["id"], "slots": "1-4"},
                             format="json"))
    assert labelled.state == "succeeded", labelled.error
    assert sorted(labelled.result["labelled"]) == BARCODES
    assert set(Volume.objects.filter(pool_id=pool["id"]).values_list("name", flat=True)) == set(BARCODES)

    backup = _job(api.post(f"{API}jobs/{job['id']}/run/", {"level": "Full"}, format="json"))
    assert backup.state == "succeeded", backup.error
    assert backup.progress == 100 and backup.result["files"] == 7
    log = "\n".join(backup.log_entries.values_list("message", flat=True))
    assert "Backup OK" in log and "The director started job" in log
    run = JobRun.objects.get(jobid=backup.result["jobid"])
    assert run.status == "T" and run.backup_job_id == job["id"] and run.files == 7

    browse = f"{API}history/{run.pk}/browse/"
    top = api.get(browse, {"path": str(root / "projects") + "/"}).json()
    names = [e["name"] for e in top["entries"]]
    assert names == ["sub/", "hello.txt", "random.bin"] and not top["more"], top
    first = api.get(browse, {"path": str(root / "projects") + "/", "limit": 2}).json()
    second = api.get(browse, {"path": str(root / "projects") + "/", "limit": 2, "offset": 2}).json()
    assert [e["name"] for e in first["entries"] + second["entries"]] == names and first["more"]
    by_name = {e["name"]: e for e in top["entries"]}
    assert by_name["random.bin"]["size"] == 1_000_000

    where = root / "restores" / "r1"
    restored = _job(api.post(f"{API}history/{run.pk}/restore/", {
        "client": client["id"], "where": str(where), "dirids": [by_name["sub/"]["pathid"]],
        "fileids": [by_name["hello.txt"]["fileid"], by_name["random.bin"]["fileid"]]}, format="json"))
    assert restored.state == "succeeded", restored.error
    _same_tree(root / "projects", where / str(root / "projects").lstrip("/"))

    volume = Volume.objects.get(name="CAL003L6")
    assert api.post(f"{API}volumes/{volume.pk}/mark/", {"status": "Used"}, format="json").status_code == 200
    assert api.post(f"{API}volumes/{volume.pk}/move/", {"pool": spare["id"]}, format="json").status_code == 200
    volume.refresh_from_db()
    assert volume.status == "Used" and volume.pool_id == spare["id"]
    refused = api.post(f"{API}volumes/{volume.pk}/purge/", {"confirm": "wrong"}, format="json")
    assert refused.status_code == 400
    assert api.post(f"{API}volumes/{volume.pk}/purge/", {"confirm": "CAL003L6"}, format="json").status_code == 200


def test_a_resource_the_director_refuses_leaves_the_old_configuration(portal, monkeypatch):
    stack, api, root, _vc = portal
    _made(api, "schedules/", {"name": "Nightly", "runs": ["Level=Full 1st sun at 23:05"]})
    before = include_path("dir").read_text()
    # Calypso's own grammar check refuses this line; without it, the director's check is what stops it
    monkeypatch.setattr(base, "validate_schedule_run", lambda text, *a, **k: text)
    answer = api.post(API + "schedules/", {"name": "Broken", "runs": ["Level=Full sun at 25:99"]}, format="json")
    assert answer.status_code == 409, answer.content
    message = answer.json()["error"]["message"]
    assert "Bad time specification" in message and "unchanged" in message
    assert include_path("dir").read_text() == before and not Schedule.objects.filter(name="Broken").exists()
    assert "Nightly" in stack.console.call("show schedules")  # the director still runs the old configuration
