"""Pools: inventory sync, create, add devices, scrub, members, export, import, destroy."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from django.utils.translation import gettext as _

from apps.core import validators as v
from apps.core.errors import ServiceError
from apps.core.runner import CommandError, Runner
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.system.backends.host import HostBackend

from .. import sync
from ..backends import get_btrfs_backend, get_zfs_backend
from ..backends.base import BackendError
from ..choices import Backend, PoolHealth
from ..models import Pool, Vdev
from . import _common
from ._common import LAYOUT_WIDTH, _acting, _check, _clean_properties, _device, _require_present, _require_zfs

__all__ = [
    "SCRUB_POLL_S",
    "add_vdevs",
    "create_pool",
    "destroy_pool",
    "detach_member",
    "export_pool",
    "import_pool",
    "list_importable",
    "offline_member",
    "online_member",
    "pause_scrub",
    "plan_layout",
    "replace_member",
    "run_add_vdevs",
    "run_create_pool",
    "run_destroy_pool",
    "run_import_pool",
    "run_scrub",
    "start_scrub",
    "stop_scrub",
    "sync_inventory",
]

SCRUB_POLL_S = 2.0  # how often a scrub job re-reads the scan state


@job_kind("storage.sync", "Synchronise storage inventory")
def sync_inventory(ctx: JobContext | None = None, target=None, runner: Runner | None = None) -> dict:
    """Re-read pools, datasets and snapshots from the host (beat every 2 minutes, or on demand)."""
    result = sync.sync_all(ctx.runner if ctx is not None else _common._runner(runner))
    return result.as_dict()


def plan_layout(layout: str, disks: Sequence[str], width: int | None = None) -> list[dict]:
    """Chosen disks -> vdev specs: ``mirror`` pairs (or ``width``-way), raidzN groups, or one stripe."""
    if layout not in LAYOUT_WIDTH:
        raise ServiceError("invalid", _("Unknown layout %(l)s.") % {"l": layout}, field="layout")
    disks = [_device(d, "disks") for d in disks]
    if len(set(disks)) != len(disks):
        raise ServiceError("invalid", _("A disk is listed twice."), field="disks")
    if layout == "stripe":
        if not disks:
            raise ServiceError("invalid", _("Choose at least one disk."), field="disks")
        return [{"type": "stripe", "devices": disks}]
    width = width or LAYOUT_WIDTH[layout]
    if width < LAYOUT_WIDTH[layout] or not disks or len(disks) % width:
        raise ServiceError("invalid", _("A %(l)s layout of width %(w)s needs a multiple of %(w)s disks.") % {
            "l": layout, "w": width}, field="disks")
    return [{"type": layout, "devices": disks[i:i + width]} for i in range(0, len(disks), width)]


def _spec_devices(specs: Iterable[Any]) -> list[str]:
    out = []
    for spec in specs:
        out += [spec] if isinstance(spec, str) else list(spec.get("devices", ()))
    return out


def _validate_specs(vdevs: Sequence[Mapping], field: str = "vdevs") -> list[dict]:
    clean = []
    for spec in vdevs:
        if not isinstance(spec, Mapping) or not spec.get("devices"):
            raise ServiceError("invalid", _("Each vdev needs a type and devices."), field=field)
        kind = str(spec.get("type", "stripe"))
        if kind not in LAYOUT_WIDTH:
            raise ServiceError("invalid", _("Unknown vdev type %(t)s.") % {"t": kind}, field=field)
        clean.append({"type": kind, "devices": [_device(d, field) for d in spec["devices"]]})
    return clean


def _block_devices_in_use(runner: Runner, devices: Sequence[str]) -> dict[str, str]:
    """Block devices that carry a filesystem, a mount or partitions (per the host's block device list)."""
    wanted = [d for d in devices if d.startswith("/dev/")]
    if not wanted:
        return {}
    try:
        found = HostBackend(runner).block_devices(wanted)
    except (CommandError, ValueError):  # the tool missing or refusing: zpool still checks for itself
        return {}
    reasons = {"mounted": lambda d: _("mounted on %(m)s") % {"m": d.mountpoint},
               "filesystem": lambda d: _("holds a %(f)s filesystem") % {"f": d.fstype},
               "partitions": lambda d: _("has partitions")}
    return {dev.path: reasons[dev.in_use](dev) for dev in found if dev.in_use}


def _refuse_missing_devices(runner: Runner, devices: Sequence[str]) -> None:
    """A new member must exist on the host: a 400 naming ``devices`` before any command runs."""
    paths = {d if d.startswith("/") else f"/dev/{d}": d for d in devices}
    missing = HostBackend(runner).missing_paths(list(paths))
    if missing:
        raise ServiceError("invalid", _("%(d)s does not exist on this host.") % {"d": ", ".join(missing)},
                           field="devices")


def _refuse_disks_in_use(runner: Runner, devices: Sequence[str]) -> None:
    """Refuse a device that is missing, a member of an imported pool (per zpool status) or in use per
    the host's block device list."""
    _refuse_missing_devices(runner, devices)
    members: dict[str, str] = {}
    for pool in get_zfs_backend(runner).list_pools():
        for leaf in sync._leaves(pool.vdevs):
            members[leaf.name] = pool.name
            members[PurePosixPath(leaf.name).name] = pool.name
    busy = _block_devices_in_use(runner, devices)
    for dev in devices:
        owner = members.get(dev) or (members.get(PurePosixPath(dev).name) if dev.startswith("/dev/") else None)
        if owner:
            raise ServiceError("disk_in_use", _("%(d)s is already a member of pool %(p)s.") % {"d": dev, "p": owner},
                               field="disks")
        if dev in busy:
            raise ServiceError("disk_in_use", _("%(d)s is in use: %(why)s.") % {"d": dev, "why": busy[dev]},
                               field="disks")


def create_pool(name: str, *, vdevs: Sequence[Mapping] | None = None, layout: str | None = None,
                disks: Sequence[str] = (), spares: Sequence[str] = (), log: Sequence[Any] = (),
                cache: Sequence[str] = (), mountpoint: str | None = None, properties: Mapping | None = None,
                fs_properties: Mapping | None = None, force: bool = False, actor=None, source: str | None = None,
                runner: Runner | None = None) -> Job:
    """Queue the creation of ZFS pool ``name`` from explicit vdev specs or a layout over chosen disks."""
    _check(v.validate_zfs_pool_name, name, "name")
    specs = _validate_specs(vdevs) if vdevs else plan_layout(layout or "mirror", list(disks))
    spares = [_device(d, "spares") for d in spares]
    cache = [_device(d, "cache") for d in cache]
    log = [_validate_specs([s], "log")[0] if isinstance(s, Mapping) else _device(s, "log") for s in log]
    if mountpoint is not None and mountpoint not in ("none", "legacy"):
        _check(v.validate_host_path, mountpoint, "mountpoint")
    props = _clean_properties(properties or {}, pool_level=True)
    fs_props = _clean_properties(fs_properties or {})
    if Pool.objects.filter(backend=Backend.ZFS, name=name, gone=False).exists():
        raise ServiceError("exists", _("A pool named %(n)s already exists.") % {"n": name}, field="name")
    _refuse_disks_in_use(_common._runner(runner), [*_spec_devices(specs), *spares, *cache, *_spec_devices(log)])
    params = {"name": name, "vdevs": specs, "spares": spares, "log": log, "cache": cache, "mountpoint": mountpoint,
              "properties": props, "fs_properties": fs_props, "force": bool(force)}
    return jobs.enqueue("storage.pool.create", user=actor, source=source, params=params, lock_key=f"pool:{name}")


def _set_job_target(ctx: JobContext, obj) -> None:
    from django.contrib.contenttypes.models import ContentType

    Job.objects.filter(pk=ctx.job.pk).update(target_type=ContentType.objects.get_for_model(obj),
                                             target_id=str(obj.pk), target_label=str(obj)[:255])


@job_kind("storage.pool.create", "Create pool", retryable=True)
def run_create_pool(ctx: JobContext, target, *, name: str, vdevs: list, spares=(), log=(), cache=(),
                    mountpoint=None, properties=None, fs_properties=None, force=False) -> dict:
    """Worker side: create the pool, then read it back; a failure after creation destroys it again."""
    backend = get_zfs_backend(ctx.runner)
    ctx.progress(10, _("Creating pool %(n)s") % {"n": name})
    backend.create_pool(name, vdevs, spares=spares, log=log, cache=cache, mountpoint=mountpoint,
                        properties=properties, fs_properties=fs_properties, force=force)
    ctx.on_undo(f"destroy pool {name}", lambda: backend.destroy_pool(name, force=True))
    ctx.progress(70, _("Reading the new pool"))
    sync.sync_zfs_pool(ctx.runner, name)
    pool = Pool.objects.get(backend=Backend.ZFS, name=name)
    _set_job_target(ctx, pool)
    ctx.log.info(f"Pool {name} is {pool.health}, {len(_spec_devices(vdevs))} devices.")
    return {"pool": pool.pk, "health": pool.health}


def add_vdevs(pool: Pool, *, vdevs: Sequence[Mapping] = (), spares: Sequence[str] = (), log: Sequence[Any] = (),
              cache: Sequence[str] = (), force: bool = False, actor=None, source: str | None = None,
              runner: Runner | None = None) -> Job:
    """Queue growing a pool by data vdevs, spares, log or cache devices."""
    _require_zfs(pool, _("Adding devices"))
    _require_present(pool)
    specs = _validate_specs(vdevs) if vdevs else []
    spares = [_device(d, "spares") for d in spares]
    cache = [_device(d, "cache") for d in cache]
    log = [_validate_specs([s], "log")[0] if isinstance(s, Mapping) else _device(s, "log") for s in log]
    if not (specs or spares or cache or log):
        raise ServiceError("invalid", _("Nothing to add."), field="vdevs")
    _refuse_disks_in_use(_common._runner(runner), [*_spec_devices(specs), *spares, *cache, *_spec_devices(log)])
    params = {"vdevs": specs, "spares": spares, "log": log, "cache": cache, "force": bool(force)}
    return jobs.enqueue("storage.pool.add_vdevs", target=pool, user=actor, source=source, params=params,
                        lock_key=pool.lock_key)


@job_kind("storage.pool.add_vdevs", "Add devices to pool")
def run_add_vdevs(ctx: JobContext, pool: Pool, *, vdevs=(), spares=(), log=(), cache=(), force=False) -> dict:
    """Worker side: `zpool add`, then re-read the pool."""
    backend = get_zfs_backend(ctx.runner)
    ctx.progress(10, _("Adding devices"))
    backend.add_vdevs(pool.name, vdevs, spares=spares, log=log, cache=cache, force=force)
    ctx.progress(70, _("Reading the pool"))
    sync.sync_zfs_pool(ctx.runner, pool.name)
    return {"devices": len(_spec_devices(vdevs)) + len(spares) + len(cache) + len(_spec_devices(log))}


def start_scrub(pool: Pool, *, actor=None, source: str | None = None) -> Job:
    """Queue a scrub of ``pool``; one scrub per pool at a time."""
    _require_present(pool)
    if pool.health in (PoolHealth.FAULTED, PoolHealth.UNAVAIL, PoolHealth.SUSPENDED):
        raise ServiceError("pool_faulted", _("A %(h)s pool cannot be scrubbed.") % {"h": pool.health})
    return jobs.enqueue("storage.scrub", target=pool, user=actor, source=source, lock_key=pool.lock_key)


def _report_scan(ctx: JobContext, scan) -> None:
    ctx.progress(min(scan.percent, 99.9), _("Scrubbed %(p).1f %%") % {"p": scan.percent})


def _follow_zfs_scrub(ctx: JobContext, pool: Pool):
    """``zpool scrub`` returns at once; the scan state says when it ends."""
    backend = get_zfs_backend(ctx.runner)
    backend.start_scrub(pool.name)
    ctx.on_undo("stop the scrub", lambda: _stop_quietly(pool, ctx.runner))
    ctx.progress(0, _("Scrub started"))
    while (info := backend.pool_status(pool.name)).scan.running:
        _report_scan(ctx, info.scan)
        time.sleep(SCRUB_POLL_S)
    return info


def _follow_btrfs_scrub(ctx: JobContext, pool: Pool):
    """``btrfs scrub start -B`` runs as long as the scrub: poll its status until the command ends."""
    backend = get_btrfs_backend(ctx.runner)
    handle = backend.start_scrub(pool.mountpoint)
    ctx.on_undo("cancel the scrub", lambda: (_stop_quietly(pool, ctx.runner), handle.kill()))
    ctx.progress(0, _("Scrub started"))
    while handle.poll() is None:
        _report_scan(ctx, backend.scrub_status(pool.mountpoint))
        time.sleep(SCRUB_POLL_S)
    backend.finish_scrub(pool.mountpoint, handle)
    return backend.filesystem_info(pool.mountpoint)


@job_kind("storage.scrub", "Scrub pool")
def run_scrub(ctx: JobContext, pool: Pool, **params) -> dict:
    """Worker side: start the scrub and follow it to the end; progress follows the scan percent."""
    if pool is None:
        raise ServiceError("not_found", _("The pool no longer exists."))
    follow = _follow_zfs_scrub if pool.backend == Backend.ZFS else _follow_btrfs_scrub
    info = follow(ctx, pool)
    scan = info.scan
    events = sync.apply_pool_info(pool, info)
    if scan.state == "canceled":
        raise ServiceError("scrub_canceled", _("The scrub was stopped before it finished."))
    ctx.progress(100, _("Scrub finished with %(e)s errors") % {"e": scan.errors})
    ctx.log.info(f"Scrub finished: {scan.errors} errors. {scan.text.strip()}")
    return {"errors": scan.errors, "state": scan.state, "events": [e.kind for e in events]}


def _stop_quietly(pool: Pool, runner: Runner) -> None:
    with contextlib.suppress(BackendError):
        if pool.backend == Backend.ZFS:
            get_zfs_backend(runner).stop_scrub(pool.name)
        else:
            get_btrfs_backend(runner).cancel_scrub(pool.mountpoint)


def pause_scrub(pool: Pool, *, actor=None, source: str | None = None, runner: Runner | None = None) -> Pool:
    """Pause the running scrub (OpenZFS only)."""
    _require_zfs(pool, _("Pausing a scrub"))
    with _acting(actor, "storage.pool.pause_scrub", pool, source):
        get_zfs_backend(_common._runner(runner)).pause_scrub(pool.name)
    return pool


def stop_scrub(pool: Pool, *, actor=None, source: str | None = None, runner: Runner | None = None) -> Pool:
    """Cancel the running scrub."""
    runner = _common._runner(runner)
    with _acting(actor, "storage.pool.stop_scrub", pool, source):
        if pool.backend == Backend.ZFS:
            get_zfs_backend(runner).stop_scrub(pool.name)
        else:
            get_btrfs_backend(runner).cancel_scrub(pool.mountpoint)
    return pool


def _member(pool: Pool, device: str, field: str = "device") -> str:
    _device(device, field)
    leaves = set(Vdev.objects.filter(pool=pool, children__isnull=True).values_list("name", flat=True))
    if device not in leaves:
        raise ServiceError("invalid", _("%(d)s is not a device of pool %(p)s.") % {"d": device, "p": pool.name},
                           field=field, status=400)
    return device


def _refresh_status(pool: Pool, runner: Runner) -> Pool:
    sync.apply_pool_info(pool, get_zfs_backend(runner).pool_status(pool.name))
    return pool


def _member_op(pool: Pool, verb: str, device: str, call: Callable, *, actor, source, runner, **changes) -> Pool:
    _require_zfs(pool, _("Device maintenance"))
    _require_present(pool)
    _member(pool, device)
    runner = _common._runner(runner)
    with _acting(actor, f"storage.pool.{verb}", pool, source, changes={"device": [None, device], **changes}):
        call(get_zfs_backend(runner))
    return _refresh_status(pool, runner)


def offline_member(pool: Pool, device: str, *, temporary: bool = False, actor=None, source: str | None = None,
                   runner: Runner | None = None) -> Pool:
    """Take a member device offline; the pool runs DEGRADED on its redundancy."""
    return _member_op(pool, "offline", device, lambda b: b.offline(pool.name, device, temporary),
                      actor=actor, source=source, runner=runner)


def online_member(pool: Pool, device: str, *, actor=None, source: str | None = None,
                  runner: Runner | None = None) -> Pool:
    """Bring a member back online; ZFS resilvers what it missed."""
    return _member_op(pool, "online", device, lambda b: b.online(pool.name, device),
                      actor=actor, source=source, runner=runner)


def replace_member(pool: Pool, device: str, new_device: str | None = None, *, actor=None,
                   source: str | None = None, runner: Runner | None = None) -> Pool:
    """Replace a member by a new device (resilver starts at once); refuses a new device in use."""
    _require_zfs(pool, _("Device maintenance"))
    _member(pool, device)
    if new_device is not None:
        _device(new_device, "new_device")
        _refuse_disks_in_use(_common._runner(runner), [new_device])
    return _member_op(pool, "replace", device, lambda b: b.replace(pool.name, device, new_device),
                      actor=actor, source=source, runner=runner, new_device=[None, new_device])


def detach_member(pool: Pool, device: str, *, actor=None, source: str | None = None,
                  runner: Runner | None = None) -> Pool:
    """Detach a device from a mirror (or an in-use spare)."""
    return _member_op(pool, "detach", device, lambda b: b.detach(pool.name, device),
                      actor=actor, source=source, runner=runner)


def export_pool(pool: Pool, *, force: bool = False, actor=None, source: str | None = None,
                runner: Runner | None = None) -> Pool:
    """Export a pool; its rows stay, marked gone, until it is imported again."""
    _require_zfs(pool, _("Export"))
    _require_present(pool)
    with _acting(actor, "storage.pool.export", pool, source):
        get_zfs_backend(_common._runner(runner)).export_pool(pool.name, force=force)
    Pool.objects.filter(pk=pool.pk).update(gone=True)
    pool.gone = True
    return pool


def list_importable(search_dirs: Sequence[str] = (), *, runner: Runner | None = None) -> list[dict]:
    """Pools that could be imported (from /dev, or from the given directories of image files)."""
    dirs = [_check(v.validate_host_path, d, "search_dirs") for d in search_dirs]
    try:
        found = get_zfs_backend(_common._runner(runner)).list_importable(dirs)
    except BackendError as exc:
        raise ServiceError("host_refused", exc.stderr.strip() or str(exc)) from exc
    return [{"name": p.name, "guid": p.guid, "state": p.state, "status": p.status_text} for p in found]


def import_pool(name_or_guid: str, *, search_dirs: Sequence[str] = (), new_name: str | None = None,
                force: bool = False, actor=None, source: str | None = None) -> Job:
    """Queue the import of a pool by name or numeric id, optionally renamed."""
    if not (isinstance(name_or_guid, str) and name_or_guid.isdigit()):
        _check(v.validate_zfs_pool_name, name_or_guid, "name")
    if new_name:
        _check(v.validate_zfs_pool_name, new_name, "new_name")
    dirs = [_check(v.validate_host_path, d, "search_dirs") for d in search_dirs]
    final = new_name or name_or_guid
    return jobs.enqueue("storage.pool.import", user=actor, source=source, lock_key=f"pool:{final}",
                        params={"name_or_guid": name_or_guid, "search_dirs": dirs, "new_name": new_name,
                                "force": bool(force)})


@job_kind("storage.pool.import", "Import pool")
def run_import_pool(ctx: JobContext, target, *, name_or_guid: str, search_dirs=(), new_name=None,
                    force=False) -> dict:
    """Worker side: `zpool import`, then read the pool, its datasets and snapshots."""
    backend = get_zfs_backend(ctx.runner)
    ctx.progress(10, _("Importing"))
    backend.import_pool(name_or_guid, list(search_dirs), new_name=new_name, force=force)
    name = new_name or name_or_guid
    if name.isdigit():  # imported by guid: find its name
        name = next((p.name for p in backend.list_pools() if p.guid == name_or_guid), name)
    ctx.progress(60, _("Reading the pool"))
    sync.sync_zfs_pool(ctx.runner, name)
    pool = Pool.objects.get(backend=Backend.ZFS, name=name)
    _set_job_target(ctx, pool)
    return {"pool": pool.pk, "health": pool.health}


def destroy_pool(pool: Pool, *, confirm: str, force: bool = False, actor=None, source: str | None = None) -> Job:
    """Queue destroying a pool and all its data; ``confirm`` must repeat the pool name."""
    _require_zfs(pool, _("Destroying a pool"))
    if confirm != pool.name:
        raise ServiceError("confirm", _("Type the pool name (%(n)s) to confirm.") % {"n": pool.name}, field="confirm")
    return jobs.enqueue("storage.pool.destroy", target=pool, user=actor, source=source, lock_key=pool.lock_key,
                        params={"force": bool(force)})


@job_kind("storage.pool.destroy", "Destroy pool", retryable=True)
def run_destroy_pool(ctx: JobContext, pool: Pool, *, force: bool = False) -> dict:
    """Worker side: `zpool destroy`, then drop the pool's rows."""
    if pool is None:
        return {"destroyed": False}
    name = pool.name
    ctx.progress(20, _("Destroying pool %(n)s") % {"n": name})
    if not pool.gone:
        get_zfs_backend(ctx.runner).destroy_pool(name, force=force)
    pool.delete()
    return {"destroyed": name}
