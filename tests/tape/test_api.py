"""The tape API: virtual libraries created, previewed and deleted (mhVTL's files rendered and parsed back, tgt's
commands replayed), moves refused with a 400 naming the field before any command runs or file is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from apps.jobs.models import Job
from apps.tape import services
from apps.tape.backends import get_backend
from apps.tape.backends.mhvtl import parse_device_conf, parse_library_contents
from apps.tape.models import Library, Medium, Slot

API = "/api/v1/tape/libraries/"
RESTART = ("systemctl", "restart", "mhvtl.target")
VTL1 = {"name": "vtl1", "kind": "mhvtl", "slots": 20, "ie_slots": 2, "drive_count": 2, "density": "LTO6",
        "media_size_mb": 512, "media": ["CAL001L6", "CAL002L6", "CLN001L1"]}


def _etc() -> Path:
    return Path(settings.CALYPSO_MHVTL_CONFIG_DIR)


def _mktape(code: str, kind: str = "data", library: int = 10) -> list[str]:
    return ["mktape", "-l", str(library), "-m", code, "-s", "512", "-t", kind, "-d", "LTO6", "-C", str(_etc())]


@pytest.fixture
def api(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def vtl1(api, replay) -> Library:
    for code, kind in (("CAL001L6", "data"), ("CAL002L6", "data"), ("CLN001L1", "clean")):
        replay.add(_mktape(code, kind))
    replay.add(RESTART)
    response = api.post(API, VTL1, format="json")
    assert response.status_code == 201, response.content
    return Library.objects.get(name="vtl1")


def test_an_mhvtl_library_is_rendered_parsed_back_and_started(vtl1, replay):
    assert replay.calls == [tuple(_mktape("CAL001L6")), tuple(_mktape("CAL002L6")),
                            tuple(_mktape("CLN001L1", "clean")), RESTART]
    config = parse_device_conf((_etc() / "device.conf").read_text())
    (library,) = config.libraries
    assert (library.id, library.get("Vendor identification"), library.get("Home directory")) == (10, "STK",
                                                                                                 "/opt/mhvtl")
    assert [(d.id, d.library_id, d.slot, d.target) for d in config.drives] == [(11, 10, 1, 1), (12, 10, 2, 2)]
    contents = parse_library_contents((_etc() / "library_contents.10").read_text())
    assert (contents.drives, contents.maps, len(contents.slots)) == (2, 2, 20)
    assert contents.media == {1: "CAL001L6", 2: "CAL002L6", 3: "CLN001L1"}
    assert list(Medium.objects.order_by("barcode").values_list("barcode", "kind", "state", "slot_number")) == [
        ("CAL001L6", "data", "blank", 1), ("CAL002L6", "data", "blank", 2), ("CLN001L1", "clean", "blank", 3)]
    assert Slot.objects.filter(library=vtl1).count() == 22 and vtl1.drives.count() == 2


def test_preview_shows_what_is_applied(vtl1, api):
    response = api.get(f"{API}preview/", {"library": vtl1.pk})
    assert response.status_code == 200, response.content
    (shown,) = response.json()["libraries"]
    files = {f["path"]: f["text"] for f in shown["files"]}
    assert files == {str(_etc() / "device.conf"): (_etc() / "device.conf").read_text(),
                     str(_etc() / "library_contents.10"): (_etc() / "library_contents.10").read_text()}
    assert shown["commands"][0] == _mktape("CAL001L6") and shown["commands"][-1] == list(RESTART)


def test_a_second_library_joins_device_conf_and_deleting_takes_it_out(vtl1, api, replay):
    replay.add(_mktape("CAL101L6", library=20)[:5] + ["-s", "1024", "-t", "data", "-d", "LTO6", "-C", str(_etc())])
    response = api.post(API, {"name": "vtl2", "kind": "mhvtl", "media": ["CAL101L6"]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["mhvtl_id"] == 20  # 10-12 taken by vtl1 and its drives
    ids = [lib.id for lib in parse_device_conf((_etc() / "device.conf").read_text()).libraries]
    assert ids == [10, 20]
    response = api.delete(f"{API}{vtl1.pk}/?confirm=vtl1")
    assert response.status_code == 204, response.content
    assert [lib.id for lib in parse_device_conf((_etc() / "device.conf").read_text()).libraries] == [20]
    assert not (_etc() / "library_contents.10").exists() and (_etc() / "library_contents.20").exists()
    assert replay.calls[-1] == RESTART
    assert Medium.objects.get(barcode="CAL001L6").library is None  # known still, outside any library


def test_a_failed_restart_leaves_no_file_and_no_library(api, replay):
    for code, kind in (("CAL001L6", "data"), ("CAL002L6", "data"), ("CLN001L1", "clean")):
        replay.add(_mktape(code, kind))
    replay.add(RESTART, stderr="Job for mhvtl.target failed.", returncode=1)
    removed = [("rm", "-rf", "--", f"/opt/mhvtl/{code}") for code in ("CLN001L1", "CAL002L6", "CAL001L6")]
    for argv in removed:
        replay.add(argv)
    response = api.post(API, VTL1, format="json")
    assert response.status_code == 409 and "mhvtl.target failed" in response.json()["error"]["message"]
    assert not Library.objects.exists() and not Medium.objects.exists()
    assert not (_etc() / "device.conf").exists() and not (_etc() / "library_contents.10").exists()
    assert replay.calls[-3:] == removed  # the media made are removed, newest first


def test_mhvtl_is_started_and_stopped_through_its_service(vtl1, api, replay, settings, monkeypatch, tmp_path):
    from apps.core import configfiles

    url = f"{API}{vtl1.pk}/service/"
    replay.calls.clear()
    assert api.post(url, {"action": "restart"}, format="json").json()["command"] == " ".join(RESTART)
    monkeypatch.setattr(configfiles, "SYSTEMD_RUN", tmp_path / "no-systemd")
    monkeypatch.setattr(configfiles, "INIT_D", tmp_path / "init.d")
    refused = api.post(url, {"action": "stop"}, format="json")  # neither systemd nor an init script here
    assert refused.status_code == 409 and "no service" in refused.json()["error"]["message"]
    (tmp_path / "init.d").mkdir()
    (tmp_path / "init.d" / "mhvtl").touch()
    replay.add((str(tmp_path / "init.d" / "mhvtl"), "stop"))
    assert api.post(url, {"action": "stop"}, format="json").status_code == 200
    (tmp_path / "no-systemd").mkdir()
    replay.add(("systemctl", "start", "mhvtl.target"))
    assert api.post(url, {"action": "start"}, format="json").status_code == 200
    assert replay.calls == [RESTART, (str(tmp_path / "init.d" / "mhvtl"), "stop"), ("systemctl", "start", "mhvtl.target")]


@pytest.mark.parametrize(("body", "field"), [
    ({**VTL1, "media": ["CAL 001L6"]}, "media"),
    ({**VTL1, "slots": 0}, "slots"),
    ({**VTL1, "name": "Bad Name"}, "name"),
    ({**VTL1, "serial": "ELEVENCHARS"}, "serial"),
])
def test_a_refused_library_names_the_field_and_writes_nothing(api, replay, body, field):
    response = api.post(API, body, format="json")
    assert response.status_code == 400, response.content
    assert [name.split(".")[0] for name in response.json()["error"]["fields"]] == [field]
    assert replay.calls == [] and not Library.objects.exists() and not any(_etc().iterdir())


@pytest.fixture
def vtl_with_changer(vtl1, replay) -> Library:
    Library.objects.filter(pk=vtl1.pk).update(changer="/dev/sg9")
    replay.calls.clear()
    vtl1.refresh_from_db()
    return vtl1


@pytest.mark.parametrize(("verb", "body", "field"), [
    ("load", {"barcode": "CAL 001L6", "drive": 0}, "barcode"),
    ("load", {"slot": 23, "drive": 0}, "slot"),
    ("load", {"slot": 1, "drive": 2}, "drive"),
    ("load", {"slot": 0, "drive": 0}, "slot"),
    ("unload", {"drive": 0}, "drive"),  # empty
    ("transfer", {"source": 1, "destination": 99}, "destination"),
    ("import", {"slot": 5}, "slot"),  # a storage slot, not a mail slot
    ("export", {"barcode": "NOSUCH1"}, "barcode"),
])
def test_a_refused_move_is_a_400_naming_the_field_and_runs_nothing(vtl_with_changer, api, replay, verb, body, field):
    response = api.post(f"{API}{vtl_with_changer.pk}/{verb}/", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == [field]
    assert replay.calls == [] and not Job.objects.exists()


def test_a_load_is_queued_as_a_job_of_the_library(vtl_with_changer, api):
    response = api.post(f"{API}{vtl_with_changer.pk}/load/", {"barcode": "CAL002L6", "drive": 1}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert (job.kind, job.params, job.lock_key) == ("tape.library.load", {"slot": 2, "drive": 1},
                                                    f"tape:library:{vtl_with_changer.pk}")


def test_a_tgt_library_is_built_and_removed_with_tgtadm(api, replay, tmp_path):
    home = str(tmp_path / "media")
    (tmp_path / "media").mkdir()
    body = {"name": "vtl1", "kind": "tgt", "tid": 1, "iqn": "iqn.2026-12.local.calypso:vtl1", "media_home": home,
            "slots": 10, "ie_slots": 2, "drive_count": 2, "media": ["CAL001L6", "CAL002L6"]}
    spec_library = Library(**{k: v for k, v in body.items() if k != "media"})
    plan = get_backend(spec_library).plan(services.spec_of(spec_library, [
        Medium(barcode="CAL001L6", slot_number=1), Medium(barcode="CAL002L6", slot_number=2)]), 1, body["iqn"], home)
    for argv in plan:
        replay.add(argv)
    response = api.post(API, body, format="json")
    assert response.status_code == 201, response.content
    assert [list(c) for c in replay.calls] == plan and plan[0][:3] == ["tgtimg", "--op", "new"]
    preview = api.get(f"{API}preview/").json()["libraries"]
    assert preview == [{"library": "vtl1", "kind": "tgt", "files": [], "commands": plan}]
    library = Library.objects.get()
    response = api.post(f"{API}{library.pk}/load/", {"slot": 1, "drive": 0}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "unsupported"
    from .recordings import replay as recorded
    replay.recordings.update(recorded("tgt-vtl-show-target.txt").recordings)
    replay.add(["tgtadm", "--lld", "iscsi", "--op", "delete", "--force", "--mode", "target", "--tid", "1"])
    assert api.delete(f"{API}{library.pk}/?confirm=vtl1").status_code == 204
    assert replay.calls[-1][-3:] == ("target", "--tid", "1") and not Library.objects.exists()


def test_without_mhvtl_installed_nothing_is_written(api, replay, settings, tmp_path):
    settings.CALYPSO_MHVTL_CONFIG_DIR = str(tmp_path / "no-mhvtl")
    response = api.post(API, VTL1, format="json")
    assert response.status_code == 409 and "mhVTL is not installed" in response.json()["error"]["message"]
    assert replay.calls == [] and not (tmp_path / "no-mhvtl").exists() and not Library.objects.exists()


def test_a_description_edit_restarts_nothing_and_a_geometry_edit_restarts_mhvtl(vtl1, api, replay):
    replay.calls.clear()
    assert api.patch(f"{API}{vtl1.pk}/", {"description": "backups"}, format="json").status_code == 200
    assert replay.calls == []
    assert api.patch(f"{API}{vtl1.pk}/", {"slots": 24}, format="json").status_code == 200
    assert replay.calls == [RESTART]
    assert len(parse_library_contents((_etc() / "library_contents.10").read_text()).slots) == 24


def test_discover_gives_an_mhvtl_library_its_device_nodes(vtl1, replay):
    from .recordings import replay as recorded

    replay.recordings.update(recorded("lsscsi_g_mhvtl_install.txt").recordings)
    assert services.discover(runner=replay)["libraries"] == ["vtl1"]  # its changer sits on target 0
    vtl1.refresh_from_db()
    assert vtl1.changer == "/dev/sg6" and Library.objects.count() == 1
    assert list(vtl1.drives.values_list("number", "device")) == [(0, "/dev/nst0"), (1, "/dev/nst1")]
