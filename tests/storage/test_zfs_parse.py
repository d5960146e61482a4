"""Parsers against recorded zfs-fuse output and OpenZFS 2.x output written from its sources."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.storage.backends.zfs_parse import (
    datasets_from_properties,
    detect_flavour,
    parse_count,
    parse_ctime,
    parse_scan,
    parse_size,
    parse_zfs_get,
    parse_zfs_get_values,
    parse_zfs_holds,
    parse_zfs_list_snapshots,
    parse_zpool_import,
    parse_zpool_list,
    parse_zpool_status,
    snapshots_from_values,
)

FIXTURES = Path(__file__).parent / "fixtures"


def out(name: str) -> str:
    """The recorded output of a fixture (everything after the `$ command` line)."""
    return (FIXTURES / name).read_text().partition("\n")[2]


def written(text: str) -> datetime:
    """A time as `zpool status` printed it: the runner runs it with TZ=UTC."""
    return datetime.strptime(text, "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)


def status(name: str):
    (pool,) = parse_zpool_status(out(name))
    return pool


def test_sizes_and_counts_use_zfs_1024_base() -> None:
    assert parse_size("123456") == 123456
    assert parse_size("556K") == 556 * 1024
    assert parse_size("1.93G") == round(1.93 * 1024**3)
    assert parse_size("0B") == 0
    assert parse_size("-") is None
    assert parse_count("3.13K") == round(3.13 * 1024)
    assert parse_count("696") == 696


def test_fuse_mirror_healthy_tree() -> None:
    pool = status("zfs-fuse/zpool_status_mirror_healthy.txt")
    assert (pool.name, pool.health, pool.backend) == ("zrectank", "ONLINE", "zfs")
    (mirror,) = pool.vdevs
    assert (mirror.name, mirror.kind, mirror.role, mirror.state) == ("mirror-0", "mirror", "data", "ONLINE")
    assert [(d.name, d.kind) for d in mirror.children] == [("/tmp/zrec/a.img", "file"), ("/tmp/zrec/b.img", "file")]
    assert pool.scan.function == "none" and not pool.scan.running
    assert pool.errors_text == "No known data errors"


def test_fuse_degraded_after_offline_keeps_advice() -> None:
    pool = status("zfs-fuse/zpool_status_mirror_degraded.txt")
    assert pool.health == "DEGRADED"
    assert [d.state for d in pool.vdevs[0].children] == ["ONLINE", "OFFLINE"]
    assert pool.vdevs[0].state == "DEGRADED"
    assert pool.status_text.startswith("status: One or more devices has been taken offline")
    assert "action: Online the device using 'zpool online'" in pool.status_text


def test_fuse_raidz2_with_log_mirror_and_spare() -> None:
    pool = status("zfs-fuse/zpool_status_raidz2_log_spare.txt")
    roles = [(v.name, v.kind, v.role, v.state) for v in pool.vdevs]
    assert roles == [
        ("raidz2-0", "raidz2", "data", "ONLINE"),
        ("mirror-1", "mirror", "log", "ONLINE"),
        ("/tmp/zrec/sp1.img", "file", "spare", "AVAIL"),
    ]
    assert len(pool.vdevs[0].children) == 4
    assert {c.role for c in pool.vdevs[1].children} == {"log"}


def test_fuse_spare_in_use() -> None:
    pool = status("zfs-fuse/zpool_status_spare_inuse.txt")
    spare_group = pool.vdevs[0].children[0]
    assert (spare_group.name, spare_group.kind) == ("spare-0", "spare")
    assert spare_group.children[1].note == "292K resilvered"
    assert (pool.vdevs[-1].state, pool.vdevs[-1].note) == ("INUSE", "currently in use")


def test_fuse_checksum_counts_plain_and_kilo() -> None:
    small = status("zfs-fuse/zpool_status_checksum_errors.txt").vdevs[0].children[0]
    assert (small.read_errors, small.write_errors, small.checksum_errors) == (0, 0, 750)
    assert small.note == "56.5M repaired"
    big = status("zfs-fuse/zpool_status_checksum_errors_k.txt")
    assert big.vdevs[0].children[0].checksum_errors == round(3.13 * 1024)
    assert "see: http://www.sun.com/msg/ZFS-8000-9P" in big.status_text


def test_fuse_scrub_states() -> None:
    running = status("zfs-fuse/zpool_status_scrub_in_progress.txt").scan
    assert (running.function, running.state, running.running) == ("scrub", "scanning", True)
    assert 0 < running.percent < 100
    done = status("zfs-fuse/zpool_status_scrub_finished.txt").scan
    assert (done.state, done.percent, done.errors) == ("finished", 100.0, 0)
    assert done.finished_at == written("Tue Nov 24 17:13:47 2026")
    stopped = status("zfs-fuse/zpool_status_scrub_canceled.txt").scan
    assert (stopped.function, stopped.state) == ("scrub", "canceled")


def test_fuse_resilver_in_progress_shows_replacing() -> None:
    pool = status("zfs-fuse/zpool_status_resilver_in_progress.txt")
    assert (pool.scan.function, pool.scan.state, pool.scan.percent) == ("resilver", "scanning", 74.10)
    replacing = pool.vdevs[0].children[1]
    assert (replacing.name, replacing.kind) == ("replacing-1", "replacing")
    assert replacing.children[1].note == "1.45G resilvered"


def test_fuse_status_of_all_pools() -> None:
    assert [p.name for p in parse_zpool_status(out("zfs-fuse/zpool_status_all.txt"))] == ["zrecbig", "zrectank"]


def test_openzfs_raidz2_special_log_cache_spare_scrubbing() -> None:
    pool = status("openzfs/zpool_status_raidz2_special_log_cache_spare_scrubbing_2.1.txt")
    assert [(v.kind, v.role) for v in pool.vdevs] == [
        ("raidz2", "data"),
        ("mirror", "special"),
        ("mirror", "log"),
        ("disk", "cache"),
        ("disk", "spare"),
    ]
    faulted = pool.vdevs[0].children[2]
    assert (faulted.name, faulted.state, faulted.read_errors, faulted.checksum_errors) == ("sdc", "FAULTED", 3, 1289)
    assert faulted.note == "too many errors"
    scan = pool.scan
    assert (scan.function, scan.state, scan.percent) == ("scrub", "scanning", 37.5)
    assert scan.examined_bytes == round(1.5 * 1024**4) and scan.total_bytes == 4 * 1024**4
    assert scan.processed_bytes == 0
    assert scan.started_at == written("Sun Nov 22 02:00:01 2026")
    assert "ZFS-8000-K4" in pool.status_text


def test_openzfs_draid_resilver_22_format() -> None:
    pool = status("openzfs/zpool_status_draid_resilvering_2.2.txt")
    draid = pool.vdevs[0]
    assert (draid.name, draid.kind, draid.state) == ("draid2:4d:11c:1s-0", "draid", "DEGRADED")
    spare = draid.children[3]
    assert [(c.name, c.kind, c.note) for c in spare.children] == [
        ("sdd", "disk", "too many errors"),
        ("draid2-0-0", "draid-spare", "(resilvering)"),
    ]
    assert spare.children[0].write_errors == 12
    assert (pool.vdevs[-1].role, pool.vdevs[-1].state) == ("spare", "INUSE")
    scan = pool.scan
    assert (scan.function, scan.state, scan.percent) == ("resilver", "scanning", 12.10)
    assert scan.examined_bytes == 150 * 1024**3 and scan.processed_bytes == round(12.4 * 1024**3)


def test_openzfs_finished_paused_canceled_resilvered_and_never() -> None:
    done = status("openzfs/zpool_status_scrub_finished.txt").scan
    assert (done.state, done.percent, done.processed_bytes) == ("finished", 100.0, round(1.5 * 1024**2))
    assert done.finished_at == written("Sun Nov 22 03:26:04 2026")
    paused = status("openzfs/zpool_status_scrub_paused.txt").scan
    assert (paused.state, paused.percent, paused.running) == ("paused", 39.06, False)
    assert paused.started_at == written("Mon Nov 23 09:00:00 2026")
    assert status("openzfs/zpool_status_scrub_canceled.txt").scan.state == "canceled"
    resilvered = status("openzfs/zpool_status_resilvered.txt").scan
    assert (resilvered.function, resilvered.state) == ("resilver", "finished")
    assert status("openzfs/zpool_status_never_scanned.txt").scan.function == "none"


def test_scan_line_21_with_rates() -> None:
    scan = parse_scan(
        "scrub in progress since Sun Nov 22 02:00:01 2026\n"
        "1.00T scanned at 1G/s, 512G issued at 512M/s, 2.00T total\n"
        "0B repaired, 25.00% done, 00:17:04 to go"
    )
    assert (scan.examined_bytes, scan.total_bytes, scan.percent) == (512 * 1024**3, 2 * 1024**4, 25.0)


def test_zpool_list_exact_and_human() -> None:
    cols = ("name", "size", "allocated", "free", "fragmentation", "capacity", "dedupratio", "health", "guid")
    tank, dpool = parse_zpool_list(out("openzfs/zpool_list.txt"), cols)
    assert (tank.size_bytes, tank.fragmentation_percent, tank.capacity_percent) == (23991808901120, 3, 37)
    assert (dpool.dedup_ratio, dpool.guid, dpool.health) == (1.07, "1318270591226838921", "DEGRADED")
    fuse_cols = ("name", "size", "allocated", "free", "capacity", "dedupratio", "health", "guid")
    big, tankf = parse_zpool_list(out("zfs-fuse/zpool_list.txt"), fuse_cols)
    assert (big.size_bytes, big.allocated_bytes, big.capacity_percent) == (492 * 1024**2, round(1.66 * 1024**2), 0)
    assert (tankf.guid, tankf.dedup_ratio, tankf.fragmentation_percent) == ("341026144811518982", 1.0, None)


def test_zfs_get_datasets_with_sources_and_user_properties() -> None:
    datasets = {d.name: d for d in datasets_from_properties(parse_zfs_get(out("zfs-fuse/zfs_get_all.txt")))}
    data = datasets["zrectank/data"]
    assert (data.kind, data.pool, data.used_bytes, data.available_bytes) == ("filesystem", "zrectank", 237568, 29958144)
    assert data.properties["compression"].value == "on" and data.properties["compression"].source == "local"
    assert data.properties["mountpoint"].source == "inherited from zrectank"
    assert data.properties["com.example:owner"].value == "alice"
    assert "compressratio" not in data.properties and "creation" not in data.properties
    assert datasets["zrectank/home"].properties["quota"].value == str(50 * 1024**2)
    assert datasets["zrectank/data/sub"].properties["com.example:note"].value == "hello world"


def test_zfs_get_volume_from_openzfs() -> None:
    """Volumes only exist on OpenZFS (zfs-fuse has no zvols)."""
    datasets = {d.name: d for d in datasets_from_properties(parse_zfs_get(out("openzfs/zfs_get_all_root.txt")))}
    vol = datasets["tank/vol"]
    assert (vol.kind, vol.mountpoint, vol.used_bytes) == ("volume", "", 10842275840)
    assert vol.properties["volsize"].value == "10737418240" and vol.properties["volsize"].source == "local"
    assert vol.properties["volblocksize"].value == "16384"
    assert vol.properties["com.example:owner"].value == "db-team"
    home = datasets["tank/home"]
    assert home.properties["recordsize"].value == "1048576"
    assert home.properties["com.example:backup"].source == "inherited from tank"
    assert home.properties["encryption"].value == "off"


def test_fuse_snapshots_from_zfs_get_values() -> None:
    snaps = {s.name: s for s in snapshots_from_values(parse_zfs_get_values(out("zfs-fuse/zfs_get_snapshots_root.txt")))}
    s1 = snaps["zrectank/data@s1"]
    assert (s1.dataset, s1.short_name, s1.referenced_bytes, s1.used_bytes) == ("zrectank/data", "s1", 122880, 0)
    assert s1.created_at == datetime.fromtimestamp(1795540650, tz=UTC)
    assert s1.created_at.tzinfo is UTC
    assert s1.extra["userrefs"] == 1 and s1.guid == "16644585316612384892"
    assert all("@" in name for name in snaps)


def test_openzfs_snapshot_list_and_holds() -> None:
    snaps = parse_zfs_list_snapshots(out("openzfs/zfs_list_snapshots.txt"))
    assert [s.extra["userrefs"] for s in snaps] == [1, 0, 0, 2]
    assert snaps[3].dataset == "tank/vol" and snaps[3].created_at == datetime.fromtimestamp(1795420000, tz=UTC)
    holds = parse_zfs_holds(out("openzfs/zfs_holds.txt"))
    assert holds == {"tank/home@daily-2026-11-22": ("keep",), "tank/vol@pre-resize": ("backup", "replication")}


def test_zpool_import_listings() -> None:
    (fuse,) = parse_zpool_import(out("zfs-fuse/zpool_import_list.txt"))
    assert (fuse.name, fuse.guid, fuse.state) == ("zrectank", "341026144811518982", "ONLINE")
    assert fuse.vdevs[0].kind == "mirror" and len(fuse.vdevs[0].children) == 2
    oldtank, archive = parse_zpool_import(out("openzfs/zpool_import_list.txt"))
    assert (oldtank.state, oldtank.vdevs[0].children[1].note) == ("DEGRADED", "cannot open")
    assert "ZFS-8000-2Q" in oldtank.status_text
    assert (archive.name, archive.vdevs[0].kind) == ("archive", "raidz1")


def test_flavour_detection() -> None:
    assert detect_flavour(0, out("openzfs/zfs_version.txt"), "").version == "2.1.11"
    assert detect_flavour(0, out("openzfs/zfs_version_2.2.txt"), "").flavour == "openzfs"
    fuse = out("zfs-fuse/zfs_version.txt").partition("\n")[2]
    assert detect_flavour(2, "", fuse).flavour == "zfs-fuse"


def test_ctime_is_aware_utc() -> None:
    when = parse_ctime("Tue Nov 24 17:13:47 2026")
    assert when is not None and when.tzinfo is UTC
    assert parse_ctime("not a date") is None


@pytest.fixture
def portal_zone(monkeypatch):
    """The portal's own process runs in a zone far from UTC."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_status_times_are_read_as_written_whatever_the_portal_zone(portal_zone) -> None:
    done = status("zfs-fuse/zpool_status_scrub_finished.txt").scan
    assert done.finished_at == written("Tue Nov 24 17:13:47 2026")
    paused = status("openzfs/zpool_status_scrub_paused.txt").scan
    assert paused.started_at == written("Mon Nov 23 09:00:00 2026")
    assert parse_ctime("Tue Nov 24 17:13:47 2026") == datetime(2026, 11, 24, 17, 13, 47, tzinfo=UTC)


def _with_state(text: str, name: str, state: str) -> str:
    """The status with the row of ``name`` given another state word (same columns)."""
    return re.sub(rf"(?m)^(\s*{re.escape(name)}\s+)[A-Z]+", lambda m: m[1] + state, text, count=1)


@pytest.mark.parametrize("word", ["UNKNOWN", "FUTURE_STATE"])
def test_unknown_vdev_state_is_kept_with_the_group_and_its_children(word) -> None:
    text = out("zfs-fuse/zpool_status_raidz2_log_spare.txt")
    text = _with_state(_with_state(text, "raidz2-0", word), "/tmp/zrec/r2.img", word)
    (pool,) = parse_zpool_status(text)
    known = status("zfs-fuse/zpool_status_raidz2_log_spare.txt")
    assert [v.name for v in pool.vdevs] == [v.name for v in known.vdevs]
    group = pool.vdevs[0]
    assert (group.name, group.kind, group.state) == ("raidz2-0", "raidz2", word)
    assert [c.name for c in group.children] == [c.name for c in known.vdevs[0].children]
    assert [c.state for c in group.children if c.name == "/tmp/zrec/r2.img"] == [word]
    assert (group.read_errors, group.write_errors, group.checksum_errors) == (0, 0, 0)


def test_unknown_pool_state_is_kept_as_printed() -> None:
    text = out("zfs-fuse/zpool_status_mirror_healthy.txt").replace(" state: ONLINE", " state: UNKNOWN")
    (pool,) = parse_zpool_status(_with_state(text, "zrectank", "UNKNOWN"))
    assert pool.health == "UNKNOWN"
    assert [c.name for c in pool.vdevs[0].children] == ["/tmp/zrec/a.img", "/tmp/zrec/b.img"]
