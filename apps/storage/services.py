"""Storage operations: plan -> lock -> act -> record.

Every name is validated before any command runs; every mutation writes an audit event; long
operations (pool create/destroy/import, add vdevs, scrub) run as jobs with the lock key
``pool:<name>``; short ones run inline and refresh the inventory rows they touched.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit import services as audit
from apps.audit.choices import Outcome
from apps.core import validators as v
from apps.core.errors import ServiceError
from apps.core.runner import CommandError, LocalRunner, Runner
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.system.backends.host import HostBackend

from . import sync
from .backends import get_btrfs_backend, get_zfs_backend
from .backends.base import BackendError
from .choices import Backend, DatasetKind, PoolHealth
from .models import Dataset, Pool, Snapshot, Vdev

__all__ = [
    "EDITABLE_PROPERTIES",
    "add_vdevs",
    "balance_status",
    "clone_snapshot",
    "create_dataset",
    "create_pool",
    "create_snapshot",
    "create_subvolume",
    "delete_subvolume",
    "destroy_dataset",
    "destroy_pool",
    "destroy_snapshots",
    "detach_member",
    "device_stats",
    "export_pool",
    "hold_snapshot",
    "import_pool",
    "list_importable",
    "offline_member",
    "online_member",
    "pause_scrub",
    "plan_layout",
    "register_btrfs_pool",
    "release_snapshot",
    "rename_dataset",
    "replace_member",
    "rollback_snapshot",
    "run_scrub",
    "start_scrub",
    "stop_scrub",
    "sync_inventory",
    "update_dataset",
]

SCRUB_POLL_S = 2.0  # how often a scrub job re-reads the scan state
SIZE_PROPERTIES = {"quota", "refquota", "reservation", "refreservation", "volsize"}
ON_OFF = {"on", "off"}
ENUM_PROPERTIES = {
    "compression": {"on", "off", "lzjb", "gzip", *(f"gzip-{i}" for i in range(1, 10)), "zle", "lz4", "zstd",
                    "zstd-fast", *(f"zstd-{i}" for i in range(1, 20))},
    "atime": ON_OFF, "readonly": ON_OFF, "exec": ON_OFF, "setuid": ON_OFF, "devices": ON_OFF,
    "relatime": ON_OFF, "canmount": {"on", "off", "noauto"}, "sync": {"standard", "always", "disabled"},
    "dedup": {"on", "off", "verify", "sha256", "sha256,verify"}, "checksum": {"on", "off", "fletcher2",
                                                                             "fletcher4", "sha256"},
    "copies": {"1", "2", "3"}, "snapdir": {"hidden", "visible"}, "xattr": {"on", "off", "sa", "dir"},
    "aclinherit": {"discard", "noallow", "restricted", "passthrough", "passthrough-x"},
}  # fmt: skip
EDITABLE_PROPERTIES = {*SIZE_PROPERTIES, *ENUM_PROPERTIES, "recordsize", "volblocksize", "mountpoint"}
VOLUME_ONLY = {"volsize", "volblocksize"}
FILESYSTEM_ONLY = {"recordsize", "quota", "refquota", "mountpoint", "atime", "relatime", "exec", "setuid", "devices",
                   "canmount", "snapdir", "xattr", "aclinherit"}  # per OpenZFS zfs_prop.c
LAYOUT_WIDTH = {"stripe": 1, "mirror": 2, "raidz1": 3, "raidz2": 4, "raidz3": 5}


# ------------------------------------------------------------------ helpers
def _check(validator: Callable[[Any], Any], value: Any, field: str) -> Any:
    """Run a core validator; its failure becomes a 400 naming ``field``."""
    try:
        return validator(value)
    except ValidationError as exc:
        raise ServiceError("invalid", " ".join(exc.messages), field=field) from exc


def _runner(runner: Runner | None) -> Runner:
    return runner if runner is not None else LocalRunner()


def _device(value: str, field: str = "devices") -> str:
    """A member device: an absolute path (/dev/sdb, /srv/disk.img) or a bare disk name (sdb)."""
    if isinstance(value, str) and value.startswith("/"):
        return _check(v.validate_host_path, value, field)
    return _check(v.validate_safe_name, value, field)


@contextlib.contextmanager
def _acting(actor, action: str, obj, source: str | None, *, changes: dict | None = None,
            message: str = "") -> Iterator[None]:
    """Run a host change; audit it as ok, or as failed with the tool's words, then raise a 409."""
    started = time.monotonic()
    try:
        yield
    except (BackendError, CommandError, ValueError) as exc:  # ValueError: a backend's own path check
        detail = getattr(exc, "stderr", "").strip() or str(exc)
        audit.record(actor, action, obj, source=source, changes=changes, outcome=Outcome.FAILED, message=detail,
                     duration_ms=(time.monotonic() - started) * 1000)
        raise ServiceError("host_refused", detail) from exc
    audit.record(actor, action, obj, source=source, changes=changes, message=message,
                 duration_ms=(time.monotonic() - started) * 1000)


def _require_zfs(pool: Pool, what: str) -> None:
    if pool.backend != Backend.ZFS:
        raise ServiceError("unsupported", _("%(what)s is only available on ZFS pools.") % {"what": what})


def _require_present(pool: Pool) -> None:
    if pool.gone:
        raise ServiceError("pool_gone", _("Pool %(name)s is not imported on this host.") % {"name": pool.name})


def _json_params(params: dict) -> dict:
    return json.loads(json.dumps(params, default=str))


# ------------------------------------------------------------------ inventory
@job_kind("storage.sync", "Synchronise storage inventory")
def sync_inventory(ctx: JobContext | None = None, target=None, runner: Runner | None = None) -> dict:
    """Re-read pools, datasets and snapshots from the host (beat every 2 minutes, or on demand)."""
    result = sync.sync_all(ctx.runner if ctx is not None else _runner(runner))
    return result.as_dict()


# ------------------------------------------------------------------ pools
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
    _refuse_disks_in_use(_runner(runner), [*_spec_devices(specs), *spares, *cache, *_spec_devices(log)])
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
    _refuse_disks_in_use(_runner(runner), [*_spec_devices(specs), *spares, *cache, *_spec_devices(log)])
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


# ------------------------------------------------------------------ scrub
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
        get_zfs_backend(_runner(runner)).pause_scrub(pool.name)
    return pool


def stop_scrub(pool: Pool, *, actor=None, source: str | None = None, runner: Runner | None = None) -> Pool:
    """Cancel the running scrub."""
    runner = _runner(runner)
    with _acting(actor, "storage.pool.stop_scrub", pool, source):
        if pool.backend == Backend.ZFS:
            get_zfs_backend(runner).stop_scrub(pool.name)
        else:
            get_btrfs_backend(runner).cancel_scrub(pool.mountpoint)
    return pool


# ------------------------------------------------------------------ members
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
    runner = _runner(runner)
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
        _refuse_disks_in_use(_runner(runner), [new_device])
    return _member_op(pool, "replace", device, lambda b: b.replace(pool.name, device, new_device),
                      actor=actor, source=source, runner=runner, new_device=[None, new_device])


def detach_member(pool: Pool, device: str, *, actor=None, source: str | None = None,
                  runner: Runner | None = None) -> Pool:
    """Detach a device from a mirror (or an in-use spare)."""
    return _member_op(pool, "detach", device, lambda b: b.detach(pool.name, device),
                      actor=actor, source=source, runner=runner)


# ------------------------------------------------------------------ export / import / destroy
def export_pool(pool: Pool, *, force: bool = False, actor=None, source: str | None = None,
                runner: Runner | None = None) -> Pool:
    """Export a pool; its rows stay, marked gone, until it is imported again."""
    _require_zfs(pool, _("Export"))
    _require_present(pool)
    with _acting(actor, "storage.pool.export", pool, source):
        get_zfs_backend(_runner(runner)).export_pool(pool.name, force=force)
    Pool.objects.filter(pk=pool.pk).update(gone=True)
    pool.gone = True
    return pool


def list_importable(search_dirs: Sequence[str] = (), *, runner: Runner | None = None) -> list[dict]:
    """Pools that could be imported (from /dev, or from the given directories of image files)."""
    dirs = [_check(v.validate_host_path, d, "search_dirs") for d in search_dirs]
    try:
        found = get_zfs_backend(_runner(runner)).list_importable(dirs)
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


# ------------------------------------------------------------------ datasets
def _clean_properties(properties: Mapping[str, Any], *, pool_level: bool = False,
                      kind: str = DatasetKind.FILESYSTEM) -> dict[str, str]:
    """Validated ``{name: value}``; sizes in human units become bytes; errors name the property."""
    clean: dict[str, str] = {}
    for name, raw in properties.items():
        _check(v.validate_property_name, name, name)
        value = str(raw).strip() if raw is not None else ""
        if not value or any(ord(c) < 32 for c in value) or len(value) > 8192:
            raise ServiceError("invalid", _("Give a value for %(p)s.") % {"p": name}, field=name)
        if ":" in name or pool_level:
            clean[name] = value
            continue
        if name not in EDITABLE_PROPERTIES:
            raise ServiceError("invalid", _("%(p)s cannot be set here.") % {"p": name}, field=name)
        if name in (VOLUME_ONLY if kind != DatasetKind.VOLUME else FILESYSTEM_ONLY):
            raise ServiceError("invalid", _("%(p)s does not apply to a %(k)s.") % {"p": name, "k": kind}, field=name)
        if name in SIZE_PROPERTIES:
            clean[name] = "none" if value == "none" and name != "volsize" else str(_check(v.parse_size, value, name))
        elif name in ("recordsize", "volblocksize"):
            size = _check(v.parse_size, value, name)
            if size < 512 or size > 16 * 1024 * 1024 or size & (size - 1):
                raise ServiceError("invalid", _("%(p)s must be a power of two from 512 to 16M.") % {"p": name},
                                   field=name)
            clean[name] = str(size)
        elif name == "mountpoint":
            if value not in ("none", "legacy"):
                _check(v.validate_host_path, value, name)
            clean[name] = value
        elif value.lower() not in ENUM_PROPERTIES[name]:
            raise ServiceError("invalid", _("%(v)s is not a valid %(p)s: use one of %(c)s.") % {
                "v": value, "p": name, "c": ", ".join(sorted(ENUM_PROPERTIES[name]))}, field=name)
        else:
            clean[name] = value.lower()
    return clean


def _check_volsize(size: int, blocksize: str | int | None) -> None:
    """A volume's size is a whole number of its blocks (OpenZFS refuses anything else)."""
    block = int(blocksize) if str(blocksize or "").isdigit() else 0
    if size <= 0:
        raise ServiceError("invalid", _("A volume needs a size above zero."), field="volsize")
    if block and size % block:
        raise ServiceError("invalid", _("The size must be a multiple of the volume block size (%(b)s bytes).") % {
            "b": block}, field="volsize")


def _dataset_name(pool: Pool, name: str, field: str = "name") -> str:
    _check(v.validate_zfs_dataset_name, name, field)
    if name.split("/")[0] != pool.name or "/" not in name:
        raise ServiceError("invalid", _("The name must start with %(p)s/.") % {"p": pool.name}, field=field)
    return name


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
    runner = _runner(runner)
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
    runner = _runner(runner)
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
    runner = _runner(runner)
    with _acting(actor, "storage.dataset.rename", dataset, source, changes={"name": [dataset.name, new_name]}):
        get_zfs_backend(runner).rename(dataset.name, new_name)
    sync.refresh_pool_contents(runner, pool)
    return Dataset.objects.get(pool=pool, name=new_name)


def _drop_dataset_rows(dataset: Dataset) -> None:
    Dataset.objects.filter(sync._under(dataset.name), pool_id=dataset.pool_id).delete()


def destroy_dataset(dataset: Dataset, *, recursive: bool = False, actor=None, source: str | None = None,
                    runner: Runner | None = None) -> None:
    """Destroy a dataset (with its children and snapshots when ``recursive``)."""
    if dataset.pool.backend == Backend.BTRFS:
        delete_subvolume(dataset, actor=actor, source=source, runner=runner)
        return
    if "/" not in dataset.name:
        raise ServiceError("invalid", _("The root dataset goes with its pool: destroy the pool."))
    with _acting(actor, "storage.dataset.delete", dataset, source, changes={"recursive": [None, recursive]}):
        get_zfs_backend(_runner(runner)).destroy_dataset(dataset.name, recursive=recursive)
    _drop_dataset_rows(dataset)


# ------------------------------------------------------------------ snapshots
def _btrfs_snapshot_path(dataset: Dataset, short_name: str) -> str:
    source = dataset.relative_path
    if not source:
        return f"root@{short_name}"
    parent = PurePosixPath(source).parent
    target = f"{PurePosixPath(source).name}@{short_name}"
    return target if str(parent) == "." else f"{parent}/{target}"


def create_snapshot(dataset: Dataset, short_name: str, *, recursive: bool = False, actor=None,
                    source: str | None = None, runner: Runner | None = None) -> Snapshot:
    """Snapshot a dataset (ZFS: atomically with its descendants when ``recursive``; Btrfs: read-only,
    beside the source as ``<subvolume>@<name>``)."""
    _check(v.validate_snapshot_name, short_name, "name")
    if "@" in short_name:
        raise ServiceError("invalid", _("Give the snapshot's own name, without the dataset."), field="name")
    pool = dataset.pool
    _require_present(pool)
    runner = _runner(runner)
    if pool.backend == Backend.BTRFS:
        if not dataset.relative_path:
            raise ServiceError("unsupported", _("Snapshots of a Btrfs top level are not supported; snapshot a "
                                                "subvolume."))
        target = _btrfs_snapshot_path(dataset, short_name)
        _check(v.validate_btrfs_subvolume_name, target, "name")
        full = f"{pool.name}/{target}"
        with _acting(actor, "storage.snapshot.create", ("storage.snapshot", "", full), source,
                     changes={"name": [None, full]}):
            get_btrfs_backend(runner).snapshot(pool.mountpoint, dataset.relative_path, target)
    else:
        full = f"{dataset.name}@{short_name}"
        if Snapshot.objects.filter(dataset=dataset, name=full).exists():
            raise ServiceError("exists", _("%(n)s already exists.") % {"n": full}, field="name")
        with _acting(actor, "storage.snapshot.create", ("storage.snapshot", "", full), source,
                     changes={"name": [None, full], "recursive": [None, recursive]}):
            get_zfs_backend(runner).create_snapshot(dataset.name, short_name, recursive=recursive)
    sync.refresh_pool_contents(runner, pool, root=dataset.name)
    snap = Snapshot.objects.filter(dataset=dataset, name=full).first()
    if snap is None:
        raise ServiceError("not_found", _("The snapshot was taken but is not listed yet; sync again."))
    return snap


def destroy_snapshots(snapshots: Iterable[Snapshot], *, actor=None, source: str | None = None,
                      runner: Runner | None = None) -> int:
    """Destroy snapshots (grouped per dataset: one command per batch on OpenZFS). Returns the count."""
    runner = _runner(runner)
    by_dataset: dict[int, list[Snapshot]] = {}
    for snap in snapshots:
        by_dataset.setdefault(snap.dataset_id, []).append(snap)
    done = 0
    for snaps in by_dataset.values():
        dataset = snaps[0].dataset
        pool = dataset.pool
        names = [s.name for s in snaps]
        with _acting(actor, "storage.snapshot.delete", dataset, source, changes={"snapshots": [names, None]},
                     message=f"{len(names)} snapshots"):
            if pool.backend == Backend.BTRFS:
                backend = get_btrfs_backend(runner)
                for snap in snaps:
                    backend.delete_subvolume(pool.mountpoint, snap.relative_path)
            else:
                get_zfs_backend(runner).destroy_snapshots(dataset.name, [s.short_name for s in snaps])
        Snapshot.objects.filter(pk__in=[s.pk for s in snaps]).delete()
        done += len(snaps)
    return done


def rollback_snapshot(snapshot: Snapshot, *, confirm: str, destroy_newer: bool = False, actor=None,
                      source: str | None = None, runner: Runner | None = None) -> Snapshot:
    """Roll a dataset back to ``snapshot``; refuses while newer snapshots exist unless ``destroy_newer``."""
    dataset = snapshot.dataset
    _require_zfs(dataset.pool, _("Rollback"))
    if confirm != snapshot.name:
        raise ServiceError("confirm", _("Type the snapshot name (%(n)s) to confirm.") % {"n": snapshot.name},
                           field="confirm")
    newer = list(Snapshot.objects.newer_than(snapshot).values_list("name", flat=True)[:20])
    if newer and not destroy_newer:
        raise ServiceError("newer_snapshots", _(
            "Newer snapshots exist (%(names)s); rolling back destroys them: set destroy_newer to proceed.") % {
            "names": ", ".join(newer)}, field="destroy_newer", status=409, extra={"newer": newer})
    runner = _runner(runner)
    with _acting(actor, "storage.snapshot.rollback", snapshot, source,
                 changes={"destroy_newer": [None, destroy_newer], "destroyed": [newer, None]}):
        get_zfs_backend(runner).rollback(snapshot.name, destroy_newer=destroy_newer)
    sync.refresh_pool_contents(runner, dataset.pool, root=dataset.name)
    return snapshot


def clone_snapshot(snapshot: Snapshot, target: str, *, properties: Mapping[str, Any] | None = None, actor=None,
                   source: str | None = None, runner: Runner | None = None) -> Dataset:
    """Create a writable filesystem from a snapshot, in the same pool."""
    pool = snapshot.dataset.pool
    _require_zfs(pool, _("Cloning"))
    _dataset_name(pool, target, "target")
    props = _clean_properties(properties or {})
    runner = _runner(runner)
    with _acting(actor, "storage.snapshot.clone", snapshot, source, changes={"target": [None, target]}):
        get_zfs_backend(runner).clone(snapshot.name, target, props)
    sync.refresh_pool_contents(runner, pool, root=target)
    return Dataset.objects.get(pool=pool, name=target)


def _hold_op(snapshot: Snapshot, tag: str, verb: str, recursive: bool, actor, source, runner) -> Snapshot:
    _require_zfs(snapshot.dataset.pool, _("Holds"))
    _check(v.validate_safe_name, tag, "tag")
    backend = get_zfs_backend(_runner(runner))
    with _acting(actor, f"storage.snapshot.{verb}", snapshot, source, changes={"tag": [None, tag]}):
        getattr(backend, verb)(snapshot.name, tag, recursive=recursive)
    holds = [h for h in snapshot.holds if h != tag] + ([tag] if verb == "hold" else [])
    Snapshot.objects.filter(pk=snapshot.pk).update(holds=holds, userrefs=len(holds))
    snapshot.holds, snapshot.userrefs = holds, len(holds)
    return snapshot


def hold_snapshot(snapshot: Snapshot, tag: str, *, recursive: bool = False, actor=None, source: str | None = None,
                  runner: Runner | None = None) -> Snapshot:
    """Put a named hold on a snapshot: it cannot be destroyed until released."""
    return _hold_op(snapshot, tag, "hold", recursive, actor, source, runner)


def release_snapshot(snapshot: Snapshot, tag: str, *, recursive: bool = False, actor=None,
                     source: str | None = None, runner: Runner | None = None) -> Snapshot:
    """Remove a named hold from a snapshot."""
    return _hold_op(snapshot, tag, "release", recursive, actor, source, runner)


# ------------------------------------------------------------------ btrfs
def register_btrfs_pool(mountpoint: str, *, actor=None, source: str | None = None,
                        runner: Runner | None = None) -> Pool:
    """Start managing the Btrfs filesystem mounted (top level) at ``mountpoint``."""
    _check(v.validate_host_path, mountpoint, "mountpoint")
    runner = _runner(runner)
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
    runner = _runner(runner)
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
        get_btrfs_backend(_runner(runner)).delete_subvolume(pool.mountpoint, dataset.relative_path)
    _drop_dataset_rows(dataset)


def balance_status(pool: Pool, *, runner: Runner | None = None) -> dict:
    """Whether a Btrfs balance runs or is paused, with chunks done and percent (read only)."""
    if pool.backend != Backend.BTRFS:
        raise ServiceError("unsupported", _("Balance is a Btrfs operation; ZFS pools have none."))
    _require_present(pool)
    try:
        return get_btrfs_backend(_runner(runner)).balance_status(pool.mountpoint)
    except (BackendError, ValueError) as exc:
        raise ServiceError("host_refused", getattr(exc, "stderr", "").strip() or str(exc)) from exc


def device_stats(pool: Pool, *, runner: Runner | None = None) -> list[dict]:
    """Per-device error counters of a Btrfs filesystem (ZFS: the vdev error counts)."""
    if pool.backend == Backend.ZFS:
        return list(Vdev.objects.filter(pool=pool).values("name", "state", "read_errors", "write_errors",
                                                          "checksum_errors"))
    try:
        return get_btrfs_backend(_runner(runner)).device_stats(pool.mountpoint)
    except BackendError as exc:
        raise ServiceError("host_refused", exc.stderr.strip() or str(exc)) from exc

