"""Datasets: ZFS filesystems and volumes, Btrfs subvolumes. Create, edit properties, rename, destroy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext as _

from apps.core import validators as v
from apps.core.errors import BackendError, ServiceError
from apps.core.runner import Runner, get_runner

from .. import sync
from ..backends import get_backend
from ..choices import Backend, DatasetKind
from ..models import Dataset, Pool, Snapshot
from .common import check, clean_properties, require_present
from .usage import refuse_if_in_use

__all__ = ["create_dataset", "dataset_name", "destroy_dataset", "rename_dataset", "subvolume_dependents",
           "update_dataset"]


def dataset_name(pool: Pool, name: str, field: str = "name") -> str:
    """The full inventory name of a new dataset of ``pool`` (``tank/x``; a Btrfs subvolume path may be
    given without the filesystem), checked against the backend's naming rules: a 400 naming ``field``."""
    if not isinstance(name, str) or not name:
        raise ServiceError("invalid", _("Give a name."), field=field)
    return check(get_backend(pool).dataset_name, name, field)


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
                   runner: Runner | None = None) -> Dataset:
    """Create a filesystem or a volume (ZFS) or a subvolume (Btrfs) and return its row."""
    require_present(pool)
    name = dataset_name(pool, name)
    if kind not in DatasetKind.values:
        raise ServiceError("invalid", _("Unknown kind %(k)s.") % {"k": kind}, field="kind")
    volume = kind == DatasetKind.VOLUME
    props = clean_properties(properties or {}, kind=kind)
    size = None
    if not volume and volsize not in (None, ""):
        raise ServiceError("invalid", _("volsize does not apply to a %(k)s.") % {"k": kind}, field="volsize")
    if volume:
        volsize = props.pop("volsize", None) if volsize in (None, "") else volsize
        if volsize in (None, ""):
            raise ServiceError("invalid", _("A volume needs a size."), field="volsize")
        size = check(v.parse_size, volsize, "volsize")
        _check_volsize(size, props.get("volblocksize"))
    if Dataset.objects.filter(pool=pool, name=name, gone=False).exists():
        raise ServiceError("exists", _("%(n)s already exists.") % {"n": name}, field="name")
    runner = runner or get_runner()
    get_backend(pool, runner).create_dataset(name, volume_size=size, sparse=sparse, properties=props)
    sync.refresh_pool_contents(runner, pool, root=name)
    return Dataset.objects.get(pool=pool, name=name)


def update_dataset(dataset: Dataset, *, properties: Mapping[str, Any] | None = None,
                   inherit: Sequence[str] = (), actor=None, runner: Runner | None = None) -> Dataset:
    """Set properties (sizes in human units) and/or make some inherit again."""
    props = clean_properties(properties or {}, kind=dataset.kind)
    if "volblocksize" in props:
        raise ServiceError("invalid", _("volblocksize is fixed when the volume is created."), field="volblocksize")
    if "volsize" in props:
        _check_volsize(int(props["volsize"]), dataset.prop("volblocksize"))
    for name in inherit:
        check(v.validate_property_name, name, "inherit")
    if not props and not inherit:
        raise ServiceError("invalid", _("Nothing to change."), field="properties")
    runner = runner or get_runner()
    backend = get_backend(dataset.pool, runner)
    steps = [(name, value) for name, value in props.items()] + [(name, None) for name in inherit]
    done: list[str] = []
    for name, value in steps:
        try:
            _apply(backend, dataset.name, name, value)
        except BackendError as exc:
            raise _undone(exc, backend, dataset, done, name) from exc
        done.append(name)
    sync.refresh_pool_contents(runner, dataset.pool, root=dataset.name)
    dataset.refresh_from_db()
    return dataset


def _apply(backend, name: str, prop: str, value: str | None) -> None:
    """Set one property (``None``: make it inherit)."""
    if value is None:
        backend.inherit_property(name, prop)
    else:
        backend.set_properties(name, {prop: value})


def _undone(error: BackendError, backend, dataset: Dataset, done: list[str], failed: str) -> BackendError:
    """All or nothing: put back what was already changed, last first (the value it had where it was set
    here, else inherit), and say so in the error."""
    undone, stuck = [], []
    for prop in reversed(done):
        before = dataset.properties.get(prop) or {}
        local = str(before.get("source") or "").startswith(("local", "received")) and "value" in before
        try:
            _apply(backend, dataset.name, prop, str(before["value"]) if local else None)
        except BackendError as exc:
            stuck.append(f"{prop} ({exc.message})")
        else:
            undone.append(prop)
    message = _("%(p)s: %(e)s") % {"p": failed, "e": error.message}
    if undone:
        message += " " + _("Nothing was changed: %(props)s put back as it was.") % {"props": ", ".join(undone)}
    if stuck:
        message += " " + _("Could not put back: %(props)s.") % {"props": "; ".join(stuck)}
    return BackendError(message, argv=error.argv, returncode=error.returncode)


def rename_dataset(dataset: Dataset, new_name: str, *, actor=None, runner: Runner | None = None) -> Dataset:
    """Rename a dataset within its pool (children and snapshots follow)."""
    pool = dataset.pool
    new_name = dataset_name(pool, new_name, "new_name")
    refuse_if_in_use(dataset, verb=_("renamed"))
    if Dataset.objects.filter(pool=pool, name=new_name, gone=False).exists():
        raise ServiceError("exists", _("%(n)s already exists.") % {"n": new_name}, field="new_name")
    runner = runner or get_runner()
    get_backend(pool, runner).rename_dataset(dataset.name, new_name)
    sync.refresh_pool_contents(runner, pool)
    return Dataset.objects.get(pool=pool, name=new_name)


def destroy_dataset(dataset: Dataset, *, recursive: bool = False, snapshots: str = "keep", actor=None,
                    runner: Runner | None = None) -> None:
    """Destroy a dataset (with its children and snapshots when ``recursive``). A Btrfs subvolume's snapshots
    are subvolumes of their own: ``snapshots="keep"`` leaves them (they stay listed, under the top level once
    their source is gone), ``"delete"`` deletes them first. Refused while a share, export or LUN uses it."""
    refuse_if_in_use(dataset, verb=_("destroyed"))
    if dataset.pool.backend == Backend.BTRFS:
        return _delete_subvolume(dataset, recursive=recursive, snapshots=snapshots, runner=runner or get_runner())
    get_backend(dataset.pool, runner).destroy_dataset(dataset.name, recursive=recursive)
    sync.forget_datasets(dataset)
    return None


def subvolume_dependents(dataset: Dataset) -> tuple[list[Dataset], list[Snapshot]]:
    """The subvolumes nested in a Btrfs subvolume (deepest first) and the snapshots of it and of them."""
    nested = sorted(Dataset.objects.filter(pool=dataset.pool, gone=False, name__startswith=f"{dataset.name}/"),
                    key=lambda d: -d.name.count("/"))
    snaps = list(Snapshot.objects.filter(dataset__in=[dataset, *nested]).order_by("name"))
    return nested, snaps


def _delete_subvolume(dataset: Dataset, *, recursive: bool, snapshots: str, runner: Runner) -> None:
    if snapshots not in ("keep", "delete"):
        raise ServiceError("invalid", _("Say keep or delete."), field="snapshots")
    nested, snaps = subvolume_dependents(dataset)
    if nested and not recursive:
        raise ServiceError("invalid", _("%(n)s holds other subvolumes (%(s)s): delete them too (recursive) or "
                                        "first.") % {"n": dataset.name, "s": ", ".join(d.name for d in nested[:5])},
                           field="recursive")
    backend = get_backend(dataset.pool, runner)
    doomed = ([s.name for s in snaps] if snapshots == "delete" else []) + [d.name for d in [*nested, dataset]]
    done = 0
    try:
        for name in doomed:
            backend.destroy_dataset(name)
            done += 1
    except BackendError as exc:
        gone = ", ".join(doomed[:done]) or _("nothing")
        raise BackendError(_("%(n)s: %(e)s Deleted before the failure: %(g)s.") % {
            "n": doomed[done], "e": exc.message, "g": gone}, argv=exc.argv, returncode=exc.returncode) from exc
    finally:  # re-read: kept snapshots move under the top level; the rows of what was deleted go
        sync.refresh_pool_contents(runner, dataset.pool)
        Dataset.objects.filter(pool=dataset.pool, name__in=doomed[:done]).delete()
