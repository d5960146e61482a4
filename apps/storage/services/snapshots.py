"""Snapshots: create (recursive), destroy (one, many), rollback, clone, hold and release."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext as _

from apps.core import validators as v
from apps.core.errors import BackendError, ServiceError
from apps.core.operations import BulkResult
from apps.core.runner import CommandError, Runner, get_runner

from .. import sync
from ..backends import get_backend
from ..models import Dataset, Snapshot
from .common import check, clean_properties, require_present
from .datasets import dataset_name

__all__ = [
    "bulk_destroy_snapshots",
    "clone_snapshot",
    "create_snapshot",
    "destroy_snapshot",
    "destroy_snapshots",
    "hold_snapshot",
    "release_snapshot",
    "rollback_snapshot",
]


def create_snapshot(dataset: Dataset, name: str, *, recursive: bool = False, actor=None,
                    runner: Runner | None = None) -> Snapshot:
    """Snapshot a dataset (ZFS: atomically with its descendants when ``recursive``; Btrfs: read-only,
    beside the source as ``<subvolume>@<name>``)."""
    check(v.validate_snapshot_name, name, "name")
    if "@" in name:
        raise ServiceError("invalid", _("Give the snapshot's own name, without the dataset."), field="name")
    pool = dataset.pool
    require_present(pool)
    if Snapshot.objects.filter(dataset=dataset, short_name=name).exists():
        raise ServiceError("exists", _("%(d)s@%(n)s already exists.") % {"d": dataset.name, "n": name}, field="name")
    runner = runner or get_runner()
    full = get_backend(pool, runner).create_snapshot(dataset.name, name, recursive=recursive)
    sync.refresh_pool_contents(runner, pool, root=dataset.name)
    snap = Snapshot.objects.filter(dataset=dataset, name=full).first()
    if snap is None:
        raise ServiceError("not_found", _("The snapshot was taken but is not listed yet; sync again."))
    return snap


def _by_dataset(snapshots: Iterable[Snapshot]) -> list[list[Snapshot]]:
    groups: dict[int, list[Snapshot]] = {}
    for snap in snapshots:
        groups.setdefault(snap.dataset_id, []).append(snap)
    return list(groups.values())


def _destroy_group(snaps: list[Snapshot], runner: Runner) -> int:
    """Destroy snapshots of one dataset (one command per batch on OpenZFS) and drop their rows."""
    dataset = snaps[0].dataset
    try:
        get_backend(dataset.pool, runner).destroy_snapshots(dataset.name, [s.name for s in snaps])
    except BackendError:
        # Some may be gone already (one command per snapshot on zfs-fuse): the rows follow the host.
        with contextlib.suppress(BackendError, CommandError):
            sync.refresh_pool_contents(runner, dataset.pool, root=dataset.name)
        raise
    Snapshot.objects.filter(pk__in=[s.pk for s in snaps]).delete()
    return len(snaps)


def destroy_snapshots(snapshots: Iterable[Snapshot], *, actor=None, runner: Runner | None = None) -> int:
    """Destroy snapshots, dataset by dataset; the first refusal stops. Returns the count."""
    runner = runner or get_runner()
    return sum(_destroy_group(snaps, runner) for snaps in _by_dataset(snapshots))


def destroy_snapshot(snapshot: Snapshot, *, actor=None, runner: Runner | None = None) -> None:
    """Destroy one snapshot."""
    destroy_snapshots([snapshot], runner=runner)


def bulk_destroy_snapshots(*, snapshots: Iterable[Snapshot], actor=None, runner: Runner | None = None) -> BulkResult:
    """Destroy many snapshots, dataset by dataset, and report each: when the tool refuses a batch (one
    busy or held snapshot refuses the whole list on OpenZFS, stops the one-by-one on zfs-fuse), each one
    still there is tried alone, so every snapshot that can go goes and each refusal has the tool's words."""
    runner = runner or get_runner()
    result = BulkResult()
    for snaps in _by_dataset(snapshots):
        try:
            _destroy_group(snaps, runner)
        except BackendError as exc:
            if len(snaps) == 1:
                result.add(snaps[0], exc)
                continue
            left = set(Snapshot.objects.filter(pk__in=[s.pk for s in snaps]).values_list("pk", flat=True))
            refused = exc.argv[-1] if exc.argv else ""  # one snapshot's own command (not a batch): no retry
            for snap in snaps:
                error = exc if snap.name == refused else _destroy_alone(snap, runner) if snap.pk in left else None
                result.add(snap, error)
        else:
            for snap in snaps:
                result.add(snap)
    return result


def _destroy_alone(snap: Snapshot, runner: Runner) -> BackendError | None:
    """Destroy one snapshot without re-reading the host on a refusal (its row stays): the refusal, or None."""
    dataset = snap.dataset
    try:
        get_backend(dataset.pool, runner).destroy_snapshots(dataset.name, [snap.name])
    except BackendError as exc:
        return exc
    Snapshot.objects.filter(pk=snap.pk).delete()
    return None


def rollback_snapshot(snapshot: Snapshot, *, destroy_newer: bool = False, actor=None,
                      runner: Runner | None = None) -> Snapshot:
    """Roll a dataset back to ``snapshot``; refuses while newer snapshots exist unless ``destroy_newer``."""
    dataset = snapshot.dataset
    newer = list(Snapshot.objects.newer_than(snapshot).values_list("name", flat=True)[:20])
    if newer and not destroy_newer:
        raise ServiceError("newer_snapshots", _(
            "Newer snapshots exist (%(names)s); rolling back destroys them: set destroy_newer to proceed.") % {
            "names": ", ".join(newer)}, field="destroy_newer", status=409, extra={"newer": newer})
    runner = runner or get_runner()
    get_backend(dataset.pool, runner).rollback(snapshot.name, destroy_newer=destroy_newer)
    sync.refresh_pool_contents(runner, dataset.pool, root=dataset.name)
    return snapshot


def clone_snapshot(snapshot: Snapshot, target: str, *, properties: Mapping[str, Any] | None = None, actor=None,
                   runner: Runner | None = None) -> Dataset:
    """Create a writable filesystem from a snapshot, in the same pool."""
    pool = snapshot.dataset.pool
    target = dataset_name(pool, target, "target")
    props = clean_properties(properties or {})
    runner = runner or get_runner()
    get_backend(pool, runner).clone(snapshot.name, target, props)
    sync.refresh_pool_contents(runner, pool, root=target)
    return Dataset.objects.get(pool=pool, name=target)


def _set_holds(snapshot: Snapshot, holds: list[str]) -> Snapshot:
    Snapshot.objects.filter(pk=snapshot.pk).update(holds=holds, userrefs=len(holds))
    snapshot.holds, snapshot.userrefs = holds, len(holds)
    return snapshot


def hold_snapshot(snapshot: Snapshot, tag: str, *, recursive: bool = False, actor=None,
                  runner: Runner | None = None) -> Snapshot:
    """Put a named hold on a snapshot: it cannot be destroyed until released."""
    check(v.validate_safe_name, tag, "tag")
    get_backend(snapshot.dataset.pool, runner).hold(snapshot.name, tag, recursive=recursive)
    return _set_holds(snapshot, [h for h in snapshot.holds if h != tag] + [tag])


def release_snapshot(snapshot: Snapshot, tag: str, *, recursive: bool = False, actor=None,
                     runner: Runner | None = None) -> Snapshot:
    """Remove a named hold from a snapshot."""
    check(v.validate_safe_name, tag, "tag")
    get_backend(snapshot.dataset.pool, runner).release(snapshot.name, tag, recursive=recursive)
    return _set_holds(snapshot, [h for h in snapshot.holds if h != tag])
