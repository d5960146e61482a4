"""Bacula in the admin: the resources edited through their services (Django's own forms), the job history
with a file browser and restore links, the volumes with their operations, and the generated include files."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge
from apps.core.errors import BackendError, ServiceError
from apps.core.forms import KeepSecretsForm, TextLinesField, secret_box
from apps.core.validators import format_size

from . import services
from .choices import JOB_STATUS_COLORS
from .models import BackupJob, Client, FileSet, JobRun, Pool, Schedule, Storage, Volume
from .operations import CLIENT, FILESET, JOB, JOBRUN, POOL, SCHEDULE, STORAGE, VOLUME
from .services import CLIENTS, FILESETS, JOBS, POOLS, SCHEDULES, STORAGES

__all__ = ["BackupJobAdmin", "ClientAdmin", "FileSetAdmin", "JobRunAdmin", "PoolAdmin", "ScheduleAdmin",
           "StorageAdmin", "VolumeAdmin"]


def _lines(model, name: str) -> TextLinesField:
    field = model._meta.get_field(name)
    return TextLinesField(required=not field.blank, help_text=field.help_text)


class ClientForm(KeepSecretsForm):
    secret_names = ("password",)
    password = secret_box(_("The file daemon's Director password. Empty: keep the current one."))

    class Meta:
        model = Client
        fields = CLIENTS.fields


class StorageForm(KeepSecretsForm):
    secret_names = ("password",)
    password = secret_box(_("The storage daemon's Director password. Empty: keep the current one."))
    archive_devices = _lines(Storage, "archive_devices")

    class Meta:
        model = Storage
        fields = STORAGES.fields


class FileSetForm(forms.ModelForm):
    include = _lines(FileSet, "include")
    exclude = _lines(FileSet, "exclude")

    class Meta:
        model = FileSet
        fields = FILESETS.fields


class ScheduleForm(forms.ModelForm):
    runs = _lines(Schedule, "runs")

    class Meta:
        model = Schedule
        fields = SCHEDULES.fields


class _Resource(CalypsoModelAdmin):
    model_forms = True
    search_fields = ("name",)


@admin.register(Client)
class ClientAdmin(_Resource):
    form = ClientForm
    list_display = ("name", "address", "port", "job_retention_days", "description")
    operations = CLIENT


@admin.register(FileSet)
class FileSetAdmin(_Resource):
    form = FileSetForm
    list_display = ("name", "included", "compression", "description")
    operations = FILESET

    @admin.display(description=_("include"))
    def included(self, obj):
        return ", ".join(obj.include)


@admin.register(Schedule)
class ScheduleAdmin(_Resource):
    form = ScheduleForm
    list_display = ("name", "run_lines", "description")
    operations = SCHEDULE

    @admin.display(description=_("runs"))
    def run_lines(self, obj):
        return "; ".join(obj.runs)


@admin.register(Storage)
class StorageAdmin(_Resource):
    form = StorageForm
    list_display = ("name", "address", "media_type", "autochanger", "changer_device", "drives")
    list_filter = ("autochanger",)
    operations = STORAGE
    row_operations = True
    query_pages = {"generated_config": "admin/bacula/generated_config.html"}

    @admin.display(description=_("drives"))
    def drives(self, obj):
        return len(obj.archive_devices)


@admin.register(Pool)
class PoolAdmin(_Resource):
    list_display = ("name", "pool_type", "storage", "volume_retention_days", "recycle", "volume_count")
    fields = POOLS.fields
    list_filter = ("pool_type", "storage")
    operations = POOL

    @admin.display(description=_("volumes"))
    def volume_count(self, obj):
        return obj.volumes.count()


@admin.register(BackupJob)
class BackupJobAdmin(_Resource):
    list_display = ("name", "client", "fileset", "schedule", "pool", "storage", "level")
    fields = JOBS.fields
    list_filter = ("level", "client", "pool", "storage")
    operations = JOB
    row_operations = True


def status_badge(obj) -> str:
    return badge(obj.get_status_display() or obj.status or "-", JOB_STATUS_COLORS.get(obj.status, "grey"))


class _ReadBack(CalypsoModelAdmin):
    """Rows read from the director: shown, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(JobRun)
class JobRunAdmin(_ReadBack):
    list_display = ("jobid", "name", "job_type", "level", "status_column", "client", "started_at", "ended_at",
                    "files", "size")
    list_filter = ("status", "level", "job_type", "client")
    search_fields = ("name", "client")
    date_hierarchy = "started_at"
    operations = JOBRUN
    change_form_template = "admin/bacula/jobrun/change_form.html"

    @admin.display(description=_("status"), ordering="status")
    def status_column(self, obj):
        return status_badge(obj)

    @admin.display(description=_("size"), ordering="bytes")
    def size(self, obj):
        return format_size(obj.bytes)

    def change_context(self, request, run: JobRun) -> dict:
        """The file browser: one page of ``?path=`` (subdirectories, then files) with restore links."""
        offers = self.offered(request, run)
        context = {"calypso_operations": offers, "run": run,
                   "restore_url": next((op["url"] for op in offers if op["name"] == "restore"), "")}
        if not JOBRUN["browse"].allowed(request.user, run) or run.job_type not in ("B", ""):
            return context
        try:
            offset = max(0, int(request.GET.get("offset", 0)))
            context["browse"] = services.browse(run, path=request.GET.get("path", "/"), offset=offset,
                                                limit=services.console.BROWSE_PAGE)
        except (ValueError, ServiceError, BackendError) as exc:
            context["browse_error"] = getattr(exc, "message", None) or str(exc)
        return context


@admin.register(Volume)
class VolumeAdmin(_ReadBack):
    list_display = ("name", "pool", "status", "media_type", "slot", "in_changer", "size", "last_written")
    list_filter = ("status", "pool", "in_changer", "media_type")
    search_fields = ("name",)
    operations = VOLUME
    row_operations = True

    @admin.display(description=_("size"), ordering="bytes")
    def size(self, obj):
        return format_size(obj.bytes)
