"""The Bacula API as an operator uses it: bad input is a 400 naming the field with no file written and no
command run; the generated configuration is viewable before anything is applied, passwords masked."""

from __future__ import annotations

import pytest

from apps.bacula.models import BackupJob, Client, FileSet, JobRun, Pool, Schedule, Storage
from apps.bacula.services.config import include_path

pytestmark = pytest.mark.django_db
API = "/api/v1/bacula/"
SECRET = "fd-director-secret-9"


@pytest.fixture
def resources(projects) -> dict:
    """One of each resource, made straight in the database (what the host has is not at stake here)."""
    storage = Storage.objects.create(name="Library1", password="sd-director-secret", changer_device="/dev/sg3",
                                     archive_devices=["/dev/nst0", "/dev/nst1"])
    pool = Pool.objects.create(name="TapePool", storage=storage)
    client = Client.objects.create(name="nas-fd", address="127.0.0.1", password=SECRET)
    fileset = FileSet.objects.create(name="Projects", include=[projects.mountpoint])
    schedule = Schedule.objects.create(name="Nightly", runs=["Level=Full 1st sun at 23:05"])
    job = BackupJob.objects.create(name="ProjectsNightly", client=client, fileset=fileset, schedule=schedule,
                                   pool=pool, storage=storage)
    run = JobRun.objects.create(jobid=1, name=job.name, job_type="B", level="F", status="T", backup_job=job)
    return {"storage": storage, "pool": pool, "client": client, "fileset": fileset, "job": job, "run": run}


def _nothing_done(replay) -> None:
    assert replay.calls == []
    assert not include_path("dir").exists() and not include_path("sd").exists()


@pytest.mark.parametrize(("url", "body", "field"), [
    ("filesets/", {"name": "Etc", "include": ["/etc"]}, "include"),
    ("filesets/", {"name": "Rel", "include": ["tank/projects"]}, "include"),
    ("filesets/", {"name": "bad name", "include": ["{mount}"]}, "name"),
    ("schedules/", {"name": "Bad", "runs": ["Level=Full sun at 25:99"]}, "runs"),
    ("schedules/", {"name": "Bad", "runs": ["Level=Full everyday at 23:00"]}, "runs"),
    ("schedules/", {"name": "Bad", "runs": ["Level=Sometimes sun at 23:05"]}, "runs"),
    ("clients/", {"name": "fd", "address": "127.0.0.1", "password": 'with"quote'}, "password"),
    ("clients/", {"name": "fd", "address": "bad host;", "password": SECRET}, "address"),
    ("storage/", {"name": "L2", "password": SECRET, "changer_device": "/dev/sg3", "archive_devices": ["/dev/nst0"],
                  "changer_command": "/bin/sh -c reboot;"}, "changer_command"),
    ("storage/", {"name": "L2", "password": SECRET, "changer_device": "", "archive_devices": ["/dev/nst0"]},
     "changer_device"),
])
def test_bad_resource_is_a_400_naming_the_field_with_nothing_written(projects, replay, admin_user, client_for, url,
                                                                      body, field):
    body = {k: [x.replace("{mount}", projects.mountpoint) for x in v] if isinstance(v, list) else v
            for k, v in body.items()}
    answer = client_for(admin_user).post(API + url, body, format="json")
    assert answer.status_code == 400 and field in answer.json()["error"]["fields"], answer.content
    _nothing_done(replay)


@pytest.mark.parametrize(("body", "field"), [
    ({"pool": "{pool}", "slots": "0-4"}, "slots"),
    ({"pool": "{pool}", "slots": "1-4; rm"}, "slots"),
    ({"pool": "{pool}", "slots": "4-1"}, "slots"),
    ({"pool": "{pool}", "slots": "1-4", "drive": 2}, "drive"),
    ({"pool": 999999, "slots": "1-4"}, "pool"),
])
def test_bad_label_request_runs_nothing(resources, replay, admin_user, client_for, body, field):
    body = {k: resources["pool"].pk if v == "{pool}" else v for k, v in body.items()}
    answer = client_for(admin_user).post(f"{API}storage/{resources['storage'].pk}/label/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()["error"]["fields"], answer.content
    _nothing_done(replay)


@pytest.mark.parametrize(("body", "field"), [
    ({"where": "/etc", "dirids": [1]}, "where"),
    ({"where": "{mount}/restored", "fileids": [], "dirids": []}, "fileids"),
    ({"where": "{mount}", "fileids": ["1"]}, "fileids.0"),
])
def test_bad_restore_request_runs_nothing(resources, projects, replay, admin_user, client_for, body, field):
    body = {"client": resources["client"].pk, **{k: v.replace("{mount}", projects.mountpoint) if isinstance(v, str)
                                                 else v for k, v in body.items()}}
    answer = client_for(admin_user).post(f"{API}history/{resources['run'].pk}/restore/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()["error"]["fields"], answer.content
    _nothing_done(replay)


def test_browse_refuses_a_relative_path_before_asking_the_director(resources, replay, admin_user, client_for):
    answer = client_for(admin_user).get(f"{API}history/{resources['run'].pk}/browse/", {"path": "etc/"})
    assert answer.status_code == 400 and "path" in answer.json()["error"]["fields"], answer.content
    _nothing_done(replay)


def test_generated_configuration_is_viewable_before_it_is_applied_with_passwords_masked(
        resources, replay, admin_user, client_for):
    answer = client_for(admin_user).get(f"{API}storage/generated-config/")
    assert answer.status_code == 200, answer.content
    director, storage = answer.json()["director"]["text"], answer.json()["storage"]["text"]
    assert 'Name = "ProjectsNightly"' in director or "Name = ProjectsNightly" in director
    assert "Schedule" in director and "1st sun at 23:05" in director and "/dev/nst1" in storage
    assert SECRET not in director and "sd-director-secret" not in director and "********" in director
    _nothing_done(replay)


def test_passwords_are_never_returned(resources, admin_user, client_for):
    api = client_for(admin_user)
    for url in ("clients/", "storage/"):
        rows = api.get(API + url).json()["results"]
        assert rows and all("password" not in row for row in rows)


def test_the_flavours_own_paths_are_the_defaults(settings):
    from apps.bacula.backends import get_console
    from apps.bacula.services.config import main_conf, sd_restart_argv

    settings.CALYPSO_BACULA_CONSOLE_CONF = settings.CALYPSO_BACULA_DIR_CONF = ""
    settings.CALYPSO_BACULA_SD_RESTART = ["/bin/true"]
    assert get_console().config == "/etc/bacula/bconsole.conf" and str(main_conf("dir")) == "/etc/bacula/bacula-dir.conf"
    assert sd_restart_argv() == ["/bin/true"]
    settings.CALYPSO_BACULA_FLAVOUR = "bareos"
    assert get_console().config == "/etc/bareos/bconsole.conf" and str(main_conf("dir")) == "/etc/bareos/bareos-dir.conf"
    assert sd_restart_argv() == ["/bin/true"] and get_console().flavour.dir_binary == "bareos-dir"


def test_a_tape_library_fills_in_the_changer_and_drives(db):
    from apps.bacula.services import STORAGES
    from apps.tape.models import Drive, Library

    library = Library.objects.create(name="changer-sg6", kind="physical", changer="/dev/sg6", slots=20,
                                     drive_count=2)
    for number in (1, 0):
        Drive.objects.update_or_create(library=library, number=number, defaults={"device": f"/dev/nst{number}"})
    storage = Storage(name="Lib", password="sd-director-secret", library=library)
    STORAGES.prepare(storage, {"library"})
    storage.full_clean()
    assert storage.changer_device == "/dev/sg6" and storage.archive_devices == ["/dev/nst0", "/dev/nst1"]
    mine = Storage(name="Mine", password="sd-director-secret", library=library, changer_device="/dev/sg9",
                   archive_devices=["/dev/nst7"])
    STORAGES.prepare(mine, {"library"})
    assert (mine.changer_device, mine.archive_devices) == ("/dev/sg9", ["/dev/nst7"])  # what was typed stays
