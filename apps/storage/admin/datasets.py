"""Datasets as a tree (indented by depth); create, edit properties, rename and destroy are kit pages, and
the dataset page links to taking a snapshot and creating a child."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.db import connection
from django.db.models import F
from django.db.models.functions import Collate
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import CalypsoModelAdmin, badge

from .. import services
from ..choices import DATASET_KIND_COLORS, Backend
from ..models import Dataset, Snapshot
from ..operations import DATASET, SNAPSHOT
from .common import size_column

__all__ = ["DatasetAdmin"]


@admin.register(Dataset)
class DatasetAdmin(CalypsoModelAdmin):
    list_display = ("tree_name", "pool", "kind_badge", "used", "available", "mountpoint", "foreign_name", "gone")
    list_filter = ("kind", "gone", "pool")
    search_fields = ("name",)
    list_select_related = ("pool",)
    readonly_fields = ("pool", "name", "foreign_name", "kind", "used_bytes", "available_bytes", "referenced_bytes",
                       "mountpoint", "properties", "extra", "gone", "last_seen")
    change_form_template = "admin/storage/dataset/change_form.html"
    operations = DATASET

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

    @admin.display(description=_("foreign name"), boolean=True)
    def foreign_name(self, obj):
        """Named on the host as Calypso would not name a new dataset (a space, say): it can only be destroyed."""
        return obj.name_unmanaged

    @admin.display(description=_("kind"), ordering="kind")
    def kind_badge(self, obj):
        return badge(obj.get_kind_display(), DATASET_KIND_COLORS.get(obj.kind, "grey"))

    used = size_column("used_bytes", _("used"))
    available = size_column("available_bytes", _("available"))

    def change_context(self, request, ds) -> dict:
        if ds.gone:
            return {}
        snapshots = reverse("admin:storage_snapshot_changelist")
        take = reverse("admin:storage_snapshot_create")
        child = urlencode({"pool": ds.pool_id, "name": f"{ds.name}/"}, safe="/")
        return {"snapshots_url": f"{snapshots}?dataset__id__exact={ds.pk}",
                "snapshot_count": Snapshot.objects.filter(dataset=ds).count(),
                "take_snapshot_url": f"{take}?dataset={ds.pk}" if SNAPSHOT["create"].allowed(request.user) else "",
                "child_url": f"{self.op_url(DATASET['create'])}?{child}" if DATASET["create"].allowed(request.user)
                else ""}

    def operation_context(self, request, op, obj) -> dict:
        """The delete page names what else goes, or stays: nested subvolumes and snapshots (Btrfs), children
        and snapshots (ZFS, with recursive)."""
        if op.name != "delete" or obj is None:
            return {}
        if obj.pool.backend == Backend.BTRFS:
            nested, snaps = services.subvolume_dependents(obj)
        else:
            nested = list(Dataset.objects.filter(pool=obj.pool, name__startswith=f"{obj.name}/"))
            snaps = list(Snapshot.objects.filter(dataset__in=[obj, *nested]).order_by("name"))
        return {"nested": [d.name for d in nested], "dependent_snapshots": [s.name for s in snaps],
                "btrfs": obj.pool.backend == Backend.BTRFS}
