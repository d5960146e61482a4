"""What the Bacula API shows and takes: the resources (their input too) and the rows read from the director."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.core.serializers import RestrictedRelatedField
from apps.tape.models import Library

from ..models import BackupJob, Client, FileSet, JobRun, Pool, Schedule, Storage, Volume

__all__ = ["BaculaClientSerializer", "BaculaFileSetSerializer", "BaculaJobRunSerializer", "BaculaJobSerializer",
           "BaculaPoolSerializer", "BaculaScheduleSerializer", "BaculaStorageSerializer", "BaculaVolumeSerializer"]

STAMPS = ("created", "updated")


def _lines(help_text, max_items: int = 100, required: bool = True) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=4096), max_length=max_items,
                                 required=required, help_text=help_text)


def _password() -> serializers.CharField:
    return serializers.CharField(write_only=True, max_length=127, style={"input_type": "password"}, help_text=_(
        "The daemon's Director password. Never shown again."))


class BaculaClientSerializer(serializers.ModelSerializer):
    password = _password()

    class Meta:
        model = Client
        fields = ("id", "name", "address", "port", "password", "file_retention_days", "job_retention_days",
                  "autoprune", "description", *STAMPS)
        read_only_fields = STAMPS


class BaculaFileSetSerializer(serializers.ModelSerializer):
    include = _lines(_("Directories to back up, each inside a managed dataset."))
    exclude = _lines(_("Paths to leave out."), required=False)

    class Meta:
        model = FileSet
        fields = ("id", "name", "include", "exclude", "compression", "signature", "one_fs", "description", *STAMPS)
        read_only_fields = STAMPS


class BaculaScheduleSerializer(serializers.ModelSerializer):
    runs = _lines(_("Bacula Run lines, e.g. 'Level=Full 1st sun at 23:05'."), max_items=50)

    class Meta:
        model = Schedule
        fields = ("id", "name", "runs", "description", *STAMPS)
        read_only_fields = STAMPS


class BaculaStorageSerializer(serializers.ModelSerializer):
    password = _password()
    library = RestrictedRelatedField(queryset=Library.objects.all(), action="view", required=False, allow_null=True,
                                     help_text=_("A tape library of this appliance (its changer and drives)."))
    archive_devices = _lines(_("The drives' devices, in drive-index order (empty: the library's)."), max_items=64,
                             required=False)

    class Meta:
        model = Storage
        fields = ("id", "name", "address", "port", "password", "library", "media_type", "autochanger",
                  "changer_device", "changer_command", "archive_devices", "maximum_concurrent_jobs", "description",
                  *STAMPS)
        read_only_fields = STAMPS


class BaculaPoolSerializer(serializers.ModelSerializer):
    storage = RestrictedRelatedField(queryset=Storage.objects.all(), action="view", required=False, allow_null=True)

    class Meta:
        model = Pool
        fields = ("id", "name", "pool_type", "storage", "volume_retention_days", "recycle", "autoprune",
                  "maximum_volume_bytes", "label_format", "description", *STAMPS)
        read_only_fields = STAMPS


class BaculaJobSerializer(serializers.ModelSerializer):
    client = RestrictedRelatedField(queryset=Client.objects.all(), action="view")
    fileset = RestrictedRelatedField(queryset=FileSet.objects.all(), action="view")
    schedule = RestrictedRelatedField(queryset=Schedule.objects.all(), action="view", required=False,
                                      allow_null=True)
    pool = RestrictedRelatedField(queryset=Pool.objects.all(), action="view")
    storage = RestrictedRelatedField(queryset=Storage.objects.all(), action="view")
    client_name = serializers.CharField(source="client.name", read_only=True)
    fileset_name = serializers.CharField(source="fileset.name", read_only=True)
    schedule_name = serializers.CharField(source="schedule.name", read_only=True, allow_null=True, default=None)
    pool_name = serializers.CharField(source="pool.name", read_only=True)
    storage_name = serializers.CharField(source="storage.name", read_only=True)

    class Meta:
        model = BackupJob
        fields = ("id", "name", "client", "client_name", "fileset", "fileset_name", "schedule", "schedule_name",
                  "pool", "pool_name", "storage", "storage_name", "level", "priority", "description", *STAMPS)
        read_only_fields = STAMPS


class BaculaJobRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = ("id", "jobid", "name", "job_type", "level", "status", "client", "started_at", "ended_at", "files",
                  "bytes", "backup_job")
        read_only_fields = fields


class BaculaVolumeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Volume
        fields = ("id", "name", "pool", "pool_name", "status", "media_type", "slot", "in_changer", "bytes", "jobs",
                  "last_written", "storage")
        read_only_fields = fields
