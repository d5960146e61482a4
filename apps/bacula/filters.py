"""FilterSets shared by the Bacula API and admin."""

import django_filters as filters

from apps.core.filters import CalypsoFilterSet

from .models import BackupJob, Client, FileSet, JobRun, Pool, Schedule, Storage, Volume

__all__ = ["ClientFilterSet", "FileSetFilterSet", "JobFilterSet", "JobRunFilterSet", "PoolFilterSet",
           "ScheduleFilterSet", "StorageFilterSet", "VolumeFilterSet"]


class _ByName(CalypsoFilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name (plain text, any case).")


class ClientFilterSet(_ByName):
    class Meta:
        model = Client
        fields = ("name",)


class FileSetFilterSet(_ByName):
    class Meta:
        model = FileSet
        fields = ("name",)


class ScheduleFilterSet(_ByName):
    class Meta:
        model = Schedule
        fields = ("name",)


class StorageFilterSet(_ByName):
    class Meta:
        model = Storage
        fields = ("name", "autochanger")


class PoolFilterSet(_ByName):
    class Meta:
        model = Pool
        fields = ("name", "pool_type", "storage")


class JobFilterSet(_ByName):
    class Meta:
        model = BackupJob
        fields = ("name", "client", "fileset", "schedule", "pool", "storage", "level")


class VolumeFilterSet(_ByName):
    class Meta:
        model = Volume
        fields = ("name", "pool", "status", "in_changer", "media_type")


class JobRunFilterSet(_ByName):
    started_after = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = JobRun
        fields = ("name", "status", "level", "job_type", "client", "backup_job")
