"""Snapshots (filters, bulk destroy, rollback, clone, hold/release) and snapshot policies."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ServiceError

from .. import forms, policies, services
from ..choices import Backend
from ..models import Dataset, Snapshot, SnapshotPolicy
from .common import ADMIN, OperationsAdmin, posted, run_each, size

__all__ = ["SnapshotAdmin", "SnapshotAgeFilter", "SnapshotPolicyAdmin"]


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
class SnapshotAdmin(OperationsAdmin):
    list_display = ("name", "dataset", "created_at", "used", "holds")
    list_filter = (SnapshotAgeFilter, ("dataset", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("dataset__pool",)
    readonly_fields = ("dataset", "name", "short_name", "created_at", "used_bytes", "referenced_bytes", "holds",
                       "userrefs", "guid", "extra")
    actions = ("destroy_selected",)
    change_form_template = "admin/storage/snapshot/change_form.html"
    object_operations = ("rollback", "clone", "hold", "destroy")

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("used"), ordering="used_bytes")
    def used(self, obj):
        return size(obj.used_bytes)

    def _links(self, request, obj) -> list[tuple[str, str]]:
        zfs = obj.dataset.pool.backend == Backend.ZFS
        wanted = [("rollback", _t("Rollback"), zfs), ("clone", _t("Clone"), zfs), ("hold", _t("Hold/Release"), zfs),
                  ("destroy", _t("Destroy"), True)]
        return [(self.op_url(name, obj.pk), label) for name, label, ok in wanted
                if ok and self.can(request, "delete" if name == "destroy" else name, obj)]

    def get_list_display(self, request):
        @admin.display(description=_("actions"))
        def row_actions(obj):  # bound to this request: only the links this user may follow
            return format_html_join(" · ", '<a href="{}">{}</a>', self._links(request, obj)) or "-"

        return (*self.list_display, row_actions)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        snap = self.get_object(request, object_id)
        extra = {"snapshot_links": self._links(request, snap)} if snap is not None else {}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

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

    def _dataset_url(self, snap: Snapshot) -> str:
        return reverse("admin:storage_dataset_change", args=[snap.dataset_id])

    def rollback_view(self, request, object_id):
        snap = self.op_object(request, object_id, "rollback")
        newer = list(Snapshot.objects.newer_than(snap).order_by("created_at").values_list("name", flat=True))
        return self.operation(
            request, form=forms.RollbackForm(posted(request)), obj=snap, danger=True,
            title=_t("Roll %(d)s back to %(n)s") % {"d": snap.dataset.name, "n": snap.short_name},
            submit=_t("Roll back"), extra={"newer": newer},
            intro=_t("Every change made to %(d)s since this snapshot is lost.") % {"d": snap.dataset.name},
            call=lambda d: services.rollback_snapshot(snap, confirm=d["confirm"], destroy_newer=d["destroy_newer"],
                                                      actor=request.user, source=ADMIN),
            done=lambda s: (_t("%(d)s rolled back to %(n)s.") % {"d": snap.dataset.name, "n": snap.short_name},
                            self._dataset_url(snap)))

    def clone_view(self, request, object_id):
        snap = self.op_object(request, object_id, "clone")
        initial = {"target": f"{snap.dataset.name}-{snap.short_name}".replace(":", "-")}
        return self.operation(
            request, form=forms.CloneForm(posted(request), initial=initial), obj=snap,
            title=_t("Clone %(n)s") % {"n": snap.name}, submit=_t("Clone"),
            call=lambda d: services.clone_snapshot(snap, d["target"], actor=request.user, source=ADMIN),
            done=lambda ds: (_t("Clone %(n)s created.") % {"n": ds.name},
                             reverse("admin:storage_dataset_change", args=[ds.pk])))

    def hold_view(self, request, object_id):
        snap = self.op_object(request, object_id, "hold")
        release = "_release" in request.POST
        func = services.release_snapshot if release else services.hold_snapshot
        return self.operation(
            request, form=forms.HoldForm(posted(request)), obj=snap,
            title=_t("Hold or release %(n)s") % {"n": snap.name}, submit=_t("Hold"),
            intro=_t("Current holds: %(h)s. A held snapshot cannot be destroyed.") % {
                "h": ", ".join(snap.holds) or "-"},
            extra={"second_submit": ("_release", _t("Release"))},
            call=lambda d: func(snap, d["tag"], recursive=d["recursive"], actor=request.user, source=ADMIN),
            done=lambda s: ((_t("Released %(t)s.") if release else _t("Held as %(t)s.")) % {
                "t": request.POST.get("tag")}, self.change_url(snap)))

    def destroy_view(self, request, object_id):
        snap = self.op_object(request, object_id, "delete")
        return self.operation(
            request, form=forms.ServiceForm(posted(request)), obj=snap, danger=True,
            title=_t("Destroy %(n)s") % {"n": snap.name}, submit=_t("Yes, destroy"),
            intro=_t("Its data is gone for good."),
            call=lambda d: services.destroy_snapshots([snap], actor=request.user, source=ADMIN),
            done=lambda n: (_t("%(n)s destroyed.") % {"n": snap.name}, self._dataset_url(snap)))


@admin.register(SnapshotPolicy)
class SnapshotPolicyAdmin(OperationsAdmin):
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
        run_each(self, request, lambda p: policies.start_policy_run(p, actor=request.user, source=ADMIN), queryset,
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
