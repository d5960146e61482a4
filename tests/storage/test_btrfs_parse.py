"""Btrfs parsers against output recorded from btrfs-progs 6.2 on loop-mounted filesystems."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.core.errors import ParseError
from apps.storage.backends.btrfs_parse import (
    parse_btrfs_balance_status,
    parse_btrfs_device_stats,
    parse_btrfs_filesystem_show,
    parse_btrfs_filesystem_usage,
    parse_btrfs_filesystems,
    parse_btrfs_property_ro,
    parse_btrfs_scrub_counters,
    parse_btrfs_scrub_status,
    parse_btrfs_subvolume_list,
    parse_btrfs_subvolume_show,
)

FIXTURES = Path(__file__).parent / "fixtures" / "btrfs"


def recorded(name: str) -> str:
    """The recorded output of a fixture: what follows the command line (and the returncode line)."""
    body = (FIXTURES / f"{name}.txt").read_text().partition("\n")[2]
    if body.startswith("# returncode:"):
        body = body.partition("\n")[2]
    return body


def test_every_fixture_starts_with_its_command():
    files = sorted(FIXTURES.glob("*.txt"))
    assert len(files) > 40
    for path in files:
        assert path.read_text().startswith("$ "), path.name


# --- filesystem show ---------------------------------------------------------------------------


def test_show_single_device():
    fs = parse_btrfs_filesystem_show(recorded("fs_show_single"))
    assert (fs.label, fs.name) == ("calyfs", "calyfs")
    assert fs.uuid == "94cf7304-2e9e-4d1d-a0d4-c888998d8a7f"
    assert (fs.total_devices, fs.bytes_used, fs.missing) == (1, 315195392, False)
    [dev] = fs.devices
    assert (dev.devid, dev.size_bytes, dev.used_bytes, dev.path) == (1, 2147483648, 676069376, "/dev/loop0")


def test_show_raid1_two_devices():
    fs = parse_btrfs_filesystem_show(recorded("fs_show_raid1"))
    assert fs.label == "calyraid"
    assert [(d.devid, d.path, d.size_bytes) for d in fs.devices] == [
        (1, "/dev/loop1", 1073741824),
        (2, "/dev/loop2", 1073741824),
    ]
    assert not fs.missing


def test_show_degraded_marks_missing_device():
    fs = parse_btrfs_filesystem_show(recorded("fs_show_degraded"))
    assert fs.missing
    missing = fs.devices[1]
    assert (missing.devid, missing.path, missing.missing, missing.size_bytes) == (2, "", True, 0)
    assert not fs.devices[0].missing


def test_show_without_label_is_named_by_uuid():
    fs = parse_btrfs_filesystem_show(recorded("fs_show_nolabel"))
    assert fs.label == ""
    assert fs.name == fs.uuid == "5b5006e0-aa92-45a6-8b33-9d1264d9d416"


def test_show_rejects_text_without_filesystem():
    with pytest.raises(ParseError, match="no filesystem") as err:
        parse_btrfs_filesystem_show(recorded("fs_show_not_btrfs"))
    assert err.value.code == "unreadable_output" and err.value.status_code == 502


# --- filesystem usage --------------------------------------------------------------------------


def test_usage_single_profiles_and_bytes():
    usage = parse_btrfs_filesystem_usage(recorded("fs_usage_single"))
    assert usage.overall["device_size"] == 2147483648
    assert usage.overall["used"] == 315817984
    assert usage.overall["free_estimated"] == 1601437696
    assert usage.overall["free_min"] == 865730560
    assert usage.overall["device_missing"] == 0
    assert (usage.data_ratio, usage.metadata_ratio, usage.multiple_profiles) == (1.0, 2.0, False)
    assert [(c.kind, c.profile) for c in usage.chunks] == [("data", "single"), ("metadata", "dup"), ("system", "dup")]
    data = usage.chunks[0]
    assert (data.size_bytes, data.used_bytes, data.devices) == (444596224, 314572800, {"/dev/loop0": 444596224})
    assert usage.chunks[1].devices == {"/dev/loop0": 214695936}  # DUP: two copies on one device
    assert usage.unallocated == {"/dev/loop0": 1471414272}
    # The chunks' logical "Used" adds up to what "filesystem show" calls FS bytes used.
    assert usage.logical_used_bytes == 315195392


def test_usage_raid1_ratio_and_per_device_split():
    usage = parse_btrfs_filesystem_usage(recorded("fs_usage_raid1"))
    assert usage.profiles("data") == ("raid1",)
    assert usage.profiles("metadata") == ("raid1",)
    assert usage.data_ratio == 2.0
    assert usage.chunks[0].devices == {"/dev/loop1": 325451776, "/dev/loop2": 325451776}


def test_usage_degraded_counts_missing_space():
    usage = parse_btrfs_filesystem_usage(recorded("fs_usage_degraded"))
    assert usage.overall["device_missing"] == 1073741824
    assert usage.chunks[0].devices == {"/dev/loop1": 218103808, "missing": 218103808}
    assert usage.unallocated["missing"] == 706347008


# --- subvolume list / show / property ----------------------------------------------------------


def test_subvolume_list_tree_and_uuids():
    subs = {s.path: s for s in parse_btrfs_subvolume_list(recorded("subvolume_list"))}
    assert len(subs) == 9
    alice = subs["home/alice"]
    assert (alice.id, alice.parent_id, alice.top_level, alice.gen) == (257, 256, 256, 10)
    assert alice.uuid == "04895bf1-05c0-8c48-8b88-097a6281de36"
    assert alice.parent_uuid == alice.received_uuid == ""
    assert subs["srv/sites/www"].parent_id == subs["srv"].id
    assert subs["snaps/home@2025-01-01"].parent_uuid == subs["home"].uuid
    received = subs["recv/alice@daily"]
    assert received.received_uuid == subs["snaps/alice@daily"].uuid
    assert received.otime is None


def test_subvolume_list_snapshots_have_otime_in_utc():
    snaps = parse_btrfs_subvolume_list(recorded("subvolume_list_snapshots"))
    assert [s.path for s in snaps] == ["snaps/home@2025-01-01", "snaps/alice@daily", "snaps/root@top"]
    assert snaps[0].otime == datetime(2026, 11, 24, 17, 13, 30, tzinfo=UTC)
    assert snaps[0].cgen == 9


def test_subvolume_list_short_form_gives_ids():
    ids = [s.id for s in parse_btrfs_subvolume_list(recorded("subvolume_list_readonly"))]
    assert ids == [260, 261, 263, 264]


def test_subvolume_show_root_and_snapshot():
    root = parse_btrfs_subvolume_show(recorded("subvolume_show_root"))
    assert (root["id"], root["name"], root["readonly"]) == (5, "<FS_TREE>", False)
    assert root["uuid"] == "c6e783ce-c284-4c49-b543-efd6fcf58887"
    assert root["snapshots"] == ["snaps/root@top"]
    snap = parse_btrfs_subvolume_show(recorded("subvolume_show_snapshot"))
    assert snap["readonly"] is True
    assert snap["parent_uuid"] == "7fb91adc-a5b6-8c4a-9c0d-184c539c602e"
    assert snap["created_at"] == datetime(2026, 11, 24, 17, 13, 30, tzinfo=UTC)
    assert snap["snapshots"] == []


def test_property_ro():
    assert parse_btrfs_property_ro(recorded("property_get_ro_true")) is True
    assert parse_btrfs_property_ro(recorded("property_get_ro_false")) is False
    with pytest.raises(ParseError, match="ro="):
        parse_btrfs_property_ro("")


# --- scrub -------------------------------------------------------------------------------------


def test_scrub_running_percent_from_summary():
    scan = parse_btrfs_scrub_status(recorded("scrub_status_running"), recorded("scrub_status_running_summary"))
    assert scan.running and scan.function == "scrub"
    assert (scan.examined_bytes, scan.total_bytes, scan.percent) == (105545728, 315817984, 33.42)
    assert scan.started_at == datetime(2026, 11, 24, 17, 16, 32, tzinfo=UTC)
    assert scan.finished_at is None


def test_scrub_just_started_counts_as_running():
    scan = parse_btrfs_scrub_status(recorded("scrub_status_starting"), recorded("scrub_status_starting_summary"))
    assert scan.state == "scanning"
    assert scan.percent == 0.0


def test_scrub_finished():
    scan = parse_btrfs_scrub_status(recorded("scrub_status_finished"), recorded("scrub_status_finished_summary"))
    assert (scan.state, scan.percent, scan.errors) == ("finished", 100.0, 0)
    assert scan.examined_bytes == 314572800 + 1245184
    assert scan.finished_at == datetime(2026, 11, 24, 17, 16, 47, tzinfo=UTC)


def test_scrub_aborted_keeps_progress():
    scan = parse_btrfs_scrub_status(recorded("scrub_status_cancelled"))
    assert scan.state == "canceled"
    assert scan.examined_bytes == 169345024 + 1212416
    assert scan.total_bytes is None  # only the --raw summary knows the total


def test_scrub_never_run():
    scan = parse_btrfs_scrub_status(recorded("scrub_status_never"), recorded("scrub_status_never_summary"))
    assert (scan.state, scan.function, scan.examined_bytes) == ("none", "none", None)
    assert scan.total_bytes == 420184064


def test_scrub_with_corrected_checksum_errors():
    raw = recorded("scrub_status_errors")
    scan = parse_btrfs_scrub_status(raw, recorded("scrub_status_errors_summary"))
    assert (scan.state, scan.errors) == ("finished", 256)
    assert "Corrected:      256" in scan.text
    counters = parse_btrfs_scrub_counters(raw)
    assert counters["csum_errors"] == counters["corrected_errors"] == 256
    assert counters["uncorrectable_errors"] == 0


# --- balance / device stats --------------------------------------------------------------------


def test_balance_none():
    status = parse_btrfs_balance_status(recorded("balance_status_none"))
    assert status["state"] == "none"
    assert status["percent"] == 0.0


def test_balance_running_and_paused():
    running = parse_btrfs_balance_status(recorded("balance_status_running"))
    assert (running["state"], running["chunks_balanced"], running["chunks_total"]) == ("running", 0, 4)
    paused = parse_btrfs_balance_status(recorded("balance_status_paused"))
    assert (paused["state"], paused["chunks_balanced"], paused["chunks_considered"]) == ("paused", 1, 1)
    assert paused["percent"] == 25.0


def test_device_stats_clean_and_with_errors():
    [clean] = parse_btrfs_device_stats(recorded("device_stats_single"))
    assert clean["device"] == "/dev/loop0"
    assert clean["errors"] == clean["corruption_errs"] == 0
    loop1, loop2 = parse_btrfs_device_stats(recorded("device_stats_errors"))
    assert loop1["errors"] == 0
    assert (loop2["device"], loop2["corruption_errs"], loop2["read_io_errs"], loop2["errors"]) == (
        "/dev/loop2",
        256,
        0,
        256,
    )


def test_device_stats_of_missing_device():
    present, missing = parse_btrfs_device_stats(recorded("device_stats_degraded"))
    assert present["missing"] is False
    assert (missing["device"], missing["devid"], missing["missing"]) == ("", 2, True)
    assert missing["corruption_errs"] == 256


def test_usage_of_small_fresh_filesystem():
    usage = parse_btrfs_filesystem_usage(recorded("fs_usage_nolabel"))
    assert usage.overall["device_size"] == 536870912
    assert usage.profiles("data") == ("single",)
    assert usage.profiles("metadata") == ("dup",)


# --- several filesystems, received subvolumes ---------------------------------------------------


def test_show_of_two_filesystems_gives_each_its_own_devices():
    single, raid = parse_btrfs_filesystems(recorded("fs_show_two"))
    assert (single.label, [d.path for d in single.devices], single.total_devices) == ("calyfs", ["/dev/loop0"], 1)
    assert (raid.label, [d.path for d in raid.devices], raid.total_devices) == ("calyraid",
                                                                                 ["/dev/loop1", "/dev/loop2"], 2)
    assert not single.missing and not raid.missing
    assert parse_btrfs_filesystem_show(recorded("fs_show_two")) == single
    assert parse_btrfs_filesystems(recorded("fs_show_raid1")) == [parse_btrfs_filesystem_show(recorded("fs_show_raid1"))]


def test_received_subvolumes_keep_their_received_and_parent_uuids():
    subs = {s.path: s for s in parse_btrfs_subvolume_list(recorded("received_subvolume_list"))}
    full, incremental = subs["backups/home@1"], subs["backups/home@2"]
    assert full.received_uuid == subs["snaps/home@1"].uuid and not full.parent_uuid
    assert incremental.received_uuid == subs["snaps/home@2"].uuid and incremental.parent_uuid == full.uuid
    shown = parse_btrfs_subvolume_show(recorded("received_subvolume_show"))
    assert (shown["uuid"], shown["received_uuid"], shown["parent_uuid"], shown["readonly"]) == (
        incremental.uuid, incremental.received_uuid, incremental.parent_uuid, True)
