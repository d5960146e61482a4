import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge

from .choices import JOB_STATE_COLORS
from .models import Job
from .operations import JOB


def progress_bar(job: Job) -> str:
    return format_html(
        '<div class="calypso-progress" data-job-id="{}" data-state="{}"><div class="bar" style="width:{}%"></div>'
        '<span class="label">{}%</span></div><div class="calypso-step" data-job-id="{}">{}</div>',
        job.pk, job.state, job.progress, job.progress, job.pk, job.step)


def _pretty(value) -> str:
    if value in (None, {}, []):
        return "-"
    return format_html('<pre class="calypso-json">{}</pre>', json.dumps(value, indent=2, sort_keys=True, default=str))


@admin.register(Job)
class JobAdmin(CalypsoModelAdmin):
    list_display = ("id", "kind", "target_label", "state_badge", "progress_column", "user", "created", "duration")
    list_filter = ("state", "kind", "source", "created")
    search_fields = ("kind", "target_label", "step", "error")
    list_select_related = ("user",)
    date_hierarchy = "created"
    operations = JOB
    readonly_fields = ("kind", "state_badge", "progress_column", "target_label", "user", "source", "params_json",
                       "result_json", "error", "traceback", "lock_key", "queue", "celery_task_id", "worker", "created",
                       "started", "finished", "heartbeat", "retry_of")
    fields = readonly_fields
    change_form_template = "admin/jobs/job/change_form.html"
    change_list_template = "admin/jobs/job/change_list.html"

    @admin.display(description=_("State"), ordering="state")
    def state_badge(self, obj):
        return format_html('<span data-job-state="{}">{}</span>', obj.pk,
                           badge(obj.get_state_display(), JOB_STATE_COLORS.get(obj.state, "grey")))

    @admin.display(description=_("Progress"))
    def progress_column(self, obj):
        return progress_bar(obj)

    @admin.display(description=_("Parameters"))
    def params_json(self, obj):
        return _pretty(obj.params)

    @admin.display(description=_("Result"))
    def result_json(self, obj):
        return _pretty(obj.result)

    @admin.display(description=_("Duration"))
    def duration(self, obj):
        return f"{obj.duration_s:.1f} s" if obj.duration_s is not None else "-"

    def change_context(self, request, job) -> dict:
        return {"job": job, "log_entries": list(job.log_entries.order_by("-id")[:500])[::-1]}
