"""Reconcile the inventory tables with what the host reports, and watch pool health.

One listing per object type (pools, datasets, snapshots), then dict lookups and bulk writes: no
query per row, so 10,000 snapshots cost a handful of queries. Vanished pools and datasets are
marked gone (they may come back on import); vanished snapshots are deleted (they never come back).

A pool whose output cannot be read (or whose tool fails) does not stop the others: it gets a
``sync_failed`` event, keeps its rows as they were, and every other pool is reconciled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.choices import AuditSource
from apps.core.runner import Runner

from .backends import get_backend, get_zfs_backend
from .backends.base import BackendError, DatasetInfo, PoolInfo, SnapshotInfo, VdevInfo
from .backends.pools import leaves
from .choices import Backend, DatasetKind, EventKind, EventSeverity, PoolHealth, ScanState, VdevState
from .models import Dataset, Pool, Snapshot, StorageEvent, Vdev

__all__ = [
    "SyncResult",
    "apply_pool_info",
    "forget_datasets",
    "mark_pool_gone",
    "reconcile",
    "refresh_pool_contents",
    "sync_all",
    "sync_btrfs",
    "sync_zfs",
    "sync_zfs_pool",
]

log = logging.getLogger("calypso.storage.sync")
BATCH = 2000
CAPACITY_THRESHOLDS = ((90, EventKind.CAPACITY_90, EventSeverity.CRITICAL),
                       (80, EventKind.CAPACITY_80, EventSeverity.WARNING))
_BAD_HEALTH = {PoolHealth.FAULTED, PoolHealth.UNAVAIL, PoolHealth.REMOVED, PoolHealth.SUSPENDED}


@dataclass
class SyncResult:
    created: dict[str, int] = field(default_factory=lambda: {"pools": 0, "datasets": 0, "snapshots": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"pools": 0, "datasets": 0, "snapshots": 0})
    gone: dict[str, int] = field(default_factory=lambda: {"pools": 0, "datasets": 0, "snapshots": 0})
    events: list[StorageEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: SyncResult) -> SyncResult:
        for mine, theirs in ((self.created, other.created), (self.updated, other.updated), (self.gone, other.gone)):
            for k, v in theirs.items():
                mine[k] += v
        self.events += other.events
        self.errors += other.errors
        return self

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "gone": self.gone,
                "events": [e.kind for e in self.events], "errors": self.errors}


# ------------------------------------------------------------------ entry points
def sync_zfs(runner: Runner) -> SyncResult:
    """Read every ZFS pool, dataset and snapshot (three listings) and reconcile the tables; when a listing
    fails, read the pools one by one so that only the pool at fault is left out."""
    backend = get_zfs_backend(runner)
    try:
        pools = backend.list_pools()
        datasets = backend.list_datasets() if pools else []
        snapshots = backend.list_snapshots() if pools else []
    except BackendError as exc:
        if exc.returncode == 127:  # no ZFS on this host: nothing to read pool by pool
            raise
        log.warning("storage sync zfs: %s; reading the pools one by one", exc)
        return _sync_zfs_pool_by_pool(backend)
    return reconcile(Backend.ZFS, pools, datasets, snapshots)


def _sync_zfs_pool_by_pool(backend) -> SyncResult:
    names = backend.pool_names()
    infos, datasets, snapshots, failed = [], [], [], {}
    for name in names:
        try:
            info = backend.list_pools(name)
            subs, snaps = backend.list_datasets(name), backend.list_snapshots(name)
        except BackendError as exc:
            failed[name] = exc
            continue
        infos += info
        datasets += subs
        snapshots += snaps
    known = set(Pool.objects.filter(backend=Backend.ZFS).values_list("name", flat=True))
    scope = (known | set(names)) - set(failed)
    result = reconcile(Backend.ZFS, infos, datasets, snapshots, scope=scope)
    for name, exc in failed.items():
        _sync_failed(Backend.ZFS, name, exc, result)
    return result


def sync_btrfs(runner: Runner, pools: Iterable[Pool] | None = None) -> SyncResult:
    """Re-read the registered Btrfs filesystems through their mountpoints, each on its own: one that cannot
    be read gets an event and keeps its rows, the others are reconciled."""
    rows = list(pools if pools is not None else Pool.objects.btrfs())
    infos, datasets, snapshots, failed = [], [], [], {}
    for pool in rows:
        backend = get_backend(pool, runner)
        try:
            info, subs, snaps = backend.info(), backend.list_datasets(), backend.list_snapshots()
        except BackendError as exc:
            failed[pool.name] = exc
            continue
        infos.append(info)
        datasets += subs
        snapshots += snaps
    scope = {p.name for p in rows} - set(failed)
    result = reconcile(Backend.BTRFS, infos, datasets, snapshots, scope=scope)
    for name, exc in failed.items():
        _sync_failed(Backend.BTRFS, name, exc, result)
    return result


def _sync_failed(backend: str, name: str, exc: BackendError, result: SyncResult) -> None:
    """Note a pool that could not be read: an error in the result, and a ``sync_failed`` event on its row
    unless the same failure is already on record and not yet acknowledged."""
    message = f"Pool {name} could not be read: {getattr(exc, 'message', '') or exc}"[:4000]
    result.errors.append(f"{name}: {exc}")
    pool = Pool.objects.filter(backend=backend, name=name).first()
    open_events = StorageEvent.objects.filter(kind=EventKind.SYNC_FAILED, acknowledged=False, message=message)
    if open_events.filter(pool=pool, details__pool=name).exists():
        return
    details = {"pool": name, "backend": backend, "error": type(exc).__name__,
               "command": getattr(exc, "command", "") or " ".join(exc.argv)}
    result.events.append(_event(pool, EventKind.SYNC_FAILED, EventSeverity.WARNING, message, details))


def sync_all(runner: Runner) -> SyncResult:
    """ZFS and Btrfs; a backend that is not installed is skipped with its error noted."""
    result = SyncResult()
    try:
        result.merge(sync_zfs(runner))
    except (BackendError, OSError) as exc:
        result.errors.append(f"zfs: {exc}")
    if Pool.objects.btrfs().exists():
        result.merge(sync_btrfs(runner))
    return result


def sync_zfs_pool(runner: Runner, name: str) -> SyncResult:
    """After a pool-level change (create, import, add vdevs): that pool, its datasets and snapshots."""
    backend = get_zfs_backend(runner)
    pools = [p for p in backend.list_pools() if p.name == name]
    datasets = backend.list_datasets(name) if pools else []
    snapshots = backend.list_snapshots(name) if pools else []
    return reconcile(Backend.ZFS, pools, datasets, snapshots, scope={name})


def refresh_pool_contents(runner: Runner, pool: Pool, root: str | None = None) -> SyncResult:
    """After a change inside one pool: re-list the datasets and snapshots under ``root`` (default:
    the whole pool) and reconcile only the rows under it."""
    backend = get_backend(pool, runner)
    datasets = backend.list_datasets(root)
    snapshots = backend.list_snapshots(root)
    result = SyncResult()
    with transaction.atomic():
        pools = {pool.name: pool}
        _reconcile_datasets(pools, datasets, result, timezone.now(), root=root)
        _reconcile_snapshots(pools, snapshots, result, root=root)
    return result


def forget_datasets(dataset: Dataset) -> None:
    """Drop the rows of a destroyed dataset, its descendants and their snapshots."""
    Dataset.objects.filter(_under(dataset.name), pool_id=dataset.pool_id).delete()


def _under(root: str | None, field: str = "name") -> Q:
    if root is None:
        return Q()
    return Q(**{field: root}) | Q(**{f"{field}__startswith": f"{root}/"}) | Q(**{f"{field}__startswith": f"{root}@"})


# ------------------------------------------------------------------ reconcile
def reconcile(backend: str, pools: Sequence[PoolInfo], datasets: Sequence[DatasetInfo],
              snapshots: Sequence[SnapshotInfo], *, scope: set[str] | None = None) -> SyncResult:
    """Make the tables match the listings. ``scope``: the pool names this listing covers (None: all
    pools of ``backend``); pools in scope and not listed are marked gone."""
    result = SyncResult()
    now = timezone.now()
    with transaction.atomic():
        rows = _reconcile_pools(backend, pools, result, now, scope)
        _reconcile_datasets(rows, datasets, result, now)
        _reconcile_snapshots(rows, snapshots, result)
    log.info("storage sync %s: %s", backend, result.as_dict())
    return result


def _reconcile_pools(backend: str, infos: Sequence[PoolInfo], result: SyncResult, now,
                     scope: set[str] | None) -> dict[str, Pool]:
    existing = {p.name: p for p in Pool.objects.filter(backend=backend)}
    seen: dict[str, Pool] = {}
    for info in infos:
        pool = existing.get(info.name)
        if pool is None:
            pool = Pool(backend=backend, name=info.name)
            result.created["pools"] += 1
        else:
            result.updated["pools"] += 1
        result.events += apply_pool_info(pool, info, now=now)
        seen[info.name] = pool
    for name, pool in existing.items():
        if name in seen or pool.gone or (scope is not None and name not in scope):
            continue
        mark_pool_gone(pool)
        result.gone["pools"] += 1
        result.events.append(_event(pool, EventKind.POOL_GONE, EventSeverity.WARNING,
                                    f"Pool {name} is no longer reported by the host (exported or lost).", {}))
    return seen


def mark_pool_gone(pool: Pool) -> None:
    """A pool no longer on this host (exported, renamed, lost): its rows stay, and say nothing about its health
    or its devices any more (unknown) until it is seen again."""
    pool.gone, pool.health = True, PoolHealth.UNKNOWN
    pool.save(update_fields=["gone", "health", "updated"])
    Vdev.objects.filter(pool=pool).update(state=VdevState.UNKNOWN)


def apply_pool_info(pool: Pool, info: PoolInfo, *, now=None) -> list[StorageEvent]:
    """Write one pool's observed state (from a listing or from `zpool status`) and raise health events."""
    now = now or timezone.now()
    before = _watched(pool) if pool.pk and not pool.gone else None
    for attr, value in (("size_bytes", info.size_bytes), ("allocated_bytes", info.allocated_bytes),
                        ("free_bytes", info.free_bytes), ("fragmentation_percent", info.fragmentation_percent),
                        ("capacity_percent", info.capacity_percent), ("dedup_ratio", info.dedup_ratio)):
        if value is not None:  # `zpool status` has no sizes: keep the listed ones
            setattr(pool, attr, value)
    if info.guid:
        pool.guid = info.guid
    if info.mountpoint:
        pool.mountpoint = info.mountpoint
    pool.health = info.health if info.health in PoolHealth.values else PoolHealth.UNKNOWN
    scan = info.scan
    # A cancelled scan tells no percent (zpool status shows none): the last one read stays.
    keep = scan.state == ScanState.CANCELED and not scan.percent and pool.scan_function == scan.function and \
        pool.scan_state in (ScanState.SCANNING, ScanState.PAUSED, ScanState.CANCELED)
    pool.scan_function, pool.scan_state = scan.function, scan.state
    pool.scan_percent, pool.scan_errors = pool.scan_percent if keep else scan.percent, scan.errors
    pool.scan_finished_at, pool.scan_text = scan.finished_at, scan.text
    pool.status_text, pool.errors_text = info.status_text, info.errors_text
    if info.vdevs:
        pool.checksum_errors = sum(v.checksum_errors for v in leaves(info.vdevs))
    pool.extra = info.extra or {}
    pool.gone, pool.last_seen = False, now
    pool.save()
    if info.vdevs:
        _replace_vdevs(pool, info.vdevs)
    return _watch(pool, before) if before is not None else []


def _replace_vdevs(pool: Pool, vdevs: Sequence[VdevInfo]) -> None:
    """The tree is small and changes shape (replacing-0, spares): rewrite it, one bulk insert per level."""
    Vdev.objects.filter(pool=pool).delete()
    level: list[tuple[Vdev | None, VdevInfo]] = [(None, v) for v in vdevs]
    position = 0
    while level:
        rows = []
        for parent, info in level:
            rows.append(Vdev(pool=pool, parent=parent, name=info.name[:1024], kind=info.kind[:16], role=info.role,
                             state=info.state[:16], read_errors=info.read_errors, write_errors=info.write_errors,
                             checksum_errors=info.checksum_errors, note=info.note[:255], position=position))
            position += 1
        created = Vdev.objects.bulk_create(rows)
        level = [(row, child) for row, (_, info) in zip(created, level, strict=True) for child in info.children]


# ------------------------------------------------------------------ health watch
def _watched(pool: Pool) -> dict:
    return {"health": pool.health, "checksum_errors": pool.checksum_errors, "scan_state": pool.scan_state,
            "scan_finished_at": pool.scan_finished_at, "capacity": pool.capacity_percent}


def _watch(pool: Pool, before: dict) -> list[StorageEvent]:
    """Compare the old and new state of a pool; one event (and audit record) per change worth a look."""
    events = []
    if before["health"] != pool.health and before["health"] != PoolHealth.UNKNOWN:
        severity = (EventSeverity.INFO if pool.health == PoolHealth.ONLINE else
                    EventSeverity.CRITICAL if pool.health in _BAD_HEALTH else EventSeverity.WARNING)
        events.append(_event(pool, EventKind.HEALTH_CHANGED, severity,
                             f"Pool {pool.name} went from {before['health']} to {pool.health}.",
                             {"from": before["health"], "to": pool.health, "status": pool.status_text}))
    if pool.checksum_errors > before["checksum_errors"]:
        new = pool.checksum_errors - before["checksum_errors"]
        events.append(_event(pool, EventKind.CHECKSUM_ERRORS, EventSeverity.WARNING,
                             f"Pool {pool.name}: {new} new checksum errors ({pool.checksum_errors} in all).",
                             {"before": before["checksum_errors"], "after": pool.checksum_errors}))
    scrub_ended = pool.scan_state == ScanState.FINISHED and (
        before["scan_state"] != ScanState.FINISHED or before["scan_finished_at"] != pool.scan_finished_at)
    if scrub_ended and pool.scan_errors:
        events.append(_event(pool, EventKind.SCRUB_ERRORS, EventSeverity.CRITICAL,
                             f"The {pool.scan_function} of pool {pool.name} finished with {pool.scan_errors} errors.",
                             {"errors": pool.scan_errors, "function": pool.scan_function}))
    old_cap, new_cap = before["capacity"] or 0, pool.capacity_percent or 0
    for threshold, kind, severity in CAPACITY_THRESHOLDS:
        if old_cap < threshold <= new_cap:
            events.append(_event(pool, kind, severity, f"Pool {pool.name} is {new_cap} % full.",
                                 {"before": old_cap, "after": new_cap}))
            break  # crossing 90 says enough
    return events


def _event(pool: Pool | None, kind: str, severity: str, message: str, details: dict) -> StorageEvent:
    event = StorageEvent.objects.create(pool=pool, kind=kind, severity=severity, message=message, details=details)
    audit.record(None, f"storage.pool.{kind}", pool, message=message, source=AuditSource.SYSTEM,
                 outcome="ok" if severity == EventSeverity.INFO else "failed")
    log.warning("storage event %s on %s: %s", kind, pool.name if pool else details.get("pool", "?"), message)
    return event


# ------------------------------------------------------------------ datasets
_DS_FIELDS = ("kind", "used_bytes", "available_bytes", "referenced_bytes", "mountpoint", "properties", "extra")


def _dataset_values(info: DatasetInfo) -> tuple:
    props = {k: {"value": v.value, "source": v.source} for k, v in info.properties.items()}
    kind = info.kind if info.kind in DatasetKind.values else DatasetKind.FILESYSTEM
    return (kind, info.used_bytes, info.available_bytes, info.referenced_bytes, info.mountpoint[:4096], props,
            info.extra or {})


def _reconcile_datasets(pools: dict[str, Pool], infos: Sequence[DatasetInfo], result: SyncResult, now,
                        root: str | None = None) -> None:
    pool_ids = [p.pk for p in pools.values()]
    existing = {(pool_id, name): (pk, gone, tuple(rest)) for pk, pool_id, name, gone, *rest in
                Dataset.objects.filter(_under(root), pool_id__in=pool_ids).values_list("pk", "pool_id", "name", "gone", *_DS_FIELDS)}
    to_create, to_update, present = [], [], []
    for info in infos:
        pool = pools.get(info.pool)
        if pool is None:
            continue
        values = _dataset_values(info)
        row = existing.get((pool.pk, info.name))
        if row is None:
            to_create.append(Dataset(pool=pool, name=info.name, last_seen=now, **dict(zip(_DS_FIELDS, values,
                                                                                         strict=True))))
            continue
        pk, gone, old = row
        present.append(pk)
        if gone or old != values:
            to_update.append(Dataset(pk=pk, gone=False, last_seen=now, updated=now,
                                     **dict(zip(_DS_FIELDS, values, strict=True))))
    Dataset.objects.bulk_create(to_create, batch_size=BATCH)
    Dataset.objects.bulk_update(to_update, [*_DS_FIELDS, "gone", "last_seen", "updated"], batch_size=500)
    listed = {(pools[i.pool].pk, i.name) for i in infos if i.pool in pools}
    vanished = [row[0] for key, row in existing.items() if key not in listed and not row[1]]
    if present:
        Dataset.objects.filter(pk__in=present).update(last_seen=now)
    if vanished:
        Dataset.objects.filter(pk__in=vanished).update(gone=True, updated=now)
        Snapshot.objects.filter(dataset_id__in=vanished).delete()
    result.created["datasets"] += len(to_create)
    result.updated["datasets"] += len(to_update)
    result.gone["datasets"] += len(vanished)


# ------------------------------------------------------------------ snapshots
_SNAP_FIELDS = ("short_name", "created_at", "used_bytes", "referenced_bytes", "holds", "userrefs", "guid", "extra")


# extra[SAME_SECOND]: a snapshot's place among those of its dataset taken in the same second (1, 2...; absent
# for the first), from the listing order, which is creation (createtxg) order: creation times have seconds only.
SAME_SECOND = "same_second"


def _snapshot_values(info: SnapshotInfo, same_second: int = 0) -> tuple:
    extra = dict(info.extra or {})
    if same_second:
        extra[SAME_SECOND] = same_second
    userrefs = int(extra.pop("userrefs", 0) or 0) or len(info.holds)
    return (info.short_name[:255], info.created_at, info.used_bytes, info.referenced_bytes, list(info.holds),
            userrefs, info.guid, extra)


def _reconcile_snapshots(pools: dict[str, Pool], infos: Sequence[SnapshotInfo], result: SyncResult,
                         root: str | None = None) -> None:
    pool_ids = [p.pk for p in pools.values()]
    datasets = {(pool_id, name): pk for pk, pool_id, name in
                Dataset.objects.filter(pool_id__in=pool_ids, gone=False).values_list("pk", "pool_id", "name")}
    existing = {(ds, name): (pk, tuple(rest)) for pk, ds, name, *rest in
                Snapshot.objects.filter(_under(root), dataset__pool_id__in=pool_ids).values_list("pk", "dataset_id", "name",
                                                                                     *_SNAP_FIELDS)}
    to_create, to_update, listed = [], [], set()
    seconds: dict[tuple, int] = {}  # (dataset, creation second) -> snapshots listed so far
    for info in infos:
        pool = pools.get(info.name.split("/")[0].split("@")[0])
        ds = datasets.get((pool.pk, info.dataset)) if pool else None
        if ds is None:
            continue
        key = (ds, info.name)
        listed.add(key)
        same_second = seconds[(ds, info.created_at)] = seconds.get((ds, info.created_at), -1) + 1
        values = _snapshot_values(info, same_second if info.created_at else 0)
        row = existing.get(key)
        if row is None:
            to_create.append({"dataset_id": ds, "name": info.name, **dict(zip(_SNAP_FIELDS, values, strict=True))})
        elif row[1] != values:
            to_update.append(Snapshot(pk=row[0], **dict(zip(_SNAP_FIELDS, values, strict=True))))
    _insert_rows(Snapshot, to_create)
    Snapshot.objects.bulk_update(to_update, list(_SNAP_FIELDS), batch_size=500)
    vanished = [row[0] for key, row in existing.items() if key not in listed]
    for i in range(0, len(vanished), 5000):
        Snapshot.objects.filter(pk__in=vanished[i:i + 5000]).delete()
    result.created["snapshots"] += len(to_create)
    result.updated["snapshots"] += len(to_update)
    result.gone["snapshots"] += len(vanished)


# ------------------------------------------------------------------ bulk insert
def _insert_rows(model: type[models.Model], rows: list[dict]) -> None:
    """Insert new rows given as ``{attname: value}`` dicts; fields left out take their defaults.

    On PostgreSQL this streams them with COPY: for the first sync of 10,000 snapshots
    ``bulk_create`` spends about 1.1 s (the ORM preparing 120,000 values one by one), COPY about
    0.3 s. Elsewhere (SQLite in development) it falls back to ``bulk_create``.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=BATCH)
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = []  # (attname, default, JSON encoder or None, auto_now)
    for f in fields:
        auto_now = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        encoder = (f.encoder or json.JSONEncoder) if isinstance(f, models.JSONField) else None
        columns.append((f.attname, now if auto_now else f.get_default(), encoder, auto_now))
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            values = []
            for attname, default, encoder, auto_now in columns:
                value = default if auto_now else row.get(attname, default)
                values.append(json.dumps(value, cls=encoder) if encoder and value is not None else value)
            copy.write_row(values)
