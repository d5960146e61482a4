"""ZfsBackend: argv built per flavour, outputs parsed, tool failures become BackendError."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.core.runner import ReplayRunner
from apps.core.testing import replay_from
from apps.storage.backends.base import BackendError
from apps.storage.backends.zfs import ZfsBackend

FIXTURES = Path(__file__).parent / "fixtures"
FUSE = FIXTURES / "zfs-fuse"
OZ = FIXTURES / "openzfs"


def fuse(*names: str) -> tuple[ZfsBackend, ReplayRunner]:
    runner = replay_from(*(FUSE / n for n in names))
    return ZfsBackend(runner, flavour="zfs-fuse"), runner


def openzfs(*names: str) -> tuple[ZfsBackend, ReplayRunner]:
    runner = replay_from(*(OZ / n for n in names))
    return ZfsBackend(runner, flavour="openzfs"), runner


def both(argv: list[str]) -> list[tuple[ZfsBackend, ReplayRunner]]:
    out = []
    for flavour in ("zfs-fuse", "openzfs"):
        runner = ReplayRunner().add(argv)
        out.append((ZfsBackend(runner, flavour=flavour), runner))
    return out


# ------------------------------------------------------------------ flavour
def test_flavour_probed_once_from_zfs_version() -> None:
    runner = replay_from(FUSE / "zfs_version.txt", FUSE / "zpool_status_mirror_healthy.txt")
    backend = ZfsBackend(runner)
    assert backend.pool_status("zrectank").health == "ONLINE"
    assert backend.flavour == "zfs-fuse"
    assert runner.calls == [("zfs", "version"), ("zpool", "status", "zrectank")]
    oz = ZfsBackend(replay_from(OZ / "zfs_version.txt"))
    assert (oz.flavour, oz.version) == ("openzfs", "2.1.11")


def test_same_status_call_differs_per_flavour() -> None:
    f, fr = fuse("zpool_status_mirror_healthy.txt")
    o, orr = openzfs("zpool_status_scrub_finished.txt")
    f.pool_status("zrectank")
    o.pool_status("backup")
    assert fr.calls == [("zpool", "status", "zrectank")]
    assert orr.calls == [("zpool", "status", "-p", "backup")]


# ------------------------------------------------------------------ pools
def test_list_pools_fuse_merges_list_status_and_mountpoints() -> None:
    backend, runner = fuse("zpool_list.txt", "zpool_status_all.txt", "zfs_get_pool_mountpoints.txt")
    big, tank = backend.list_pools()
    assert runner.calls[0] == ("zpool", "list", "-H", "-o", "name,size,allocated,free,capacity,dedupratio,health,guid")
    assert runner.calls[1] == ("zpool", "status")
    assert (big.name, big.mountpoint, big.vdevs[0].kind, big.size_bytes) == (
        "zrecbig",
        "/tmp/zrec/mnt2",
        "raidz2",
        492 * 1024**2,
    )
    assert tank.mountpoint == "/tmp/zrec/mnt"


def test_list_pools_openzfs_asks_exact_numbers() -> None:
    backend, runner = openzfs("zpool_list.txt", "zpool_status_all.txt", "zfs_get_pool_mountpoints.txt")
    tank, dpool = backend.list_pools()
    assert "-p" in runner.calls[0] and "fragmentation" in runner.calls[0][-1]
    assert runner.calls[1] == ("zpool", "status", "-p")
    assert (tank.size_bytes, tank.scan.percent, tank.vdevs[1].role) == (23991808901120, 37.5, "special")
    assert (dpool.scan.function, dpool.mountpoint) == ("resilver", "/dpool")


def test_list_pools_empty_makes_one_call() -> None:
    runner = ReplayRunner().add(
        ["zpool", "list", "-H", "-o", "name,size,allocated,free,capacity,dedupratio,health,guid"]
    )
    assert ZfsBackend(runner, flavour="zfs-fuse").list_pools() == []
    assert len(runner.calls) == 1


def test_pool_status_failure_carries_stderr() -> None:
    backend, _ = fuse("zpool_status_nosuchpool.txt")
    with pytest.raises(BackendError) as err:
        backend.pool_status("nopool")
    assert "no such pool" in err.value.stderr and err.value.returncode == 1
    assert err.value.argv == ("zpool", "status", "nopool")


def test_create_pool_builds_layout_argv() -> None:
    argv = [
        "zpool",
        "create",
        "-f",
        "-m",
        "/mnt/t",
        "-o",
        "ashift=12",
        "-O",
        "compression=lz4",
        "t",
        "raidz2",
        "a",
        "b",
        "c",
        "d",
        "mirror",
        "e",
        "f",
        "log",
        "mirror",
        "g",
        "h",
        "spare",
        "s1",
    ]
    for backend, runner in both(argv):
        backend.create_pool(
            "t",
            [{"type": "raidz2", "devices": ["a", "b", "c", "d"]}, {"type": "mirror", "devices": ["e", "f"]}],
            log=[{"type": "mirror", "devices": ["g", "h"]}],
            spares=["s1"],
            mountpoint="/mnt/t",
            properties={"ashift": 12},
            fs_properties={"compression": "lz4"},
            force=True,
        )
        assert runner.calls == [tuple(argv)]


def test_create_pool_special_and_draid_only_on_openzfs() -> None:
    runner = ReplayRunner().add(
        [
            "zpool",
            "create",
            "t",
            "draid2:4d:1s",
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "g",
            "special",
            "mirror",
            "n0",
            "n1",
            "cache",
            "n2",
        ]
    )
    ZfsBackend(runner, flavour="openzfs").create_pool(
        "t",
        [{"type": "draid2:4d:1s", "devices": list("abcdefg")}],
        special=[{"type": "mirror", "devices": ["n0", "n1"]}],
        cache=["n2"],
    )
    assert len(runner.calls) == 1
    fuse_backend = ZfsBackend(ReplayRunner(), flavour="zfs-fuse")
    with pytest.raises(BackendError, match="unsupported by this ZFS"):
        fuse_backend.create_pool("t", [{"type": "mirror", "devices": ["a", "b"]}], special=["n0"])
    with pytest.raises(BackendError, match="unsupported"):
        fuse_backend.create_pool("t", [{"type": "draid2", "devices": list("abcdefg")}])


def test_create_pool_validation() -> None:
    backend = ZfsBackend(ReplayRunner(), flavour="openzfs")
    with pytest.raises(BackendError, match="at least 2"):
        backend.create_pool("t", [{"type": "mirror", "devices": ["a"]}])
    with pytest.raises(BackendError, match="invalid argument"):
        backend.create_pool("t", [{"type": "stripe", "devices": ["-f"]}])
    with pytest.raises(BackendError, match="invalid ZFS name"):
        backend.create_pool("-t", [{"type": "stripe", "devices": ["a"]}])
    with pytest.raises(BackendError, match="invalid ZFS name"):
        backend.create_dataset("tank/with space")


def test_create_pool_exists_error_from_fuse() -> None:
    backend, _ = fuse("zpool_create_exists.txt")
    with pytest.raises(BackendError, match="pool already exists") as err:
        backend.create_pool("zrectank", [{"type": "stripe", "devices": ["/tmp/zrec/c.img"]}], force=True)
    assert "Defaulting to 4K blocksize" in err.value.stderr


def test_cache_on_file_refused_by_fuse() -> None:
    backend, _ = fuse("zpool_create_cache_file.txt")
    with pytest.raises(BackendError, match="cache device must be a disk"):
        backend.create_pool(
            "zrecx",
            [{"type": "raidz2", "devices": [f"/tmp/zrec/x{i}.img" for i in range(1, 5)]}],
            spares=["/tmp/zrec/xs.img"],
            log=[{"type": "mirror", "devices": ["/tmp/zrec/xl1.img", "/tmp/zrec/xl2.img"]}],
            cache=["/tmp/zrec/xc.img"],
            mountpoint="/tmp/zrec/mnt4",
            force=True,
        )


def test_add_vdevs() -> None:
    runner = ReplayRunner().add(["zpool", "add", "t", "mirror", "c", "d", "cache", "e"])
    ZfsBackend(runner, flavour="openzfs").add_vdevs("t", [{"type": "mirror", "devices": ["c", "d"]}], cache=["e"])
    assert runner.calls == [("zpool", "add", "t", "mirror", "c", "d", "cache", "e")]


def test_scrub_commands_and_pause_per_flavour() -> None:
    runner = (
        ReplayRunner()
        .add(["zpool", "scrub", "t"])
        .add(["zpool", "scrub", "-p", "t"])
        .add(["zpool", "scrub", "-s", "t"])
    )
    backend = ZfsBackend(runner, flavour="openzfs")
    backend.start_scrub("t")
    backend.pause_scrub("t")
    backend.stop_scrub("t")
    assert runner.calls == [("zpool", "scrub", "t"), ("zpool", "scrub", "-p", "t"), ("zpool", "scrub", "-s", "t")]
    fuse_runner = ReplayRunner()
    with pytest.raises(BackendError, match="pausing a scrub is unsupported by this ZFS"):
        ZfsBackend(fuse_runner, flavour="zfs-fuse").pause_scrub("t")
    assert fuse_runner.calls == []


def test_device_operations_argv() -> None:
    backend, runner = fuse(
        "zpool_offline.txt", "zpool_online.txt", "zpool_replace.txt", "zpool_detach.txt", "zpool_offline_temporary.txt"
    )
    backend.offline("zrectank", "/tmp/zrec/b.img")
    backend.offline("zrectank", "/tmp/zrec/a.img", temporary=True)
    backend.online("zrectank", "/tmp/zrec/b.img")
    backend.replace("zrecscrub", "/tmp/zrec/big2.img", "/tmp/zrec/big3.img")
    backend.detach("zrecbig", "/tmp/zrec/sp1.img")
    assert runner.calls[1] == ("zpool", "offline", "-t", "zrectank", "/tmp/zrec/a.img")
    assert runner.calls[3] == ("zpool", "replace", "zrecscrub", "/tmp/zrec/big2.img", "/tmp/zrec/big3.img")


def test_offline_unknown_device_error() -> None:
    backend, _ = fuse("zpool_offline_nodev.txt")
    with pytest.raises(BackendError, match="no such device in pool"):
        backend.offline("zrectank", "/tmp/zrec/zz.img")


def test_replace_in_place_and_option_like_device() -> None:
    runner = ReplayRunner().add(["zpool", "replace", "t", "sdb"])
    ZfsBackend(runner, flavour="openzfs").replace("t", "sdb")
    assert runner.calls == [("zpool", "replace", "t", "sdb")]
    with pytest.raises(BackendError):
        ZfsBackend(ReplayRunner(), flavour="openzfs").replace("t", "sdb", "--force")


def test_export_import_cycle_fuse() -> None:
    backend, runner = fuse("zpool_export.txt", "zpool_import_list.txt", "zpool_import.txt")
    backend.export_pool("zrectank")
    (found,) = backend.list_importable(["/tmp/zrec"])
    assert (found.name, found.guid) == ("zrectank", "341026144811518982")
    backend.import_pool("zrectank", ["/tmp/zrec"])
    assert runner.calls[1] == ("zpool", "import", "-d", "/tmp/zrec")
    assert runner.calls[2] == ("zpool", "import", "-d", "/tmp/zrec", "zrectank")


def test_list_importable_nothing_found_on_both_flavours() -> None:
    backend, _ = fuse("zpool_import_none.txt")
    assert backend.list_importable(["/tmp/zrec/mnt"]) == []
    oz, _ = openzfs("zpool_import_none.txt")
    assert oz.list_importable(["/dev/disk/by-id"]) == []
    listed, _ = openzfs("zpool_import_list.txt")
    assert [p.name for p in listed.list_importable(["/dev/disk/by-id"])] == ["oldtank", "archive"]


def test_import_errors_and_options() -> None:
    backend, _ = fuse("zpool_import_nosuch.txt")
    with pytest.raises(BackendError, match="no such pool available"):
        backend.import_pool("nopool", ["/tmp/zrec"])
    runner = ReplayRunner().add(["zpool", "import", "-d", "/d", "-f", "1234", "newname"])
    ZfsBackend(runner, flavour="openzfs").import_pool("1234", ["/d"], new_name="newname", force=True)
    assert len(runner.calls) == 1


def test_destroy_and_force_export() -> None:
    for backend, runner in both(["zpool", "destroy", "-f", "t"]):
        backend.destroy_pool("t", force=True)
        assert runner.calls == [("zpool", "destroy", "-f", "t")]
    for backend, runner in both(["zpool", "export", "-f", "t"]):
        backend.export_pool("t", force=True)
        assert runner.calls == [("zpool", "export", "-f", "t")]


# ------------------------------------------------------------------ datasets
def test_list_datasets_fuse_uses_list_then_get_without_t() -> None:
    backend, runner = fuse("zfs_list_filesystems.txt", "zfs_get_all.txt")
    datasets = backend.list_datasets("zrectank")
    assert runner.calls[0] == ("zfs", "list", "-H", "-o", "name", "-t", "filesystem", "-r", "zrectank")
    assert runner.calls[1][:6] == ("zfs", "get", "-H", "-p", "-o", "name,property,value,source")
    assert "-t" not in runner.calls[1]
    assert [d.name for d in datasets] == ["zrectank", "zrectank/data", "zrectank/data/sub", "zrectank/home"]
    assert datasets[1].properties["com.example:owner"].source == "local"


def test_list_datasets_openzfs_one_call_with_volume() -> None:
    """Volume code runs against OpenZFS output: zfs-fuse has no zvols."""
    backend, runner = openzfs("zfs_get_all_root.txt")
    datasets = {d.name: d for d in backend.list_datasets("tank")}
    assert runner.calls == [
        ("zfs", "get", "-H", "-p", "-t", "filesystem,volume", "-o", "name,property,value,source", "-r", "all", "tank")
    ]
    assert datasets["tank/vol"].kind == "volume"
    assert datasets["tank/vol"].properties["volsize"].value == "10737418240"


def test_create_volume_openzfs_argv_and_fuse_refusal() -> None:
    """zfs-fuse has no zvols (`zfs create -V` aborts there), so volumes are OpenZFS only."""
    runner = ReplayRunner().add(["zfs", "create", "-s", "-V", "10737418240", "-o", "volblocksize=16384", "tank/vol"])
    ZfsBackend(runner, flavour="openzfs").create_volume("tank/vol", 10 * 1024**3, {"volblocksize": 16384}, sparse=True)
    assert len(runner.calls) == 1
    fuse_runner = ReplayRunner()
    with pytest.raises(BackendError, match=r"volumes \(zvols\) is unsupported by this ZFS \(zfs-fuse\)"):
        ZfsBackend(fuse_runner, flavour="zfs-fuse").create_volume("zrectank/vol", 10485760)
    assert fuse_runner.calls == []


def test_create_volume_exists_error() -> None:
    """OpenZFS recording; zfs-fuse has no zvols."""
    backend, _ = openzfs("zfs_create_volume_exists.txt")
    with pytest.raises(BackendError, match="dataset already exists"):
        backend.create_volume("tank/vol", 10 * 1024**3)


def test_set_properties_one_call_vs_one_per_property() -> None:
    props = {"atime": "off", "compression": "on"}
    oz_runner = ReplayRunner().add(["zfs", "set", "atime=off", "compression=on", "t/d"])
    ZfsBackend(oz_runner, flavour="openzfs").set_properties("t/d", props)
    fuse_runner = ReplayRunner().add(["zfs", "set", "atime=off", "t/d"]).add(["zfs", "set", "compression=on", "t/d"])
    ZfsBackend(fuse_runner, flavour="zfs-fuse").set_properties("t/d", props)
    assert len(oz_runner.calls) == 1 and len(fuse_runner.calls) == 2
    with pytest.raises(BackendError, match="invalid property"):
        ZfsBackend(ReplayRunner(), flavour="openzfs").set_properties("t/d", {"-o": "x"})


def test_dataset_commands_argv() -> None:
    runner = (
        ReplayRunner()
        .add(["zfs", "create", "-o", "com.example:owner=alice", "t/d"])
        .add(["zfs", "inherit", "compression", "t/d"])
        .add(["zfs", "rename", "t/d", "t/e"])
    )
    backend = ZfsBackend(runner, flavour="zfs-fuse")
    backend.create_dataset("t/d", {"com.example:owner": "alice"})
    backend.inherit_property("t/d", "compression")
    backend.rename("t/d", "t/e")
    assert len(runner.calls) == 3


def test_destroy_dataset_retries_while_busy() -> None:
    busy = (FUSE / "zfs_destroy_busy.txt").read_text().split("\n", 2)[2]
    runner = ReplayRunner().add(["zfs", "destroy", "zrectank/busy1"], stderr=busy, returncode=1)
    runner.add(["zfs", "destroy", "zrectank/busy1"])
    backend = ZfsBackend(runner, flavour="zfs-fuse")
    backend.busy_delay = 0
    backend.destroy_dataset("zrectank/busy1")
    assert len(runner.calls) == 2


def test_destroy_dataset_gives_up_with_stderr() -> None:
    backend, runner = fuse("zfs_destroy_busy.txt")
    backend.busy_delay = 0
    with pytest.raises(BackendError, match="dataset is busy"):
        backend.destroy_dataset("zrectank/busy1")
    assert len(runner.calls) == backend.busy_retries + 1


# ------------------------------------------------------------------ snapshots
def test_list_snapshots_fuse_one_get_no_holds() -> None:
    backend, runner = fuse("zfs_get_snapshots_root.txt")
    snaps = backend.list_snapshots("zrectank")
    assert runner.calls == [
        (
            "zfs",
            "get",
            "-H",
            "-p",
            "-r",
            "-o",
            "name,property,value",
            "creation,used,referenced,userrefs,guid",
            "zrectank",
        )
    ]
    assert [s.short_name for s in snaps] == ["s1", "c2", "c3", "s1"]
    assert snaps[0].extra["userrefs"] == 1 and snaps[0].holds == ()


def test_list_snapshots_openzfs_fetches_holds_only_for_held() -> None:
    backend, runner = openzfs("zfs_list_snapshots.txt", "zfs_holds.txt")
    snaps = {s.name: s for s in backend.list_snapshots()}
    assert runner.calls[1] == ("zfs", "holds", "-H", "tank/home@daily-2026-11-22", "tank/vol@pre-resize")
    assert len(runner.calls) == 2
    assert snaps["tank/vol@pre-resize"].holds == ("backup", "replication")
    assert snaps["tank/home@daily-2026-11-24"].holds == ()


def test_list_snapshots_many_is_one_command() -> None:
    lines = "".join(f"tank/d@s{i}\t{1795392000 + i}\t0\t4096\t0\t{i}\n" for i in range(10_000))
    argv = ["zfs", "list", "-H", "-p", "-t", "snapshot", "-o", "name,creation,used,referenced,userrefs,guid"]
    runner = ReplayRunner().add(argv, stdout=lines)
    snaps = ZfsBackend(runner, flavour="openzfs").list_snapshots()
    assert len(snaps) == 10_000 and len(runner.calls) == 1


def test_create_snapshots_atomic_on_openzfs_loop_on_fuse() -> None:
    names = ["t/a@x", "t/b@x"]
    oz = ReplayRunner().add(["zfs", "snapshot", *names])
    ZfsBackend(oz, flavour="openzfs").create_snapshots(names)
    assert oz.calls == [("zfs", "snapshot", "t/a@x", "t/b@x")]
    fz = ReplayRunner().add(["zfs", "snapshot", "t/a@x"]).add(["zfs", "snapshot", "t/b@x"])
    ZfsBackend(fz, flavour="zfs-fuse").create_snapshots(names)
    assert fz.calls == [("zfs", "snapshot", "t/a@x"), ("zfs", "snapshot", "t/b@x")]


def test_create_snapshots_fuse_undoes_on_failure() -> None:
    fz = (
        ReplayRunner()
        .add(["zfs", "snapshot", "t/a@x"])
        .add(
            ["zfs", "snapshot", "t/b@x"],
            stderr="cannot create snapshot 't/b@x': dataset already exists\n",
            returncode=1,
        )
        .add(["zfs", "destroy", "t/a@x"])
    )
    with pytest.raises(BackendError, match="already exists"):
        ZfsBackend(fz, flavour="zfs-fuse").create_snapshots(["t/a@x", "t/b@x"])
    assert fz.calls[-1] == ("zfs", "destroy", "t/a@x")


def test_multi_snapshot_is_refused_by_real_fuse() -> None:
    backend, _ = fuse("zfs_snapshot_multi.txt")
    with pytest.raises(BackendError, match="too many arguments"):
        backend._call(["zfs", "snapshot", "zrectank/data@m1", "zrectank/home@m1"])


def test_destroy_snapshots_comma_batch_vs_loop() -> None:
    oz = ReplayRunner().add(["zfs", "destroy", "t/d@a,b"]).add(["zfs", "destroy", "t/d@c"])
    backend = ZfsBackend(oz, flavour="openzfs")
    backend.destroy_batch = 2
    backend.destroy_snapshots("t/d", ["a", "b", "c"])
    assert oz.calls == [("zfs", "destroy", "t/d@a,b"), ("zfs", "destroy", "t/d@c")]
    fz = ReplayRunner().add(["zfs", "destroy", "t/d@a"]).add(["zfs", "destroy", "t/d@b"])
    ZfsBackend(fz, flavour="zfs-fuse").destroy_snapshots("t/d", ["a", "b"])
    assert fz.calls == [("zfs", "destroy", "t/d@a"), ("zfs", "destroy", "t/d@b")]


def test_comma_syntax_refused_by_real_fuse_and_held_snapshot_busy() -> None:
    backend, _ = fuse("zfs_destroy_comma.txt", "zfs_destroy_held.txt")
    with pytest.raises(BackendError, match="invalid dataset name"):
        backend._call(["zfs", "destroy", "zrectank/data@c1,c2"])
    backend.busy_delay = 0
    with pytest.raises(BackendError, match="dataset is busy"):
        backend.destroy_snapshots("zrectank/data", ["s1"])


def test_snapshot_commands_argv() -> None:
    runner = (
        ReplayRunner()
        .add(["zfs", "snapshot", "-r", "-o", "com.example:why=pre", "t/d@s"])
        .add(["zfs", "rollback", "-r", "t/d@s"])
        .add(["zfs", "clone", "-o", "readonly=on", "t/d@s", "t/c"])
        .add(["zfs", "hold", "-r", "keep", "t/d@s"])
        .add(["zfs", "release", "keep", "t/d@s"])
    )
    backend = ZfsBackend(runner, flavour="zfs-fuse")
    backend.create_snapshot("t/d", "s", recursive=True, properties={"com.example:why": "pre"})
    backend.rollback("t/d@s", destroy_newer=True)
    backend.clone("t/d@s", "t/c", {"readonly": "on"})
    backend.hold("t/d@s", "keep", recursive=True)
    backend.release("t/d@s", "keep")
    assert len(runner.calls) == 5
    with pytest.raises(BackendError):
        backend.hold("t/d@s", "-r")


def test_hold_release_errors_from_fuse() -> None:
    backend, _ = fuse("zfs_hold_exists.txt", "zfs_release_unknown.txt")
    with pytest.raises(BackendError, match="tag already exists"):
        backend.hold("zrectank/data@s1", "keep")
    with pytest.raises(BackendError, match="no such tag"):
        backend.release("zrectank/data@s1", "nosuchtag")


def test_holds_openzfs_and_fuse_unsupported() -> None:
    backend, _ = openzfs("zfs_holds_one.txt")
    assert backend.holds("tank/vol@pre-resize") == ("backup", "replication")
    fz, _ = fuse("zfs_holds.txt")
    with pytest.raises(BackendError, match="listing holds is unsupported by this ZFS") as err:
        fz.holds("zrectank/data@s1")
    assert err.value.returncode == 255


def test_rename_fuse_unmounts_a_busy_filesystem() -> None:
    busy = (FUSE / "zfs_rename_busy.txt").read_text().split("\n", 2)[2]
    runner = (
        ReplayRunner()
        .add(["zfs", "rename", "t/a", "t/b"], stderr=busy, returncode=1)
        .add(["zfs", "rename", "t/a", "t/b"])
        .add(["zfs", "umount", "t/a"])
        .add(["zfs", "mount", "t/b"])
    )
    ZfsBackend(runner, flavour="zfs-fuse").rename("t/a", "t/b")
    assert runner.calls == [
        ("zfs", "rename", "t/a", "t/b"),
        ("zfs", "umount", "t/a"),
        ("zfs", "rename", "t/a", "t/b"),
        ("zfs", "mount", "t/b"),
    ]
    oz = ReplayRunner().add(
        ["zfs", "rename", "t/a", "t/b"], stderr="cannot rename 't/a': dataset is busy\n", returncode=1
    )
    with pytest.raises(BackendError, match="busy"):
        ZfsBackend(oz, flavour="openzfs").rename("t/a", "t/b")
