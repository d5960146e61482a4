"""The backup panel of the dashboard: each task's last verified copy and the age of its last verified restore
(drill), with a live bar while it runs. Found and imported by the system app."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _

from apps.core.admin import badge
from apps.jobs.choices import ACTIVE_STATES
from apps.jobs.models import Job
from apps.system.dashboard import Panel, register_panel

from .models import BackupTask

__all__ = ["backup_panel"]


def _drill_badge(task: BackupTask) -> str:
    if task.last_drill_at is None:
        return badge(_("no drill yet"), "grey") if task.drill_interval_days else badge(_("drills off"), "grey")
    return badge(_("restore verified") if task.last_drill_ok else _("restore FAILED"),
                 "green" if task.last_drill_ok else "red")


def backup_panel(request) -> dict | None:
    tasks = list(BackupTask.objects.restrict(request.user).select_related("source", "target")[:20])
    if not tasks:
        return None
    running = Job.objects.filter(state__in=ACTIVE_STATES, target_type=ContentType.objects.get_for_model(BackupTask),
                                 target_id__in=[str(t.pk) for t in tasks]).order_by("created")
    jobs = {job.target_id: job for job in running}
    failed = badge(_("last run failed"), "red")
    return {"backup_tasks": [(t, _drill_badge(t), failed if t.last_error else "", jobs.get(str(t.pk))) for t in tasks]}


register_panel(Panel("backup", "admin/backup/panels/backup.html", backup_panel, order=30))
