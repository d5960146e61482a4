"""Inventory sync with one pool whose output cannot be read: that pool gets a ``sync_failed`` event and keeps
its rows; every other pool (ZFS and Btrfs alike) is still synced."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from apps.core.runner import ReplayRunner
from apps.storage import sync
from apps.storage.choices import EventKind
from apps.storage.models import Dataset, Pool, StorageEvent, Vdev

from .recordings import POOL_LIST, degraded_status, fuse_sync_runner, recorded, zfs_refresh

BTRFS = Path(__file__).parent / "fixtures" / "btrfs"
HUGE = "9" * 300


# ---------------------------------------------------------------- ZFS
def _status_blocks() -> dict[str, str]:
    text = recorded("zpool_status_all.txt")
    return {m[1]: m[0] for m in re.finditer(r"(?ms)^  pool: (\S+)\n.*?(?=^  pool: |\Z)", text)}


def _unreadable_big() -> str:
    """zrecbig's status with an error count too large to be real."""
    return re.sub(r"(/tmp/zrec/r1\.img\s+ONLINE\s+0\s+0\s+)0", rf"\g<1>{HUGE}", _status_blocks()["zrecbig"])


def _pool_by_pool(runner: ReplayRunner, statuses: dict[str, str]) -> ReplayRunner:
    """The commands a sync reads the pools one by one with, answered from the recordings."""
    listed = {line.split("\t")[0]: line + "\n" for line in recorded("zpool_list.txt").splitlines()}
    runner.add(["zpool", "list", "-H", "-o", "name"], stdout="".join(f"{n}\n" for n in listed))
    for name, line in listed.items():
        runner.add([*POOL_LIST, name], stdout=line)
        runner.add(["zpool", "status", name], stdout=statuses[name])
        runner.add(["zfs", "get", "-H", "-o", "name,value", "mountpoint", name], stdout=f"{name}\t/tmp/zrec/{name}\n")
    zfs_refresh(runner, "zrectank")
    return runner


def _unreadable_zfs_runner() -> ReplayRunner:
    statuses = {"zrecbig": _unreadable_big(), "zrectank": degraded_status()}
    return _pool_by_pool(fuse_sync_runner(status="".join(statuses.values())), statuses)


@pytest.mark.django_db
def test_zfs_pool_that_cannot_be_read_gets_an_event_and_the_others_sync(tank):
    big = Pool.objects.get(name="zrecbig")
    vdevs = list(Vdev.objects.filter(pool=big).values_list("name", "state"))
    datasets = set(Dataset.objects.filter(pool=tank).values_list("name", flat=True))

    result = sync.sync_zfs(_unreadable_zfs_runner())

    tank.refresh_from_db()  # the readable pool was synced: its device went offline
    assert not tank.gone and tank.status_text.startswith("status: One or more devices has been taken offline")
    assert Vdev.objects.filter(pool=tank, state="OFFLINE").exists()
    assert set(Dataset.objects.filter(pool=tank, gone=False).values_list("name", flat=True)) == datasets
    big.refresh_from_db()
    assert not big.gone and big.health == "ONLINE"  # the unreadable one keeps its rows
    assert list(Vdev.objects.filter(pool=big).values_list("name", "state")) == vdevs
    event = StorageEvent.objects.get(kind=EventKind.SYNC_FAILED)
    assert event.pool == big and "zrecbig" in event.message and "`zpool status`" in event.message
    assert event.details["command"] == "zpool status"
    assert [e for e in result.errors if e.startswith("zrecbig")] and event in result.events


@pytest.mark.django_db
def test_a_pool_failing_the_same_way_again_gets_no_second_event(tank):
    sync.sync_zfs(_unreadable_zfs_runner())
    sync.sync_zfs(_unreadable_zfs_runner())
    assert StorageEvent.objects.filter(kind=EventKind.SYNC_FAILED).count() == 1


@pytest.mark.django_db
def test_when_not_even_the_pool_names_can_be_read_no_pool_is_marked_gone(tank):
    runner = fuse_sync_runner(status=_unreadable_big())
    runner.add(["zpool", "list", "-H", "-o", "name"], stderr="internal error: out of memory", returncode=1)
    result = sync.sync_all(runner)
    assert [e for e in result.errors if e.startswith("zfs:") and "out of memory" in e]
    assert Pool.objects.filter(gone=False).count() == 2


# ---------------------------------------------------------------- Btrfs
MNT, OTHER = "/tmp/brec/mnt1", "/tmp/brec/mnt9"
READS = ("fs_show_single", "fs_usage_single", "device_stats_single", "scrub_status_finished",
         "scrub_status_finished_summary", "subvolume_list", "subvolume_list_readonly", "subvolume_list_snapshots",
         "subvolume_show_root", "qgroup_show_off")  # fmt: skip


def _add_btrfs(runner: ReplayRunner, mountpoint: str, label: str, damage: dict[str, Callable]) -> None:
    for name in READS:
        first, _, text = (BTRFS / f"{name}.txt").read_text().partition("\n")
        argv = [mountpoint if a == MNT else a for a in shlex.split(first[2:])]
        text = damage.get(name, lambda t: t)(text.replace("'calyfs'", f"'{label}'"))
        runner.add(argv, stdout=text)


DAMAGES = {
    "usage with a 300-digit size": {"fs_usage_single": lambda t: t.replace("Used:314572800", f"Used:{HUGE}")},
    "truncated scrub status": {"scrub_status_finished_summary": lambda t: t[: t.index(":00:15")]},
    "subvolume list cut short": {"subvolume_list": lambda t: t[: t.index(" path home/alice")]},
    "creation time past 9999": {"subvolume_list_snapshots": lambda t: t.replace("2026-11-24", "12026-11-24", 1)},
}


@pytest.mark.django_db
@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_btrfs_pool_that_cannot_be_read_gets_an_event_and_the_others_sync(damage):
    bad = Pool.objects.create(backend="btrfs", name="calyfs", mountpoint=MNT, health="ONLINE")
    good = Pool.objects.create(backend="btrfs", name="calyother", mountpoint=OTHER)
    runner = ReplayRunner()
    _add_btrfs(runner, MNT, "calyfs", damage)
    _add_btrfs(runner, OTHER, "calyother", {})

    result = sync.sync_btrfs(runner)

    good.refresh_from_db()
    assert good.health == "ONLINE" and good.size_bytes and good.last_seen
    assert Dataset.objects.filter(pool=good, name="calyother/home/alice").exists()
    bad.refresh_from_db()
    assert not bad.gone and bad.last_seen is None and not Dataset.objects.filter(pool=bad).exists()
    event = StorageEvent.objects.get(kind=EventKind.SYNC_FAILED)
    assert event.pool == bad and "calyfs" in event.message and "`btrfs " in event.message
    assert [e for e in result.errors if e.startswith("calyfs")]
