from apps.backup import filters, operations
from apps.backup.models import BackupKey, BackupTask, SentSnapshot, SshIdentity, Target
from apps.core.api import CalypsoViewSet

from . import serializers

__all__ = ["BackupKeyViewSet", "BackupTaskViewSet", "SentSnapshotViewSet", "SshIdentityViewSet", "TargetViewSet"]


class TargetViewSet(CalypsoViewSet):
    queryset = Target.objects.select_related("pool")
    serializer_class = serializers.TargetSerializer
    filterset_class = filters.TargetFilterSet
    search_fields = ("name",)
    ordering_fields = ("name",)
    operations = operations.TARGET


class BackupTaskViewSet(CalypsoViewSet):
    queryset = BackupTask.objects.select_related("source__pool", "target__pool")
    serializer_class = serializers.BackupTaskSerializer
    filterset_class = filters.BackupTaskFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "last_run_at", "next_due_at")
    operations = operations.TASK


class SentSnapshotViewSet(CalypsoViewSet):
    """The chain of every task: what was sent, from which base, and what verification measured."""

    queryset = SentSnapshot.objects.select_related("task")
    serializer_class = serializers.SentSnapshotSerializer
    filterset_class = filters.SentSnapshotFilterSet
    search_fields = ("snapshot",)
    ordering_fields = ("created", "snapshot", "bytes")
    operations = operations.SENT


class BackupKeyViewSet(CalypsoViewSet):
    queryset = BackupKey.objects.all()
    serializer_class = serializers.BackupKeySerializer
    ordering_fields = ("name", "created")
    operations = operations.KEY


class SshIdentityViewSet(CalypsoViewSet):
    queryset = SshIdentity.objects.all()
    serializer_class = serializers.SshIdentitySerializer
    ordering_fields = ("name", "created")
    operations = operations.SSH_IDENTITY
