"""Disk health: read every disk's SMART data into ``Disk`` rows, keep the history of the values that predict a
failure, and run self-tests as jobs. Which block devices are disks, and whether they hold data, comes from
``apps.system`` (lsblk); pool membership from the storage inventory."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ServiceError
from apps.core.runner import CommandError, Runner, get_runner
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.progress import JobCancelled
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage.models import Vdev
from apps.system.backends.host import BlockDevice, HostBackend
from apps.system.disks import in_use_reason

from ..backends import SmartReport, get_backend
from ..choices import DiskHealth, DiskProtocol, SelfTestKind
from ..models import SAMPLED_FIELDS, Disk, DiskSample, SelfTest

__all__ = ["CHECK_LOCK", "SAMPLE_EVERY", "SELF_TEST_POLL_S", "SELF_TEST_PROTOCOLS", "check_disks", "disk_devices", "refresh_device",
           "run_check", "run_self_test", "start_check", "start_self_test"]

CHECK_LOCK = "monitoring:disks"
SAMPLE_EVERY = timedelta(hours=1)  # a sample at least this often, even when nothing changed
START_READS = 3  # reads of a drive not (yet) testing before the test counts as ended
SELF_TEST_POLL_S = 10.0  # how often a self-test job re-reads the drive's self-test state
SELF_TEST_PROTOCOLS = (DiskProtocol.ATA, DiskProtocol.NVME)  # whose self-test progress smartctl reports
SKIPPED_NAMES = re.compile(r"^(zram|ram)\d+$")  # memory-backed "disks"


def disk_devices(devices: Iterable[BlockDevice]) -> list[BlockDevice]:
    """The whole disks among lsblk's top-level devices (not partitions, loop devices or zram)."""
    return [d for d in devices if d.type == "disk" and d.size_bytes > 0 and not SKIPPED_NAMES.match(d.name)]


def _pool_members() -> dict[str, str]:
    """Leaf device name (kernel name, without /dev/) -> pool name, from the storage inventory."""
    members = {}
    for name, pool in Vdev.objects.filter(children__isnull=True, pool__gone=False).values_list("name", "pool__name"):
        path = name if name.startswith("/") else f"/dev/{name}"
        if path.startswith("/dev/disk/"):
            path = os.path.realpath(path)
        if path.startswith("/dev/"):
            members[path.removeprefix("/dev/")] = pool
    return members


def _pool_of(dev: BlockDevice, members: dict[str, str]) -> str:
    names = [dev.name, *(c.name for c in dev.children)]
    return next((members[n] for n in names if n in members), "")


def _apply(disk: Disk, dev: BlockDevice | None, report: SmartReport | None, error: str, members: dict[str, str]) -> Disk:
    now = timezone.now()
    if dev is not None:
        disk.path, disk.rotational, disk.transport = dev.path, dev.rotational, dev.transport
        disk.capacity_bytes = dev.size_bytes or disk.capacity_bytes
        disk.model, disk.serial = dev.model or disk.model, dev.serial or disk.serial
        disk.in_use, disk.pool = in_use_reason(dev), _pool_of(dev, members)
    disk.gone, disk.last_checked, disk.last_error = False, now, error
    if report is None:  # smartctl could not run at all: what was known stays, marked unknown
        disk.health = DiskHealth.UNKNOWN
    else:
        # A device smartctl found but could not open this time keeps what an earlier reading knew of its SMART.
        disk.smart_supported = report.supported or (bool(report.error) and disk.smart_supported)
        disk.health = report.health
        disk.messages = "\n".join(report.messages)
        disk.last_error = error or report.error
        if report.supported:
            disk.protocol, disk.smart_enabled = report.protocol, report.smart_enabled
            disk.model, disk.serial = report.model or disk.model, report.serial or disk.serial
            disk.wwn = report.wwn
            disk.capacity_bytes = report.capacity_bytes or disk.capacity_bytes
            disk.attributes = list(report.attributes)
            disk.self_test_status = report.self_test.status
            disk.self_test_remaining_percent = report.self_test.remaining_percent
            for name in SAMPLED_FIELDS:
                setattr(disk, name, getattr(report, name))
    disk.save()
    if report is not None and report.supported:
        _record(disk, report, now)
    return disk


def _record(disk: Disk, report: SmartReport, now) -> None:
    """A sample when a value changed or the last one is an hour old; the self-test log rows."""
    values = {name: getattr(report, name) for name in SAMPLED_FIELDS}
    last = DiskSample.objects.filter(disk=disk).order_by("-time", "-id").first()
    changed = last is None or last.health != report.health or any(
        getattr(last, k) != v for k, v in values.items() if k != "power_on_hours")
    if changed or now - last.time >= SAMPLE_EVERY:
        DiskSample.objects.create(disk=disk, time=now, health=report.health, **values)
    for entry in report.self_tests:
        SelfTest.objects.update_or_create(
            disk=disk, kind=entry.kind, lifetime_hours=entry.lifetime_hours,
            defaults={"status": entry.status, "passed": entry.passed, "remaining_percent": entry.remaining_percent})


def _read(dev_path: str, runner: Runner) -> tuple[SmartReport | None, str]:
    try:
        return get_backend(runner).read(dev_path), ""
    except BackendError as exc:
        return None, str(exc)


def check_disks(runner: Runner | None = None) -> dict:
    """Re-read every disk of the host: lsblk for the devices, smartctl for each; disks no longer seen are
    marked gone. Returns counts by health."""
    runner = runner or get_runner()
    try:
        devices = disk_devices(HostBackend(runner).block_devices())
    except (CommandError, BackendError) as exc:
        raise ServiceError("host_refused", _("Cannot list the block devices: %(e)s") % {"e": exc}) from exc
    members = _pool_members()
    seen, counts = [], {}
    for dev in devices:
        report, error = _read(dev.path, runner)
        with transaction.atomic():
            disk, _created = Disk.objects.get_or_create(name=dev.name, defaults={"path": dev.path})
            _apply(disk, dev, report, error, members)
        seen.append(disk.pk)
        counts[disk.health] = counts.get(disk.health, 0) + 1
    Disk.objects.filter(gone=False).exclude(pk__in=seen).update(gone=True)
    return {"disks": len(seen), "health": counts}


def refresh_device(path: str, runner: Runner | None = None) -> Disk:
    """Read one block device (a disk, or any device given by path such as a loop device) into its row."""
    runner = runner or get_runner()
    try:
        found = HostBackend(runner).block_devices([path])
    except (CommandError, BackendError) as exc:
        raise ServiceError("not_found", _("No such block device: %(p)s") % {"p": path}, field="path") from exc
    if not found:
        raise ServiceError("not_found", _("No such block device: %(p)s") % {"p": path}, field="path")
    dev = found[0]
    report, error = _read(dev.path, runner)
    with transaction.atomic():
        disk, _created = Disk.objects.get_or_create(name=dev.name, defaults={"path": dev.path})
        return _apply(disk, dev, report, error, _pool_members())


@job_kind("monitoring.disk.check", "Check disk health")
def run_check(ctx: JobContext | None = None, target=None, runner: Runner | None = None) -> dict:
    """Worker side of the check (beat every ``CALYPSO_DISK_CHECK_EVERY_S``, or on demand)."""
    return check_disks(ctx.runner if ctx is not None else runner)


def start_check(*, actor=None) -> Job:
    """Queue a health check of every disk now (one at a time)."""
    return jobs.enqueue("monitoring.disk.check", user=actor, lock_key=CHECK_LOCK)


def start_self_test(disk: Disk, *, actor=None, kind: str = SelfTestKind.SHORT) -> Job:
    """Queue a ``short`` or ``long`` self-test of ``disk``; one job per disk at a time. Refused on a disk
    without SMART (a virtual or loop device) and on one no longer on the host."""
    if kind not in SelfTestKind.values:
        raise ServiceError("invalid", _("Unknown self-test kind %(k)s.") % {"k": kind}, field="kind")
    if disk.gone:
        raise ServiceError("gone", _("Disk %(d)s is no longer on the host.") % {"d": disk.name})
    if not disk.smart_supported:
        raise ServiceError("smart_unsupported", _("Disk %(d)s has no SMART that smartctl can reach: it cannot run a "
                                                  "self-test.") % {"d": disk.name})
    if disk.protocol not in SELF_TEST_PROTOCOLS:
        raise ServiceError("unsupported", _("Self-tests are run on ATA and NVMe disks; %(d)s is %(p)s.") % {
            "d": disk.name, "p": disk.get_protocol_display()})
    return jobs.enqueue("monitoring.disk.self_test", target=disk, user=actor, lock_key=disk.lock_key,
                        params={"kind": str(kind)})


@job_kind("monitoring.disk.self_test", "Disk self-test")
def run_self_test(ctx: JobContext, disk: Disk | None, *, kind: str = "short") -> dict:
    """Worker side: start the test, follow the drive's remaining percent to the end, read the result back.
    Cancelling the job aborts the test on the drive (``smartctl -X``)."""
    if disk is None:
        raise ServiceError("not_found", _("The disk no longer exists."))
    backend = get_backend(ctx.runner)
    backend.start_self_test(disk.path, kind)
    ctx.on_undo("abort the self-test", lambda: backend.abort_self_test(disk.path))
    ctx.progress(0, _("%(k)s self-test started on %(d)s") % {"k": kind.capitalize(), "d": disk.name})
    reads, seen_running = 0, False
    while True:
        state = backend.self_test_state(disk.path)
        reads += 1
        # Right after the start a drive may still show how the previous test ended: a few reads to see it begin.
        if not state.running and (seen_running or reads >= START_READS):
            break
        if state.running:
            seen_running = True
            remaining = state.remaining_percent if state.remaining_percent is not None else 100
            ctx.progress(min(100 - remaining, 99), _("Self-test: %(r)s %% remaining") % {"r": remaining})
            Disk.objects.filter(pk=disk.pk).update(self_test_status=state.status,
                                                   self_test_remaining_percent=remaining)
        ctx.check_cancelled()
        time.sleep(SELF_TEST_POLL_S)
    ctx.forget_undo()  # the test has ended on the drive: nothing left to abort
    report, error = _read(disk.path, ctx.runner)
    if error:
        raise BackendError(error)
    _apply(disk, None, report, "", _pool_members())
    newest = report.self_tests[0] if report.self_tests else None
    result = {"kind": kind, "status": newest.status if newest else state.status,
              "passed": newest.passed if newest else state.passed,
              "lifetime_hours": newest.lifetime_hours if newest else None}
    ctx.progress(100, _("Self-test finished: %(s)s") % {"s": result["status"]})
    if result["passed"] is False:
        message = _("The self-test did not pass: %(s)s") % {"s": result["status"]}
        if "abort" in result["status"].lower():  # aborted on the host (smartctl -X elsewhere, a reset)
            raise JobCancelled(message, undo=False)
        raise ServiceError("self_test_failed", message)
    return result
