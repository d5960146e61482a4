from apps.core.api import CalypsoViewSet

from .. import filters, operations
from ..models import BackupJob, Client, FileSet, JobRun, Pool, Schedule, Storage, Volume
from . import serializers

__all__ = ["ClientViewSet", "FileSetViewSet", "JobRunViewSet", "JobViewSet", "PoolViewSet", "ScheduleViewSet",
           "StorageViewSet", "VolumeViewSet"]


def _viewset(name, queryset, serializer, filterset, ops, ordering=("name",), search=("name",)):
    return type(name, (CalypsoViewSet,), {
        "queryset": queryset, "serializer_class": serializer, "filterset_class": filterset,
        "ordering_fields": ordering, "search_fields": search, "operations": ops, "__module__": __name__})


ClientViewSet = _viewset("ClientViewSet", Client.objects.all(), serializers.BaculaClientSerializer,
                         filters.ClientFilterSet, operations.CLIENT)
FileSetViewSet = _viewset("FileSetViewSet", FileSet.objects.all(), serializers.BaculaFileSetSerializer,
                          filters.FileSetFilterSet, operations.FILESET)
ScheduleViewSet = _viewset("ScheduleViewSet", Schedule.objects.all(), serializers.BaculaScheduleSerializer,
                           filters.ScheduleFilterSet, operations.SCHEDULE)
StorageViewSet = _viewset("StorageViewSet", Storage.objects.all(), serializers.BaculaStorageSerializer,
                          filters.StorageFilterSet, operations.STORAGE)
PoolViewSet = _viewset("PoolViewSet", Pool.objects.all(), serializers.BaculaPoolSerializer, filters.PoolFilterSet,
                       operations.POOL)
JobViewSet = _viewset("JobViewSet", BackupJob.objects.select_related("client", "fileset", "schedule", "pool", "storage"), serializers.BaculaJobSerializer, filters.JobFilterSet,
                      operations.JOB)
JobRunViewSet = _viewset("JobRunViewSet", JobRun.objects.all(), serializers.BaculaJobRunSerializer,
                         filters.JobRunFilterSet, operations.JOBRUN, ordering=("jobid", "started_at", "bytes"))
VolumeViewSet = _viewset("VolumeViewSet", Volume.objects.all(), serializers.BaculaVolumeSerializer,
                         filters.VolumeFilterSet, operations.VOLUME, ordering=("name", "slot", "bytes", "last_written"))
