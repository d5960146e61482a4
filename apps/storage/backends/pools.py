"""The two ``PoolBackend``s: one zpool through ``ZfsBackend``, one Btrfs filesystem through
``BtrfsBackend``. They translate the inventory's names (``tank/home``; ``<label>/<subvolume path>``)
into each tool's terms; what a backend cannot do raises ``Unsupported``. Nothing here reads the database."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, NoReturn

from django.core.exceptions import ValidationError

from apps.core import validators

from .base import BackendError, DatasetInfo, PoolInfo, ScanProgress, SnapshotInfo, VdevInfo, unsupported
from .btrfs import BtrfsBackend
from .pool_properties import PoolProperty
from .zfs import ZfsBackend

__all__ = ["BtrfsPool", "ZfsPool", "leaves"]


def leaves(vdevs: Sequence[VdevInfo]) -> list[VdevInfo]:
    """The devices of a vdev tree (its leaves), in order."""
    out: list[VdevInfo] = []
    for vdev in vdevs:
        out += leaves(vdev.children) if vdev.children else [vdev]
    return out


class _ZfsScrub:
    """``zpool scrub`` returns at once; the scan state says when it has ended."""

    def __init__(self, pool: ZfsPool) -> None:
        self._pool = pool

    def poll(self) -> ScanProgress | None:
        scan = self._pool.info().scan
        return scan if scan.running else None

    def cancel(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.stop_scrub()


class ZfsPool:
    """One zpool."""

    kind = "zfs"
    capabilities = frozenset({"devices", "export", "destroy", "properties", "rename", "volumes", "rollback",
                              "clone", "holds", "recursive_snapshots", "pause_scrub", "pool_properties"})
    def __init__(self, backend: ZfsBackend, name: str) -> None:
        self.tool, self.name = backend, name

    def dataset_name(self, name: str) -> str:
        """``name`` checked as a new dataset of this pool: ``<pool>/<path>`` (ValidationError if not)."""
        validators.validate_zfs_dataset_name(name)
        if not name.startswith(f"{self.name}/"):
            raise ValidationError(f"The name must start with {self.name}/.", code="invalid_dataset_name")
        return name

    def info(self) -> PoolInfo:
        return self.tool.pool_status(self.name)

    def list_datasets(self, root: str | None = None) -> list[DatasetInfo]:
        return self.tool.list_datasets(root or self.name)

    def list_snapshots(self, root: str | None = None) -> list[SnapshotInfo]:
        return self.tool.list_snapshots(root or self.name)

    def start_scrub(self) -> _ZfsScrub:
        self.tool.start_scrub(self.name)
        return _ZfsScrub(self)

    def stop_scrub(self) -> None:
        self.tool.stop_scrub(self.name)

    def pause_scrub(self) -> None:
        self.tool.pause_scrub(self.name)

    def device_stats(self) -> list[dict]:
        return [{"name": v.name, "state": v.state, "read_errors": v.read_errors, "write_errors": v.write_errors,
                 "checksum_errors": v.checksum_errors} for v in leaves(self.info().vdevs)]

    def balance_status(self) -> dict:
        raise unsupported("Balance (a Btrfs operation)", "ZFS")

    def pool_properties(self) -> list[PoolProperty]:
        return self.tool.pool_properties(self.name)

    def set_pool_property(self, prop: str, value: str) -> None:
        self.tool.set_pool_property(self.name, prop, value)

    def create_dataset(self, name: str, *, volume_size: int | None = None, sparse: bool = False,
                       properties: Mapping[str, Any] | None = None) -> None:
        if volume_size is None:
            self.tool.create_dataset(name, properties)
        else:
            self.tool.create_volume(name, volume_size, properties, sparse=sparse)

    def destroy_dataset(self, name: str, *, recursive: bool = False) -> None:
        if "/" not in name:
            raise unsupported("Destroying the root dataset (it goes with its pool)", "ZFS")
        self.tool.destroy_dataset(name, recursive=recursive)

    def rename_dataset(self, name: str, new_name: str) -> None:
        self.tool.rename(name, new_name)

    def set_properties(self, name: str, properties: Mapping[str, Any]) -> None:
        self.tool.set_properties(name, properties)

    def inherit_property(self, name: str, prop: str) -> None:
        self.tool.inherit_property(name, prop)

    def create_snapshot(self, dataset: str, short_name: str, *, recursive: bool = False) -> str:
        self.tool.create_snapshot(dataset, short_name, recursive=recursive)
        return f"{dataset}@{short_name}"

    def destroy_snapshots(self, dataset: str, names: Sequence[str]) -> None:
        self.tool.destroy_snapshots(dataset, [n.rpartition("@")[2] for n in names])

    def rollback(self, snapshot: str, *, destroy_newer: bool = False) -> None:
        self.tool.rollback(snapshot, destroy_newer=destroy_newer)

    def clone(self, snapshot: str, target: str, properties: Mapping[str, Any] | None = None) -> None:
        self.tool.clone(snapshot, target, properties)

    def hold(self, snapshot: str, tag: str, *, recursive: bool = False) -> None:
        self.tool.hold(snapshot, tag, recursive=recursive)

    def release(self, snapshot: str, tag: str, *, recursive: bool = False) -> None:
        self.tool.release(snapshot, tag, recursive=recursive)

    def offline(self, device: str, *, temporary: bool = False) -> None:
        self.tool.offline(self.name, device, temporary)

    def online(self, device: str) -> None:
        self.tool.online(self.name, device)

    def replace(self, device: str, new_device: str | None = None) -> None:
        self.tool.replace(self.name, device, new_device)

    def detach(self, device: str) -> None:
        self.tool.detach(self.name, device)

    def add_vdevs(self, vdevs: Sequence[Mapping], *, spares: Sequence[str] = (), log: Sequence = (),
                  cache: Sequence[str] = (), force: bool = False) -> None:
        self.tool.add_vdevs(self.name, vdevs, spares=spares, log=log, cache=cache, force=force)

    def export(self, *, force: bool = False) -> None:
        self.tool.export_pool(self.name, force=force)

    def destroy(self, *, force: bool = False) -> None:
        self.tool.destroy_pool(self.name, force=force)


class _BtrfsScrub:
    """``btrfs scrub start -B`` runs as long as the scrub: its status is read until the command ends."""

    def __init__(self, pool: BtrfsPool) -> None:
        self._pool = pool
        self._handle = pool.tool.start_scrub(pool.mountpoint)

    def poll(self) -> ScanProgress | None:
        if self._handle.poll() is None:
            return self._pool.tool.scrub_status(self._pool.mountpoint)
        self._pool.tool.finish_scrub(self._pool.mountpoint, self._handle)
        return None

    def cancel(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.stop_scrub()
        self._handle.kill()


def _under(name: str, root: str | None) -> bool:
    return root is None or name == root or name.startswith((f"{root}/", f"{root}@"))


class BtrfsPool:
    """One Btrfs filesystem, mounted at its top level (subvolid 5): subvolumes are its datasets, and
    read-only snapshots sit beside their source as ``<subvolume>@<name>``."""

    kind = "btrfs"
    capabilities = frozenset({"balance", "btrfs_devices", "destroy", "quota", "unregister"})
    def __init__(self, backend: BtrfsBackend, name: str, mountpoint: str, mount_root: str = "") -> None:
        self.tool, self.name, self.mountpoint = backend, name, mountpoint
        self.mount_root = mount_root  # where filesystems made here are mounted: their folders go with them
        self._sizes: dict[int, dict] | None = None

    def sizes(self) -> dict[int, dict]:
        """Referenced and exclusive bytes per subvolume id from the quota groups, read once per backend
        object (one sync); empty when quotas are off or cannot be read (sizes are then unknown, not zero)."""
        if self._sizes is None:
            try:
                groups = self.tool.qgroups(self.mountpoint) or []
            except BackendError:
                groups = []
            self._sizes = {q["subvolid"]: q for q in groups}
        return self._sizes

    def _sized(self, info):
        size = self.sizes().get(info.extra.get("id"))
        if size is None:
            return info
        return dataclasses.replace(info, used_bytes=size["exclusive"], referenced_bytes=size["referenced"],
                                   extra={**info.extra, "exclusive_bytes": size["exclusive"],
                                          "limit_bytes": size["max_referenced"]})

    def dataset_name(self, name: str) -> str:
        """``name`` checked as a new subvolume: a path below the top level, with or without the label."""
        path = name.partition("/")[2] if name.startswith(f"{self.name}/") else name
        validators.validate_btrfs_subvolume_name(path)
        return f"{self.name}/{path}"

    def _relative(self, name: str, what: str = "A subvolume") -> str:
        path = name.partition("/")[2] if name.split("/")[0] == self.name else name
        if not path:
            raise unsupported(f"{what} of the top level", "Btrfs")
        return path

    def info(self) -> PoolInfo:
        return self.tool.filesystem_info(self.mountpoint)

    def list_datasets(self, root: str | None = None) -> list[DatasetInfo]:
        # The top level (subvolid 5) is a dataset too: snapshots of it, and of deleted sources, attach there.
        top = DatasetInfo(name=self.name, pool=self.name, kind="subvolume", mountpoint=self.mountpoint,
                          extra={"id": 5, "path": "", "top_level": True})
        return [self._sized(d) for d in (top, *self.tool.list_subvolumes(self.mountpoint)) if _under(d.name, root)]

    def list_snapshots(self, root: str | None = None) -> list[SnapshotInfo]:
        snaps = [s if s.dataset else SnapshotInfo(
            name=s.name, dataset=self.name, short_name=s.short_name, created_at=s.created_at, guid=s.guid,
            extra={**s.extra, "source_missing": True}) for s in self.tool.list_snapshots(self.mountpoint)]
        return [self._sized(s) for s in snaps if _under(s.name, root)]

    def start_scrub(self) -> _BtrfsScrub:
        return _BtrfsScrub(self)

    def stop_scrub(self) -> None:
        self.tool.cancel_scrub(self.mountpoint)

    def pause_scrub(self) -> None:
        raise unsupported("Pausing a scrub", "Btrfs")

    def device_stats(self) -> list[dict]:
        """Per devid: path, size, allocation and error counters."""
        return self.tool.devices(self.mountpoint)

    def balance_status(self) -> dict:
        return self.tool.balance_status(self.mountpoint)

    def pool_properties(self) -> list[PoolProperty]:
        raise unsupported("Pool properties (a ZFS feature)", "Btrfs")

    def set_pool_property(self, prop: str, value: str) -> None:
        raise unsupported("Pool properties (a ZFS feature)", "Btrfs")

    def create_dataset(self, name: str, *, volume_size: int | None = None, sparse: bool = False,
                       properties: Mapping[str, Any] | None = None) -> None:
        if volume_size is not None:
            raise unsupported("Volumes", "Btrfs")
        if properties:
            raise unsupported("Dataset properties", "Btrfs")
        self.tool.create_subvolume(self.mountpoint, self._relative(name))

    def destroy_dataset(self, name: str, *, recursive: bool = False) -> None:
        self.tool.delete_subvolume(self.mountpoint, self._relative(name, "Deleting"))

    def create_snapshot(self, dataset: str, short_name: str, *, recursive: bool = False) -> str:
        if recursive:
            raise unsupported("Recursive snapshots", "Btrfs")
        source = PurePosixPath(self._relative(dataset, "A snapshot"))
        target = str(source.parent / f"{source.name}@{short_name}")
        self.tool.snapshot(self.mountpoint, str(source), target)
        return f"{self.name}/{target}"

    def destroy_snapshots(self, dataset: str, names: Sequence[str]) -> None:
        for name in names:
            self.tool.delete_subvolume(self.mountpoint, self._relative(name))

    def _no(self, what: str) -> NoReturn:
        raise unsupported(what, "Btrfs")

    def rename_dataset(self, name: str, new_name: str) -> None:
        self._no("Renaming")

    def set_properties(self, name: str, properties: Mapping[str, Any]) -> None:
        self._no("Dataset properties")

    def inherit_property(self, name: str, prop: str) -> None:
        self._no("Dataset properties")

    def rollback(self, snapshot: str, *, destroy_newer: bool = False) -> None:
        self._no("Rollback")

    def clone(self, snapshot: str, target: str, properties: Mapping[str, Any] | None = None) -> None:
        self._no("Cloning")

    def hold(self, snapshot: str, tag: str, *, recursive: bool = False) -> None:
        self._no("Holds")

    def release(self, snapshot: str, tag: str, *, recursive: bool = False) -> None:
        self._no("Holds")

    def offline(self, device: str, *, temporary: bool = False) -> None:
        self._no("Device maintenance")

    def online(self, device: str) -> None:
        self._no("Device maintenance")

    def replace(self, device: str, new_device: str | None = None) -> None:
        self._no("Device maintenance")

    def detach(self, device: str) -> None:
        self._no("Device maintenance")

    def add_vdevs(self, vdevs: Sequence[Mapping], *, spares: Sequence[str] = (), log: Sequence = (),
                  cache: Sequence[str] = (), force: bool = False) -> None:
        self._no("Adding devices")

    def export(self, *, force: bool = False) -> None:
        self._no("Export")

    def destroy(self, *, force: bool = False) -> None:
        """Unmount the top level and erase every present device's signature; when the erase fails, mount
        it again. The mountpoint's folder goes too when it is one of the mount root's."""
        paths = [d["path"] for d in self.tool.devices(self.mountpoint) if not d["missing"]]
        self.tool.unmount(self.mountpoint)
        try:
            self.tool.wipe(paths)
        except BackendError:
            self.tool.mount(paths[0], self.mountpoint)
            raise
        if self.mount_root and PurePosixPath(self.mountpoint).is_relative_to(self.mount_root):
            with contextlib.suppress(BackendError):
                self.tool.remove_mountpoint(self.mountpoint)
