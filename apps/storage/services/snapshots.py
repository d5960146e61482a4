"""Snapshots: create (recursive), destroy in bulk, rollback, clone, hold and release."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from django.utils.translation import gettext as _

from apps.core import validators as v
from apps.core.errors import ServiceError
from apps.core.runner import Runner

from .. import sync
from ..backends import get_btrfs_backend, get_zfs_backend
from ..choices import Backend
from ..models import Dataset, Snapshot
from . import _common
from ._common import _acting, _check, _clean_properties, _dataset_name, _require_present, _require_zfs

__all__ = [
    "clone_snapshot",
    "create_snapshot",
    "destroy_snapshots",
    "hold_snapshot",
    "release_snapshot",
    "rollback_snapshot",
]


def _btrfs_snapshot_path(dataset: Dataset, short_name: str) -> str:
    source = dataset.relative_path
    if not source:
        return f"root@{short_name}"
    parent = PurePosixPath(source).parent
    target = f"{PurePosixPath(source).name}@{short_name}"
    return target if str(parent) == "." else f"{parent}/{target}"


def create_snapshot(dataset: Dataset, short_name: str, *, recursive: bool = False, actor=None,
                    source: str | None = None, runner: Runner | None = None) -> Snapshot:
    """Snapshot a dataset (ZFS: atomically with its descendants when ``recursive``; Btrfs: read-only,
    beside the source as ``<subvolume>@<name>``)."""
    _check(v.validate_snapshot_name, short_name, "name")
    if "@" in short_name:
        raise ServiceError("invalid", _("Give the snapshot's own name, without the dataset."), field="name")
    pool = dataset.pool
    _require_present(pool)
    runner = _common._runner(runner)
    if pool.backend == Backend.BTRFS:
        if not dataset.relative_path:
            raise ServiceError("unsupported", _("Snapshots of a Btrfs top level are not supported; snapshot a "
                                                "subvolume."))
        target = _btrfs_snapshot_path(dataset, short_name)
        _check(v.validate_btrfs_subvolume_name, target, "name")
        full = f"{pool.name}/{target}"
        with _acting(actor, "storage.snapshot.create", ("storage.snapshot", "", full), source,
                     changes={"name": [None, full]}):
            get_btrfs_backend(runner).snapshot(pool.mountpoint, dataset.relative_path, target)
    else:
        full = f"{dataset.name}@{short_name}"
        if Snapshot.objects.filter(dataset=dataset, name=full).exists():
            raise ServiceError("exists", _("%(n)s already exists.") % {"n": full}, field="name")
        with _acting(actor, "storage.snapshot.create", ("storage.snapshot", "", full), source,
                     changes={"name": [None, full], "recursive": [None, recursive]}):
            get_zfs_backend(runner).create_snapshot(dataset.name, short_name, recursive=recursive)
    sync.refresh_pool_contents(runner, pool, root=dataset.name)
    snap = Snapshot.objects.filter(dataset=dataset, name=full).first()
    if snap is None:
        raise ServiceError("not_found", _("The snapshot was taken but is not listed yet; sync again."))
    return snap


def destroy_snapshots(snapshots: Iterable[Snapshot], *, actor=None, source: str | None = None,
                      runner: Runner | None = None) -> int:
    """Destroy snapshots (grouped per dataset: one command per batch on OpenZFS). Returns the count."""
    runner = _common._runner(runner)
    by_dataset: dict[int, list[Snapshot]] = {}
    for snap in snapshots:
        by_dataset.setdefault(snap.dataset_id, []).append(snap)
    done = 0
    for snaps in by_dataset.values():
        dataset = snaps[0].dataset
        pool = dataset.pool
        names = [s.name for s in snaps]
        with _acting(actor, "storage.snapshot.delete", dataset, source, changes={"snapshots": [names, None]},
                     message=f"{len(names)} snapshots"):
            if pool.backend == Backend.BTRFS:
                backend = get_btrfs_backend(runner)
                for snap in snaps:
                    backend.delete_subvolume(pool.mountpoint, snap.relative_path)
            else:
                get_zfs_backend(runner).destroy_snapshots(dataset.name, [s.short_name for s in snaps])
        Snapshot.objects.filter(pk__in=[s.pk for s in snaps]).delete()
        done += len(snaps)
    return done


def rollback_snapshot(snapshot: Snapshot, *, confirm: str, destroy_newer: bool = False, actor=None,
                      source: str | None = None, runner: Runner | None = None) -> Snapshot:
    """Roll a dataset back to ``snapshot``; refuses while newer snapshots exist unless ``destroy_newer``."""
    dataset = snapshot.dataset
    _require_zfs(dataset.pool, _("Rollback"))
    if confirm != snapshot.name:
        raise ServiceError("confirm", _("Type the snapshot name (%(n)s) to confirm.") % {"n": snapshot.name},
                           field="confirm")
    newer = list(Snapshot.objects.newer_than(snapshot).values_list("name", flat=True)[:20])
    if newer and not destroy_newer:
        raise ServiceError("newer_snapshots", _(
            "Newer snapshots exist (%(names)s); rolling back destroys them: set destroy_newer to proceed.") % {
            "names": ", ".join(newer)}, field="destroy_newer", status=409, extra={"newer": newer})
    runner = _common._runner(runner)
    with _acting(actor, "storage.snapshot.rollback", snapshot, source,
                 changes={"destroy_newer": [None, destroy_newer], "destroyed": [newer, None]}):
        get_zfs_backend(runner).rollback(snapshot.name, destroy_newer=destroy_newer)
    sync.refresh_pool_contents(runner, dataset.pool, root=dataset.name)
    return snapshot


def clone_snapshot(snapshot: Snapshot, target: str, *, properties: Mapping[str, Any] | None = None, actor=None,
                   source: str | None = None, runner: Runner | None = None) -> Dataset:
    """Create a writable filesystem from a snapshot, in the same pool."""
    pool = snapshot.dataset.pool
    _require_zfs(pool, _("Cloning"))
    _dataset_name(pool, target, "target")
    props = _clean_properties(properties or {})
    runner = _common._runner(runner)
    with _acting(actor, "storage.snapshot.clone", snapshot, source, changes={"target": [None, target]}):
        get_zfs_backend(runner).clone(snapshot.name, target, props)
    sync.refresh_pool_contents(runner, pool, root=target)
    return Dataset.objects.get(pool=pool, name=target)


def _hold_op(snapshot: Snapshot, tag: str, verb: str, recursive: bool, actor, source, runner) -> Snapshot:
    _require_zfs(snapshot.dataset.pool, _("Holds"))
    _check(v.validate_safe_name, tag, "tag")
    backend = get_zfs_backend(_common._runner(runner))
    with _acting(actor, f"storage.snapshot.{verb}", snapshot, source, changes={"tag": [None, tag]}):
        getattr(backend, verb)(snapshot.name, tag, recursive=recursive)
    holds = [h for h in snapshot.holds if h != tag] + ([tag] if verb == "hold" else [])
    Snapshot.objects.filter(pk=snapshot.pk).update(holds=holds, userrefs=len(holds))
    snapshot.holds, snapshot.userrefs = holds, len(holds)
    return snapshot


def hold_snapshot(snapshot: Snapshot, tag: str, *, recursive: bool = False, actor=None, source: str | None = None,
                  runner: Runner | None = None) -> Snapshot:
    """Put a named hold on a snapshot: it cannot be destroyed until released."""
    return _hold_op(snapshot, tag, "hold", recursive, actor, source, runner)


def release_snapshot(snapshot: Snapshot, tag: str, *, recursive: bool = False, actor=None,
                     source: str | None = None, runner: Runner | None = None) -> Snapshot:
    """Remove a named hold from a snapshot."""
    return _hold_op(snapshot, tag, "release", recursive, actor, source, runner)
