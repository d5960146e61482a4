from apps.core.api import CalypsoViewSet

from .. import filters, operations
from ..models import BackupJob, Client, FileSet, JobRun, Pool, Schedule, Storage, Volume
from . import serializers

__all__ = ["ClientViewSet", "FileSetViewSet", "JobRunViewSet", "JobViewSet", "PoolViewSet", "ScheduleViewSet",
           "StorageViewSet", "VolumeViewSet"]


class _ByName(CalypsoViewSet):
    search_fields = ("name",)
    ordering_fields = ("name",)


class ClientViewSet(_ByName):
    queryset = Client.objects.all()
    serializer_class = serializers.BaculaClientSerializer
    filterset_class = filters.ClientFilterSet
    operations = operations.CLIENT


class FileSetViewSet(_ByName):
    queryset = FileSet.objects.all()
    serializer_class = serializers.BaculaFileSetSerializer
    filterset_class = filters.FileSetFilterSet
    operations = operations.FILESET


class ScheduleViewSet(_ByName):
    queryset = Schedule.objects.all()
    serializer_class = serializers.BaculaScheduleSerializer
    filterset_class = filters.ScheduleFilterSet
    operations = operations.SCHEDULE


class StorageViewSet(_ByName):
    queryset = Storage.objects.all()
    serializer_class = serializers.BaculaStorageSerializer
    filterset_class = filters.StorageFilterSet
    operations = operations.STORAGE


class PoolViewSet(_ByName):
    queryset = Pool.objects.all()
    serializer_class = serializers.BaculaPoolSerializer
    filterset_class = filters.PoolFilterSet
    operations = operations.POOL


class JobViewSet(_ByName):
    queryset = BackupJob.objects.select_related("client", "fileset", "schedule", "pool", "storage")
    serializer_class = serializers.BaculaJobSerializer
    filterset_class = filters.JobFilterSet
    operations = operations.JOB


class JobRunViewSet(CalypsoViewSet):
    queryset = JobRun.objects.all()
    serializer_class = serializers.BaculaJobRunSerializer
    filterset_class = filters.JobRunFilterSet
    search_fields = ("name",)
    ordering_fields = ("jobid", "started_at", "bytes")
    operations = operations.JOBRUN


class VolumeViewSet(CalypsoViewSet):
    queryset = Volume.objects.all()
    serializer_class = serializers.BaculaVolumeSerializer
    filterset_class = filters.VolumeFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "slot", "bytes", "last_written")
    operations = operations.VOLUME
