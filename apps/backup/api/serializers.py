from rest_framework import serializers

from apps.backup.models import BackupKey, BackupTask, SentSnapshot, SshIdentity, Target
from apps.core.serializers import RestrictedRelatedField
from apps.storage.models import Dataset, Pool

__all__ = ["BackupKeySerializer", "BackupTaskSerializer", "SentSnapshotSerializer", "SshIdentitySerializer",
           "TargetSerializer"]


class TargetSerializer(serializers.ModelSerializer):
    """Field checks give 400s naming the field; the service re-validates (pool present, path)."""

    pool = RestrictedRelatedField(queryset=Pool.objects.filter(gone=False), action="change", required=False,
                                  allow_null=True)
    pool_name = serializers.CharField(source="pool.name", read_only=True, default=None)

    class Meta:
        model = Target
        fields = ("id", "name", "kind", "pool", "pool_name", "path", "host", "port", "username", "host_key",
                  "bandwidth_limit_kib", "description", "created", "updated")
        read_only_fields = ("created", "updated")


class BackupTaskSerializer(serializers.ModelSerializer):
    source = RestrictedRelatedField(queryset=Dataset.objects.filter(gone=False).select_related("pool"),
                                    action="change")
    target = RestrictedRelatedField(queryset=Target.objects.select_related("pool"), action="change")
    drill_pool = RestrictedRelatedField(queryset=Pool.objects.filter(gone=False), action="change", required=False,
                                        allow_null=True)
    source_name = serializers.CharField(source="source.name", read_only=True)
    target_name = serializers.CharField(source="target.name", read_only=True)

    class Meta:
        model = BackupTask
        fields = ("id", "name", "source", "source_name", "target", "target_name", "enabled", "interval_minutes",
                  "window_start", "window_end", "strategy", "compression", "keep_source", "keep_target",
                  "drill_interval_days", "drill_pool", "last_run_at", "last_success_at", "last_error", "failures",
                  "next_due_at", "last_drill_at", "last_drill_ok", "last_drill_error", "created", "updated")
        read_only_fields = ("last_run_at", "last_success_at", "last_error", "failures", "next_due_at",
                            "last_drill_at", "last_drill_ok", "last_drill_error", "created", "updated")


class SentSnapshotSerializer(serializers.ModelSerializer):
    task_name = serializers.CharField(source="task.name", read_only=True)

    class Meta:
        model = SentSnapshot
        fields = ("id", "task", "task_name", "job", "snapshot", "kind", "base", "source_name", "target_name",
                  "source_guid", "target_guid", "bytes", "seconds", "path", "sha256", "compression", "recipient",
                  "verified", "verified_at", "on_source", "on_target", "created")
        read_only_fields = fields


class BackupKeySerializer(serializers.ModelSerializer):
    """The public half only: the secret leaves through the audited export operation alone."""

    class Meta:
        model = BackupKey
        fields = ("id", "name", "recipient", "created", "exported_at")
        read_only_fields = fields


class SshIdentitySerializer(serializers.ModelSerializer):
    """The public key only, to put in a remote user's ~/.ssh/authorized_keys."""

    class Meta:
        model = SshIdentity
        fields = ("id", "name", "public_key", "created")
        read_only_fields = fields
