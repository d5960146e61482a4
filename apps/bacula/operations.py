"""Every Bacula operation, declared once; the API viewsets and the admin pages point at these sets."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import inputs, services
from .api import serializers
from .models import BackupJob, Client, FileSet, JobRun, Pool, Schedule, Storage, Volume

__all__ = ["CLIENT", "FILESET", "JOB", "JOBRUN", "POOL", "SCHEDULE", "STORAGE", "VOLUME"]

PASSWORD = "fd-director-secret"  # noqa: S105 - an example body, never a real one


def _resource(model, service, serializer, create: dict, update: dict, **delete) -> Operations:
    return Operations(
        model,
        Operation("create", service.create, input=serializer, detail=False, example=create),
        Operation("update", service.update, input=serializer, partial=True, example=update),
        Operation("delete", service.delete, **delete),
    )


CLIENT = _resource(Client, services.CLIENTS, serializers.BaculaClientSerializer,
                   {"name": "nas-fd", "address": "127.0.0.1", "password": PASSWORD}, {"job_retention_days": 365})
FILESET = _resource(FileSet, services.FILESETS, serializers.BaculaFileSetSerializer,
                    {"name": "Projects", "include": ["/tank/projects"], "compression": "GZIP"},
                    {"exclude": ["/tank/projects/tmp"]})
SCHEDULE = _resource(Schedule, services.SCHEDULES, serializers.BaculaScheduleSerializer,
                     {"name": "Nightly", "runs": ["Level=Full 1st sun at 23:05",
                                                  "Level=Incremental mon-sat at 23:05"]},
                     {"description": "weekdays incremental"})
POOL = _resource(Pool, services.POOLS, serializers.BaculaPoolSerializer,
                 {"name": "TapePool", "volume_retention_days": 365}, {"recycle": False})

STORAGE = Operations(
    Storage,
    Operation("create", services.STORAGES.create, input=serializers.BaculaStorageSerializer, detail=False,
              example={"name": "Library1", "password": "sd-director-secret", "media_type": "LTO6",
                       "changer_device": "/dev/sg3", "archive_devices": ["/dev/nst0", "/dev/nst1"]},
              help=_("The director's Storage resource and the local storage daemon's autochanger and drives "
                     "(the storage daemon is restarted: it has no reload).")),
    Operation("update", services.STORAGES.update, input=serializers.BaculaStorageSerializer, partial=True,
              example={"maximum_concurrent_jobs": 4}),
    Operation("delete", services.STORAGES.delete),
    Operation("update_slots", services.update_slots, input=inputs.BaculaUpdateSlotsInput, permission="label",
              label=_("Read slots"), example={"drive": 0},
              help=_("The director reads the changer's slots and barcodes into the catalog (update slots).")),
    Operation("label", services.start_label, input=inputs.BaculaLabelInput, job=True, permission="label",
              label=_("Label from barcodes"), example={"pool": 1, "slots": "1-4"},
              help=_("Label the volumes in these slots with their barcodes and add them to the pool.")),
    Operation("generated_config", services.generated, method="get", detail=False, permission="view",
              output=inputs.BaculaConfigOutput, label=_("Generated configuration"),
              help=_("The include files Calypso writes for the director and the storage daemon, as the current "
                     "resources describe them (passwords shown as ********), before any change is applied.")),
)

JOB = Operations(
    BackupJob,
    Operation("create", services.JOBS.create, input=serializers.BaculaJobSerializer, detail=False,
              example={"name": "ProjectsNightly", "client": 1, "fileset": 1, "schedule": 1, "pool": 1, "storage": 1}),
    Operation("update", services.JOBS.update, input=serializers.BaculaJobSerializer, partial=True,
              example={"level": "Full"}),
    Operation("delete", services.JOBS.delete, help=_("The job leaves the director; its history stays.")),
    Operation("run", services.start_backup, input=inputs.BaculaRunInput, job=True, permission="run", bulk=True,
              label=_("Run now"), example={"level": "Full"},
              help=_("The director runs the job now; its progress (files, bytes, rate) and its log follow here.")),
)

JOBRUN = Operations(
    JobRun,
    Operation("refresh", services.refresh_history, detail=False, permission="change", label=_("Read history"),
              help=_("Read the director's job history.")),
    Operation("browse", services.browse, input=inputs.BaculaBrowseInput, output=inputs.BaculaBrowseOutput, method="get",
              permission="restore", label=_("Browse files"), example={"path": "/", "offset": 0, "limit": 100},
              help=_("One page of a directory as this job backed it up: subdirectories, then files.")),
    Operation("log", services.job_log, method="get", permission="view", output=inputs.BaculaJobLogOutput,
              label=_("Director's log")),
    Operation("restore", services.start_restore, input=inputs.BaculaRestoreInput, job=True, permission="restore",
              label=_("Restore"), example={"client": 1, "where": "/tank/restores", "dirids": [1]},
              help=_("Restore the chosen files and directories to a client and directory, as a job.")),
)

VOLUME = Operations(
    Volume,
    Operation("refresh", services.refresh_volumes, detail=False, permission="change", label=_("Read volumes"),
              help=_("Read the catalog's volumes (after labelling or jobs run outside the portal).")),
    Operation("move", services.move_volume, input=inputs.BaculaMoveInput, permission="change", bulk=True,
              label=_("Move to pool"), example={"pool": 1}),
    Operation("mark", services.mark_volume, input=inputs.BaculaMarkInput, permission="change", bulk=True,
              label=_("Mark"), example={"status": "Full"},
              help=_("Full or Used: nothing more is written to it; Append: it may be written again.")),
    Operation("purge", services.purge_volume, permission="purge", destructive=True, confirm=lambda volume: volume.name,
              label=_("Purge"), help=_("The catalog forgets the jobs and files on this volume, so it can be "
                                       "recycled: they can no longer be restored. Type the volume's name.")),
)
