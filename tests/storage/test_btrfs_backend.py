"""BtrfsBackend against recorded btrfs-progs output: argv built, results mapped, errors carried."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.core.runner import LocalRunner, ReplayRunner
from apps.core.testing import replay_from
from apps.storage.backends.base import BackendError
from apps.storage.backends.btrfs import BtrfsBackend, safe_join

FIXTURES = Path(__file__).parent / "fixtures" / "btrfs"
MNT = "/tmp/brec/mnt1"  # where the recordings were made
RAID = "/tmp/brec/mnt2"


def replay(*names: str) -> ReplayRunner:
    return replay_from(*(FIXTURES / f"{n}.txt" for n in names))


def recording(name: str) -> tuple[list[str], str]:
    """The argv and recorded output of a fixture (output after the returncode line, if any)."""
    first, _, body = (FIXTURES / f"{name}.txt").read_text().partition("\n")
    if body.startswith("# returncode:"):
        body = body.partition("\n")[2]
    return shlex.split(first[2:]), body


def replay_stdout(name: str, returncode: int) -> ReplayRunner:
    """A recording whose non-zero exit comes with its report on stdout ("balance status" exits 1)."""
    argv, body = recording(name)
    return ReplayRunner().add(argv, stdout=body, returncode=returncode)


class EnvRecordingReplay(ReplayRunner):
    """Also remembers the environment each command was given."""

    def __init__(self) -> None:
        super().__init__()
        self.envs: list[dict | None] = []

    def run(self, argv, *, stdin=None, timeout=60, check=True, env=None):
        self.envs.append(dict(env) if env else None)
        return super().run(argv, stdin=stdin, timeout=timeout, check=check, env=env)


SINGLE = ("fs_show_single", "fs_usage_single", "device_stats_single", "scrub_status_finished",
          "scrub_status_finished_summary")  # fmt: skip
LISTING = ("fs_show_single", "subvolume_list", "subvolume_list_readonly", "subvolume_list_snapshots",
           "subvolume_show_root")  # fmt: skip


# --- filesystem_info ---------------------------------------------------------------------------


def test_filesystem_info_single_device():
    runner = replay(*SINGLE)
    info = BtrfsBackend(runner).filesystem_info(MNT)
    assert (info.name, info.backend, info.health, info.guid) == ("calyfs", "btrfs", "ONLINE", info.extra["uuid"])
    assert info.extra["uuid"] == "94cf7304-2e9e-4d1d-a0d4-c888998d8a7f"
    assert info.allocated_bytes == 315195392
    assert info.free_bytes == 1601437696
    assert info.size_bytes == 315195392 + 1601437696
    assert info.capacity_percent == 16
    assert (info.extra["data_profile"], info.extra["metadata_profile"], info.extra["system_profile"]) == (
        "single",
        "dup",
        "dup",
    )
    assert info.extra["usage"]["device_size"] == 2147483648
    [dev] = info.extra["devices"]
    assert (dev["devid"], dev["path"], dev["size_bytes"], dev["corruption_errs"]) == (1, "/dev/loop0", 2147483648, 0)
    assert [(v.name, v.state) for v in info.vdevs] == [("/dev/loop0", "ONLINE")]
    assert (info.scan.state, info.scan.percent) == ("finished", 100.0)
    assert info.mountpoint == MNT
    assert runner.calls == [
        ("btrfs", "filesystem", "show", "--raw", MNT),
        ("btrfs", "filesystem", "usage", "-b", MNT),
        ("btrfs", "device", "stats", MNT),
        ("btrfs", "scrub", "status", "-R", MNT),
        ("btrfs", "scrub", "status", "--raw", MNT),
    ]


def test_filesystem_info_raid1_with_corruption_is_degraded():
    runner = replay("fs_show_raid1_errors", "fs_usage_raid1_errors", "device_stats_errors", "scrub_status_errors",
                    "scrub_status_errors_summary")  # fmt: skip
    info = BtrfsBackend(runner).filesystem_info(RAID)
    assert info.health == "DEGRADED"
    assert info.extra["data_profile"] == "raid1"
    assert info.extra["data_ratio"] == 2.0
    loop2 = info.extra["devices"][1]
    assert (loop2["path"], loop2["corruption_errs"]) == ("/dev/loop2", 256)
    assert info.vdevs[1].checksum_errors == 256
    assert info.errors_text == "/dev/loop2: corruption_errs 256"
    assert info.scan.errors == 256
    assert info.extra["scrub"]["corrected_errors"] == 256


def test_filesystem_info_missing_device_is_degraded():
    runner = replay("fs_show_degraded", "fs_usage_degraded", "device_stats_degraded", "scrub_status_degraded",
                    "scrub_status_degraded_summary")  # fmt: skip
    info = BtrfsBackend(runner).filesystem_info(RAID)
    assert info.health == "DEGRADED"
    assert "missing" in info.status_text
    missing = info.extra["devices"][1]
    assert (missing["devid"], missing["missing"], missing["corruption_errs"]) == (2, True, 256)
    assert (info.vdevs[1].name, info.vdevs[1].state) == ("missing (devid 2)", "UNAVAIL")
    assert info.extra["usage"]["device_missing"] == 1073741824


def test_filesystem_info_on_a_non_btrfs_path_raises_with_stderr():
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay("fs_show_not_btrfs")).filesystem_info("/tmp/brec")
    assert "not a valid btrfs filesystem" in err.value.stderr
    assert err.value.returncode == 1
    assert err.value.argv == ("btrfs", "filesystem", "show", "--raw", "/tmp/brec")


# --- subvolumes and snapshots ------------------------------------------------------------------


def test_list_subvolumes_excludes_readonly_snapshots():
    runner = replay(*LISTING)
    subs = {d.name: d for d in BtrfsBackend(runner).list_subvolumes(MNT)}
    assert sorted(subs) == ["calyfs/home", "calyfs/home/alice", "calyfs/recv/alice@daily", "calyfs/srv",
                            "calyfs/srv-clone", "calyfs/srv/sites/www"]  # fmt: skip
    www = subs["calyfs/srv/sites/www"]
    assert (www.pool, www.kind, www.mountpoint) == ("calyfs", "subvolume", f"{MNT}/srv/sites/www")
    assert (www.extra["id"], www.extra["parent_id"], www.extra["path"]) == (259, 258, "srv/sites/www")
    assert www.extra["uuid"] == "7df478fb-2922-a144-b498-5b57f24cf8e3"
    assert www.extra["readonly"] is False
    assert subs["calyfs/home/alice"].extra["parent_id"] == subs["calyfs/home"].extra["id"]
    # A writable snapshot is a subvolume; a received read-only one has no source here.
    assert subs["calyfs/srv-clone"].extra["parent_uuid"] == subs["calyfs/srv"].extra["uuid"]
    received = subs["calyfs/recv/alice@daily"]
    assert received.extra["readonly"] is True
    assert received.properties["ro"].value == "true"
    assert received.extra["received_uuid"] == "42b12875-bc72-8c4a-9c86-79d95919bc62"
    assert runner.calls == [
        ("btrfs", "filesystem", "show", "--raw", MNT),
        ("btrfs", "subvolume", "list", "-r", MNT),
        ("btrfs", "subvolume", "list", "-p", "-u", "-q", "-R", MNT),
    ]


def test_list_snapshots_maps_each_to_its_source():
    runner = replay(*LISTING)
    snaps = {s.name: s for s in BtrfsBackend(runner).list_snapshots(MNT)}
    assert {name: s.dataset for name, s in snaps.items()} == {
        "calyfs/snaps/home@2025-01-01": "calyfs/home",
        "calyfs/snaps/alice@daily": "calyfs/home/alice",
        "calyfs/snaps/root@top": "calyfs",  # a snapshot of the top level
    }
    home = snaps["calyfs/snaps/home@2025-01-01"]
    assert home.short_name == "home@2025-01-01"
    assert home.created_at == datetime(2026, 11, 24, 17, 13, 30, tzinfo=UTC)
    assert home.guid == home.extra["uuid"] == "58961962-3f2e-a748-8c2d-702b810cc326"
    assert (home.extra["id"], home.extra["readonly"], home.extra["source_missing"]) == (260, True, False)
    assert ("btrfs", "subvolume", "list", "-s", "-r", "-p", "-u", "-q", "-R", MNT) in runner.calls
    assert ("btrfs", "subvolume", "show", MNT) in runner.calls


def test_list_snapshots_asks_times_in_utc():
    runner = EnvRecordingReplay().add_files(FIXTURES / f"{n}.txt" for n in LISTING)
    BtrfsBackend(runner).list_snapshots(MNT)
    envs = dict(zip(runner.calls, runner.envs, strict=True))
    assert envs[("btrfs", "subvolume", "list", "-s", "-r", "-p", "-u", "-q", "-R", MNT)] == {"TZ": "UTC"}


def test_list_snapshots_whose_source_was_deleted():
    runner = replay(*(f"source_deleted_{n}" for n in ("fs_show", "subvolume_list", "subvolume_list_snapshots",
                                                        "subvolume_show_root")))  # fmt: skip
    snaps = {s.name: s for s in BtrfsBackend(runner).list_snapshots(MNT)}
    orphan = snaps["calyfs/snaps/projects@last"]
    assert orphan.dataset == ""
    assert orphan.extra["source_missing"] is True
    assert snaps["calyfs/snaps/srv@weekly"].dataset == "calyfs/srv"


def test_list_snapshots_skips_root_lookup_when_all_sources_are_known():
    argv, body = recording("subvolume_list_snapshots")
    runner = replay("fs_show_single", "subvolume_list")
    runner.add(argv, stdout="".join(line for line in body.splitlines(True) if "root@top" not in line))
    snaps = BtrfsBackend(runner).list_snapshots(MNT)
    assert [s.dataset for s in snaps] == ["calyfs/home", "calyfs/home/alice"]
    assert ("btrfs", "subvolume", "show", MNT) not in runner.calls


def test_create_subvolume_argv():
    runner = replay("subvolume_create")
    BtrfsBackend(runner).create_subvolume(MNT, "projects")
    assert runner.calls == [("btrfs", "subvolume", "create", f"{MNT}/projects")]


def test_create_existing_subvolume_raises_with_stderr():
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay("subvolume_create_exists")).create_subvolume(MNT, "home")
    assert "target path already exists" in err.value.stderr
    assert "target path already exists" in str(err.value)


def test_delete_subvolume_plain_and_with_commit_after():
    runner = replay("subvolume_delete", "subvolume_delete_commit")
    backend = BtrfsBackend(runner)
    backend.delete_subvolume(MNT, "projects-work")
    backend.delete_subvolume(MNT, "srv-clone", commit_after=True)
    assert runner.calls == [
        ("btrfs", "subvolume", "delete", f"{MNT}/projects-work"),
        ("btrfs", "subvolume", "delete", "--commit-after", f"{MNT}/srv-clone"),
    ]


@pytest.mark.parametrize(
    ("fixture", "path", "words"),
    [
        ("subvolume_delete_missing", "nope", "Could not statfs"),
        ("subvolume_delete_not_empty", "home", "Directory not empty"),
        ("subvolume_delete_not_subvolume", "snaps", "Not a Btrfs subvolume"),
    ],
)
def test_delete_failures_carry_stderr(fixture, path, words):
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay(fixture)).delete_subvolume(MNT, path)
    assert words in err.value.stderr
    assert err.value.returncode == 1


def test_snapshot_readonly_and_writable_argv():
    runner = replay("snapshot_readonly", "snapshot_writable")
    backend = BtrfsBackend(runner)
    backend.snapshot(MNT, "srv", "snaps/srv@weekly")
    backend.snapshot(MNT, "projects", "projects-work", readonly=False)
    assert runner.calls == [
        ("btrfs", "subvolume", "snapshot", "-r", f"{MNT}/srv", f"{MNT}/snaps/srv@weekly"),
        ("btrfs", "subvolume", "snapshot", f"{MNT}/projects", f"{MNT}/projects-work"),
    ]


def test_snapshot_of_missing_source_raises():
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay("snapshot_missing_source")).snapshot(MNT, "nope", "snaps/nope@x")
    assert "Could not statfs" in err.value.stderr


# --- path guards -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../etc", "home/../../etc", "-rf", "home/--commit-each", "/etc", "", ".", "a\x00b"])
def test_unsafe_subvolume_paths_are_refused_before_any_command(path):
    runner = ReplayRunner()
    backend = BtrfsBackend(runner)
    with pytest.raises(BackendError, match="subvolume path"):
        backend.create_subvolume(MNT, path)
    with pytest.raises(BackendError, match="subvolume path"):
        backend.delete_subvolume(MNT, path)
    with pytest.raises(BackendError, match="subvolume path"):
        backend.snapshot(MNT, "home", path)
    assert runner.calls == []


@pytest.mark.parametrize("mountpoint", ["relative/mnt", "/mnt/../etc", "/mnt/-x"])
def test_unsafe_mountpoints_are_refused(mountpoint):
    runner = ReplayRunner()
    backend = BtrfsBackend(runner)
    for call in (backend.filesystem_info, backend.list_subvolumes, backend.device_stats):
        with pytest.raises(BackendError, match="mountpoint"):
            call(mountpoint)
    assert runner.calls == []


def test_safe_join_normalises_harmless_parts():
    assert safe_join("/mnt/pool/", "home//alice/./docs") == "/mnt/pool/home/alice/docs"
    assert safe_join("/mnt/pool", "snaps/home@2025-01-01") == "/mnt/pool/snaps/home@2025-01-01"


# --- scrub -------------------------------------------------------------------------------------


def test_scrub_runs_in_the_foreground_of_a_started_command():
    runner = replay("scrub_start_foreground", "scrub_status_finished", "scrub_status_finished_summary")
    runner.recordings[("btrfs", "scrub", "start", "-B", "-R", MNT)][0].polls = 2
    backend = BtrfsBackend(runner)
    handle = backend.start_scrub(MNT)
    assert runner.calls == [("btrfs", "scrub", "start", "-B", "-R", MNT)]
    assert handle.poll() is None and handle.poll() is None  # still scrubbing
    assert handle.poll() is not None
    scan = backend.finish_scrub(MNT, handle)
    assert (scan.state, scan.percent) == ("finished", 100.0)
    assert runner.calls[1:] == [("btrfs", "scrub", "status", "-R", MNT), ("btrfs", "scrub", "status", "--raw", MNT)]


def test_start_scrub_while_running_raises_with_stderr():
    backend = BtrfsBackend(replay("scrub_start_foreground_already_running"))
    with pytest.raises(BackendError) as err:
        backend.finish_scrub(MNT, backend.start_scrub(MNT))
    assert "Scrub is already running" in err.value.stderr


def test_scrub_status_running_then_finished():
    runner = ReplayRunner()
    for name in ("scrub_status_running", "scrub_status_running_summary", "scrub_status_finished",
                 "scrub_status_finished_summary"):  # fmt: skip
        runner.add_file(FIXTURES / f"{name}.txt")
    backend = BtrfsBackend(runner)
    first = backend.scrub_status(MNT)
    assert first.running and first.percent == 33.42
    last = backend.scrub_status(MNT)
    assert (last.running, last.state, last.percent) == (False, "finished", 100.0)
    assert runner.calls[:2] == [("btrfs", "scrub", "status", "-R", MNT), ("btrfs", "scrub", "status", "--raw", MNT)]


def test_scrub_status_asks_times_in_utc():
    runner = EnvRecordingReplay().add_files(
        FIXTURES / f"{n}.txt" for n in ("scrub_status_finished", "scrub_status_finished_summary")
    )
    BtrfsBackend(runner).scrub_status(MNT)
    assert runner.envs == [{"TZ": "UTC"}, {"TZ": "UTC"}]


def test_cancel_scrub():
    runner = replay("scrub_cancel")
    BtrfsBackend(runner).cancel_scrub(MNT)
    assert runner.calls == [("btrfs", "scrub", "cancel", MNT)]


def test_cancel_scrub_when_none_runs_raises():
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay("scrub_cancel_not_running")).cancel_scrub(MNT)
    assert "not running" in err.value.stderr
    assert err.value.returncode == 2


# --- balance, device stats, read-only ----------------------------------------------------------


def test_balance_status_none():
    assert BtrfsBackend(replay("balance_status_none")).balance_status(MNT)["state"] == "none"


@pytest.mark.parametrize(("fixture", "state", "percent"), [("balance_status_running", "running", 0.0),
                                                           ("balance_status_paused", "paused", 25.0)])  # fmt: skip
def test_balance_status_running_or_paused_exits_1(fixture, state, percent):
    status = BtrfsBackend(replay_stdout(fixture, 1)).balance_status(MNT)
    assert (status["state"], status["percent"], status["chunks_total"]) == (state, percent, 4)


def test_balance_status_on_non_btrfs_raises():
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay("balance_status_not_btrfs")).balance_status("/tmp/brec")
    assert "not a btrfs filesystem" in err.value.stderr
    assert err.value.returncode == 2


def test_device_stats():
    runner = replay("device_stats_errors")
    stats = BtrfsBackend(runner).device_stats(RAID)
    assert [(s["device"], s["corruption_errs"]) for s in stats] == [("/dev/loop1", 0), ("/dev/loop2", 256)]
    assert runner.calls == [("btrfs", "device", "stats", RAID)]


def test_readonly_get_and_set():
    runner = replay("property_get_ro_true", "property_set_ro_true", "property_set_ro_false")
    backend = BtrfsBackend(runner)
    assert backend.is_readonly(f"{MNT}/snaps/root@top") is True
    backend.set_readonly(f"{MNT}/projects", True)
    backend.set_readonly(f"{MNT}/projects", False)
    assert runner.calls == [
        ("btrfs", "property", "get", "-ts", f"{MNT}/snaps/root@top", "ro"),
        ("btrfs", "property", "set", "-ts", f"{MNT}/projects", "ro", "true"),
        ("btrfs", "property", "set", "-ts", f"{MNT}/projects", "ro", "false"),
    ]


def test_set_writable_on_received_subvolume_raises():
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay("property_set_ro_false_received")).set_readonly(f"{MNT}/recv/alice@daily", False)
    assert "received_uuid set" in err.value.stderr


def test_readonly_paths_must_be_absolute_and_safe():
    runner = ReplayRunner()
    backend = BtrfsBackend(runner)
    for path in ("projects", f"{MNT}/../x", f"{MNT}/-ro"):
        with pytest.raises(BackendError, match="path"):
            backend.set_readonly(path, True)
    assert runner.calls == []


def test_missing_tool_becomes_backend_error():
    runner = LocalRunner(env={"PATH": "/nonexistent"})
    with pytest.raises(BackendError) as err:
        BtrfsBackend(runner).device_stats(MNT)
    assert err.value.returncode == 127


def test_is_readonly_on_a_plain_directory_raises():
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay("property_get_not_subvolume")).is_readonly(f"{MNT}/snaps")
    assert "Could not get subvolume flags" in err.value.stderr


def test_create_subvolume_without_parent_directory_raises():
    with pytest.raises(BackendError) as err:
        BtrfsBackend(replay("subvolume_create_no_parent")).create_subvolume(MNT, "nodir/sub")
    assert "No such file or directory" in err.value.stderr


def test_list_subvolumes_of_degraded_filesystem():
    runner = replay("fs_show_degraded", "subvolume_list_degraded")
    runner.add(["btrfs", "subvolume", "list", "-r", RAID], stdout="")
    [data] = BtrfsBackend(runner).list_subvolumes(RAID)
    assert (data.name, data.pool, data.extra["id"]) == ("calyraid/data", "calyraid", 256)


# --- a backup target: received subvolumes ------------------------------------------------------

BACKUP = "/tmp/brec/mnt4"
RECEIVED = ("received_fs_show", "received_subvolume_list", "received_subvolume_list_readonly",
            "received_subvolume_list_snapshots")  # fmt: skip


def test_received_subvolumes_are_read_only_datasets_not_snapshots_of_each_other():
    backend = BtrfsBackend(replay(*RECEIVED))
    datasets = {d.name: d for d in backend.list_subvolumes(BACKUP)}
    received = ["calybak/backups/home@1", "calybak/backups/home@2"]
    assert sorted(datasets) == sorted(["calybak/home", *received])
    for name in received:
        extra = datasets[name].extra
        assert (extra["received"], extra["readonly"], datasets[name].properties["ro"].value) == (True, True, "true")
        assert extra["received_uuid"]
    assert datasets["calybak/home"].extra["received"] is False
    snaps = backend.list_snapshots(BACKUP)
    assert sorted((s.name, s.dataset) for s in snaps) == [("calybak/snaps/home@1", "calybak/home"),
                                                         ("calybak/snaps/home@2", "calybak/home")]
