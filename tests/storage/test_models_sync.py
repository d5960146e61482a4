"""Inventory sync from recorded zfs-fuse output: rows created, updated, marked gone; health events."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.storage import sync
from apps.storage.backends.base import PoolInfo, ScanProgress, SnapshotInfo, VdevInfo
from apps.storage.models import Dataset, Pool, Snapshot, StorageEvent, Vdev

from .recordings import degraded_status, fuse_sync_runner, recorded


@pytest.mark.django_db
def test_first_sync_creates_pools_datasets_snapshots_and_vdev_tree():
    result = sync.sync_zfs(fuse_sync_runner())
    assert result.created == {"pools": 2, "datasets": 4, "snapshots": 4}
    tank = Pool.objects.get(name="zrectank")
    assert tank.health == "ONLINE" and tank.backend == "zfs" and tank.size_bytes > 100 * 1024**2
    assert tank.guid == "341026144811518982" and tank.last_seen and not tank.gone
    root = Vdev.objects.get(pool=tank, parent=None)
    assert root.kind == "mirror" and root.children.count() == 2
    data = Dataset.objects.get(name="zrectank/data")
    assert data.properties["compression"]["source"] in ("local", "default", "inherited from zrectank")
    assert set(Snapshot.objects.filter(dataset=data).values_list("short_name", flat=True)) == {"c2", "c3", "s1"}
    snap = Snapshot.objects.get(name="zrectank/home@s1")
    assert snap.created_at.tzinfo is not None and snap.used_bytes is not None
    assert StorageEvent.objects.count() == 0  # a first sighting is not a change


@pytest.mark.django_db
def test_second_sync_changes_nothing_and_runs_few_queries(django_assert_max_num_queries):
    sync.sync_zfs(fuse_sync_runner())
    with django_assert_max_num_queries(30):
        result = sync.sync_zfs(fuse_sync_runner())
    assert result.created == {"pools": 0, "datasets": 0, "snapshots": 0}
    assert result.updated["datasets"] == 0 and result.updated["snapshots"] == 0


@pytest.mark.django_db
def test_vanished_pool_and_datasets_are_marked_gone_snapshots_deleted():
    sync.sync_zfs(fuse_sync_runner())
    only_big = "\n".join(line for line in recorded("zpool_list.txt").splitlines() if line.startswith("zrecbig"))
    runner = fuse_sync_runner(pools=only_big + "\n")
    runner.recordings[tuple(["zfs", "get", "-H", "-o", "name,value", "mountpoint", "zrecbig"])] = \
        runner.recordings.pop(("zfs", "get", "-H", "-o", "name,value", "mountpoint", "zrecbig"))
    result = sync.sync_zfs(runner)
    tank = Pool.objects.get(name="zrectank")
    assert tank.gone and result.gone["pools"] == 1
    assert tank.health == "UNKNOWN" and set(tank.vdevs.values_list("state", flat=True)) == {"UNKNOWN"}
    assert StorageEvent.objects.filter(pool=tank, kind="pool_gone").exists()
    # The listing still shows zrectank's datasets (replayed), so they stay; a listing without them marks them gone.
    sync.reconcile("zfs", [], [], [], scope=set())
    assert Dataset.objects.filter(gone=False).count() == 4


@pytest.mark.django_db
def test_pool_going_degraded_raises_event_and_audit():
    sync.sync_zfs(fuse_sync_runner())
    tank = Pool.objects.get(name="zrectank")
    status = recorded("zpool_status_all.txt")
    big_block = status[: status.index("  pool: zrectank")]
    pools = recorded("zpool_list.txt").replace("0%\t1.00x\tONLINE\t341026", "0%\t1.00x\tDEGRADED\t341026")
    sync.sync_zfs(fuse_sync_runner(pools=pools, status=big_block + degraded_status().lstrip("\n")))
    tank.refresh_from_db()
    assert tank.health == "DEGRADED"
    event = StorageEvent.objects.get(pool=tank, kind="health_changed")
    assert event.severity == "warning" and "ONLINE to DEGRADED" in event.message
    assert AuditEvent.objects.filter(action="storage.pool.health_changed", object_id=str(tank.pk)).exists()
    offline = Vdev.objects.get(pool=tank, name="/tmp/zrec/b.img")
    assert offline.state == "OFFLINE"


def _info(name="tank", health="ONLINE", capacity=10, checksum=0, scan=None) -> PoolInfo:
    leaf = VdevInfo("/d/a.img", "file", "ONLINE", checksum_errors=checksum)
    return PoolInfo(name=name, backend="zfs", health=health, capacity_percent=capacity, size_bytes=100,
                    scan=scan or ScanProgress(), vdevs=(VdevInfo("mirror-0", "mirror", "ONLINE", children=(leaf,)),))


@pytest.mark.django_db
def test_checksum_scrub_and_capacity_events():
    sync.reconcile("zfs", [_info()], [], [])
    finished = ScanProgress("scrub", "finished", 100.0, errors=3, finished_at=datetime(2026, 1, 1, tzinfo=UTC))
    sync.reconcile("zfs", [_info(capacity=85, checksum=750, scan=finished)], [], [])
    kinds = set(StorageEvent.objects.values_list("kind", flat=True))
    assert kinds == {"checksum_errors", "scrub_errors", "capacity_80"}
    sync.reconcile("zfs", [_info(capacity=91, checksum=750, scan=finished)], [], [])
    assert StorageEvent.objects.filter(kind="capacity_90", severity="critical").count() == 1
    assert StorageEvent.objects.filter(kind="scrub_errors").count() == 1  # the same scrub is not reported twice


def _insert_statements(rows: list[Snapshot]) -> int:
    """The statements inserting ``rows`` take: one COPY on PostgreSQL; elsewhere ``bulk_create`` batches,
    as many rows per INSERT as the database's parameter limit allows (SQLite: 999 // 12 columns)."""
    if connection.vendor == "postgresql":
        return 1
    fields = [f for f in Snapshot._meta.concrete_fields if not f.primary_key]
    return math.ceil(len(rows) / min(sync.BATCH, connection.ops.bulk_batch_size(fields, rows)))


@pytest.mark.django_db
def test_ten_thousand_snapshots_sync_in_bulk(django_assert_max_num_queries):
    from apps.storage.backends.base import DatasetInfo

    base = datetime(2026, 1, 1, tzinfo=UTC)
    datasets = [DatasetInfo(name=f"tank/d{i}", pool="tank", kind="filesystem") for i in range(10)]
    snaps = [SnapshotInfo(name=f"tank/d{i % 10}@s{i}", dataset=f"tank/d{i % 10}", short_name=f"s{i}",
                          created_at=base + timedelta(minutes=i), used_bytes=i, referenced_bytes=i)
             for i in range(10_000)]
    inserts = _insert_statements([Snapshot() for _ in snaps])
    assert inserts <= len(snaps) // 50  # in bulk: never a statement per snapshot
    started = time.monotonic()
    with django_assert_max_num_queries(59 + inserts):
        sync.reconcile("zfs", [_info()], datasets, snaps)
    first = time.monotonic() - started
    assert Snapshot.objects.count() == 10_000
    changed = [SnapshotInfo(**{**{f: getattr(s, f) for f in s.__slots__}, "used_bytes": 1}) if i < 100 else s
               for i, s in enumerate(snaps[:-500])]
    started = time.monotonic()
    with django_assert_max_num_queries(60):
        result = sync.reconcile("zfs", [_info()], datasets, changed)
    again = time.monotonic() - started
    assert result.updated["snapshots"] == 99 and result.gone["snapshots"] == 500  # s1 already had used 1
    assert Snapshot.objects.count() == 9_500
    assert first < 20 and again < 10


@pytest.mark.django_db
def test_a_device_state_the_parser_does_not_know_is_stored_as_printed_with_its_children():
    status = recorded("zpool_status_all.txt").replace("mirror-0           ONLINE", "mirror-0           UNKNOWN")
    status = status.replace("/tmp/zrec/b.img  ONLINE", "/tmp/zrec/b.img  REBUILDING")
    sync.sync_zfs(fuse_sync_runner(status=status))
    tank = Pool.objects.get(name="zrectank")
    mirror = Vdev.objects.get(pool=tank, parent=None)
    assert (mirror.name, mirror.state) == ("mirror-0", "UNKNOWN")
    assert list(mirror.children.order_by("position").values_list("name", "state")) == [
        ("/tmp/zrec/a.img", "ONLINE"), ("/tmp/zrec/b.img", "REBUILDING")]
