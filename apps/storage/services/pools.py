"""Pools: inventory sync, create, add devices, scrub, members, export, import, destroy, Btrfs registration.

Every service takes the pool first (when there is one), then ``actor`` and its input as keywords: the
signature its operation calls. Long ones queue a job locked on ``pool:<name>``; short ones run inline
and refresh the rows they touched. A host tool's refusal surfaces as ``BackendError`` with its words.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.translation import gettext as _

from apps.core import validators as v
from apps.core.errors import BackendError, ServiceError
from apps.core.runner import Runner, get_runner
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.progress import JobCancelled
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.system import disks

from .. import sync
from ..backends import capabilities, get_backend, get_btrfs_backend, get_zfs_backend
from ..backends.base import PoolBackend
from ..backends.pools import leaves
from ..choices import Backend, PoolHealth
from ..models import Pool, StorageEvent, Vdev
from .common import LAYOUT_WIDTH, check, check_device, clean_properties, require_present
from .usage import refuse_if_in_use

__all__ = [
    "SCRUB_POLL_S",
    "acknowledge_event",
    "add_vdevs",
    "balance_status",
    "create_pool",
    "destroy_pool",
    "detach_member",
    "device_stats",
    "export_pool",
    "import_pool",
    "list_importable",
    "offline_member",
    "online_member",
    "pause_scrub",
    "plan_layout",
    "refresh_pool",
    "refuse_disks_in_use",
    "register_btrfs_pool",
    "replace_member",
    "run_add_vdevs",
    "run_create_pool",
    "run_destroy_pool",
    "run_import_pool",
    "run_scrub",
    "set_job_target",
    "start_scrub",
    "start_sync",
    "stop_scrub",
    "sync_inventory",
]

SCRUB_POLL_S = 2.0  # how often a scrub job re-reads the scan state
STOP_READS = 5  # after "stop scrub", reads of the scan state (half a second apart) until it is no longer scanning


@job_kind("storage.pool.sync", "Synchronise storage inventory")
def sync_inventory(ctx: JobContext | None = None, target=None, runner: Runner | None = None) -> dict:
    """Re-read pools, datasets and snapshots from the host (beat every 2 minutes, or on demand)."""
    return sync.sync_all(ctx.runner if ctx is not None else runner or get_runner()).as_dict()


def start_sync(*, actor=None) -> Job:
    """Queue an inventory sync now (one at a time)."""
    return jobs.enqueue("storage.pool.sync", user=actor, lock_key="storage:sync")


def plan_layout(layout: str, disks_: Sequence[str], width: int | None = None, *, field: str = "disks") -> list[dict]:
    """Chosen disks -> vdev specs: ``mirror`` pairs (or ``width``-way), raidzN groups, or one stripe."""
    if layout not in LAYOUT_WIDTH:
        raise ServiceError("invalid", _("Unknown layout %(l)s.") % {"l": layout}, field="layout")
    chosen = [check_device(d, field) for d in disks_]
    if len(set(chosen)) != len(chosen):
        raise ServiceError("invalid", _("A disk is listed twice."), field=field)
    if layout == "stripe":
        if not chosen:
            raise ServiceError("invalid", _("Choose at least one disk."), field=field)
        return [{"type": "stripe", "devices": chosen}]
    width = width or LAYOUT_WIDTH[layout]
    if width < LAYOUT_WIDTH[layout] or not chosen or len(chosen) % width:
        raise ServiceError("invalid", _("A %(l)s layout of width %(w)s needs a multiple of %(w)s disks.") % {
            "l": layout, "w": width}, field=field)
    return [{"type": layout, "devices": chosen[i:i + width]} for i in range(0, len(chosen), width)]


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
        clean.append({"type": kind, "devices": [check_device(d, field) for d in spec["devices"]]})
    return clean


def _extras(spares: Sequence[str], log: Sequence[Any], cache: Sequence[str]) -> dict:
    """Spares, cache and log devices checked; two or more log devices given as names are mirrored."""
    log = [_validate_specs([s], "log")[0] if isinstance(s, Mapping) else check_device(s, "log") for s in log]
    if len(log) > 1 and all(isinstance(s, str) for s in log):
        log = [{"type": "mirror", "devices": log}]
    return {"spares": [check_device(d, "spares") for d in spares], "cache": [check_device(d, "cache") for d in cache],
            "log": log}


def _named(specs_field: str, specs: Sequence[Any], extras: dict) -> dict[str, str]:
    """Each new device with the input field it came from (for an error on the right field)."""
    named = dict.fromkeys(_spec_devices(specs), specs_field)
    for field in ("spares", "cache"):
        named.update(dict.fromkeys(extras[field], field))
    named.update(dict.fromkeys(_spec_devices(extras["log"]), "log"))
    return named


def refuse_disks_in_use(runner: Runner, devices: dict[str, str]) -> None:
    """Refuse a device that is missing, a member of an imported pool (per zpool status), or in use per
    the host's block device list: a 400 naming the device's field before any command changes anything."""
    paths = {(d if d.startswith("/") else f"/dev/{d}"): d for d in devices}
    missing = disks.missing_devices(list(paths), runner)
    if missing:
        raise ServiceError("invalid", _("%(d)s does not exist on this host.") % {"d": ", ".join(missing)},
                           field=devices[paths[missing[0]]])
    members: dict[str, str] = {}
    try:
        zpools = get_zfs_backend(runner).list_pools()
    except (BackendError, OSError):  # no ZFS on this host (a Btrfs-only one): the block device list still tells
        zpools = []
    for pool in zpools:
        for leaf in leaves(pool.vdevs):
            members[leaf.name] = members[PurePosixPath(leaf.name).name] = pool.name
    for pool in Pool.objects.btrfs().filter(gone=False):
        for dev in (pool.extra or {}).get("devices") or ():
            if dev.get("path"):
                members[dev["path"]] = pool.name
    busy = disks.devices_in_use(list(devices), runner)
    for dev, field in devices.items():
        owner = members.get(dev) or (members.get(PurePosixPath(dev).name) if dev.startswith("/dev/") else None)
        if owner:
            raise ServiceError("disk_in_use", _("%(d)s is already a member of pool %(p)s.") % {"d": dev, "p": owner},
                               field=field)
        if dev in busy:
            raise ServiceError("disk_in_use", _("%(d)s is in use: %(why)s.") % {"d": dev, "why": busy[dev]},
                               field=field)


def create_pool(name: str, *, vdevs: Sequence[Mapping] | None = None, layout: str | None = None,
                disks: Sequence[str] = (), spares: Sequence[str] = (), log: Sequence[Any] = (),
                cache: Sequence[str] = (), mountpoint: str | None = None, properties: Mapping | None = None,
                fs_properties: Mapping | None = None, force: bool = False, actor=None,
                runner: Runner | None = None) -> Job:
    """Queue the creation of ZFS pool ``name`` from explicit vdev specs or a layout over chosen disks."""
    check(v.validate_zfs_pool_name, name, "name")
    specs = _validate_specs(vdevs) if vdevs else plan_layout(layout or "mirror", list(disks))
    extras = _extras(spares, log, cache)
    if mountpoint is not None and mountpoint not in ("none", "legacy"):
        check(v.validate_host_path, mountpoint, "mountpoint")
    props = clean_properties(properties or {}, pool_level=True)
    fs_props = clean_properties(fs_properties or {})
    if Pool.objects.filter(backend=Backend.ZFS, name=name, gone=False).exists():
        raise ServiceError("exists", _("A pool named %(n)s already exists.") % {"n": name}, field="name")
    refuse_disks_in_use(runner or get_runner(), _named("vdevs" if vdevs else "disks", specs, extras))
    params = {"name": name, "vdevs": specs, **extras, "mountpoint": mountpoint, "properties": props,
              "fs_properties": fs_props, "force": bool(force)}
    return jobs.enqueue("storage.pool.create", user=actor, params=params, lock_key=f"pool:{name}")


def set_job_target(ctx: JobContext, obj) -> None:
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
    set_job_target(ctx, pool)
    ctx.log.info(f"Pool {name} is {pool.health}, {len(_spec_devices(vdevs))} devices.")
    return {"pool": pool.pk, "health": pool.health}


def add_vdevs(pool: Pool, *, vdevs: Sequence[Mapping] = (), layout: str = "mirror", devices: Sequence[str] = (),
              spares: Sequence[str] = (), log: Sequence[Any] = (), cache: Sequence[str] = (), force: bool = False,
              actor=None, runner: Runner | None = None) -> Job:
    """Queue growing a pool by data vdevs (explicit, or ``devices`` grouped by ``layout``), spares, log or
    cache devices."""
    require_present(pool)
    if "devices" not in capabilities(pool.backend):
        raise ServiceError("unsupported", _("Adding devices is a ZFS operation."))
    specs = _validate_specs(vdevs) if vdevs else plan_layout(layout, devices, field="devices") if devices else []
    extras = _extras(spares, log, cache)
    if not (specs or any(extras.values())):
        raise ServiceError("invalid", _("Nothing to add."), field="vdevs")
    refuse_disks_in_use(runner or get_runner(), _named("vdevs" if vdevs else "devices", specs, extras))
    return jobs.enqueue("storage.pool.add_vdevs", target=pool, user=actor, lock_key=pool.lock_key,
                        params={"vdevs": specs, **extras, "force": bool(force)})


@job_kind("storage.pool.add_vdevs", "Add devices to pool")
def run_add_vdevs(ctx: JobContext, pool: Pool, *, vdevs=(), spares=(), log=(), cache=(), force=False) -> dict:
    """Worker side: `zpool add`, then re-read the pool."""
    ctx.progress(10, _("Adding devices"))
    get_backend(pool, ctx.runner).add_vdevs(vdevs, spares=spares, log=log, cache=cache, force=force)
    ctx.progress(70, _("Reading the pool"))
    sync.sync_zfs_pool(ctx.runner, pool.name)
    return {"devices": len(_spec_devices(vdevs)) + len(spares) + len(cache) + len(_spec_devices(log))}


def start_scrub(pool: Pool, *, actor=None) -> Job:
    """Queue a scrub of ``pool``; one scrub per pool at a time."""
    require_present(pool)
    if pool.health in (PoolHealth.FAULTED, PoolHealth.UNAVAIL, PoolHealth.SUSPENDED):
        raise ServiceError("pool_faulted", _("A %(h)s pool cannot be scrubbed.") % {"h": pool.health})
    return jobs.enqueue("storage.pool.scrub", target=pool, user=actor, lock_key=pool.lock_key)


@job_kind("storage.pool.scrub", "Scrub pool")
def run_scrub(ctx: JobContext, pool: Pool, **params) -> dict:
    """Worker side: start the scrub and follow it to the end; progress follows the scan percent."""
    if pool is None:
        raise ServiceError("not_found", _("The pool no longer exists."))
    backend = get_backend(pool, ctx.runner)
    scrub = backend.start_scrub()
    ctx.on_undo("stop the scrub", scrub.cancel)
    ctx.progress(0, _("Scrub started"))
    while (scan := scrub.poll()) is not None:
        ctx.progress(min(scan.percent, 99.9), _("Scrubbed %(p).1f %%") % {"p": scan.percent})
        pool.scan_function, pool.scan_state, pool.scan_percent = scan.function, scan.state, scan.percent
        time.sleep(SCRUB_POLL_S)
    info = backend.info()
    events = sync.apply_pool_info(pool, info)
    scan = info.scan
    if scan.state == "canceled":  # stopped on the host ("stop scrub"): a cancel, where it had got to
        raise JobCancelled(_("The scrub was stopped at %(p)s %% before it finished.") % {
            "p": ctx.progress.percent}, undo=False)
    ctx.progress(100, _("Scrub finished with %(e)s errors") % {"e": scan.errors})
    ctx.log.info(f"Scrub finished: {scan.errors} errors. {scan.text.strip()}")
    return {"errors": scan.errors, "state": scan.state, "events": [e.kind for e in events]}


def refresh_pool(pool: Pool, runner: Runner) -> Pool:
    """Re-read the pool from the host; the row comes back as stored, devices included (a list read before
    the change would still show the old states)."""
    sync.apply_pool_info(pool, get_backend(pool, runner).info())
    pool.refresh_from_db()
    return pool


def pause_scrub(pool: Pool, *, actor=None, runner: Runner | None = None) -> Pool:
    """Pause the running scrub (OpenZFS only)."""
    runner = runner or get_runner()
    get_backend(pool, runner).pause_scrub()
    return refresh_pool(pool, runner)


def stop_scrub(pool: Pool, *, actor=None, runner: Runner | None = None) -> Pool:
    """Cancel the running scrub; answers the scan state once the host no longer says it is scanning (a scrub
    job following it ends as cancelled)."""
    runner = runner or get_runner()
    backend = get_backend(pool, runner)
    backend.stop_scrub()
    for _read in range(STOP_READS):
        info = backend.info()
        if not info.scan.running:
            break
        time.sleep(min(SCRUB_POLL_S, 0.5))
    sync.apply_pool_info(pool, info)
    pool.refresh_from_db()
    return pool


def _member(pool: Pool, name: str, field: str = "device") -> str:
    check_device(name, field)
    if not Vdev.objects.filter(pool=pool, children__isnull=True, name=name).exists():
        raise ServiceError("invalid", _("%(d)s is not a device of pool %(p)s.") % {"d": name, "p": pool.name},
                           field=field, status=400)
    return name


def _on_member(pool: Pool, device: str, runner: Runner | None, act: Callable[[PoolBackend, str], None]) -> Pool:
    """Check ``device`` is a device of ``pool``, act on it, then re-read the pool's status."""
    require_present(pool)
    runner = runner or get_runner()
    act(get_backend(pool, runner), _member(pool, device))
    return refresh_pool(pool, runner)


def offline_member(pool: Pool, device: str, *, temporary: bool = False, actor=None,
                   runner: Runner | None = None) -> Pool:
    """Take a member device offline; the pool runs DEGRADED on its redundancy."""
    return _on_member(pool, device, runner, lambda backend, dev: backend.offline(dev, temporary=temporary))


def online_member(pool: Pool, device: str, *, actor=None, runner: Runner | None = None) -> Pool:
    """Bring a member back online; ZFS resilvers what it missed."""
    return _on_member(pool, device, runner, lambda backend, dev: backend.online(dev))


def replace_member(pool: Pool, device: str, new_device: str | None = None, *, actor=None,
                   runner: Runner | None = None) -> Pool:
    """Replace a member by a new device (resilver starts at once); refuses a new device in use."""
    require_present(pool)
    device = _member(pool, device)
    runner = runner or get_runner()
    if new_device:
        check_device(new_device, "new_device")
        refuse_disks_in_use(runner, {new_device: "new_device"})
    get_backend(pool, runner).replace(device, new_device or None)
    return refresh_pool(pool, runner)


def detach_member(pool: Pool, device: str, *, actor=None, runner: Runner | None = None) -> Pool:
    """Detach a device from a mirror (or an in-use spare)."""
    return _on_member(pool, device, runner, lambda backend, dev: backend.detach(dev))


def export_pool(pool: Pool, *, force: bool = False, actor=None, runner: Runner | None = None) -> Pool:
    """Export a pool; its rows stay, marked gone, until it is imported again."""
    require_present(pool)
    get_backend(pool, runner).export(force=force)
    sync.mark_pool_gone(pool)
    pool.refresh_from_db()  # with its devices as now stored
    return pool


def list_importable(*, search_dirs: Sequence[str] = (), actor=None, runner: Runner | None = None) -> list[dict]:
    """Pools that could be imported (from /dev, or from the given directories of image files)."""
    dirs = [check(v.validate_host_path, d, "search_dirs") for d in search_dirs]
    found = get_zfs_backend(runner).list_importable(dirs)
    return [{"name": p.name, "guid": p.guid, "state": p.state, "status": p.status_text} for p in found]


def import_pool(name: str, *, search_dirs: Sequence[str] = (), new_name: str | None = None,
                force: bool = False, actor=None) -> Job:
    """Queue the import of a pool by name or numeric id, optionally renamed."""
    if not (isinstance(name, str) and name.isdigit()):
        check(v.validate_zfs_pool_name, name, "name")
    if new_name:
        check(v.validate_zfs_pool_name, new_name, "new_name")
    dirs = [check(v.validate_host_path, d, "search_dirs") for d in search_dirs]
    return jobs.enqueue("storage.pool.import", user=actor, lock_key=f"pool:{new_name or name}",
                        params={"name_or_guid": name, "search_dirs": dirs, "new_name": new_name or None,
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
    set_job_target(ctx, pool)
    return {"pool": pool.pk, "health": pool.health}


def destroy_pool(pool: Pool, *, force: bool = False, actor=None) -> Job:
    """Queue destroying a pool and all its data (its operation asks for the name typed back)."""
    if "destroy" not in capabilities(pool.backend):
        raise ServiceError("unsupported", _("This pool cannot be destroyed from here."))
    refuse_if_in_use(pool, verb=_("destroyed"))
    if pool.backend == Backend.BTRFS:
        require_present(pool)  # its devices are read from the mounted filesystem
    return jobs.enqueue("storage.pool.delete", target=pool, user=actor, lock_key=pool.lock_key,
                        params={"force": bool(force)})


@job_kind("storage.pool.delete", "Destroy pool", retryable=True)
def run_destroy_pool(ctx: JobContext, pool: Pool, *, force: bool = False) -> dict:
    """Worker side: `zpool destroy`, then drop the pool's rows."""
    if pool is None:
        return {"destroyed": False}
    name = pool.name
    ctx.progress(20, _("Destroying pool %(n)s") % {"n": name})
    if not pool.gone:
        get_backend(pool, ctx.runner).destroy(force=force)
    pool.delete()
    return {"destroyed": name}


def balance_status(pool: Pool, *, actor=None, runner: Runner | None = None) -> dict:
    """Whether a Btrfs balance runs or is paused, with chunks done and percent (read only)."""
    require_present(pool)
    return get_backend(pool, runner).balance_status()


def device_stats(pool: Pool, *, actor=None, runner: Runner | None = None) -> list[dict]:
    """Per-device error counters, as the pool's tool reports them now."""
    require_present(pool)
    return get_backend(pool, runner).device_stats()


def register_btrfs_pool(mountpoint: str, *, actor=None, runner: Runner | None = None) -> Pool:
    """Start managing the Btrfs filesystem mounted (top level) at ``mountpoint``."""
    check(v.validate_host_path, mountpoint, "mountpoint")
    runner = runner or get_runner()
    try:
        info = get_btrfs_backend(runner).filesystem_info(mountpoint)
    except BackendError as exc:
        raise ServiceError("invalid", exc.message, field="mountpoint") from exc
    with transaction.atomic():
        pool, _created = Pool.objects.get_or_create(backend=Backend.BTRFS, name=info.name,
                                                    defaults={"mountpoint": info.mountpoint})
        pool.mountpoint = info.mountpoint
        pool.save(update_fields=["mountpoint", "updated"])
    sync.sync_btrfs(runner, [pool])
    pool.refresh_from_db()
    return pool


def acknowledge_event(event: StorageEvent, *, actor=None) -> StorageEvent:
    """Mark a health event as seen; it stays in the history."""
    StorageEvent.objects.filter(pk=event.pk).update(acknowledged=True)
    event.acknowledged = True
    return event
