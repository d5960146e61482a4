import django_filters

from apps.core.filters import CalypsoFilterSet, DateTimeFilter

from .models import AuditEvent

__all__ = ["AuditEventFilterSet"]


class AuditEventFilterSet(CalypsoFilterSet):
    actor = django_filters.CharFilter(field_name="actor_name")
    action__startswith = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    since = DateTimeFilter(field_name="time", lookup_expr="gte")
    until = DateTimeFilter(field_name="time", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ("action", "object_type", "object_id", "source", "outcome", "request_id", "job_id")
