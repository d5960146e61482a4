"""Btrfs through btrfs-progs on a mounted filesystem: the filesystem is the pool, subvolumes are
datasets, read-only snapshot subvolumes are snapshots. Knows flags and output formats, no Django.

A received subvolume (``btrfs receive`` on a backup target: it has a received UUID) is a read-only copy
of a snapshot taken elsewhere. It is listed as a read-only dataset flagged ``received``, never as a
snapshot: an incremental receive makes it a snapshot of the previous received one (its parent UUID),
which says how it was stored, not what it is a snapshot of.

Every operation takes the mountpoint of the filesystem's top level (subvolid 5); subvolume paths
are relative to it, as ``btrfs subvolume list`` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from apps.core.runner import CommandError, CommandResult, Runner, RunningCommand
from apps.storage.backends.base import (
    BackendError,
    DatasetInfo,
    ParseError,
    PoolInfo,
    PropertyValue,
    ScanProgress,
    SnapshotInfo,
    VdevInfo,
)
from apps.storage.backends.btrfs_parse import (
    DEVICE_STAT_KEYS,
    MAX_INT,
    BtrfsFilesystem,
    BtrfsSubvolume,
    BtrfsUsage,
    parse_btrfs_balance_status,
    parse_btrfs_device_stats,
    parse_btrfs_filesystem_show,
    parse_btrfs_filesystem_usage,
    parse_btrfs_property_ro,
    parse_btrfs_scrub_counters,
    parse_btrfs_scrub_status,
    parse_btrfs_subvolume_list,
    parse_btrfs_subvolume_show,
)

__all__ = ["BtrfsBackend", "safe_join"]

_UTC = {"TZ": "UTC"}  # list -s and scrub status print local times without a zone
_LIST = ("btrfs", "subvolume", "list", "-p", "-u", "-q", "-R")


def _check_parts(parts: Sequence[str], what: str) -> None:
    for part in parts:
        if part == ".." or part.startswith("-") or "\x00" in part:
            raise BackendError(f"{what}: unsafe path component {part!r}")


def _abs_path(path: str, what: str = "path") -> str:
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        raise BackendError(f"{what} must be absolute: {path!r}")
    _check_parts(pure.parts[1:], what)
    return str(pure)


def _mountpoint(mountpoint: str) -> str:
    return _abs_path(mountpoint, "mountpoint")


def safe_join(mountpoint: str, relative: str) -> str:
    """``mountpoint/relative``, refusing absolute paths and '..' or '-'-leading components."""
    if not relative or relative.startswith("/"):
        raise BackendError(f"subvolume path must be relative to the mountpoint: {relative!r}")
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if not parts:
        raise BackendError(f"subvolume path names no subvolume: {relative!r}")
    _check_parts(parts, "subvolume path")
    return str(PurePosixPath(_mountpoint(mountpoint), *parts))


def _subvolume_extra(sub: BtrfsSubvolume, readonly: bool) -> dict:
    return {"id": sub.id, "parent_id": sub.parent_id, "top_level": sub.top_level, "gen": sub.gen,
            "uuid": sub.uuid, "parent_uuid": sub.parent_uuid, "received_uuid": sub.received_uuid,
            "received": bool(sub.received_uuid), "path": sub.path, "readonly": readonly}  # fmt: skip


def _is_snapshot(sub: BtrfsSubvolume, readonly: set[int]) -> bool:
    """A read-only snapshot of a subvolume of this filesystem (not a received copy)."""
    return sub.id in readonly and bool(sub.parent_uuid) and not sub.received_uuid


def _device_dicts(fs: BtrfsFilesystem, stats: list[dict]) -> list[dict]:
    by_key = {s["device"] or f"devid:{s['devid']}": s for s in stats}
    out = []
    for dev in fs.devices:
        stat = by_key.get(f"devid:{dev.devid}" if dev.missing else dev.path, {})
        counters = {k: stat.get(k, 0) for k in DEVICE_STAT_KEYS}
        out.append({"devid": dev.devid, "path": dev.path, "missing": dev.missing, "size_bytes": dev.size_bytes,
                    "allocated_bytes": dev.used_bytes, **counters})  # fmt: skip
    return out


def _device_vdev(dev: dict) -> VdevInfo:
    return VdevInfo(
        name=dev["path"] or f"missing (devid {dev['devid']})", kind="disk",
        state="UNAVAIL" if dev["missing"] else "ONLINE",
        read_errors=dev["read_io_errs"], write_errors=dev["write_io_errs"],
        checksum_errors=dev["corruption_errs"] + dev["generation_errs"],
    )  # fmt: skip


def _profile(usage: BtrfsUsage, kind: str) -> str:
    return "+".join(usage.profiles(kind))


def _usage_extra(usage: BtrfsUsage) -> dict:
    return {"data_profile": _profile(usage, "data"), "metadata_profile": _profile(usage, "metadata"),
            "system_profile": _profile(usage, "system"), "multiple_profiles": usage.multiple_profiles,
            "data_ratio": usage.data_ratio, "metadata_ratio": usage.metadata_ratio,
            "usage": dict(usage.overall)}  # fmt: skip


def _health_texts(fs: BtrfsFilesystem, stats: list[dict]) -> tuple[str, str, str]:
    faulty = [s for s in stats if s["errors"]]
    errors_text = "; ".join(
        f"{s['device'] or 'devid ' + str(s['devid'])}: " + ", ".join(f"{k} {s[k]}" for k in DEVICE_STAT_KEYS if s[k])
        for s in faulty
    )
    status = "One or more devices are missing; the filesystem is mounted degraded." if fs.missing else ""
    health = "DEGRADED" if fs.missing or faulty else "ONLINE"
    return health, status, errors_text or "No device errors"


class BtrfsBackend:
    """btrfs-progs through a runner; returns base dataclasses; knows nothing of Django."""

    name = "btrfs"

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def _call(self, argv: list[str], *, env: Mapping[str, str] | None = None, check: bool = True) -> CommandResult:
        try:
            return self._runner.run(argv, env=env, check=check)
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc

    def _show(self, mnt: str) -> BtrfsFilesystem:
        return parse_btrfs_filesystem_show(self._call(["btrfs", "filesystem", "show", "--raw", mnt]).stdout)

    def _list(self, mnt: str) -> list[BtrfsSubvolume]:
        return parse_btrfs_subvolume_list(self._call([*_LIST, mnt]).stdout)

    def _readonly_ids(self, mnt: str) -> set[int]:
        out = self._call(["btrfs", "subvolume", "list", "-r", mnt]).stdout
        return {sub.id for sub in parse_btrfs_subvolume_list(out)}

    def filesystem_info(self, mountpoint: str) -> PoolInfo:
        """Label, health, usage, profiles, devices with error counters and the last scrub."""
        mnt = _mountpoint(mountpoint)
        fs = self._show(mnt)
        usage = parse_btrfs_filesystem_usage(self._call(["btrfs", "filesystem", "usage", "-b", mnt]).stdout)
        stats = self.device_stats(mnt)
        scan, counters = self._scrub(mnt)
        health, status_text, errors_text = _health_texts(fs, stats)
        devices = _device_dicts(fs, stats)
        allocated = usage.logical_used_bytes
        free = usage.overall.get("free_estimated")
        size = allocated + free if free is not None else None
        if max(allocated, size or 0) > MAX_INT:
            raise ParseError(f"btrfs filesystem usage of {mnt}: sizes out of range", command="btrfs filesystem usage")
        return PoolInfo(
            name=fs.name, backend="btrfs", health=health, size_bytes=size, allocated_bytes=allocated,
            free_bytes=free, capacity_percent=round(100 * allocated / size) if size else None,
            guid=fs.uuid, mountpoint=mnt, scan=scan, vdevs=tuple(_device_vdev(d) for d in devices),
            status_text=status_text, errors_text=errors_text,
            extra={"uuid": fs.uuid, "label": fs.label, "total_devices": fs.total_devices,
                   "devices": devices, "scrub": counters, **_usage_extra(usage)},
        )  # fmt: skip

    def list_subvolumes(self, mountpoint: str) -> list[DatasetInfo]:
        """Every subvolume that is not a read-only snapshot (received ones included, flagged), named
        "<label>/<path>"."""
        mnt = _mountpoint(mountpoint)
        fs_name = self._show(mnt).name
        readonly = self._readonly_ids(mnt)
        return [
            DatasetInfo(
                name=f"{fs_name}/{sub.path}", pool=fs_name, kind="subvolume", mountpoint=f"{mnt}/{sub.path}",
                properties={"ro": PropertyValue("true" if sub.id in readonly else "false", "local")},
                extra=_subvolume_extra(sub, sub.id in readonly),
            )
            for sub in self._list(mnt)
            if not _is_snapshot(sub, readonly)
        ]  # fmt: skip

    def list_snapshots(self, mountpoint: str) -> list[SnapshotInfo]:
        """Read-only snapshots, each mapped to its source subvolume through its parent uuid."""
        mnt = _mountpoint(mountpoint)
        fs_name = self._show(mnt).name
        out = self._call(["btrfs", "subvolume", "list", "-s", "-r", *_LIST[3:], mnt], env=_UTC).stdout
        snaps = [s for s in parse_btrfs_subvolume_list(out) if s.parent_uuid and not s.received_uuid]
        sources = {sub.uuid: f"{fs_name}/{sub.path}" for sub in self._list(mnt)}
        if any(s.parent_uuid not in sources for s in snaps):
            sources[self._root_uuid(mnt)] = fs_name  # a snapshot of the top level itself
        return [self._snapshot_info(fs_name, snap, sources.get(snap.parent_uuid, "")) for snap in snaps]

    def _root_uuid(self, mnt: str) -> str:
        return parse_btrfs_subvolume_show(self._call(["btrfs", "subvolume", "show", mnt]).stdout).get("uuid", "")

    @staticmethod
    def _snapshot_info(fs_name: str, snap: BtrfsSubvolume, source: str) -> SnapshotInfo:
        extra = {**_subvolume_extra(snap, True), "source_missing": not source}
        return SnapshotInfo(name=f"{fs_name}/{snap.path}", dataset=source, short_name=PurePosixPath(snap.path).name,
                            created_at=snap.otime, guid=snap.uuid, extra=extra)  # fmt: skip

    def create_subvolume(self, mountpoint: str, path: str) -> None:
        """Create subvolume ``path`` under the mountpoint (its parent directory must exist)."""
        self._call(["btrfs", "subvolume", "create", safe_join(mountpoint, path)])

    def delete_subvolume(self, mountpoint: str, path: str, *, commit_after: bool = False) -> None:
        """Delete subvolume or snapshot ``path``; ``commit_after`` waits until it is on disk."""
        flags = ["--commit-after"] if commit_after else []
        self._call(["btrfs", "subvolume", "delete", *flags, safe_join(mountpoint, path)])

    def snapshot(self, mountpoint: str, source_path: str, target_path: str, readonly: bool = True) -> None:
        """Snapshot subvolume ``source_path`` to ``target_path``, read-only unless told otherwise."""
        flags = ["-r"] if readonly else []
        source, target = safe_join(mountpoint, source_path), safe_join(mountpoint, target_path)
        self._call(["btrfs", "subvolume", "snapshot", *flags, source, target])

    def start_scrub(self, mountpoint: str) -> RunningCommand:
        """Start a scrub in the foreground of a running command (``scrub start -B``): the scrub ends when
        the command does. Follow it with ``scrub_status`` while ``poll()`` is None, then ``finish_scrub``."""
        return self._runner.start(["btrfs", "scrub", "start", "-B", "-R", _mountpoint(mountpoint)], env=_UTC)

    def finish_scrub(self, mountpoint: str, handle: RunningCommand, timeout: float | None = None) -> ScanProgress:
        """Wait for the scrub command; the tool's refusal becomes BackendError. Exit 3 (uncorrectable
        errors found) is a finished scrub whose errors the returned status counts."""
        result = handle.wait(timeout=timeout, check=False)
        if result.returncode not in (0, 3):
            raise BackendError.from_command(CommandError(result))
        return self.scrub_status(mountpoint)

    def _scrub(self, mnt: str) -> tuple[ScanProgress, dict[str, int]]:
        raw = self._call(["btrfs", "scrub", "status", "-R", mnt], env=_UTC).stdout
        summary = self._call(["btrfs", "scrub", "status", "--raw", mnt], env=_UTC).stdout
        return parse_btrfs_scrub_status(raw, summary), parse_btrfs_scrub_counters(raw)

    def scrub_status(self, mountpoint: str) -> ScanProgress:
        """State, percent, bytes scrubbed of total and error count of the current or last scrub."""
        return self._scrub(_mountpoint(mountpoint))[0]

    def cancel_scrub(self, mountpoint: str) -> None:
        """Cancel the running scrub (the tool refuses when none runs)."""
        self._call(["btrfs", "scrub", "cancel", _mountpoint(mountpoint)])

    def balance_status(self, mountpoint: str) -> dict:
        """State ("none", "running", "paused"), chunks balanced and percent of a balance."""
        result = self._call(["btrfs", "balance", "status", _mountpoint(mountpoint)], check=False)
        # Exit status 1 with a report on stdout means "a balance is running or paused".
        if result.returncode == 0 or (result.returncode == 1 and result.stdout.startswith("Balance on")):
            return parse_btrfs_balance_status(result.stdout)
        raise BackendError.from_command(CommandError(result))

    def device_stats(self, mountpoint: str) -> list[dict]:
        """Per device write/read/flush/corruption/generation error counters."""
        return parse_btrfs_device_stats(self._call(["btrfs", "device", "stats", _mountpoint(mountpoint)]).stdout)

    def is_readonly(self, path: str) -> bool:
        """Whether the subvolume at absolute ``path`` is read-only."""
        return parse_btrfs_property_ro(self._call(["btrfs", "property", "get", "-ts", _abs_path(path), "ro"]).stdout)

    def set_readonly(self, path: str, readonly: bool) -> None:
        """Make the subvolume at absolute ``path`` read-only or writable."""
        value = "true" if readonly else "false"
        self._call(["btrfs", "property", "set", "-ts", _abs_path(path), "ro", value])
