"""Btrfs filesystems: create over chosen devices, destroy or unregister, balance (start, pause, resume,
cancel), add/remove/replace devices, quota groups for subvolume sizes, device error counters.

A Btrfs filesystem is a pool whose top level is mounted at ``pool.mountpoint``; every command here takes
that mountpoint. Long operations (create, destroy, balance, device removal and replacement, turning quotas
on) are jobs locked on ``pool:<label>`` that follow the tool to its end; short ones run inline and re-read
the pool.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import PurePosixPath

from django.conf import settings
from django.utils.translation import gettext as _

from apps.core import validators as v
from apps.core.errors import BackendError, ServiceError
from apps.core.runner import Runner, get_runner
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.progress import JobCancelled
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext

from .. import sync
from ..backends import get_btrfs_backend
from ..backends.btrfs import PROFILE_MIN_DEVICES, BtrfsBackend, balance_filters
from ..choices import Backend
from ..models import Pool, Snapshot
from .common import check, check_device, require_present
from .pools import refresh_pool, refuse_disks_in_use, set_job_target

__all__ = [
    "BTRFS_POLL_S",
    "add_btrfs_device",
    "cancel_balance",
    "create_btrfs",
    "disable_quota",
    "enable_quota",
    "mount_btrfs_pool",
    "mount_registered_btrfs",
    "pause_balance",
    "remove_btrfs_device",
    "replace_btrfs_device",
    "reset_device_stats",
    "resume_balance",
    "run_balance",
    "run_create_btrfs",
    "run_enable_quota",
    "run_remove_btrfs_device",
    "run_replace_btrfs_device",
    "start_balance",
    "subvolume_sizes",
    "unregister_btrfs_pool",
]

BTRFS_POLL_S = 2.0  # how often a balance, removal or replacement job re-reads the tool's progress


def _follow(handle, report) -> None:
    """Call ``report()`` every BTRFS_POLL_S seconds while the started command runs."""
    while handle.poll() is None:
        report()
        time.sleep(BTRFS_POLL_S)


def _btrfs(pool: Pool, runner: Runner | None = None) -> tuple[BtrfsBackend, str]:
    require_present(pool)
    if pool.backend != Backend.BTRFS:
        raise ServiceError("unsupported", _("This is a Btrfs operation; %(p)s is a ZFS pool.") % {"p": pool.name})
    return get_btrfs_backend(runner), pool.mountpoint


# --- create, unregister ----------------------------------------------------------------------


def _check_profiles(devices: Sequence[str], data_profile: str, metadata_profile: str) -> None:
    for field, profile in (("data_profile", data_profile), ("metadata_profile", metadata_profile)):
        if profile not in PROFILE_MIN_DEVICES:
            raise ServiceError("invalid", _("Unknown profile %(p)s: use one of %(c)s.") % {
                "p": profile, "c": ", ".join(PROFILE_MIN_DEVICES)}, field=field)
        if len(devices) < PROFILE_MIN_DEVICES[profile]:
            raise ServiceError("invalid", _("%(p)s needs at least %(n)s devices; %(g)s chosen.") % {
                "p": profile, "n": PROFILE_MIN_DEVICES[profile], "g": len(devices)}, field=field)


def create_btrfs(label: str, *, devices: Sequence[str], data_profile: str = "single", metadata_profile: str = "",
                 mountpoint: str = "", force: bool = False, actor=None, runner: Runner | None = None) -> Job:
    """Queue making a Btrfs filesystem labelled ``label`` over ``devices``, mounting its top level at
    ``mountpoint`` (default: under CALYPSO_BTRFS_MOUNT_ROOT) and managing it as a pool."""
    check(v.validate_zfs_pool_name, label, "label")  # the pool's name here: the same rules keep names unambiguous
    devices = [check_device(d, "devices") for d in devices or ()]
    if not devices:
        raise ServiceError("invalid", _("Choose at least one device."), field="devices")
    if len(set(devices)) != len(devices):
        raise ServiceError("invalid", _("A device is listed twice."), field="devices")
    if any(not d.startswith("/dev/") for d in devices):
        raise ServiceError("invalid", _("Btrfs is made on block devices (/dev/...)."), field="devices")
    metadata_profile = metadata_profile or ("dup" if len(devices) == 1 else "raid1")
    _check_profiles(devices, data_profile, metadata_profile)
    mountpoint = mountpoint or str(PurePosixPath(settings.CALYPSO_BTRFS_MOUNT_ROOT, label))
    check(v.validate_host_path, mountpoint, "mountpoint")
    if Pool.objects.filter(backend=Backend.BTRFS, name=label).exists():
        raise ServiceError("exists", _("A Btrfs filesystem labelled %(n)s is already managed here.") % {"n": label},
                           field="label")
    if Pool.objects.filter(backend=Backend.BTRFS, mountpoint=mountpoint, gone=False).exists():
        raise ServiceError("exists", _("Another filesystem is mounted at %(m)s.") % {"m": mountpoint},
                           field="mountpoint")
    refuse_disks_in_use(runner or get_runner(), dict.fromkeys(devices, "devices"))
    params = {"label": label, "devices": devices, "data_profile": data_profile, "metadata_profile": metadata_profile,
              "mountpoint": mountpoint, "force": bool(force)}  # fmt: skip
    return jobs.enqueue("storage.btrfs.create", user=actor, params=params, lock_key=f"pool:{label}")


@job_kind("storage.btrfs.create", "Create Btrfs filesystem", retryable=True)
def run_create_btrfs(ctx: JobContext, target, *, label: str, devices: list, data_profile: str,
                     metadata_profile: str, mountpoint: str, force: bool = False) -> dict:
    """Worker side: mkfs, mount the top level, register; a failure undoes each step, last first."""
    tool = get_btrfs_backend(ctx.runner)
    ctx.progress(10, _("Making the filesystem on %(n)s devices") % {"n": len(devices)})
    made = tool.mkfs(devices, label=label, data_profile=data_profile, metadata_profile=metadata_profile,
                     force=force)
    ctx.on_undo(f"erase the new filesystem from {', '.join(devices)}", lambda: tool.wipe(devices))
    ctx.log.info(f"Made Btrfs {label} ({made['uuid']}): data {data_profile}, metadata {metadata_profile}.")
    ctx.progress(40, _("Mounting at %(m)s") % {"m": mountpoint})
    tool.make_mountpoint(mountpoint)
    ctx.on_undo(f"remove the directory {mountpoint} if empty", lambda: tool.remove_mountpoint(mountpoint))
    tool.mount(devices[0], mountpoint)
    ctx.on_undo(f"unmount {mountpoint}", lambda: tool.unmount(mountpoint))
    ctx.progress(70, _("Reading the new filesystem"))
    info = tool.filesystem_info(mountpoint)
    pool = Pool.objects.create(backend=Backend.BTRFS, name=info.name, mountpoint=mountpoint)
    ctx.on_undo("forget the pool's rows", pool.delete)
    sync.sync_btrfs(ctx.runner, [pool])
    pool.refresh_from_db()
    set_job_target(ctx, pool)
    return {"pool": pool.pk, "uuid": made["uuid"], "mountpoint": mountpoint, "health": pool.health}


def mount_btrfs_pool(pool: Pool, *, actor=None, runner: Runner | None = None) -> Pool:
    """Mount a managed filesystem's top level again at its mountpoint (after a reboot, say), by its UUID."""
    runner = runner or get_runner()
    tool, mnt = _btrfs(pool, runner)
    if tool.is_mounted(mnt):
        raise ServiceError("mounted", _("Something is already mounted at %(m)s.") % {"m": mnt}, status=409)
    if not pool.guid:
        raise ServiceError("no_uuid", _("The filesystem's UUID is not known: register it again once mounted."),
                           status=409)
    tool.make_mountpoint(mnt)
    tool.mount_uuid(pool.guid, mnt)
    return refresh_pool(pool, runner)


def mount_registered_btrfs(runner: Runner | None = None) -> list[str]:
    """At start: mount each managed Btrfs filesystem that is not mounted; one line per filesystem mounted or
    failed, saying what happened (a failure is reported, not raised: the portal starts anyway)."""
    said = []
    for pool in Pool.objects.btrfs().filter(gone=False).exclude(guid=""):
        try:
            mount_btrfs_pool(pool, runner=runner)
        except ServiceError:  # mounted already
            continue
        except BackendError as exc:
            said.append(f"{pool.name}: could not mount at {pool.mountpoint}: {exc.message}")
        else:
            said.append(f"{pool.name}: mounted at {pool.mountpoint}")
    return said


def unregister_btrfs_pool(pool: Pool, *, actor=None) -> None:
    """Stop managing a Btrfs filesystem: its rows go, the filesystem and its data stay as they are."""
    if pool.backend != Backend.BTRFS:
        raise ServiceError("unsupported", _("Only a Btrfs filesystem is unregistered; export a ZFS pool."))
    pool.delete()


# --- balance ---------------------------------------------------------------------------------


def _balance_state(tool: BtrfsBackend, mnt: str) -> str:
    return tool.balance_status(mnt)["state"]


def start_balance(pool: Pool, *, data_usage: int | None = None, metadata_usage: int | None = None,
                  data_convert: str = "", metadata_convert: str = "", actor=None,
                  runner: Runner | None = None) -> Job:
    """Queue a balance: chunks at most ``*_usage`` % full are rewritten (reclaiming their space), or every
    chunk converted to another profile; no filter at all balances everything."""
    tool, mnt = _btrfs(pool, runner)
    for field, usage in (("data_usage", data_usage), ("metadata_usage", metadata_usage)):
        if usage is not None and not 0 <= int(usage) <= 100:
            raise ServiceError("invalid", _("A usage filter is a percentage, 0 to 100."), field=field)
    devices = len(tool.devices(mnt))
    for field, profile in (("data_convert", data_convert), ("metadata_convert", metadata_convert)):
        if profile and profile not in PROFILE_MIN_DEVICES:
            raise ServiceError("invalid", _("Unknown profile %(p)s.") % {"p": profile}, field=field)
        if profile and devices < PROFILE_MIN_DEVICES[profile]:
            raise ServiceError("invalid", _("%(p)s needs at least %(n)s devices; the filesystem has %(d)s.") % {
                "p": profile, "n": PROFILE_MIN_DEVICES[profile], "d": devices}, field=field)
    state = _balance_state(tool, mnt)
    if state != "none":
        raise ServiceError("busy", _("A balance is already %(s)s: resume or cancel it.") % {"s": state},
                           status=409)
    filters = balance_filters(data_usage=data_usage, metadata_usage=metadata_usage, data_convert=data_convert,
                              metadata_convert=metadata_convert)
    return jobs.enqueue("storage.btrfs.balance", target=pool, user=actor, lock_key=pool.lock_key,
                        params={"filters": filters})


def resume_balance(pool: Pool, *, actor=None, runner: Runner | None = None) -> Job:
    """Queue resuming a paused balance, followed to its end like a new one."""
    tool, mnt = _btrfs(pool, runner)
    if _balance_state(tool, mnt) != "paused":
        raise ServiceError("not_paused", _("No balance is paused on %(p)s.") % {"p": pool.name}, status=409)
    return jobs.enqueue("storage.btrfs.balance", target=pool, user=actor, lock_key=pool.lock_key,
                        params={"resume": True})


@job_kind("storage.btrfs.balance", "Balance Btrfs filesystem")
def run_balance(ctx: JobContext, pool: Pool, *, filters: Sequence[str] = ("--full-balance",),
                resume: bool = False) -> dict:
    """Worker side: run the balance and follow ``balance status`` until it is done, paused or cancelled (a
    pause or a cancel ends the job cancelled, at the percent reached, saying which)."""
    if pool is None:
        raise ServiceError("not_found", _("The filesystem is no longer managed here."))
    tool, mnt = _btrfs(pool, ctx.runner)
    handle = tool.resume_balance(mnt) if resume else tool.start_balance(mnt, list(filters))

    def stop() -> None:
        with contextlib.suppress(BackendError):
            tool.cancel_balance(mnt)
        handle.kill()

    ctx.on_undo("cancel the balance", stop)
    ctx.progress(0, _("Balance resumed") if resume else _("Balance started"))
    def report() -> None:
        status = tool.balance_status(mnt)
        if status["state"] == "running":
            ctx.progress(min(status["percent"], 99.9), _("%(b)s of about %(t)s chunks balanced") % {
                "b": status["chunks_balanced"], "t": status["chunks_total"]})

    _follow(handle, report)
    outcome = tool.balance_outcome(handle)
    sync.apply_pool_info(pool, tool.filesystem_info(mnt))
    if outcome == "canceled":
        raise JobCancelled(_("The balance was cancelled at %(p)s %% before it finished.") % {
            "p": ctx.progress.percent}, undo=False)
    if outcome == "paused":  # the job ends where the balance stopped (not at 100 %); resume is a new job
        raise JobCancelled(_("The balance was paused at %(p)s %%: resume it to go on.") % {
            "p": ctx.progress.percent}, undo=False)
    ctx.progress(100, _("Balance finished"))
    text = handle.wait().stdout.strip()
    ctx.log.info(text or "Balance finished.")
    return {"outcome": "done", "text": text}


def pause_balance(pool: Pool, *, actor=None, runner: Runner | None = None) -> Pool:
    """Pause the running balance (its job ends, saying so); resume goes on where it stopped."""
    tool, mnt = _btrfs(pool, runner)
    tool.pause_balance(mnt)
    return refresh_pool(pool, runner or get_runner())


def cancel_balance(pool: Pool, *, actor=None, runner: Runner | None = None) -> Pool:
    """Cancel a running or paused balance (its job ends as cancelled); chunks already moved stay moved."""
    tool, mnt = _btrfs(pool, runner)
    tool.cancel_balance(mnt)
    return refresh_pool(pool, runner or get_runner())


# --- devices ---------------------------------------------------------------------------------


def _find_device(tool: BtrfsBackend, mnt: str, device: str | int, field: str = "device") -> dict:
    """The member named by path or devid, or a 400 naming ``field``."""
    text = str(device).strip()
    if not text.isdigit():
        check_device(text, field)
    for dev in tool.devices(mnt):
        if text == str(dev["devid"]) or (dev["path"] and text == dev["path"]):
            return dev
    raise ServiceError("invalid", _("%(d)s is not a device of this filesystem.") % {"d": text}, field=field)


def add_btrfs_device(pool: Pool, *, device: str, force: bool = False, actor=None,
                     runner: Runner | None = None) -> Pool:
    """Add a device: its space is usable at once; existing data stays where it is until a balance."""
    tool, mnt = _btrfs(pool, runner)
    device = check_device(device, "device")
    if not device.startswith("/dev/"):
        raise ServiceError("invalid", _("Give a block device (/dev/...)."), field="device")
    refuse_disks_in_use(runner or get_runner(), {device: "device"})
    tool.add_device(mnt, device, force=force)
    return refresh_pool(pool, runner or get_runner())


def remove_btrfs_device(pool: Pool, *, device: str, actor=None, runner: Runner | None = None) -> Job:
    """Queue removing a device (path, or devid for a missing one); its data moves to the others first."""
    tool, mnt = _btrfs(pool, runner)
    dev = _find_device(tool, mnt, device)
    return jobs.enqueue("storage.btrfs.remove_device", target=pool, user=actor, lock_key=pool.lock_key,
                        params={"devid": dev["devid"], "path": dev["path"]})


@job_kind("storage.btrfs.remove_device", "Remove device from Btrfs filesystem")
def run_remove_btrfs_device(ctx: JobContext, pool: Pool, *, devid: int, path: str = "") -> dict:
    """Worker side: ``device remove``; progress is how much of the device's allocation has moved away."""
    tool, mnt = _btrfs(pool, ctx.runner)
    handle = tool.start_remove_device(mnt, path or devid)
    ctx.on_undo("stop the removal", handle.kill)
    name = path or f"devid {devid}"

    def allocated() -> int | None:
        return next((d["allocated_bytes"] for d in tool.devices(mnt) if d["devid"] == devid), None)

    start = allocated() or 0
    ctx.progress(0, _("Moving data off %(d)s") % {"d": name})
    def report() -> None:
        left = allocated()
        if start and left is not None:
            ctx.progress(min(99.9, 100 * (start - left) / start), _("%(d)s: %(l)s bytes left to move") % {
                "d": name, "l": left})

    _follow(handle, report)
    tool.finish_command(handle)
    ctx.progress(100, _("%(d)s removed") % {"d": name})
    sync.apply_pool_info(pool, tool.filesystem_info(mnt))
    return {"removed": name, "moved_bytes": start}


def replace_btrfs_device(pool: Pool, *, device: str, new_device: str, force: bool = False, actor=None,
                         runner: Runner | None = None) -> Job:
    """Queue replacing a device (path, or devid for a missing one) by a new one, copied in place."""
    tool, mnt = _btrfs(pool, runner)
    dev = _find_device(tool, mnt, device)
    new_device = check_device(new_device, "new_device")
    if not new_device.startswith("/dev/"):
        raise ServiceError("invalid", _("Give a block device (/dev/...)."), field="new_device")
    refuse_disks_in_use(runner or get_runner(), {new_device: "new_device"})
    if tool.replace_status(mnt)["state"] == "running":
        raise ServiceError("busy", _("A replacement is already running on %(p)s.") % {"p": pool.name}, status=409)
    return jobs.enqueue("storage.btrfs.replace", target=pool, user=actor, lock_key=pool.lock_key,
                        params={"devid": dev["devid"], "path": dev["path"], "new_device": new_device,
                                "force": bool(force)})


@job_kind("storage.btrfs.replace", "Replace device of Btrfs filesystem")
def run_replace_btrfs_device(ctx: JobContext, pool: Pool, *, devid: int, path: str = "", new_device: str,
                             force: bool = False) -> dict:
    """Worker side: ``replace start -B``, followed through ``replace status``."""
    tool, mnt = _btrfs(pool, ctx.runner)
    handle = tool.start_replace(mnt, path or devid, new_device, force=force)

    def stop() -> None:
        with contextlib.suppress(BackendError):
            tool.cancel_replace(mnt)
        handle.kill()

    ctx.on_undo("cancel the replacement", stop)
    name = path or f"devid {devid}"
    ctx.progress(0, _("Copying %(d)s onto %(n)s") % {"d": name, "n": new_device})
    def report() -> None:
        status = tool.replace_status(mnt)
        if status["state"] == "running":
            ctx.progress(min(status["percent"], 99.9), _("%(p).1f %% copied") % {"p": status["percent"]})

    _follow(handle, report)
    tool.finish_command(handle)
    status = tool.replace_status(mnt)
    if status["state"] != "finished":
        raise BackendError(_("The replacement ended %(s)s: %(t)s") % {"s": status["state"], "t": status["text"]})
    ctx.progress(100, _("%(d)s replaced by %(n)s") % {"d": name, "n": new_device})
    ctx.log.info(status["text"])
    sync.apply_pool_info(pool, tool.filesystem_info(mnt))
    return {"replaced": name, "by": new_device, "write_errors": status["write_errors"],
            "read_errors": status["read_errors"]}


def reset_device_stats(pool: Pool, *, actor=None, runner: Runner | None = None) -> Pool:
    """Zero every device's error counters (after the cause is dealt with), so new errors stand out."""
    tool, mnt = _btrfs(pool, runner)
    tool.reset_device_stats(mnt)
    return refresh_pool(pool, runner or get_runner())


# --- quotas ----------------------------------------------------------------------------------


def enable_quota(pool: Pool, *, actor=None, runner: Runner | None = None) -> Job:
    """Queue turning quota groups on: the kernel then counts each subvolume's space (a rescan first, which
    reads all metadata), and subvolume sizes appear in the inventory."""
    _btrfs(pool, runner)
    return jobs.enqueue("storage.btrfs.quota", target=pool, user=actor, lock_key=pool.lock_key)


@job_kind("storage.btrfs.quota", "Turn on Btrfs quotas")
def run_enable_quota(ctx: JobContext, pool: Pool) -> dict:
    tool, mnt = _btrfs(pool, ctx.runner)
    ctx.progress(10, _("Turning quotas on"))
    tool.enable_quota(mnt)
    ctx.progress(30, _("Counting every subvolume's space"))
    tool.wait_quota_rescan(mnt)
    ctx.progress(90, _("Reading the sizes"))
    sync.refresh_pool_contents(ctx.runner, pool)
    return {"subvolumes": len(tool.qgroups(mnt) or [])}


def disable_quota(pool: Pool, *, actor=None, runner: Runner | None = None) -> Pool:
    """Turn quota groups off (their accounting costs some write speed); sizes are then unknown."""
    tool, mnt = _btrfs(pool, runner)
    tool.disable_quota(mnt)
    runner = runner or get_runner()
    sync.refresh_pool_contents(runner, pool)
    return refresh_pool(pool, runner)


def subvolume_sizes(pool: Pool, *, actor=None, runner: Runner | None = None) -> list[dict]:
    """Each subvolume and snapshot with the bytes it references and the bytes only it holds (what deleting
    it would free), from the quota groups; a 409 saying how when quotas are off."""
    tool, mnt = _btrfs(pool, runner)
    groups = tool.qgroups(mnt)
    if groups is None:
        raise ServiceError("quota_off", _("Quotas are off on %(p)s: turn them on to count subvolume sizes.") % {
            "p": pool.name}, status=409)
    names = dict(pool.datasets.filter(gone=False).values_list("extra__id", "name"))
    names.update(Snapshot.objects.filter(dataset__pool=pool).values_list("extra__id", "name"))
    return [{"subvolid": q["subvolid"], "name": names.get(q["subvolid"], q["path"]), "path": q["path"],
             "referenced_bytes": q["referenced"], "exclusive_bytes": q["exclusive"],
             "limit_bytes": q["max_referenced"]} for q in groups if q["path"] not in ("<stale>", "<under deletion>")]
