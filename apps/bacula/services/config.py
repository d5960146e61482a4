"""Calypso's Bacula include files: every director resource (clients, filesets, schedules, pools, storage, jobs)
rendered from the database into one file the director's main configuration includes, and the local storage
daemon's autochangers and drives into another.

A change renders the candidate, has the daemon itself check it (``bacula-dir -t``/``bacula-sd -t`` on a copy of
the main configuration that includes the candidate), installs it, and makes the daemon read it: the director
through ``reload`` (whose refusal, which bconsole only reports in ``messages``, is read back), the storage
daemon by a restart (it has no reload). A refusal at either step puts the previous file back and the row's
transaction rolls back: the old configuration stays in force and the error says what the daemon refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from apps.core.configfiles import HEADER, install, integration_path, service_argv, traversable
from apps.core.errors import BackendError
from apps.core.runner import CommandError, Runner, get_runner

from ..backends import base, config, get_console
from ..backends import get_flavour as flavour
from ..models import BackupJob, Client, FileSet, Pool, Schedule, Storage

__all__ = ["BACULA_LOCK", "MASK", "RESTORE_JOB", "apply_director", "apply_storage", "director_resources",
           "generated", "include_path", "main_conf", "sd_restart_argv", "storage_resources"]

BACULA_LOCK = "bacula"
RESTORE_JOB = "Calypso-Restore"
MASK = "********"


def main_conf(daemon: str) -> Path:
    """The daemon's main configuration file (``dir`` or ``sd``)."""
    configured = settings.CALYPSO_BACULA_DIR_CONF if daemon == "dir" else settings.CALYPSO_BACULA_SD_CONF
    binary = flavour().dir_binary if daemon == "dir" else flavour().sd_binary
    return Path(configured or os.path.join(flavour().config_dir, f"{binary}.conf"))


def include_path(daemon: str) -> Path:
    return integration_path(flavour().name, f"calypso-{daemon}.conf")


def _kept(queryset, exclude: Any):
    if exclude is not None and exclude.__class__ is queryset.model:
        return queryset.exclude(pk=exclude.pk)
    return queryset


def director_resources(*, exclude: Any = None, masked: bool = False) -> base.DirectorResources:
    """Every director resource in the database (without ``exclude``, a row being deleted)."""
    def secret(value: str) -> str:
        return MASK if masked else value

    clients = [base.ClientSpec(name=c.name, address=c.address, password=secret(c.password), port=c.port,
                               catalog=settings.CALYPSO_BACULA_CATALOG, file_retention_days=c.file_retention_days,
                               job_retention_days=c.job_retention_days, autoprune=c.autoprune)
               for c in _kept(Client.objects.order_by("name"), exclude)]
    filesets = [base.FileSetSpec(name=f.name, include=tuple(f.include), exclude=tuple(f.exclude),
                                 compression=f.compression, signature=f.signature, one_fs=f.one_fs)
                for f in _kept(FileSet.objects.order_by("name"), exclude)]
    schedules = [base.ScheduleSpec(name=s.name, runs=tuple(s.runs))
                 for s in _kept(Schedule.objects.order_by("name"), exclude)]
    storages = [base.StorageSpec(name=s.name, address=s.address, password=secret(s.password),
                                 device=s.name if s.autochanger else s.device_name(0), media_type=s.media_type,
                                 port=s.port, autochanger=s.autochanger,
                                 maximum_concurrent_jobs=s.maximum_concurrent_jobs)
                for s in _kept(Storage.objects.order_by("name"), exclude)]
    pools = [base.PoolSpec(name=p.name, pool_type=p.pool_type, volume_retention_days=p.volume_retention_days,
                           recycle=p.recycle, autoprune=p.autoprune, maximum_volume_bytes=p.maximum_volume_bytes,
                           label_format=p.label_format, storage=p.storage.name if p.storage else "")
             for p in _kept(Pool.objects.select_related("storage").order_by("name"), exclude)]
    jobs = [base.JobSpec(name=j.name, client=j.client.name, fileset=j.fileset.name, pool=j.pool.name,
                         storage=j.storage.name, schedule=j.schedule.name if j.schedule else "", level=j.level,
                         messages=settings.CALYPSO_BACULA_MESSAGES, priority=j.priority)
            for j in _kept(BackupJob.objects.select_related("client", "fileset", "schedule", "pool", "storage")
                           .order_by("name"), exclude)]
    if jobs:  # the director restores through a Restore job; the portal chooses client and where per restore
        first = jobs[0]
        jobs.append(base.JobSpec(name=RESTORE_JOB, client=first.client, fileset=first.fileset, pool=first.pool,
                                 storage=first.storage, type="Restore", level="Full",
                                 messages=settings.CALYPSO_BACULA_MESSAGES,
                                 where=settings.CALYPSO_BACULA_RESTORE_WHERE))
    return base.DirectorResources(clients=tuple(clients), filesets=tuple(filesets), schedules=tuple(schedules),
                                  pools=tuple(pools), storages=tuple(storages), jobs=tuple(jobs))


def storage_resources(*, exclude: Any = None) -> base.StorageResources:
    """The local storage daemon's autochangers and drives, from the storage rows."""
    autochangers, devices = [], []
    for storage in _kept(Storage.objects.order_by("name"), exclude):
        drives = tuple(base.DeviceSpec(name=storage.device_name(i), media_type=storage.media_type,
                                       archive_device=path, drive_index=i, autochanger=storage.autochanger)
                       for i, path in enumerate(storage.archive_devices))
        if storage.autochanger:
            autochangers.append(base.AutochangerSpec(
                name=storage.name, changer_device=storage.changer_device,
                changer_command=storage.changer_command or f"{flavour().config_dir}/scripts/mtx-changer %c %o %S %a %d",
                devices=drives))
        else:
            devices.extend(drives)
    return base.StorageResources(autochangers=tuple(autochangers), devices=tuple(devices))


def _with_include(daemon: str) -> str:
    """The main configuration with Calypso's include line (added at its end when missing)."""
    path, include = main_conf(daemon), include_path(daemon)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BackendError(_("Cannot read %(path)s (%(why)s): install and configure %(tool)s first.") % {
            "path": path, "why": exc.strerror, "tool": flavour().dir_binary if daemon == "dir" else flavour().sd_binary}
        ) from exc
    return config.with_include(text, str(include))


def _checker(daemon: str, runner: Runner):
    """``validate`` for configfiles.install: the daemon checks a copy of its main file that includes the
    candidate (and, as the real one will, everything else)."""
    def validate(candidate: Path) -> None:
        main = main_conf(daemon)
        probe = candidate.with_name(f".{main.name}.calypso-check")
        probe.write_text(config.candidate_main(_with_include(daemon), str(include_path(daemon)), str(candidate)),
                         encoding="utf-8")
        os.chmod(probe, 0o600)
        try:
            config.check_config(runner, flavour(), daemon, str(probe))
        finally:
            probe.unlink(missing_ok=True)
    return validate


def _owners(daemon: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(the main file's owner, the include file's): the daemon runs as its own user (``bacula``), which reads
    both through the main file's group; the include file belongs to root."""
    stat = main_conf(daemon).stat()
    return (stat.st_uid, stat.st_gid), (0, stat.st_gid)


def _ensure_main_includes(daemon: str) -> None:
    text = _with_include(daemon)
    main, include = main_conf(daemon), include_path(daemon)
    main_owner, include_owner = _owners(daemon)
    traversable(include.parent)
    if not include.exists():  # the line must not point at a missing file, even for a moment
        install(include, HEADER, mode=0o640, owner=include_owner)
    if text != main.read_text(encoding="utf-8"):
        install(main, text, mode=main.stat().st_mode & 0o777, owner=main_owner)


def apply_director(*, exclude: Any = None, force: bool = False, runner: Runner | None = None) -> bool:
    """Render, check, install and reload the director's include file; True when anything changed."""
    runner = runner or get_runner()
    _ensure_main_includes("dir")
    text = config.render_director(director_resources(exclude=exclude))
    return install(include_path("dir"), text, validate=_checker("dir", runner),
                   activate=lambda: get_console(runner).reload(), mode=0o640, force=force,
                   owner=_owners("dir")[1]).changed


def sd_restart_argv() -> list[str]:
    """How the storage daemon is restarted: ``CALYPSO_BACULA_SD_RESTART``, else through systemd when it runs, else
    the init script; [] when there is neither (the file is then checked and installed, and read at its next
    start)."""
    return service_argv("restart", flavour().sd_binary, configured=settings.CALYPSO_BACULA_SD_RESTART)


def _restart_sd(runner: Runner) -> None:
    argv = sd_restart_argv()
    if not argv:
        return
    try:
        runner.run(argv, timeout=120)
    except CommandError as exc:
        raise BackendError.from_command(exc, _("restarting the storage daemon failed: %(why)s") % {
            "why": (exc.stderr or exc.stdout).strip() or exc.returncode}) from exc


def apply_storage(*, exclude: Any = None, force: bool = False, runner: Runner | None = None) -> bool:
    """Render, check and install the storage daemon's include file, then restart the daemon."""
    runner = runner or get_runner()
    _ensure_main_includes("sd")
    text = config.render_storage(storage_resources(exclude=exclude))
    return install(include_path("sd"), text, validate=_checker("sd", runner), activate=lambda: _restart_sd(runner),
                   mode=0o640, force=force, owner=_owners("sd")[1]).changed


def generated(*, actor=None) -> dict:
    """Both include files as the database describes them now, passwords shown as ********."""
    return {"director": {"path": str(include_path("dir")),
                         "text": config.render_director(director_resources(masked=True))},
            "storage": {"path": str(include_path("sd")), "text": config.render_storage(storage_resources())}}
