from functools import cached_property

from django.utils import timezone
from rest_framework import serializers

from apps.core.serializers import iso_datetime
from apps.jobs.models import Job, JobLogEntry

__all__ = ["JobDetailSerializer", "JobLogEntrySerializer", "JobSerializer"]


class JobSerializer(serializers.ModelSerializer):
    """The list row: lean (DRF serialization costs ~0.2 ms a row)."""

    user = serializers.CharField(source="user.username", default=None, read_only=True)
    target_type = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ("id", "kind", "state", "progress", "step", "target_type", "target_id", "target_label", "user",
                  "source", "error", "created", "started", "finished", "lock_key", "cancel_requested", "retry_of")
        read_only_fields = fields
        # The columns a list reads (the viewset narrows its query to them): keep in step with the row below.
        only = ("id", "kind", "state", "progress", "step", "target_type__app_label", "target_type__model",
                "target_id", "target_label", "user__username", "source", "error", "created", "started", "finished",
                "lock_key", "cancel_requested", "retry_of")

    @cached_property
    def timezone(self):
        return timezone.get_current_timezone()  # once per page, not once per value

    def get_target_type(self, obj) -> str | None:
        ct = obj.target_type
        return f"{ct.app_label}.{ct.model}" if ct else None

    def to_representation(self, obj) -> dict:
        """The list row built directly: 5x cheaper than DRF's per-field machinery on 50-row pages."""
        if type(self) is not JobSerializer:
            return super().to_representation(obj)
        tz = self.timezone
        return {
            "id": obj.pk, "kind": obj.kind, "state": obj.state, "progress": obj.progress, "step": obj.step,
            "target_type": self.get_target_type(obj),
            "target_id": None if obj.target_id is None else str(obj.target_id), "target_label": obj.target_label,
            "user": obj.user.username if obj.user_id else None, "source": obj.source, "error": obj.error,
            "created": iso_datetime(obj.created, tz), "started": iso_datetime(obj.started, tz),
            "finished": iso_datetime(obj.finished, tz), "lock_key": obj.lock_key,
            "cancel_requested": obj.cancel_requested, "retry_of": obj.retry_of_id,
        }


class JobDetailSerializer(JobSerializer):
    class Meta(JobSerializer.Meta):
        fields = (*JobSerializer.Meta.fields, "params", "result", "traceback", "worker", "celery_task_id",
                  "heartbeat", "queue", "duration_s")
        read_only_fields = fields


class JobLogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = JobLogEntry
        fields = ("id", "time", "level", "message")
