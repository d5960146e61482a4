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

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from apps.core.runner import DEFAULT_TIMEOUT, CommandError, CommandResult, Runner, RunningCommand
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
    parse_btrfs_mkfs,
    parse_btrfs_property_ro,
    parse_btrfs_qgroup_show,
    parse_btrfs_replace_status,
    parse_btrfs_scrub_counters,
    parse_btrfs_scrub_status,
    parse_btrfs_subvolume_list,
    parse_btrfs_subvolume_show,
)

__all__ = ["PROFILE_MIN_DEVICES", "BtrfsBackend", "balance_filters", "safe_join"]

# Block group profiles and the fewest devices mkfs.btrfs (6.2) accepts for each.
PROFILE_MIN_DEVICES = {"single": 1, "dup": 1, "raid0": 1, "raid1": 2, "raid1c3": 3, "raid1c4": 4, "raid10": 2,
                       "raid5": 2, "raid6": 3}
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BALANCE_OUTCOMES = {"balance paused by user": "paused", "balance canceled by user": "canceled"}

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


def _device(path: str) -> str:
    """A device as btrfs-progs takes it: an absolute path or a devid (a missing device has only that)."""
    if isinstance(path, int) or (isinstance(path, str) and path.isdigit()):
        return str(int(path))
    return _abs_path(path, "device")


def balance_filters(*, data_usage: int | None = None, metadata_usage: int | None = None,
                    data_convert: str = "", metadata_convert: str = "") -> list[str]:
    """``balance start`` arguments: usage filters (chunks at most N % full) and profile conversions; no
    filter at all is a full balance (said explicitly, else btrfs-progs waits ten seconds first)."""
    args = []
    for flag, usage, convert in (("-d", data_usage, data_convert), ("-m", metadata_usage, metadata_convert)):
        parts = [f"usage={int(usage)}"] if usage is not None else []
        if convert:
            if convert not in PROFILE_MIN_DEVICES:
                raise BackendError(f"unknown profile {convert!r}")
            parts.append(f"convert={convert}")
        if parts:
            args.append(flag + ",".join(parts))
    return args or ["--full-balance"]


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

    def _call(self, argv: list[str], *, env: Mapping[str, str] | None = None, check: bool = True,
              timeout: float | None = DEFAULT_TIMEOUT) -> CommandResult:
        try:
            return self._runner.run(argv, env=env, check=check, timeout=timeout)
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

    # --- filesystem life cycle ------------------------------------------------------------------

    def mkfs(self, devices: Sequence[str], *, label: str, data_profile: str, metadata_profile: str,
             force: bool = False) -> dict:
        """Make one filesystem over ``devices``; returns its label and UUID (``-f`` overwrites a signature)."""
        if not devices:
            raise BackendError("mkfs.btrfs needs at least one device")
        for profile in (data_profile, metadata_profile):
            if profile not in PROFILE_MIN_DEVICES:
                raise BackendError(f"unknown profile {profile!r}")
        argv = ["mkfs.btrfs", "-L", label, "-d", data_profile, "-m", metadata_profile, *(["-f"] if force else []),
                *(_abs_path(d, "device") for d in devices)]  # fmt: skip
        return parse_btrfs_mkfs(self._call(argv).stdout)

    def mount(self, device: str, mountpoint: str) -> None:
        """Mount the filesystem's top level (subvolid 5) from one of its devices."""
        self._call(["mount", "-t", "btrfs", "-o", "subvolid=5", _abs_path(device, "device"), _mountpoint(mountpoint)])

    def mount_uuid(self, uuid: str, mountpoint: str) -> None:
        """Mount the top level of the filesystem with this UUID (whichever devices hold it now)."""
        if not _UUID_RE.fullmatch(uuid or ""):
            raise BackendError(f"not a filesystem UUID: {uuid!r}")
        self._call(["mount", "-t", "btrfs", "-o", "subvolid=5", f"UUID={uuid}", _mountpoint(mountpoint)])

    def is_mounted(self, mountpoint: str) -> bool:
        """Whether a filesystem is mounted exactly at ``mountpoint`` (``findmnt`` exits 1 when none is)."""
        result = self._call(["findmnt", "--mountpoint", _mountpoint(mountpoint), "--noheadings", "--output",
                             "FSTYPE"], check=False)  # fmt: skip
        if result.returncode not in (0, 1):
            raise BackendError.from_command(CommandError(result))
        return result.returncode == 0

    def unmount(self, mountpoint: str) -> None:
        self._call(["umount", _mountpoint(mountpoint)])

    def make_mountpoint(self, mountpoint: str) -> None:
        self._call(["mkdir", "-p", _mountpoint(mountpoint)])

    def remove_mountpoint(self, mountpoint: str) -> None:
        """Remove the (empty) directory a filesystem was mounted on; a non-empty one stays."""
        self._call(["rmdir", _mountpoint(mountpoint)])

    def wipe(self, devices: Sequence[str]) -> str:
        """Erase the filesystem signatures on ``devices`` (``wipefs -a``): what it erased, in its words."""
        return self._call(["wipefs", "-a", *(_abs_path(d, "device") for d in devices)]).stdout

    # --- balance --------------------------------------------------------------------------------

    def start_balance(self, mountpoint: str, filters: Sequence[str] = ("--full-balance",)) -> RunningCommand:
        """Start a balance in the foreground of a running command (it ends when the balance does, is paused
        or cancelled): follow it with ``balance_status``, then ``balance_outcome``."""
        return self._runner.start(["btrfs", "balance", "start", *filters, _mountpoint(mountpoint)])

    def resume_balance(self, mountpoint: str) -> RunningCommand:
        """Resume a paused balance, in the foreground like ``start_balance``."""
        return self._runner.start(["btrfs", "balance", "resume", _mountpoint(mountpoint)])

    @staticmethod
    def balance_outcome(handle: RunningCommand, timeout: float | None = None) -> str:
        """How a balance command ended: "done", "paused" or "canceled" (btrfs-progs says the last two on
        stderr, with exit 0 or 255); any other failure is the tool's BackendError."""
        result = handle.wait(timeout=timeout, check=False)
        said = result.stderr.strip().splitlines()
        outcome = next((BALANCE_OUTCOMES[line.strip()] for line in said if line.strip() in BALANCE_OUTCOMES), "")
        if outcome:
            return outcome
        if result.returncode:
            raise BackendError.from_command(CommandError(result))
        return "done"

    def pause_balance(self, mountpoint: str) -> None:
        self._call(["btrfs", "balance", "pause", _mountpoint(mountpoint)])

    def cancel_balance(self, mountpoint: str) -> None:
        """Cancel a running or paused balance; returns once the chunk in hand is done."""
        self._call(["btrfs", "balance", "cancel", _mountpoint(mountpoint)])

    # --- devices --------------------------------------------------------------------------------

    def add_device(self, mountpoint: str, device: str, *, force: bool = False) -> None:
        self._call(["btrfs", "device", "add", *(["-f"] if force else []), _abs_path(device, "device"),
                    _mountpoint(mountpoint)])  # fmt: skip

    def start_remove_device(self, mountpoint: str, device: str | int) -> RunningCommand:
        """Remove a device (path, or devid for a missing one): its data moves to the others first, so this
        runs as long as that takes; the device's allocation in ``filesystem show`` shrinks meanwhile."""
        return self._runner.start(["btrfs", "device", "remove", _device(device), _mountpoint(mountpoint)])

    def start_replace(self, mountpoint: str, device: str | int, new_device: str, *,
                      force: bool = False) -> RunningCommand:
        """Copy ``device`` (path or devid) onto ``new_device`` in the foreground; follow ``replace_status``."""
        return self._runner.start(["btrfs", "replace", "start", "-B", *(["-f"] if force else []), _device(device),
                                   _abs_path(new_device, "new device"), _mountpoint(mountpoint)])  # fmt: skip

    def replace_status(self, mountpoint: str) -> dict:
        return parse_btrfs_replace_status(self._call(["btrfs", "replace", "status", "-1",
                                                      _mountpoint(mountpoint)]).stdout)

    def cancel_replace(self, mountpoint: str) -> None:
        self._call(["btrfs", "replace", "cancel", _mountpoint(mountpoint)])

    def finish_command(self, handle: RunningCommand, timeout: float | None = None) -> None:
        """Wait for a started command; its failure is the tool's BackendError."""
        result = handle.wait(timeout=timeout, check=False)
        if result.returncode:
            raise BackendError.from_command(CommandError(result))

    def devices(self, mountpoint: str) -> list[dict]:
        """Each device with its devid, path, size, allocation and error counters."""
        mnt = _mountpoint(mountpoint)
        return _device_dicts(self._show(mnt), self.device_stats(mnt))

    def reset_device_stats(self, mountpoint: str) -> None:
        """Print and zero every device's error counters (``device stats -z``)."""
        self._call(["btrfs", "device", "stats", "-z", _mountpoint(mountpoint)])

    # --- quotas ---------------------------------------------------------------------------------

    def enable_quota(self, mountpoint: str) -> None:
        """Turn quota groups on; the kernel then counts every subvolume's space (a rescan runs)."""
        self._call(["btrfs", "quota", "enable", _mountpoint(mountpoint)])

    def wait_quota_rescan(self, mountpoint: str) -> None:
        """Wait until the quota rescan that enabling started has counted everything."""
        self._call(["btrfs", "quota", "rescan", "-w", _mountpoint(mountpoint)], timeout=None)

    def disable_quota(self, mountpoint: str) -> None:
        self._call(["btrfs", "quota", "disable", _mountpoint(mountpoint)])

    def qgroups(self, mountpoint: str) -> list[dict] | None:
        """Level-0 quota groups (one per subvolume) with referenced and exclusive bytes; None when quotas are
        off on this filesystem."""
        result = self._call(["btrfs", "qgroup", "show", "--raw", "-r", "-e", _mountpoint(mountpoint)], check=False)
        if result.returncode:
            if "quotas not enabled" in result.stderr:
                return None
            raise BackendError.from_command(CommandError(result))
        return [q for q in parse_btrfs_qgroup_show(result.stdout) if q["level"] == 0]
