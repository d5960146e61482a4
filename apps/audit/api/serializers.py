from rest_framework import serializers

from apps.audit.models import AuditEvent

__all__ = ["AuditEventSerializer"]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ("id", "time", "actor_name", "action", "object_type", "object_id", "object_label", "changes",
                  "source", "address", "user_agent", "request_id", "duration_ms", "outcome", "message", "job_id")
        read_only_fields = fields
