from apps.audit.filters import AuditEventFilterSet
from apps.audit.models import AuditEvent
from apps.core.api import CalypsoViewSet

from . import serializers

__all__ = ["AuditEventViewSet"]


class AuditEventViewSet(CalypsoViewSet):
    queryset = AuditEvent.objects.all()
    serializer_class = serializers.AuditEventSerializer
    filterset_class = AuditEventFilterSet
    search_fields = ("action", "actor_name", "object_label", "message")
