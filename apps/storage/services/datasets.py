"""Datasets and volumes (ZFS) and subvolumes (Btrfs): create, edit properties, rename, destroy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext as _

from apps.core import validators as v
from apps.core.errors import ServiceError
from apps.core.runner import Runner

from .. import sync
from ..backends import get_zfs_backend
from ..choices import Backend, DatasetKind
from ..models import Dataset, Pool
from . import _common
from ._common import (
    _acting,
    _check,
    _clean_properties,
    _dataset_name,
    _drop_dataset_rows,
    _require_present,
    _require_zfs,
)
from .btrfs import create_subvolume, delete_subvolume

__all__ = [
    "create_dataset",
    "destroy_dataset",
    "rename_dataset",
    "update_dataset",
]


def _check_volsize(size: int, blocksize: str | int | None) -> None:
    """A volume's size is a whole number of its blocks (OpenZFS refuses anything else)."""
    block = int(blocksize) if str(blocksize or "").isdigit() else 0
    if size <= 0:
        raise ServiceError("invalid", _("A volume needs a size above zero."), field="volsize")
    if block and size % block:
        raise ServiceError("invalid", _("The size must be a multiple of the volume block size (%(b)s bytes).") % {
            "b": block}, field="volsize")


def create_dataset(pool: Pool, name: str, *, kind: str = DatasetKind.FILESYSTEM, volsize: str | int | None = None,
                   sparse: bool = False, properties: Mapping[str, Any] | None = None, actor=None,
                   source: str | None = None, runner: Runner | None = None) -> Dataset:
    """Create a filesystem or volume (ZFS) or a subvolume (Btrfs) and return its row."""
    if pool.backend == Backend.BTRFS:
        return create_subvolume(pool, name, actor=actor, source=source, runner=runner)
    _require_present(pool)
    _dataset_name(pool, name)
    if kind not in (DatasetKind.FILESYSTEM, DatasetKind.VOLUME):
        raise ServiceError("invalid", _("A ZFS dataset is a filesystem or a volume."), field="kind")
    props = _clean_properties(properties or {}, kind=kind)
    size = None
    if kind == DatasetKind.VOLUME:
        if volsize in (None, ""):
            volsize = props.get("volsize")
        if volsize in (None, ""):
            raise ServiceError("invalid", _("A volume needs a size."), field="volsize")
        size = _check(v.parse_size, volsize, "volsize")
        props.pop("volsize", None)
        _check_volsize(size, props.get("volblocksize"))
    if Dataset.objects.filter(pool=pool, name=name, gone=False).exists():
        raise ServiceError("exists", _("%(n)s already exists.") % {"n": name}, field="name")
    runner = _common._runner(runner)
    backend = get_zfs_backend(runner)
    if kind == DatasetKind.VOLUME and not backend.is_openzfs:
        raise ServiceError("unsupported", _("This ZFS (%(f)s) has no volumes.") % {"f": backend.flavour},
                           field="kind")
    changes = {"name": [None, name], "kind": [None, kind], "properties": [None, props]}
    with _acting(actor, "storage.dataset.create", ("storage.dataset", "", name), source, changes=changes):
        if kind == DatasetKind.VOLUME:
            backend.create_volume(name, size, props, sparse=sparse)
        else:
            backend.create_dataset(name, props)
    sync.refresh_pool_contents(runner, pool, root=name)
    return Dataset.objects.get(pool=pool, name=name)


def update_dataset(dataset: Dataset, *, properties: Mapping[str, Any] | None = None,
                   inherit: Sequence[str] = (), actor=None, source: str | None = None,
                   runner: Runner | None = None) -> Dataset:
    """Set properties (sizes in human units) and/or make some inherit again."""
    pool = dataset.pool
    _require_zfs(pool, _("Dataset properties"))
    props = _clean_properties(properties or {}, kind=dataset.kind)
    if "volblocksize" in props:
        raise ServiceError("invalid", _("volblocksize is fixed when the volume is created."), field="volblocksize")
    if "volsize" in props:
        _check_volsize(int(props["volsize"]), dataset.prop("volblocksize"))
    for name in inherit:
        _check(v.validate_property_name, name, "inherit")
    if not props and not inherit:
        raise ServiceError("invalid", _("Nothing to change."), field="properties")
    before = {k: dataset.prop(k) or None for k in [*props, *inherit]}
    runner = _common._runner(runner)
    backend = get_zfs_backend(runner)
    changes = {k: [before.get(k), props.get(k, "(inherit)")] for k in [*props, *inherit]}
    with _acting(actor, "storage.dataset.update", dataset, source, changes=changes):
        if props:
            backend.set_properties(dataset.name, props)
        for name in inherit:
            backend.inherit_property(dataset.name, name)
    sync.refresh_pool_contents(runner, pool, root=dataset.name)
    dataset.refresh_from_db()
    return dataset


def rename_dataset(dataset: Dataset, new_name: str, *, actor=None, source: str | None = None,
                   runner: Runner | None = None) -> Dataset:
    """Rename a dataset within its pool (children and snapshots follow)."""
    pool = dataset.pool
    _require_zfs(pool, _("Renaming"))
    _dataset_name(pool, new_name, "new_name")
    if Dataset.objects.filter(pool=pool, name=new_name, gone=False).exists():
        raise ServiceError("exists", _("%(n)s already exists.") % {"n": new_name}, field="new_name")
    runner = _common._runner(runner)
    with _acting(actor, "storage.dataset.rename", dataset, source, changes={"name": [dataset.name, new_name]}):
        get_zfs_backend(runner).rename(dataset.name, new_name)
    sync.refresh_pool_contents(runner, pool)
    return Dataset.objects.get(pool=pool, name=new_name)


def destroy_dataset(dataset: Dataset, *, recursive: bool = False, actor=None, source: str | None = None,
                    runner: Runner | None = None) -> None:
    """Destroy a dataset (with its children and snapshots when ``recursive``)."""
    if dataset.pool.backend == Backend.BTRFS:
        delete_subvolume(dataset, actor=actor, source=source, runner=runner)
        return
    if "/" not in dataset.name:
        raise ServiceError("invalid", _("The root dataset goes with its pool: destroy the pool."))
    with _acting(actor, "storage.dataset.delete", dataset, source, changes={"recursive": [None, recursive]}):
        get_zfs_backend(_common._runner(runner)).destroy_dataset(dataset.name, recursive=recursive)
    _drop_dataset_rows(dataset)
