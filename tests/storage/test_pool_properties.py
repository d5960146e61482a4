"""ZFS pool properties: parsing `zpool get` (zfs-fuse's table, OpenZFS's -Hp rows), the checks on names and
values, the service (all or none, only what this pool has), the API and the pool's admin page."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import BackendError, ParseError, ServiceError, Unsupported
from apps.core.runner import ReplayRunner
from apps.storage import services
from apps.storage.backends.pool_properties import (
    COMMENT_MAX,
    SETTABLE,
    parse_zpool_get,
    pool_property_problem,
)
from apps.storage.backends.zfs import ZfsBackend
from apps.storage.models import Pool

from .recordings import FUSE, recorded

OPENZFS = Path(__file__).parent / "fixtures" / "openzfs"
BASE = "/api/v1/storage"
GET_FUSE = ["zpool", "get", "all", "zrectank"]


def _props(items) -> dict:
    return {p.name if hasattr(p, "name") else p["name"]: p for p in items}


# ---------------------------------------------------------------- parsing
def test_zfs_fuse_table_is_read_with_sources():
    props = _props(parse_zpool_get(recorded("zpool_get_all.txt"), "zrectank"))
    assert props["autoexpand"].value == "off" and props["autoexpand"].source == "default"
    assert props["failmode"].value == "wait" and props["failmode"].choices == SETTABLE["failmode"]
    # A value wider than its column pushes the source along: both still read right.
    assert props["guid"].value == "13809937573671530379" and props["guid"].source == "default"
    assert props["size"].source == "-" and not props["size"].editable
    assert props["altroot"].value == "-" and not props["altroot"].editable
    assert "comment" not in props and "autotrim" not in props  # zfs-fuse has neither

    local = _props(parse_zpool_get(recorded("zpool_get_all_local.txt"), "zrectank"))
    assert (local["autoexpand"].value, local["autoexpand"].source) == ("on", "local")
    assert (local["failmode"].value, local["failmode"].source) == ("continue", "local")


def test_openzfs_rows_keep_spaces_features_and_user_properties():
    text = (OPENZFS / "zpool_get_Hp_all.txt").read_text().partition("\n")[2]
    props = _props(parse_zpool_get(text, "tank"))
    assert props["comment"].value == "rack 4 shelf 2" and props["comment"].source == "local"
    assert props["comment"].editable and props["comment"].choices is None
    assert props["autotrim"].editable and props["multihost"].choices == ("on", "off")
    assert props["size"].value == "4294967296"
    assert props["feature@lz4_compress"].value == "active" and not props["feature@lz4_compress"].editable
    assert props["org.example:owner"].value == "storage-team" and not props["org.example:owner"].editable


@pytest.mark.parametrize("text, pool", [
    ("tank\tsize\t1\n", "tank"),  # three columns
    ("NAME      PROPERTY       VALUE       SOURCE\nzrectank  size  123M  somewhere\n", "zrectank"),
    ("other\tsize\t1\t-\n", "tank"),  # another pool's row
    ("", "tank"),
])
def test_unreadable_output_is_a_parse_error_naming_the_command(text, pool):
    with pytest.raises(ParseError) as caught:
        parse_zpool_get(text, pool)
    assert caught.value.command == "zpool get"


def test_the_parse_error_names_the_line_it_could_not_read():
    with pytest.raises(ParseError) as caught:
        parse_zpool_get("zrectank  size  123M  -\nzrectank  guid\n", "zrectank")
    assert caught.value.line == "zrectank  guid"


# ---------------------------------------------------------------- checks
@pytest.mark.parametrize("name, value, fault", [
    ("autoexpand", "on", None),
    ("failmode", "panic", None),
    ("comment", "rack 4, shelf 2", None),
    ("comment", "", None),
    ("ashift", "12", "not a pool property"),
    ("version", "28", "not a pool property"),
    ("size", "1G", "not a pool property"),
    ("autoexpand", "yes", "one of: on, off"),
    ("failmode", "Wait", "one of: wait, continue, panic"),
    ("comment", "bell\x07", "printable ASCII"),
    ("comment", "line\nbreak", "printable ASCII"),
    ("comment", "é", "printable ASCII"),
    ("comment", "x" * (COMMENT_MAX + 1), f"at most {COMMENT_MAX}"),
])
def test_only_known_settable_properties_with_their_values(name, value, fault):
    problem = pool_property_problem(name, value)
    assert (problem is None) if fault is None else (fault in problem)


# ---------------------------------------------------------------- backend
def test_zfs_fuse_reads_without_hp_and_openzfs_with_it():
    fuse = ReplayRunner().add_file(FUSE / "zpool_get_all.txt")
    assert _props(ZfsBackend(fuse, "zfs-fuse").pool_properties("zrectank"))["delegation"].value == "on"
    assert fuse.calls == [tuple(GET_FUSE)]
    openzfs = ReplayRunner().add_file(OPENZFS / "zpool_get_Hp_all.txt")
    assert _props(ZfsBackend(openzfs, "openzfs").pool_properties("tank"))["ashift"].value == "12"
    assert openzfs.calls == [("zpool", "get", "-Hp", "all", "tank")]


def test_a_missing_pool_is_the_tools_refusal():
    runner = ReplayRunner().add_file(FUSE / "zpool_get_all_nosuchpool.txt")
    with pytest.raises(BackendError, match="no such pool"):
        ZfsBackend(runner, "zfs-fuse").pool_properties("nosuchpool")


def test_the_backend_refuses_what_it_may_not_set_before_running_anything():
    runner = ReplayRunner()
    backend = ZfsBackend(runner, "openzfs")
    for prop, value in (("ashift", "9"), ("failmode", "sometimes"), ("comment", "a\x1bb")):
        with pytest.raises(Exception, match="pool property|one of|printable"):
            backend.set_pool_property("tank", prop, value)
    with pytest.raises(Exception, match="invalid ZFS name"):
        backend.set_pool_property("-o", "autoexpand", "on")
    assert runner.calls == []


# ---------------------------------------------------------------- service
@pytest.mark.django_db
def test_update_sets_only_what_changes_and_returns_the_properties_after(tank, replay):
    replay.add_file(FUSE / "zpool_get_all.txt").add_file(FUSE / "zpool_get_all_local.txt")
    replay.add_files([FUSE / "zpool_set_autoexpand_on.txt", FUSE / "zpool_set_failmode_continue.txt"])
    result = services.update_pool_properties(tank, properties={"autoexpand": "on", "failmode": "continue",
                                                               "delegation": "on"})
    sets = [c for c in replay.calls if c[:2] == ("zpool", "set")]
    assert sets == [("zpool", "set", "autoexpand=on", "zrectank"), ("zpool", "set", "failmode=continue", "zrectank")]
    after = _props(result["properties"])
    assert after["autoexpand"]["value"] == "on" and after["autoexpand"]["source"] == "local"


@pytest.mark.django_db
def test_a_property_this_pool_does_not_have_is_refused_naming_it(tank, replay):
    replay.add_file(FUSE / "zpool_get_all.txt")
    with pytest.raises(ServiceError) as caught:
        services.update_pool_properties(tank, properties={"autoexpand": "on", "comment": "rack-4"})
    assert caught.value.field == "comment" and "no property comment" in caught.value.message
    assert not [c for c in replay.calls if c[:2] == ("zpool", "set")]


@pytest.mark.django_db
def test_a_refusal_puts_back_what_the_call_had_set(db, replay, settings):
    settings.CALYPSO_ZFS_FLAVOUR = "openzfs"
    pool = Pool.objects.create(name="tank", backend="zfs")
    replay.add_file(OPENZFS / "zpool_get_Hp_all.txt")
    replay.add(["zpool", "set", "autoexpand=off", "tank"]).add(["zpool", "set", "autoexpand=on", "tank"])
    refusal = (FUSE / "zpool_set_comment_unsupported.txt").read_text().split("\n", 2)[2]
    replay.add(["zpool", "set", "comment=rack 5", "tank"], stderr=refusal, returncode=1)
    with pytest.raises(ServiceError) as caught:
        services.update_pool_properties(pool, properties={"autoexpand": "off", "comment": "rack 5"})
    assert caught.value.field == "comment" and "invalid property 'comment'" in caught.value.message
    sets = [c[2] for c in replay.calls if c[:2] == ("zpool", "set")]
    assert sets == ["autoexpand=off", "comment=rack 5", "autoexpand=on"]


@pytest.mark.django_db
def test_btrfs_pools_have_no_pool_properties(db, replay):
    pool = Pool.objects.create(name="calyfs", backend="btrfs", mountpoint="/mnt/calyfs")
    with pytest.raises(Unsupported) as caught:
        services.pool_properties(pool)
    assert "ZFS" in caught.value.message
    assert replay.calls == []


# ---------------------------------------------------------------- API and admin
@pytest.mark.django_db
def test_api_lists_and_updates_pool_properties(tank, replay, admin_user, client_for):
    client = client_for(admin_user)
    replay.add_file(FUSE / "zpool_get_all.txt")
    listed = client.get(f"{BASE}/pools/{tank.pk}/properties/")
    assert listed.status_code == 200, listed.content
    failmode = _props(listed.json()["properties"])["failmode"]
    assert failmode == {"name": "failmode", "value": "wait", "source": "default", "editable": True,
                        "choices": ["wait", "continue", "panic"]}

    replay.recordings.clear()
    replay.add_file(FUSE / "zpool_get_all.txt").add_file(FUSE / "zpool_get_all_local.txt")
    replay.add_file(FUSE / "zpool_set_autoexpand_on.txt")
    updated = client.post(f"{BASE}/pools/{tank.pk}/update-properties/", {"autoexpand": "on"})
    assert updated.status_code == 200, updated.content
    assert _props(updated.json()["properties"])["autoexpand"]["source"] == "local"
    event = AuditEvent.objects.get(action="storage.pool.update_properties")
    assert event.outcome == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"ashift": "9"}, "properties"),
    ({"autoexpand": "on", "cachefile": "none"}, "properties"),
    ({"failmode": "sometimes"}, "failmode"),
    ({"comment": "tab\there"}, "comment"),
    ({"comment": "x" * (COMMENT_MAX + 1)}, "comment"),
    ({}, "properties"),
])
def test_api_refuses_unknown_properties_and_values_naming_the_field(tank, replay, admin_user, client_for, body,
                                                                     field):
    response = client_for(admin_user).post(f"{BASE}/pools/{tank.pk}/update-properties/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert replay.calls == []


@pytest.mark.django_db
def test_a_viewer_sees_the_properties_but_may_not_edit_them(tank, replay, viewer_user, client_for):
    replay.add_file(FUSE / "zpool_get_all.txt")
    client = client_for(viewer_user)
    assert client.get(f"{BASE}/pools/{tank.pk}/properties/").status_code == 200
    assert client.post(f"{BASE}/pools/{tank.pk}/update-properties/", {"autoexpand": "on"}).status_code == 403


@pytest.mark.django_db
def test_the_pool_page_shows_properties_and_the_edit_page_sets_them(tank, replay, admin_user, browser_for):
    browser = browser_for(admin_user)
    replay.add_file(FUSE / "zpool_get_all.txt")
    replay.add(["zpool", "status", "zrectank"], stdout=recorded("zpool_status_mirror_healthy.txt"))
    page = browser.get(f"/admin/storage/pool/{tank.pk}/change/").content.decode()
    assert 'id="calypso-pool-properties"' in page
    assert "<th>failmode</th><td>wait</td><td>default</td>" in page
    assert f"/admin/storage/pool/{tank.pk}/update-properties/" in page

    form = browser.get(f"/admin/storage/pool/{tank.pk}/update-properties/")
    assert form.status_code == 200
    assert form.context["form"].initial["failmode"] == "wait"
    replay.recordings.clear()
    replay.add_file(FUSE / "zpool_get_all.txt").add_file(FUSE / "zpool_get_all.txt")
    replay.add_file(FUSE / "zpool_get_all_local.txt")
    replay.add_files([FUSE / "zpool_set_autoexpand_on.txt", FUSE / "zpool_set_failmode_continue.txt"])
    done = browser.post(f"/admin/storage/pool/{tank.pk}/update-properties/", {
        "autoexpand": "on", "failmode": "continue", "delegation": "on", "autoreplace": "off",
        "listsnapshots": "off"})
    assert done.status_code == 302, done.content.decode()[-3000:]
    sets = [c[2] for c in replay.calls if c[:2] == ("zpool", "set")]
    assert sets == ["autoexpand=on", "failmode=continue"]
