"""ZfsBackend: zpool/zfs through a runner, for OpenZFS 2.x and zfs-fuse (pool version 23).

The flavour is probed once with `zfs version` (zfs-fuse does not know that verb) and decides
the flags: zfs-fuse has no ``-p`` on `zfs list`/`zpool list`/`zpool get`, no `zfs get -t`, no
zvols, no multi-snapshot `zfs snapshot`, no comma lists in `zfs destroy`, one property per
`zfs set`, and its `zfs holds` needs a missing helper. Exact bytes on zfs-fuse come from
`zfs get -H -p`. Knows flags and output formats; knows nothing of Django.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from apps.core.runner import CommandError, CommandResult, Runner

from .base import BackendError, DatasetInfo, ImportablePool, PoolInfo, SnapshotInfo, Unsupported
from .pool_properties import PoolProperty, parse_zpool_get, pool_property_problem
from .zfs_parse import (
    SNAPSHOT_PROPERTIES,
    datasets_from_properties,
    detect_flavour,
    parse_zfs_get,
    parse_zfs_get_values,
    parse_zfs_holds,
    parse_zfs_list_snapshots,
    parse_zpool_import,
    parse_zpool_list,
    parse_zpool_status,
    snapshots_from_values,
)

__all__ = ["OPENZFS", "ZFS_FUSE", "ZfsBackend", "validate_names"]

OPENZFS = "openzfs"
ZFS_FUSE = "zfs-fuse"
LIST_TIMEOUT = 600.0
POOL_COLUMNS = {
    OPENZFS: ("name", "size", "allocated", "free", "fragmentation", "capacity", "dedupratio", "health", "guid"),
    ZFS_FUSE: ("name", "size", "allocated", "free", "capacity", "dedupratio", "health", "guid"),
}
GET_COLUMNS = "name,property,value,source"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/%-]*(?:[@#][A-Za-z0-9_.:%-]+)?$")
# What ZFS itself allows in a name (zfs(8) adds the space): an existing dataset or snapshot may be called so
# though Calypso would not create it. It starts with its pool's name, so never with "-".
_HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/% -]*(?:[@#][A-Za-z0-9_.:% -]+)?$")
_PROP_RE = re.compile(r"^[a-z][a-z0-9_.:-]*$")
_PARITY = {"stripe": 1, "mirror": 2, "raidz1": 2, "raidz2": 3, "raidz3": 4}
Spec = Mapping[str, Any]


def _names(*names: str) -> None:
    for name in names:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or "//" in name or name.endswith("/"):
            raise BackendError(f"invalid ZFS name: {name!r}")


validate_names = _names  # for the apps that build ZFS command lines of their own (backup's send/receive)


def _host_names(*names: str) -> None:
    """Names of objects that exist on the host (to destroy them), checked against ZFS's own rules."""
    for name in names:
        if not isinstance(name, str) or not _HOST_NAME_RE.fullmatch(name) or "//" in name or name.endswith("/"):
            raise BackendError(f"invalid ZFS name: {name!r}")


def _args(*args: str) -> None:
    for arg in args:
        if not isinstance(arg, str) or not arg or arg.startswith("-") or "\x00" in arg:
            raise BackendError(f"invalid argument: {arg!r}")


def _props(flag: str, props: Mapping[str, Any] | None) -> list[str]:
    out: list[str] = []
    for key, value in (props or {}).items():
        if not _PROP_RE.fullmatch(key):
            raise BackendError(f"invalid property name: {key!r}")
        out += [flag, f"{key}={value}"]
    return out


def _subtree(root: str | None) -> tuple[list[str], list[str]]:
    """(``-r``, the root) to list one subtree, checked; ([], []) to list everything."""
    if root is None:
        return [], []
    _names(root)
    return ["-r"], [root]


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class ZfsBackend:
    """zpool/zfs through a runner. Knows flags and output formats; knows nothing of Django."""

    busy_retries = 5
    busy_delay = 0.5
    holds_batch = 200
    destroy_batch = 200

    def __init__(self, runner: Runner, flavour: str | None = None) -> None:
        if flavour not in (None, OPENZFS, ZFS_FUSE):
            raise ValueError(f"unknown ZFS flavour {flavour!r}")
        self._runner = runner
        self._flavour = flavour
        self.version = ""

    # ------------------------------------------------------------ plumbing
    @property
    def flavour(self) -> str:
        """ "openzfs" or "zfs-fuse", probed once with `zfs version`."""
        if self._flavour is None:
            try:
                res = self._runner.run(["zfs", "version"], check=False)
            except CommandError as exc:
                raise BackendError.from_command(exc) from exc
            found = detect_flavour(res.returncode, res.stdout, res.stderr)
            self._flavour, self.version = found.flavour, found.version
        return self._flavour

    @property
    def is_openzfs(self) -> bool:
        """True on OpenZFS 2.x, False on zfs-fuse."""
        return self.flavour == OPENZFS

    def _call(self, argv: list[str], timeout: float | None = 60.0) -> CommandResult:
        try:
            return self._runner.run(argv, timeout=timeout)
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc

    def _call_retrying_busy(self, argv: list[str], timeout: float = 300.0) -> CommandResult:
        """Run argv, retrying briefly on "... is busy" (zfs-fuse says so for about a second after changes)."""
        for attempt in range(self.busy_retries + 1):
            try:
                return self._call(argv, timeout)
            except BackendError as exc:
                if "is busy" not in exc.stderr or attempt == self.busy_retries:
                    raise
                time.sleep(self.busy_delay)
        raise AssertionError("unreachable")

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{what} is unsupported by this ZFS ({self.flavour})")

    # ------------------------------------------------------------ pools: properties
    def pool_properties(self, name: str) -> list[PoolProperty]:
        """Every property of the pool with its source (`zpool get -Hp all`; zfs-fuse: `zpool get all`)."""
        _names(name)
        argv = ["zpool", "get", "-Hp", "all", name] if self.is_openzfs else ["zpool", "get", "all", name]
        return parse_zpool_get(self._call(argv).stdout, name)

    def set_pool_property(self, name: str, prop: str, value: str) -> None:
        """`zpool set prop=value pool`, for a property and value ``pool_property_problem`` accepts."""
        _names(name)
        problem = pool_property_problem(prop, value)
        if problem:
            raise BackendError(problem)
        self._call(["zpool", "set", f"{prop}={value}", name])

    # ------------------------------------------------------------ pools: reading
    def pool_names(self) -> list[str]:
        """The names of the imported pools (one short listing, nothing parsed beyond a name per line)."""
        return [n for n in self._call(["zpool", "list", "-H", "-o", "name"]).stdout.splitlines() if n.strip()]

    def list_pools(self, name: str | None = None) -> list[PoolInfo]:
        """Every imported pool (or just ``name``) with sizes, health, vdev tree, scan state and root mountpoint."""
        cols = POOL_COLUMNS[self.flavour]
        p = ["-p"] if self.is_openzfs else []
        only = [name] if name is not None else []
        _names(*only)
        listed = parse_zpool_list(self._call(["zpool", "list", "-H", *p, "-o", ",".join(cols), *only]).stdout, cols)
        if not listed:
            return []
        status = {s.name: s for s in parse_zpool_status(self._call(["zpool", "status", *p, *only]).stdout)}
        mounts = self._mountpoints([pool.name for pool in listed])
        return [self._merge(pool, status.get(pool.name), mounts.get(pool.name, "")) for pool in listed]

    def _mountpoints(self, names: list[str]) -> dict[str, str]:
        out = self._call(["zfs", "get", "-H", "-o", "name,value", "mountpoint", *names]).stdout
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    @staticmethod
    def _merge(listed: PoolInfo, status: PoolInfo | None, mountpoint: str) -> PoolInfo:
        if status is None:
            return replace(listed, mountpoint=mountpoint)
        return replace(
            listed,
            scan=status.scan,
            vdevs=status.vdevs,
            status_text=status.status_text,
            errors_text=status.errors_text,
            extra=status.extra,
            mountpoint=mountpoint,
        )

    def pool_status(self, name: str) -> PoolInfo:
        """One pool's health, vdev tree (states, error counts), scan progress and advice."""
        _names(name)
        p = ["-p"] if self.is_openzfs else []
        pools = parse_zpool_status(self._call(["zpool", "status", *p, name]).stdout)
        if not pools:
            raise BackendError(f"no status for pool {name!r}")
        return pools[0]

    # ------------------------------------------------------------ pools: layout
    def _spec_args(self, spec: Spec | str) -> list[str]:
        if isinstance(spec, str):
            _args(spec)
            return [spec]
        kind, devices = str(spec.get("type", "stripe")), list(spec.get("devices", ()))
        _args(*devices)
        is_draid = bool(re.match(r"^draid[123]?(:\d+[dcs])*$", kind))
        if kind not in _PARITY and not (is_draid and self.is_openzfs):
            raise self._unsupported(f"vdev type {kind!r}")
        if len(devices) < _PARITY.get(kind, 2):
            raise BackendError(f"a {kind} vdev needs at least {_PARITY.get(kind, 2)} devices")
        return devices if kind == "stripe" else [kind, *devices]

    def _layout(
        self,
        vdevs: Sequence[Spec],
        spares: Sequence[str],
        log: Sequence[Spec | str],
        cache: Sequence[str],
        special: Sequence[Spec | str],
    ) -> list[str]:
        args = [a for spec in vdevs for a in self._spec_args(spec)]
        if special and not self.is_openzfs:
            raise self._unsupported("a special allocation class vdev")
        for word, group in (("special", special), ("log", log), ("cache", cache), ("spare", spares)):
            if group:
                args += [word, *(a for spec in group for a in self._spec_args(spec))]
        if not args:
            raise BackendError("no vdevs given")
        return args

    def create_pool(self, name: str, vdevs: Sequence[Spec], *, spares: Sequence[str] = (),
                    log: Sequence[Spec | str] = (), cache: Sequence[str] = (), special: Sequence[Spec | str] = (),
                    mountpoint: str | None = None, properties: Mapping[str, Any] | None = None,
                    fs_properties: Mapping[str, Any] | None = None, force: bool = False) -> None:
        """Create a pool from layout specs ({"type": "mirror", "devices": [...]}) and extra classes."""
        _names(name)
        argv = ["zpool", "create", *(["-f"] if force else [])]
        if mountpoint is not None:
            _args(mountpoint)
            argv += ["-m", mountpoint]
        argv += [*_props("-o", properties), *_props("-O", fs_properties), name]
        self._call([*argv, *self._layout(vdevs, spares, log, cache, special)], timeout=300)

    def add_vdevs(self, name: str, vdevs: Sequence[Spec], *, spares: Sequence[str] = (), log: Sequence[Spec | str] = (),
                  cache: Sequence[str] = (), special: Sequence[Spec | str] = (), force: bool = False) -> None:
        """Grow a pool with more vdevs, spares, log, cache or special devices."""
        _names(name)
        layout = self._layout(vdevs, spares, log, cache, special)
        self._call(["zpool", "add", *(["-f"] if force else []), name, *layout], timeout=300)

    # ------------------------------------------------------------ pools: maintenance
    def start_scrub(self, name: str) -> None:
        """Start a scrub (or resume a paused one on OpenZFS)."""
        _names(name)
        self._call(["zpool", "scrub", name])

    def pause_scrub(self, name: str) -> None:
        """Pause a running scrub (OpenZFS `zpool scrub -p`); zfs-fuse cannot pause."""
        _names(name)
        if not self.is_openzfs:
            raise self._unsupported("pausing a scrub")
        self._call(["zpool", "scrub", "-p", name])

    def stop_scrub(self, name: str) -> None:
        """Cancel a running scrub."""
        _names(name)
        self._call(["zpool", "scrub", "-s", name])

    def offline(self, pool: str, device: str, temporary: bool = False) -> None:
        """Take a device offline (until reboot with temporary=True)."""
        _names(pool)
        _args(device)
        self._call(["zpool", "offline", *(["-t"] if temporary else []), pool, device])

    def online(self, pool: str, device: str) -> None:
        """Bring a device back online; ZFS resilvers what it missed."""
        _names(pool)
        _args(device)
        self._call(["zpool", "online", pool, device])

    def replace(self, pool: str, old: str, new: str | None = None) -> None:
        """Replace a device by a new one (or by itself after a swap when new is None)."""
        _names(pool)
        _args(old, *([new] if new is not None else []))
        self._call(["zpool", "replace", pool, old, *([new] if new is not None else [])])

    def detach(self, pool: str, device: str) -> None:
        """Detach a device from a mirror or an in-use spare."""
        _names(pool)
        _args(device)
        self._call(["zpool", "detach", pool, device])

    def export_pool(self, name: str, force: bool = False) -> None:
        """Export a pool so it can be moved or imported elsewhere."""
        _names(name)
        self._call_retrying_busy(["zpool", "export", *(["-f"] if force else []), name])

    def list_importable(self, search_dirs: Sequence[str] = ()) -> list[ImportablePool]:
        """Pools found on devices in search_dirs that could be imported; [] when none."""
        _args(*search_dirs)
        argv = ["zpool", "import", *(a for d in search_dirs for a in ("-d", d))]
        try:
            out = self._runner.run(argv, timeout=300).stdout
        except CommandError as exc:
            if exc.returncode == 1 and (not exc.stderr.strip() or "no pools available" in exc.stderr):
                return []
            raise BackendError.from_command(exc) from exc
        return parse_zpool_import(out)

    def import_pool(
        self, name_or_guid: str, search_dirs: Sequence[str] = (), new_name: str | None = None, force: bool = False
    ) -> None:
        """Import a pool by name or numeric id, optionally under a new name."""
        _names(name_or_guid, *([new_name] if new_name else []))
        _args(*search_dirs)
        argv = ["zpool", "import", *(a for d in search_dirs for a in ("-d", d)), *(["-f"] if force else [])]
        self._call([*argv, name_or_guid, *([new_name] if new_name else [])], timeout=300)

    def destroy_pool(self, name: str, force: bool = False) -> None:
        """Destroy a pool and everything in it, retrying briefly while busy."""
        _names(name)
        self._call_retrying_busy(["zpool", "destroy", *(["-f"] if force else []), name])

    # ------------------------------------------------------------ datasets
    def list_datasets(self, root: str | None = None) -> list[DatasetInfo]:
        """Filesystems and volumes (under root) with the useful and all user properties, with sources."""
        rec, tail = _subtree(root)
        if self.is_openzfs:
            argv = ["zfs", "get", "-H", "-p", "-t", "filesystem,volume", "-o", GET_COLUMNS, *rec, "all", *tail]
            return datasets_from_properties(parse_zfs_get(self._call(argv, timeout=LIST_TIMEOUT).stdout))
        listed = self._call(["zfs", "list", "-H", "-o", "name", "-t", "filesystem", *rec, *tail]).stdout
        names = [n for n in listed.splitlines() if n]
        if not names:
            return []
        out = self._call(["zfs", "get", "-H", "-p", "-o", GET_COLUMNS, "all", *names], timeout=LIST_TIMEOUT).stdout
        return datasets_from_properties(parse_zfs_get(out))

    def create_dataset(self, name: str, properties: Mapping[str, Any] | None = None) -> None:
        """Create a filesystem with the given properties."""
        _names(name)
        self._call(["zfs", "create", *_props("-o", properties), name])

    def create_volume(
        self, name: str, size_bytes: int, properties: Mapping[str, Any] | None = None, sparse: bool = False
    ) -> None:
        """Create a volume (zvol) of size_bytes; zfs-fuse has no volumes."""
        _names(name)
        if not self.is_openzfs:
            raise self._unsupported("creating volumes (zvols)")
        if int(size_bytes) <= 0:
            raise BackendError("volume size must be positive")
        sp = ["-s"] if sparse else []
        self._call(["zfs", "create", *sp, "-V", str(int(size_bytes)), *_props("-o", properties), name])

    def set_properties(self, name: str, properties: Mapping[str, Any]) -> None:
        """Set properties (OpenZFS in one call; zfs-fuse takes one property per call)."""
        _names(name)
        pairs = _props("-o", properties)[1::2]
        if self.is_openzfs and pairs:
            self._call(["zfs", "set", *pairs, name])
            return
        for pair in pairs:
            self._call(["zfs", "set", pair, name])

    def inherit_property(self, name: str, prop: str) -> None:
        """Drop a local value so the property inherits from the parent (or its default)."""
        _names(name)
        _props("-o", {prop: ""})
        self._call(["zfs", "inherit", prop, name])

    def rename(self, old: str, new: str) -> None:
        """Rename a dataset or snapshot (zfs-fuse: a mounted filesystem is unmounted around it)."""
        _names(old, new)
        try:
            self._call(["zfs", "rename", old, new])
        except BackendError as exc:
            if self.is_openzfs or "@" in old or "dataset is busy" not in exc.stderr:
                raise
            self._rename_unmounted(old, new)

    def _rename_unmounted(self, old: str, new: str) -> None:
        # zfs-fuse refuses to rename a mounted filesystem ("dataset is busy") for as long as it is mounted.
        self._call_retrying_busy(["zfs", "umount", old])
        try:
            self._call_retrying_busy(["zfs", "rename", old, new])
        except BackendError:
            self._runner.run(["zfs", "mount", old], check=False)
            raise
        self._runner.run(["zfs", "mount", new], check=False)

    def destroy_dataset(self, name: str, recursive: bool = False) -> None:
        """Destroy a dataset (with children and snapshots when recursive), retrying while busy. ``name`` is
        an existing dataset's, as ZFS allows it (a space, say), not only as Calypso would create it."""
        _host_names(name)
        self._call_retrying_busy(["zfs", "destroy", *(["-r"] if recursive else []), name])

    # ------------------------------------------------------------ snapshots
    def create_snapshot(
        self, dataset: str, short_name: str, recursive: bool = False, properties: Mapping[str, Any] | None = None
    ) -> None:
        """Snapshot a dataset (and its descendants, atomically, when recursive)."""
        _names(dataset, f"{dataset}@{short_name}")
        rec = ["-r"] if recursive else []
        self._call(["zfs", "snapshot", *rec, *_props("-o", properties), f"{dataset}@{short_name}"])

    def list_snapshots(self, root: str | None = None) -> list[SnapshotInfo]:
        """Every snapshot (under root) with creation, sizes, guid and holds, in one listing command."""
        rec, tail = _subtree(root)
        if self.is_openzfs:
            cols = ("name", *SNAPSHOT_PROPERTIES)
            argv = ["zfs", "list", "-H", "-p", "-t", "snapshot", "-o", ",".join(cols), *rec, *tail]
            snaps = parse_zfs_list_snapshots(self._call(argv, timeout=LIST_TIMEOUT).stdout, cols)
            return self._with_holds(snaps)
        argv = ["zfs", "get", "-H", "-p", *rec, "-o", "name,property,value", ",".join(SNAPSHOT_PROPERTIES), *tail]
        # zfs-fuse cannot list hold tags (`zfs holds` needs pyzfs): extra["userrefs"] still counts them.
        return snapshots_from_values(parse_zfs_get_values(self._call(argv, timeout=LIST_TIMEOUT).stdout))

    def _with_holds(self, snaps: list[SnapshotInfo]) -> list[SnapshotInfo]:
        held = [s.name for s in snaps if s.extra.get("userrefs")]
        tags: dict[str, tuple[str, ...]] = {}
        for chunk in _chunks(held, self.holds_batch):
            tags.update(parse_zfs_holds(self._call(["zfs", "holds", "-H", *chunk]).stdout))
        return [replace(s, holds=tags[s.name]) if s.name in tags else s for s in snaps]

    def create_snapshots(self, names: Sequence[str]) -> None:
        """Take several snapshots at once (atomic on OpenZFS; zfs-fuse: one by one, undone on failure)."""
        _names(*names)
        if any("@" not in n for n in names):
            raise BackendError("snapshot names must be dataset@name")
        if self.is_openzfs:
            self._call(["zfs", "snapshot", *names])
            return
        done: list[str] = []
        try:
            for name in names:
                self._call(["zfs", "snapshot", name])
                done.append(name)
        except BackendError:
            for name in reversed(done):
                self._runner.run(["zfs", "destroy", name], check=False)
            raise

    def destroy_snapshots(self, dataset: str, short_names: Sequence[str]) -> None:
        """Destroy snapshots of one dataset (OpenZFS: `ds@a,b,c` batches; zfs-fuse: one by one); existing
        names, as ZFS allows them."""
        _host_names(dataset, *(f"{dataset}@{s}" for s in short_names))
        if self.is_openzfs:
            for chunk in _chunks(list(short_names), self.destroy_batch):
                self._call_retrying_busy(["zfs", "destroy", f"{dataset}@{','.join(chunk)}"])
            return
        for short in short_names:
            self._call_retrying_busy(["zfs", "destroy", f"{dataset}@{short}"])

    def rollback(self, snapshot: str, destroy_newer: bool = False) -> None:
        """Roll a dataset back to a snapshot (destroying later snapshots with destroy_newer)."""
        _names(snapshot)
        self._call(["zfs", "rollback", *(["-r"] if destroy_newer else []), snapshot])

    def clone(self, snapshot: str, target: str, properties: Mapping[str, Any] | None = None) -> None:
        """Create a writable filesystem from a snapshot."""
        _names(snapshot, target)
        self._call(["zfs", "clone", *_props("-o", properties), snapshot, target])

    def hold(self, snapshot: str, tag: str, recursive: bool = False) -> None:
        """Put a named hold on a snapshot so it cannot be destroyed."""
        _names(snapshot)
        _args(tag)
        self._call(["zfs", "hold", *(["-r"] if recursive else []), tag, snapshot])

    def release(self, snapshot: str, tag: str, recursive: bool = False) -> None:
        """Remove a named hold from a snapshot."""
        _names(snapshot)
        _args(tag)
        self._call(["zfs", "release", *(["-r"] if recursive else []), tag, snapshot])

    def holds(self, snapshot: str) -> tuple[str, ...]:
        """The hold tags on a snapshot (zfs-fuse cannot list them: its `zfs holds` needs pyzfs)."""
        _names(snapshot)
        try:
            out = self._call(["zfs", "holds", "-H", snapshot]).stdout
        except BackendError as exc:
            if "pyzfs" in str(exc):
                raise BackendError(
                    f"listing holds is unsupported by this ZFS ({self.flavour}): {exc}",
                    argv=exc.argv,
                    returncode=exc.returncode,
                    stderr=exc.stderr,
                ) from exc
            raise
        return parse_zfs_holds(out).get(snapshot, ())
