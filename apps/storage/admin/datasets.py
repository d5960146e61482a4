"""Datasets as a tree (indented by depth) with create, edit properties, rename, destroy, snapshot,
and Btrfs subvolumes."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import F
from django.db.models.functions import Collate
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from apps.core.admin import badge

from .. import forms, services
from ..choices import DATASET_KIND_COLORS, Backend
from ..models import Dataset, Pool, Snapshot
from .common import ADMIN, OperationsAdmin, posted, size

__all__ = ["DatasetAdmin"]


@admin.register(Dataset)
class DatasetAdmin(OperationsAdmin):
    list_display = ("tree_name", "pool", "kind_badge", "used", "available", "mountpoint", "gone")
    list_filter = ("kind", "gone", "pool")
    search_fields = ("name",)
    list_select_related = ("pool",)
    readonly_fields = ("pool", "name", "kind", "used_bytes", "available_bytes", "referenced_bytes", "mountpoint",
                       "properties", "extra", "gone", "last_seen")
    change_form_template = "admin/storage/dataset/change_form.html"
    change_list_template = "admin/storage/dataset/change_list.html"
    model_operations = ("create",)
    object_operations = ("properties", "rename", "destroy", "snapshot", "subvolume")

    def has_add_permission(self, request):
        return False  # "Create dataset/volume" runs the service; a bare row would not exist on the host

    def get_ordering(self, request):
        # Byte order, so a child sorts right after its parent whatever the database's collation
        # (SQLite compares bytes already; PostgreSQL's locale collations skip the "/").
        if connection.vendor == "postgresql":
            return (Collate(F("pool__name"), "C").asc(), Collate(F("name"), "C").asc())
        return ("pool__name", "name")

    @admin.display(description=_("name"), ordering="name")
    def tree_name(self, obj):
        depth = obj.name.count("/")
        label = obj.name.rpartition("/")[2] if depth else obj.name
        return format_html('<span class="calypso-tree" style="padding-left:{}em" title="{}">{}{}</span>',
                           depth * 1.5, obj.name, "└ " if depth else "", label)

    @admin.display(description=_("kind"), ordering="kind")
    def kind_badge(self, obj):
        return badge(obj.get_kind_display(), DATASET_KIND_COLORS.get(obj.kind, "grey"))

    @admin.display(description=_("used"), ordering="used_bytes")
    def used(self, obj):
        return size(obj.used_bytes)

    @admin.display(description=_("available"), ordering="available_bytes")
    def available(self, obj):
        return size(obj.available_bytes)

    def changelist_view(self, request, extra_context=None):
        extra = {"can_create": self.can(request, "add")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ds = self.get_object(request, object_id)
        extra = {}
        if ds is not None:
            btrfs = ds.pool.backend == Backend.BTRFS
            extra = {"can": {"change": self.can(request, "change", ds) and not btrfs,
                             "delete": self.can(request, "delete", ds) and (ds.relative_path or not btrfs),
                             "snapshot": request.user.has_perm("storage.add_snapshot"),
                             "subvolume": btrfs and self.can(request, "add")},
                     "is_btrfs": btrfs,
                     "snapshots_url": reverse("admin:storage_snapshot_changelist") + f"?dataset__id__exact={ds.pk}",
                     "snapshot_count": Snapshot.objects.filter(dataset=ds).count()}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def create_view(self, request):
        if not self.can(request, "add"):
            raise PermissionDenied
        pools = Pool.objects.restrict(request.user, "view").filter(gone=False)
        form = forms.DatasetCreateForm(posted(request), pools=pools, initial={"pool": request.GET.get("pool")})
        return self.operation(
            request, form=form, title=_t("Create dataset or volume"), submit=_t("Create"),
            call=lambda d: services.create_dataset(d["pool"], d["name"], kind=d["kind"], volsize=d["volsize"] or None,
                                                   sparse=d["sparse"], properties=d["properties"], actor=request.user,
                                                   source=ADMIN),
            done=lambda ds: (_t("%(n)s created.") % {"n": ds.name}, self.change_url(ds)))

    def properties_view(self, request, object_id):
        ds = self.op_object(request, object_id, "change")
        return self.operation(
            request, form=forms.DatasetPropertiesForm(posted(request), dataset=ds), obj=ds,
            title=_t("Properties of %(n)s") % {"n": ds.name}, submit=_t("Save properties"),
            intro=_t("Only changed values are set; an emptied value inherits from the parent again."),
            call=lambda d: services.update_dataset(ds, properties=d["properties"], inherit=d["inherit"],
                                                   actor=request.user, source=ADMIN),
            done=lambda d: (_t("Properties of %(n)s saved.") % {"n": ds.name}, self.change_url(ds)))

    def rename_view(self, request, object_id):
        ds = self.op_object(request, object_id, "change")
        form = forms.RenameForm(posted(request), initial={"new_name": ds.name})
        return self.operation(
            request, form=form, obj=ds, title=_t("Rename %(n)s") % {"n": ds.name}, submit=_t("Rename"),
            intro=_t("Children and snapshots follow; shares on the old path must be updated."),
            call=lambda d: services.rename_dataset(ds, d["new_name"], actor=request.user, source=ADMIN),
            done=lambda new: (_t("Renamed to %(n)s.") % {"n": new.name}, self.change_url(new)))

    def destroy_view(self, request, object_id):
        ds = self.op_object(request, object_id, "delete")
        return self.operation(
            request, form=forms.DatasetDestroyForm(posted(request), dataset=ds), obj=ds, danger=True,
            title=_t("Destroy %(n)s") % {"n": ds.name}, submit=_t("Destroy"),
            intro=_t("Its data and snapshots are gone for good."),
            call=lambda d: services.destroy_dataset(ds, recursive=d["recursive"], actor=request.user, source=ADMIN),
            done=lambda _r: (_t("%(n)s destroyed.") % {"n": ds.name},
                             reverse("admin:storage_dataset_changelist")))

    def snapshot_view(self, request, object_id):
        ds = self.op_object(request, object_id, "view")
        if not request.user.has_perm("storage.add_snapshot"):
            raise PermissionDenied
        return self.operation(
            request, form=forms.SnapshotCreateForm(posted(request)), obj=ds,
            title=_t("Snapshot %(n)s") % {"n": ds.name}, submit=_t("Take snapshot"),
            call=lambda d: services.create_snapshot(ds, d["name"], recursive=d["recursive"], actor=request.user,
                                                    source=ADMIN),
            done=lambda snap: (_t("Snapshot %(n)s taken.") % {"n": snap.name}, self.change_url(ds)))

    def subvolume_view(self, request, object_id):
        ds = self.op_object(request, object_id, "view")
        if not self.can(request, "add"):
            raise PermissionDenied
        prefix = f"{ds.relative_path}/" if ds.relative_path else ""
        return self.operation(
            request, form=forms.SubvolumeCreateForm(posted(request), initial={"name": prefix}), obj=ds,
            title=_t("New subvolume in %(n)s") % {"n": ds.pool.name}, submit=_t("Create subvolume"),
            call=lambda d: services.create_subvolume(ds.pool, d["name"], actor=request.user, source=ADMIN),
            done=lambda new: (_t("Subvolume %(n)s created.") % {"n": new.name}, self.change_url(new)))
