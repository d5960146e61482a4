"""Clients, filesets, schedules, storage, pools and backup jobs as desired-state resources: each change
re-renders Calypso's include file(s) inside the change's transaction, under the ``bacula`` host lock (see
``config``). Validation comes first, so a refused input (a schedule outside Bacula's grammar, a fileset path
outside the managed datasets) writes no file and runs no command."""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.resources import ResourceService
from apps.storage.models import Dataset
from apps.storage.services import dataset_at, register_dataset_users

from ..models import BackupJob, Client, FileSet, Pool, Schedule, Storage
from .config import BACULA_LOCK, apply_director, apply_storage

__all__ = ["CLIENTS", "FILESETS", "JOBS", "POOLS", "SCHEDULES", "STORAGES", "filesets_using"]


class _DirectorResource(ResourceService):
    lock = BACULA_LOCK

    def apply(self, obj) -> None:
        apply_director()

    def retire(self, obj) -> None:
        _refuse_in_use(obj)
        apply_director(exclude=obj)


def _refuse_in_use(obj) -> None:
    users = [job.name for job in getattr(obj, "jobs", BackupJob.objects.none()).all()[:5]]
    if users:
        raise ServiceError("in_use", _("%(obj)s is used by the job(s) %(jobs)s: change or delete them first.") % {
            "obj": obj, "jobs": ", ".join(users)})


class ClientService(_DirectorResource):
    model = Client
    fields = ("name", "address", "port", "password", "file_retention_days", "job_retention_days", "autoprune",
              "description")


class FileSetService(_DirectorResource):
    model = FileSet
    fields = ("name", "include", "exclude", "compression", "signature", "one_fs", "description")

    def check(self, obj: FileSet) -> dict[str, list[str]]:
        """Every directory backed up lies inside a managed dataset."""
        errors = []
        for path in obj.include if isinstance(obj.include, list) else []:
            try:
                dataset_at(path, field="include")
            except ServiceError as exc:
                errors.append(f"{path}: {exc.message}")
        return {"include": errors}


class ScheduleService(_DirectorResource):
    model = Schedule
    fields = ("name", "runs", "description")


class PoolService(_DirectorResource):
    model = Pool
    fields = ("name", "pool_type", "storage", "volume_retention_days", "recycle", "autoprune", "maximum_volume_bytes",
              "label_format", "description")


class JobService(_DirectorResource):
    model = BackupJob
    fields = ("name", "client", "fileset", "schedule", "pool", "storage", "level", "priority", "description")


class StorageService(_DirectorResource):
    """A storage device: the director's Storage resource and the local storage daemon's autochanger and drives."""

    model = Storage
    fields = ("name", "address", "port", "password", "library", "media_type", "autochanger", "changer_device",
              "changer_command", "archive_devices", "maximum_concurrent_jobs", "description")

    def prepare(self, obj: Storage, changed: set[str]) -> None:
        """A tape library's changer and drives fill in what the operator left empty."""
        library = obj.library
        if library is None:
            return
        if not obj.changer_device:
            obj.changer_device = library.changer
        if not obj.archive_devices:
            obj.archive_devices = [d.device for d in library.drives.order_by("number") if d.device]

    def apply(self, obj: Storage) -> None:
        apply_storage()
        apply_director()

    def retire(self, obj: Storage) -> None:
        _refuse_in_use(obj)
        if obj.pools.exists():
            raise ServiceError("in_use", _("Pools %(pools)s send their jobs to %(obj)s: change them first.") % {
                "pools": ", ".join(obj.pools.values_list("name", flat=True)[:5]), "obj": obj})
        apply_director(exclude=obj)
        apply_storage(exclude=obj)


CLIENTS, FILESETS, SCHEDULES = ClientService(), FileSetService(), ScheduleService()
POOLS, JOBS, STORAGES = PoolService(), JobService(), StorageService()


@register_dataset_users
def filesets_using(datasets) -> list[str]:
    """Filesets backing up a directory in one of ``datasets`` (which then cannot be destroyed or renamed)."""
    mountpoints = [d.mountpoint.rstrip("/") for d in datasets if isinstance(d, Dataset) and d.mountpoint]
    used = []
    for fileset in FileSet.objects.all():
        if any(p == m or p.startswith(m + "/") for p in fileset.include for m in mountpoints):
            used.append(_("Bacula fileset %(name)s") % {"name": fileset.name})
    return used
