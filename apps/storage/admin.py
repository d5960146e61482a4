from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from apps.audit.choices import AuditSource
from apps.core.admin import CalypsoModelAdmin, badge
from apps.core.errors import ServiceError
from apps.core.validators import format_size

from . import policies, services
from .choices import EVENT_SEVERITY_COLORS, POOL_HEALTH_COLORS, SCAN_STATE_COLORS, VDEV_STATE_COLORS
from .models import Dataset, Pool, Snapshot, SnapshotPolicy, StorageEvent, Vdev

ADMIN = AuditSource.ADMIN


def _size(value):
    return format_size(value) if value is not None else "-"


def capacity_bar(percent) -> str:
    if percent is None:
        return "-"
    color = "#b02a37" if percent >= 90 else "#c56a00" if percent >= 80 else "#1e7e34"
    return format_html(
        '<div class="calypso-capacity" style="width:160px;background:#e9ecef;border-radius:3px">'
        '<div style="width:{}%;background:{};color:#fff;padding:0 4px;border-radius:3px;white-space:nowrap">'
        '{} %</div></div>', min(int(percent), 100), color, percent)


def _run(modeladmin, request, func, items, done: str) -> None:
    """Call a service per selected object; each refusal is shown, the rest still run."""
    count = 0
    for item in items:
        try:
            func(item)
            count += 1
        except ServiceError as exc:
            modeladmin.message_user(request, f"{item}: {exc.message}", messages.ERROR)
    if count:
        modeladmin.message_user(request, done.format(count=count), messages.SUCCESS)


@admin.register(Pool)
class PoolAdmin(CalypsoModelAdmin):
    list_display = ("name", "backend", "health_badge", "size", "allocated", "capacity", "scan_badge", "gone")
    list_filter = ("backend", "health", "gone")
    search_fields = ("name",)
    readonly_fields = ("backend", "name", "mountpoint", "health_badge", "capacity", "vdev_tree", "size",
                       "allocated", "free", *Pool.observed_fields)
    fieldsets = (
        (None, {"fields": ("name", "backend", "health_badge", "capacity", "vdev_tree")}),
        (_("Space"), {"fields": ("size", "allocated", "free", "fragmentation_percent", "dedup_ratio")}),
        (_("Scan"), {"fields": ("scan_function", "scan_state", "scan_percent", "scan_errors", "scan_finished_at",
                                "scan_text")}),
        (_("Status"), {"fields": ("status_text", "errors_text", "checksum_errors", "mountpoint", "guid", "gone",
                                  "last_seen", "extra")}),
    )
    actions = ("scrub_selected", "stop_scrub_selected", "export_selected")

    def has_add_permission(self, request):
        return False  # pools are created through the create-pool job (API), not a bare row

    @admin.display(description=_("health"), ordering="health")
    def health_badge(self, obj):
        return badge(obj.health, POOL_HEALTH_COLORS.get(obj.health, "grey"))

    @admin.display(description=_("scan"), ordering="scan_state")
    def scan_badge(self, obj):
        label = f"{obj.get_scan_state_display()} {obj.scan_percent:.0f} %" if obj.scan_state == "scanning" else \
            obj.get_scan_state_display()
        return badge(label, SCAN_STATE_COLORS.get(obj.scan_state, "grey"))

    @admin.display(description=_("capacity"), ordering="capacity_percent")
    def capacity(self, obj):
        return capacity_bar(obj.capacity_percent)

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, obj):
        return _size(obj.size_bytes)

    @admin.display(description=_("allocated"), ordering="allocated_bytes")
    def allocated(self, obj):
        return _size(obj.allocated_bytes)

    @admin.display(description=_("free"))
    def free(self, obj):
        return _size(obj.free_bytes)

    @admin.display(description=_("devices"))
    def vdev_tree(self, obj):
        """The vdev tree as nested lists, each device with its state badge and error counts."""
        vdevs = list(Vdev.objects.filter(pool=obj).order_by("position"))
        children: dict = {}
        for vdev in vdevs:
            children.setdefault(vdev.parent_id, []).append(vdev)

        def render(parent_id) -> str:
            items = children.get(parent_id, [])
            if not items:
                return ""
            return format_html('<ul class="calypso-vdev-tree">{}</ul>', format_html_join("", "<li>{}</li>", (
                (format_html("<code>{}</code> {} <small>{} · {} · R{} W{} C{}</small> {}{}", v.name,
                             badge(v.state, VDEV_STATE_COLORS.get(v.state, "grey")), v.kind, v.role, v.read_errors,
                             v.write_errors, v.checksum_errors, v.note, mark_safe(render(v.pk))),)  # noqa: S308
                for v in items)))

        return render(None) or "-"

    @admin.action(description=_("Scrub selected pools"), permissions=("scrub",))
    def scrub_selected(self, request, queryset):
        _run(self, request, lambda p: services.start_scrub(p, actor=request.user, source=ADMIN), queryset,
             "{count} scrubs queued.")

    @admin.action(description=_("Stop the scrub of selected pools"), permissions=("scrub",))
    def stop_scrub_selected(self, request, queryset):
        _run(self, request, lambda p: services.stop_scrub(p, actor=request.user, source=ADMIN), queryset,
             "{count} scrubs stopped.")

    @admin.action(description=_("Export selected pools"), permissions=("export",))
    def export_selected(self, request, queryset):
        _run(self, request, lambda p: services.export_pool(p, actor=request.user, source=ADMIN), queryset,
             "{count} pools exported.")


@admin.register(Dataset)
class DatasetAdmin(CalypsoModelAdmin):
    list_display = ("name", "pool", "kind", "used", "available", "mountpoint", "gone")
    list_filter = ("kind", "gone", "pool")
    search_fields = ("name",)
    list_select_related = ("pool",)
    readonly_fields = ("pool", "name", "kind", "used_bytes", "available_bytes", "referenced_bytes", "mountpoint",
                       "properties", "extra", "gone", "last_seen")

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("used"), ordering="used_bytes")
    def used(self, obj):
        return _size(obj.used_bytes)

    @admin.display(description=_("available"), ordering="available_bytes")
    def available(self, obj):
        return _size(obj.available_bytes)


class SnapshotAgeFilter(admin.SimpleListFilter):
    title = _("age")
    parameter_name = "age"
    AGES = {"1d": 1, "7d": 7, "30d": 30, "90d": 90}

    def lookups(self, request, model_admin):
        return [(k, _("older than %(d)s days") % {"d": d}) for k, d in self.AGES.items()]

    def queryset(self, request, queryset):
        days = self.AGES.get(self.value() or "")
        return queryset.older_than(timezone.now() - timedelta(days=days)) if days else queryset


@admin.register(Snapshot)
class SnapshotAdmin(CalypsoModelAdmin):
    list_display = ("name", "dataset", "created_at", "used", "holds")
    list_filter = (SnapshotAgeFilter, ("dataset", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("dataset",)
    readonly_fields = ("dataset", "name", "short_name", "created_at", "used_bytes", "referenced_bytes", "holds",
                       "userrefs", "guid", "extra")
    actions = ("destroy_selected",)

    def has_add_permission(self, request):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # destroying a snapshot is a host change: destroy_selected
        return actions

    @admin.display(description=_("used"), ordering="used_bytes")
    def used(self, obj):
        return _size(obj.used_bytes)

    @admin.action(description=_("Destroy selected snapshots"), permissions=("delete",))
    def destroy_selected(self, request, queryset):
        snaps = list(queryset.select_related("dataset__pool"))
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(request, "admin/storage/snapshot/destroy_confirm.html", {
                **self.admin_site.each_context(request), "title": _("Destroy snapshots?"), "snapshots": snaps,
                "opts": self.model._meta, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})
        if not self.has_delete_permission(request):
            raise PermissionDenied
        try:
            count = services.destroy_snapshots(snaps, actor=request.user, source=ADMIN)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        self.message_user(request, _("%(n)s snapshots destroyed.") % {"n": count}, messages.SUCCESS)
        return None


@admin.register(StorageEvent)
class StorageEventAdmin(CalypsoModelAdmin):
    list_display = ("time", "pool", "kind", "severity_badge", "message", "acknowledged")
    list_filter = ("kind", "severity", "acknowledged")
    list_select_related = ("pool",)
    readonly_fields = ("pool", "kind", "severity", "message", "details", "time")

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("severity"), ordering="severity")
    def severity_badge(self, obj):
        return badge(obj.get_severity_display(), EVENT_SEVERITY_COLORS.get(obj.severity, "grey"))


@admin.register(SnapshotPolicy)
class SnapshotPolicyAdmin(CalypsoModelAdmin):
    list_display = ("name", "dataset", "enabled", "recursive", "retention", "last_run_at", "next_due_at",
                    "last_error_short")
    list_filter = ("enabled", "recursive", ("dataset__pool", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "dataset__name")
    list_select_related = ("dataset__pool",)
    readonly_fields = ("last_run_at", "last_error", "next_due_at", "dry_run")
    fieldsets = (
        (None, {"fields": ("name", "dataset", "recursive", "enabled", "naming_template")}),
        (_("Retention"), {"fields": (("frequent_count", "frequent_period_minutes"), "hourly", "daily", "weekly",
                                     "monthly", "yearly", "protected_snapshots")}),
        (_("Runs"), {"fields": ("last_run_at", "next_due_at", "last_error", "dry_run")}),
    )
    actions = ("run_selected", "dry_run_selected")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "dataset":
            kwargs["queryset"] = Dataset.objects.restrict(request.user, "view").filter(gone=False) \
                .select_related("pool")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        obj.next_due_at = None  # edited: due at the next tick, so new counts or template apply at once
        super().save_model(request, obj, form, change)

    @admin.display(description=_("keep"))
    def retention(self, obj):
        parts = [(obj.frequent_count, "frequent"), (obj.hourly, "hourly"), (obj.daily, "daily"),
                 (obj.weekly, "weekly"), (obj.monthly, "monthly"), (obj.yearly, "yearly")]
        return ", ".join(f"{n} {label}" for n, label in parts if n) or "-"

    @admin.display(description=_("last error"))
    def last_error_short(self, obj):
        return obj.last_error[:80] or "-"

    @admin.display(description=_("dry run (from the last inventory sync)"))
    def dry_run(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        try:
            plans = policies.plan_subtree(obj, refresh=False)
        except (ServiceError, ValueError) as exc:
            return str(exc)
        lines = [f"{p.dataset.name}: {line}" for p in plans for line in p.dry_run.lines]
        return format_html("<pre>{}</pre>", "\n".join(lines))

    @admin.action(description=_("Run selected policies now"), permissions=("run",))
    def run_selected(self, request, queryset):
        _run(self, request, lambda p: policies.start_policy_run(p, actor=request.user, source=ADMIN), queryset,
             "{count} policy runs queued.")

    @admin.action(description=_("Dry run selected policies (reads the host)"), permissions=("view",))
    def dry_run_selected(self, request, queryset):
        for policy in queryset:
            try:
                plans = policies.plan_subtree(policy)
            except ServiceError as exc:
                self.message_user(request, f"{policy}: {exc.message}", messages.ERROR)
                continue
            lines = [f"{p.dataset.name}: {line}" for p in plans for line in p.dry_run.lines]
            self.message_user(request, format_html("{}:<pre>{}</pre>", policy, "\n".join(lines)), messages.INFO)
