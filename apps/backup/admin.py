from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge
from apps.core.errors import BackendError, ServiceError
from apps.storage.models import Dataset, Pool

from . import services
from .choices import SEND_KIND_COLORS
from .models import BackupKey, BackupTask, SentSnapshot, SshIdentity, Target
from .operations import KEY, SENT, SSH_IDENTITY, TARGET, TASK


@admin.register(Target)
class TargetAdmin(CalypsoModelAdmin):
    list_display = ("name", "kind", "pool", "host", "path", "bandwidth_limit_kib", "description")
    list_filter = ("kind", ("pool", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "pool__name", "host")
    list_select_related = ("pool",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "pool", "path", "description")}),
        (_("Another host, over SSH"), {"fields": ("host", ("port", "username"), "host_key", "bandwidth_limit_kib"),
                                       "description": _("Leave the host empty for this host.")}),
    )
    operations = TARGET
    row_operations = True
    model_forms = True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "pool":
            kwargs["queryset"] = Pool.objects.restrict(request.user, "change").filter(gone=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(BackupTask)
class BackupTaskAdmin(CalypsoModelAdmin):
    list_display = ("name", "source", "target", "enabled", "keep", "last_success_at", "drill", "next_due_at",
                    "last_error_short")
    list_filter = ("enabled", ("target", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "source__name", "target__name")
    list_select_related = ("source__pool", "target__pool")
    readonly_fields = ("replica", "last_run_at", "last_success_at", "last_error", "failures", "next_due_at",
                       "last_drill_at", "last_drill_ok", "last_drill_error", "chain")
    fieldsets = (
        (None, {"fields": ("name", "source", "target", "replica", "enabled")}),
        (_("Schedule"), {"fields": ("interval_minutes", ("window_start", "window_end"))}),
        (_("Stream files (repositories)"), {"fields": ("strategy", "compression")}),
        (_("Retention"), {"fields": ("keep_source", "keep_target")}),
        (_("Restore drills"), {"fields": ("drill_interval_days", "drill_pool", "last_drill_at", "last_drill_ok",
                                          "last_drill_error")}),
        (_("Runs"), {"fields": ("last_run_at", "last_success_at", "failures", "next_due_at", "last_error", "chain")}),
    )
    operations = TASK
    model_forms = True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "source":
            kwargs["queryset"] = Dataset.objects.restrict(request.user, "change").filter(gone=False) \
                .select_related("pool")
        elif db_field.name == "target":
            kwargs["queryset"] = Target.objects.restrict(request.user, "change").select_related("pool")
        elif db_field.name == "drill_pool":
            kwargs["queryset"] = Pool.objects.restrict(request.user, "change").filter(gone=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("last restore drill"), ordering="last_drill_at")
    def drill(self, obj):
        if obj.last_drill_at is None:
            return "-"
        age = timesince(obj.last_drill_at)
        return badge(_("passed %(a)s ago") % {"a": age} if obj.last_drill_ok else _("FAILED %(a)s ago") % {"a": age},
                     "green" if obj.last_drill_ok else "red")

    @admin.display(description=_("keep (source / target)"))
    def keep(self, obj):
        return f"{obj.keep_source} / {obj.keep_target}"

    @admin.display(description=_("last error"))
    def last_error_short(self, obj):
        return obj.last_error[:80] or "-"

    @admin.display(description=_("copies go to"))
    def replica(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        if obj.target.is_repository:
            return f"{obj.target.path}/{services.repository.client_name()}/<YYYYMM>/full|incremental/"
        try:
            return services.replica_of(obj).name
        except (ServiceError, BackendError, ValueError) as exc:
            return str(exc)

    @admin.display(description=_("chain (newest first)"))
    def chain(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        rows = list(obj.sent.order_by("-snapshot")[:30])
        if not rows:
            return _("Nothing sent yet.")

        def held(row) -> str:
            places = [str(w) for w, on in ((_("source"), row.on_source), (_("target"), row.on_target)) if on]
            return ", ".join(places) or str(_("pruned"))

        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (row.snapshot, badge(row.get_kind_display(), SEND_KIND_COLORS.get(row.kind, "grey")), row.base or "-",
             filesizeformat(row.bytes), _("verified") if row.verified else _("NOT verified"), held(row))
            for row in rows))
        return format_html('<table class="calypso-chain"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
                           "<th>{}</th></tr>{}</table>", _("snapshot"), _("kind"), _("base"), _("sent"),
                           _("verification"), _("held on"), body)


@admin.register(SentSnapshot)
class SentSnapshotAdmin(CalypsoModelAdmin):
    list_display = ("snapshot", "task", "kind_badge", "size", "verified", "on_source", "on_target", "created")
    row_operations = True
    list_filter = ("kind", "verified", "on_source", "on_target", ("task", admin.RelatedOnlyFieldListFilter))
    search_fields = ("snapshot", "task__name")
    list_select_related = ("task",)
    date_hierarchy = "created"
    readonly_fields = ("task", "job", "snapshot", "kind", "base", "source_name", "target_name", "source_guid",
                       "target_guid", "bytes", "seconds", "path", "sha256", "compression", "recipient", "verified",
                       "verified_at", "on_source", "on_target", "created")
    fields = readonly_fields
    operations = SENT

    @admin.display(description=_("sent"), ordering="bytes")
    def size(self, obj):
        return filesizeformat(obj.bytes)

    @admin.display(description=_("kind"), ordering="kind")
    def kind_badge(self, obj):
        return badge(obj.get_kind_display(), SEND_KIND_COLORS.get(obj.kind, "grey"))


@admin.register(BackupKey)
class BackupKeyAdmin(CalypsoModelAdmin):
    list_display = ("name", "recipient", "created", "exported_at")
    readonly_fields = ("name", "recipient", "created", "exported_at")
    fields = readonly_fields
    operations = KEY
    row_operations = True

    def operation_done(self, request, op, obj, result):
        if op.name != "export":
            return super().operation_done(request, op, obj, result)
        return TemplateResponse(request, "admin/backup/backupkey/exported.html", {
            **self.admin_site.each_context(request), "title": _("Backup key %(n)s") % {"n": obj.name}, "opts": self.opts,
            "object": obj, "original": obj, "key": result})


@admin.register(SshIdentity)
class SshIdentityAdmin(CalypsoModelAdmin):
    list_display = ("name", "public_key", "created")
    readonly_fields = ("name", "public_key", "created")
    fields = readonly_fields
    operations = SSH_IDENTITY
