"""Snapshots (age filter, row actions, bulk destroy) and snapshot policies (Django's own forms, saved
through the policy service)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin
from apps.core.errors import BackendError, ServiceError
from apps.core.forms import LinesField

from .. import policies
from ..models import Dataset, Snapshot, SnapshotPolicy
from ..operations import POLICY, SNAPSHOT
from .common import size_column

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
class SnapshotAdmin(CalypsoModelAdmin):
    list_display = ("name", "dataset", "created_at", "used", "holds")
    list_filter = (SnapshotAgeFilter, ("dataset", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("dataset__pool",)
    readonly_fields = ("dataset", "name", "short_name", "created_at", "used_bytes", "referenced_bytes", "holds",
                       "userrefs", "guid", "extra")
    operations = SNAPSHOT
    row_operations = True

    used = size_column("used_bytes", _("used"))

    def operation_context(self, request, op, obj) -> dict:
        if op.name != "rollback":
            return {}
        return {"newer": list(Snapshot.objects.newer_than(obj).order_by("created_at").values_list("name", flat=True))}


class SnapshotPolicyForm(forms.ModelForm):
    protected_snapshots = LinesField(required=False, help_text=_(
        "Snapshot names (the part after @) never to prune, one per line, e.g. a replication task's base."))

    class Meta:
        model = SnapshotPolicy
        fields = policies.POLICIES.fields


@admin.register(SnapshotPolicy)
class SnapshotPolicyAdmin(CalypsoModelAdmin):
    form = SnapshotPolicyForm
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
    operations = POLICY
    model_forms = True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "dataset":
            kwargs["queryset"] = Dataset.objects.restrict(request.user, "change").filter(gone=False) \
                .select_related("pool")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

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
        except (ServiceError, BackendError, ValueError) as exc:
            return str(exc)
        return format_html("<pre>{}</pre>", "\n".join(f"{p.dataset.name}: {line}" for p in plans
                                                      for line in p.dry_run.lines))
