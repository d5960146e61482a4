"""Btrfs-only operations: register a filesystem, subvolumes, balance status, device statistics."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit import services as audit
from apps.core import validators as v
from apps.core.errors import ServiceError
from apps.core.runner import Runner

from .. import sync
from ..backends import get_btrfs_backend
from ..backends.base import BackendError
from ..choices import Backend, DatasetKind
from ..models import Dataset, Pool, Vdev
from . import _common
from ._common import _acting, _check, _drop_dataset_rows, _require_present

__all__ = [
    "balance_status",
    "create_subvolume",
    "delete_subvolume",
    "device_stats",
    "register_btrfs_pool",
]


def register_btrfs_pool(mountpoint: str, *, actor=None, source: str | None = None,
                        runner: Runner | None = None) -> Pool:
    """Start managing the Btrfs filesystem mounted (top level) at ``mountpoint``."""
    _check(v.validate_host_path, mountpoint, "mountpoint")
    runner = _common._runner(runner)
    try:
        info = get_btrfs_backend(runner).filesystem_info(mountpoint)
    except (BackendError, ValueError) as exc:
        raise ServiceError("invalid", str(exc), field="mountpoint") from exc
    with transaction.atomic():
        pool, created = Pool.objects.get_or_create(backend=Backend.BTRFS, name=info.name,
                                                   defaults={"mountpoint": info.mountpoint})
        pool.mountpoint = info.mountpoint
        pool.save(update_fields=["mountpoint", "updated"])
        audit.record(actor, "storage.pool.register", pool, source=source, changes={"mountpoint": [None, mountpoint]})
    sync.sync_btrfs(runner, [pool])
    pool.refresh_from_db()
    return pool


def _subvolume_path(pool: Pool, name: str) -> str:
    path = name[len(pool.name) + 1:] if name.startswith(f"{pool.name}/") else name
    return _check(v.validate_btrfs_subvolume_name, path, "name")


def create_subvolume(pool: Pool, name: str, *, actor=None, source: str | None = None,
                     runner: Runner | None = None) -> Dataset:
    """Create a Btrfs subvolume (``name`` relative to the top level, or ``<fs>/<path>``)."""
    if pool.backend != Backend.BTRFS:
        raise ServiceError("unsupported", _("Subvolumes exist on Btrfs only."))
    path = _subvolume_path(pool, name)
    full = f"{pool.name}/{path}"
    runner = _common._runner(runner)
    with _acting(actor, "storage.dataset.create", ("storage.dataset", "", full), source,
                 changes={"name": [None, full], "kind": [None, DatasetKind.SUBVOLUME]}):
        get_btrfs_backend(runner).create_subvolume(pool.mountpoint, path)
    sync.sync_btrfs(runner, [pool])
    return Dataset.objects.get(pool=pool, name=full)


def delete_subvolume(dataset: Dataset, *, actor=None, source: str | None = None,
                     runner: Runner | None = None) -> None:
    """Delete a Btrfs subvolume (not the top level)."""
    pool = dataset.pool
    if not dataset.relative_path:
        raise ServiceError("invalid", _("The top level of a Btrfs filesystem cannot be deleted."))
    with _acting(actor, "storage.dataset.delete", dataset, source):
        get_btrfs_backend(_common._runner(runner)).delete_subvolume(pool.mountpoint, dataset.relative_path)
    _drop_dataset_rows(dataset)


def balance_status(pool: Pool, *, runner: Runner | None = None) -> dict:
    """Whether a Btrfs balance runs or is paused, with chunks done and percent (read only)."""
    if pool.backend != Backend.BTRFS:
        raise ServiceError("unsupported", _("Balance is a Btrfs operation; ZFS pools have none."))
    _require_present(pool)
    try:
        return get_btrfs_backend(_common._runner(runner)).balance_status(pool.mountpoint)
    except (BackendError, ValueError) as exc:
        raise ServiceError("host_refused", getattr(exc, "stderr", "").strip() or str(exc)) from exc


def device_stats(pool: Pool, *, runner: Runner | None = None) -> list[dict]:
    """Per-device error counters of a Btrfs filesystem (ZFS: the vdev error counts)."""
    if pool.backend == Backend.ZFS:
        return list(Vdev.objects.filter(pool=pool).values("name", "state", "read_errors", "write_errors",
                                                          "checksum_errors"))
    try:
        return get_btrfs_backend(_common._runner(runner)).device_stats(pool.mountpoint)
    except BackendError as exc:
        raise ServiceError("host_refused", exc.stderr.strip() or str(exc)) from exc
