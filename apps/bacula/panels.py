"""The Bacula panel of the dashboard: the last jobs the director ran, failures among them, and the volumes by
status. Found and imported by the system app."""

from __future__ import annotations

from django.db.models import Count

from apps.system.dashboard import Panel, register_panel

from .models import BackupJob, JobRun, Volume

__all__ = ["bacula_panel"]

FAILED = ("E", "e", "f", "A", "I")


def bacula_panel(request) -> dict | None:
    jobs = BackupJob.objects.restrict(request.user)
    if not jobs.exists():
        return None
    runs = JobRun.objects.restrict(request.user)
    volumes = Volume.objects.restrict(request.user).values("status").annotate(n=Count("pk")).order_by("status")
    return {"bacula_jobs": jobs.count(), "bacula_recent": list(runs.order_by("-jobid")[:5]),
            "bacula_failed": runs.filter(status__in=FAILED).count(),
            "bacula_volumes": [(v["status"] or "-", v["n"]) for v in volumes]}


register_panel(Panel("bacula", "admin/bacula/panels/bacula.html", bacula_panel, order=55))
