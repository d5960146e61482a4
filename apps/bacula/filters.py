"""FilterSets shared by the Bacula API and admin."""

import django_filters as filters

from apps.core.filters import CalypsoFilterSet

from .models import BackupJob, Client, FileSet, JobRun, Pool, Schedule, Storage, Volume

__all__ = ["ClientFilterSet", "FileSetFilterSet", "JobFilterSet", "JobRunFilterSet", "PoolFilterSet",
           "ScheduleFilterSet", "StorageFilterSet", "VolumeFilterSet"]


def _name():
    return filters.CharFilter(lookup_expr="icontains", help_text="Part of the name (plain text, any case).")


def _named(model_class, *extra):
    meta = type("Meta", (), {"model": model_class, "fields": ("name", *extra)})
    return type(f"{model_class.__name__}FilterSet", (CalypsoFilterSet,), {"name": _name(), "Meta": meta})


ClientFilterSet = _named(Client)
FileSetFilterSet = _named(FileSet)
ScheduleFilterSet = _named(Schedule)
StorageFilterSet = _named(Storage, "autochanger")
PoolFilterSet = _named(Pool, "pool_type", "storage")
JobFilterSet = _named(BackupJob, "client", "fileset", "schedule", "pool", "storage", "level")
VolumeFilterSet = _named(Volume, "pool", "status", "in_changer", "media_type")


class JobRunFilterSet(CalypsoFilterSet):
    name = _name()
    started_after = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = JobRun
        fields = ("name", "status", "level", "job_type", "client", "backup_job")
