from django.contrib import admin
from django.utils.html import format_html

from apps.core.admin import CalypsoModelAdmin, badge

from .choices import OUTCOME_COLORS
from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(CalypsoModelAdmin):
    list_display = ("time", "actor_name", "action", "object_label", "source", "outcome_badge", "job_events",
                    "message", "address")
    list_filter = ("outcome", "source", "object_type", "time")
    search_fields = ("action", "actor_name", "object_label", "request_id", "message")
    date_hierarchy = "time"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_badge(self, obj):
        return badge(obj.get_outcome_display(), OUTCOME_COLORS.get(obj.outcome, "grey"))

    @admin.display(description="Job", ordering="job_id")
    def job_events(self, obj):
        """The events of the same job together: the request that queued it and the job's own end."""
        if obj.job_id is None:
            return "-"
        return format_html('<a href="?job_id={}">#{}</a>', obj.job_id, obj.job_id)
