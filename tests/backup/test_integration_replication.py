"""Replication end to end on real tools (root only): ZFS between two zfs-fuse pools and Btrfs between two
loop-mounted filesystems; every run through the task's job, as the portal runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from apps.backup import services
from apps.backup.models import SentSnapshot
from apps.core.runner import LocalRunner
from apps.jobs.choices import JobState
from apps.jobs.runtime import run_job
from apps.storage.models import Dataset, Snapshot
from apps.storage.services import register_btrfs_pool

from .helpers import run_task as _run
from .helpers import same_tree as _same_tree
from .helpers import write_files as _write
from .helpers import zfs_guid as _zfs_guid
from .helpers import zfs_snapshot_tree as _zfs_snapshot_tree

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_zfs_full_then_incrementals_then_pruning_and_the_replica_matches(zfs_pair, admin_user):
    runner, source, dst = zfs_pair
    mount = Path(source.mountpoint)
    _write(mount, {"a.txt": b"alpha\n" * 1000, "dir/b.bin": os.urandom(300_000)})
    target = services.TARGETS.create(name="second", pool=dst, path="replicas")
    task = services.TASKS.create(name="data", source=source, target=target, keep_source=2, keep_target=3)

    job = _run(task, runner)
    assert job.state == JobState.SUCCEEDED, (job.error, list(job.log_entries.values_list("message", flat=True)))
    replica = f"{dst.name}/replicas/{source.name.replace('/', '_')}"
    first = job.result["snapshot"]
    assert job.result["kind"] == "full" and job.result["verified"] and job.result["bytes"] > 300_000
    assert _zfs_guid(f"{replica}@{first}") == _zfs_guid(f"{source.name}@{first}")
    assert subprocess.run(["zfs", "get", "-H", "-o", "value", "mounted", replica], capture_output=True,
                          text=True).stdout.strip() == "no"  # received unmounted: nothing here can change it
    with _zfs_snapshot_tree(f"{replica}@{first}") as tree:
        assert _same_tree(mount, tree)
    assert any("zfs send" in m and "zfs receive" in m for m in job.log_entries.values_list("message", flat=True))

    keys = [first]
    for i in range(3):
        _write(mount, {f"new-{i}.txt": os.urandom(50_000)})
        (mount / "a.txt").write_bytes(b"changed %d\n" % i)
        job = _run(task, runner)
        assert job.state == JobState.SUCCEEDED, job.error
        assert job.result["kind"] == "incremental" and job.result["base"] == keys[-1]
        keys.append(job.result["snapshot"])
        with _zfs_snapshot_tree(f"{replica}@{keys[-1]}") as tree:
            assert _same_tree(mount, tree)
    # keep 2 on the source and 3 on the target: the oldest went on both sides, in that order
    on_source = sorted(s.short_name for s in Snapshot.objects.filter(dataset=source, short_name__startswith="calypso-"))
    assert on_source == keys[-2:]
    listed = subprocess.run(["zfs", "list", "-H", "-o", "name", "-t", "snapshot", "-r", replica], check=True,
                            capture_output=True, text=True).stdout.split()
    assert [n.partition("@")[2] for n in listed] == keys[-3:]
    chain = SentSnapshot.objects.filter(task=task).order_by("snapshot")
    assert [(s.kind, s.verified) for s in chain] == [("full", True)] + [("incremental", True)] * 3
    assert [s.on_source for s in chain] == [False, False, True, True]
    assert [s.on_target for s in chain] == [False, True, True, True]
    assert services.retention_dry_run(task, runner=runner)["base"] == keys[-1]
    # Browse the newest snapshot and copy a directory and a file back beside the live data.
    sent = SentSnapshot.objects.get(task=task, snapshot=keys[-1])
    top = services.browse(sent, runner=runner)
    assert {e["name"]: e["type"] for e in top["entries"]}.items() >= {"a.txt": "file", "dir": "dir"}.items()
    assert [e["name"] for e in services.browse(sent, path="dir", runner=runner)["entries"]] == ["b.bin"]
    copied = run_job(services.start_restore_files(sent, paths=["dir", "a.txt"]).pk, runner=runner)
    assert copied.state == JobState.SUCCEEDED, copied.error
    back = mount / f"restored-{keys[-1]}"
    assert (back / "a.txt").read_bytes() == (mount / "a.txt").read_bytes() and _same_tree(back / "dir", mount / "dir")
    with pytest.raises(Exception, match="never write over"):
        services.start_restore_files(sent, paths=["a.txt"])
    with pytest.raises(Exception, match="without"):
        services.browse(sent, path="../..", runner=runner)
    drill = run_job(services.start_drill(task).pk, runner=runner)  # sent back from the replica and compared
    assert drill.state == JobState.SUCCEEDED, (drill.error, list(drill.log_entries.values_list("message", flat=True)))
    assert drill.result["snapshot"] == keys[-1] and drill.result["compared_files"] >= 3


def test_zfs_a_changed_replica_is_refused_with_the_fix_and_the_run_leaves_nothing(zfs_pair, admin_user):
    runner, source, dst = zfs_pair
    _write(Path(source.mountpoint), {"a.txt": b"one"})
    target = services.TARGETS.create(name="second", pool=dst)
    task = services.TASKS.create(name="data", source=source, target=target)
    assert _run(task, runner).state == JobState.SUCCEEDED
    replica = f"{dst.name}/{source.name.replace('/', '_')}"
    subprocess.run(["zfs", "set", "readonly=off", replica], check=True)
    subprocess.run(["zfs", "mount", replica], check=True)
    mnt = subprocess.run(["zfs", "get", "-H", "-o", "value", "mountpoint", replica], capture_output=True, text=True,
                         check=True).stdout.strip()
    Path(mnt, "stray.txt").write_text("someone wrote here")
    subprocess.run(["zfs", "umount", replica], check=True)
    _write(Path(source.mountpoint), {"b.txt": b"two"})

    job = _run(task, runner)
    assert job.state == JobState.ROLLED_BACK, job.state
    assert "has been modified" in job.error and "zfs rollback" in job.error, job.error
    snaps = Snapshot.objects.filter(dataset=source, short_name__startswith="calypso-")
    assert snaps.count() == 1  # the run's own snapshot was destroyed again
    assert SentSnapshot.objects.filter(task=task).count() == 1


@pytest.fixture
def btrfs_pair(btrfs_factory):
    runner = LocalRunner()
    src_mnt, dst_mnt = btrfs_factory("calysrc", 512 << 20), btrfs_factory("calydst", 512 << 20)
    runner.run(["btrfs", "subvolume", "create", f"{src_mnt}/home"])
    src, dst = register_btrfs_pool(src_mnt, runner=runner), register_btrfs_pool(dst_mnt, runner=runner)
    return runner, Dataset.objects.get(pool=src, name=f"{src.name}/home"), dst


def test_btrfs_full_then_incremental_and_the_received_copies_match(btrfs_pair, admin_user):
    runner, source, dst = btrfs_pair
    home = Path(source.mountpoint)
    _write(home, {"notes.txt": b"hello\n" * 500, "photos/p1.raw": os.urandom(200_000)})
    target = services.TARGETS.create(name="usb", pool=dst, path="replicas")
    task = services.TASKS.create(name="home", source=source, target=target, keep_source=1, keep_target=2)

    job = _run(task, runner)
    assert job.state == JobState.SUCCEEDED, (job.error, list(job.log_entries.values_list("message", flat=True)))
    first = job.result["snapshot"]
    received = Path(dst.mountpoint, "replicas", "home", f"home@{first}")
    assert _same_tree(home, received)
    shown = subprocess.run(["btrfs", "subvolume", "show", str(received)], capture_output=True, text=True).stdout
    sent = SentSnapshot.objects.get(task=task, snapshot=first)
    assert sent.verified and sent.target_guid == sent.source_guid and sent.source_guid in shown

    _write(home, {"photos/p2.raw": os.urandom(100_000)})
    (home / "notes.txt").unlink()
    job = _run(task, runner)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result["kind"] == "incremental" and job.result["base"] == first
    second = Path(dst.mountpoint, "replicas", "home", f"home@{job.result['snapshot']}")
    assert _same_tree(home, second)
    assert received.exists()  # keep_target 2: both copies; keep_source 1: only the newest (the base) on the source
    assert [s.short_name for s in Snapshot.objects.filter(dataset__pool=source.pool)] == [
        f"home@{job.result['snapshot']}"]
    drill = run_job(services.start_drill(task).pk, runner=runner)
    assert drill.state == JobState.SUCCEEDED, (drill.error, list(drill.log_entries.values_list("message", flat=True)))
    assert drill.result["compared_files"] >= 2
    assert not [p for p in Path(source.pool.mountpoint).iterdir() if p.name.startswith("calypso-drill")]


def test_zfs_a_stream_cut_midway_leaves_nothing_and_the_next_run_succeeds(zfs_pair, admin_user):
    """What a worker killed mid-stream leaves: a receive that got part of the stream (zfs receive without -s
    is atomic: nothing); the next run sends in full and verifies."""
    runner, source, dst = zfs_pair
    _write(Path(source.mountpoint), {"big.bin": os.urandom(2_000_000)})
    target = services.TARGETS.create(name="second", pool=dst)
    task = services.TASKS.create(name="data", source=source, target=target)
    replica = f"{dst.name}/{source.name.replace('/', '_')}"
    subprocess.run(["zfs", "snapshot", f"{source.name}@{task.snapshot_prefix}20261201T000000000000Z"], check=True)
    send = subprocess.Popen(["zfs", "send", f"{source.name}@{task.snapshot_prefix}20261201T000000000000Z"],
                            stdout=subprocess.PIPE)
    cut = subprocess.run(["zfs", "receive", "-u", replica], input=send.stdout.read(500_000), capture_output=True)
    send.kill()
    send.wait()
    assert cut.returncode != 0
    assert subprocess.run(["zfs", "list", replica], capture_output=True).returncode != 0  # nothing looks complete

    job = _run(task, runner)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result["kind"] == "full" and job.result["verified"]


def test_btrfs_an_unfinished_receive_never_counts_and_is_removed_by_the_next_run(btrfs_pair, admin_user):
    runner, source, dst = btrfs_pair
    _write(Path(source.mountpoint), {"big.bin": os.urandom(3_000_000)})
    target = services.TARGETS.create(name="usb", pool=dst)
    task = services.TASKS.create(name="home", source=source, target=target)
    snap = f"{source.pool.mountpoint}/home@{task.snapshot_prefix}20261201T000000000000Z"
    runner.run(["btrfs", "subvolume", "snapshot", "-r", source.mountpoint, snap])
    replica_dir = Path(dst.mountpoint, "home")
    replica_dir.mkdir()
    send = subprocess.Popen(["btrfs", "send", snap], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    cut = subprocess.run(["btrfs", "receive", str(replica_dir)], input=send.stdout.read(1_000_000),
                         capture_output=True)
    send.kill()
    send.wait()
    partial = replica_dir / Path(snap).name
    assert cut.returncode != 0 and partial.exists()  # a half-filled, writable subvolume is left behind
    assert services.retention_dry_run(task, runner=runner)["base"] is None  # it is not a copy

    job = _run(task, runner)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result["kind"] == "full"
    assert not partial.exists()
    assert any(f"Removed {partial}" in m for m in job.log_entries.values_list("message", flat=True))
    assert _same_tree(Path(source.mountpoint), replica_dir / f"home@{job.result['snapshot']}")
